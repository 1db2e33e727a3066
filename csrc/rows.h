// Operations on public ciphertext points: homomorphic sum, public scaling, negation,
// validation and SEC1 conversion. All variable time: ciphertexts are public.
#pragma once

#include <cstddef>
#include <cstdint>

#include "elgamal.h"
#include "scalar.h"

namespace fbh {

/// Homomorphic sum of nc arrays of np points each into out; inputs with validate[c] set are
/// checked point by point (range and curve equation). Returns -1, or the first bad point (smallest
/// index, then smallest c, stored in *bad_input).
std::int64_t points_aggregate_var(unsigned char* out, const unsigned char* const* in,
                                  const std::uint8_t* validate, std::size_t nc, std::size_t np,
                                  int threads, std::size_t* bad_input);

/// out = k * in for np points and a public scalar k (variable time).
void points_scale_var(unsigned char* out, const unsigned char* in, std::size_t np,
                      const scalar* k, int threads);

/// out = -in for np points.
void points_negate_var(unsigned char* out, const unsigned char* in, std::size_t np);

/// Check npoints 64-byte points (range and curve equation); returns -1 or the first bad point.
std::int64_t points_validate_var(const unsigned char* in, std::size_t npoints, int threads);

/// SEC1-compress npoints 64-byte points into 33-byte entries (infinity: 33 zero bytes).
void points_to_sec1(unsigned char* out, const unsigned char* in, std::size_t npoints);

/// Decompress 33-byte SEC1 entries (all-zero: infinity) into 64-byte points; returns -1 or
/// the first entry that is not a valid point.
std::int64_t points_from_sec1_var(unsigned char* out, const unsigned char* in,
                                  std::size_t npoints);

}  // namespace fbh
