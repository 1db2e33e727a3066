// Point kernels for guardians' threshold decryption (src/fbh/crypto/threshold.py): a
// multi-scalar sum that returns the point, one constant-time k P, and decoding of m G points.
#pragma once

#include <cstddef>
#include <cstdint>

#include "bsgs.h"
#include "group.h"

namespace fbh {

/// out = sum_i sc[i] * pts[i] (64-byte points, 32-byte big-endian scalars < n) by Pippenger's
/// bucket method with complete formulas; variable time, public inputs only. Returns 0 if a
/// point is invalid or a scalar is >= n (then *bad is its index), else 1.
int points_lincomb_var(unsigned char* out, const unsigned char* pts, const unsigned char* sc,
                       std::size_t n, std::size_t* bad);

/// out = k * p for a secret scalar k and a public point p (complete ladder, constant time in k).
void point_mul_const(unsigned char* out, const ge* p, const scalar* k);

/// Decode n points m G (64 bytes each, validated here) with |m| <= bound into out. Returns the
/// first index that is invalid or does not decode within bound, or -1.
std::int64_t points_decode_var(std::int64_t* out, const unsigned char* pts, std::size_t n,
                               const BsgsTable& t, std::uint64_t bound, int threads);

/// Batched check of a guardian's share D[b][j] = s_j R[b] against its proof's R* and D*_j
/// (b < nb, j < k): with coefficients c[b] and verifier randomness rho[0..k], tests
///   sum_{b,j} rho_j c_b D[b][j] - sum_j rho_j D*_j + rho_k (sum_b c_b R[b] - R*) == O
/// with one multi-scalar multiplication. Returns 1 if it holds and every point is finite.
int share_batch_check_var(const unsigned char* r, const unsigned char* d, const unsigned char* c,
                          std::size_t nb, std::size_t k, const unsigned char* rstar,
                          const unsigned char* dstar, const unsigned char* rho, int threads);

}  // namespace fbh
