// Batch drivers of the portable kernels (csrc/portable/kernels.h). The CPU driver
// (csrc/portable_driver.cpp, namespace fbh::portable) loops over elements on threads; the
// CUDA driver (csrc/cuda/driver.cu, namespace fbh::cuda) has the same signatures and runs
// one GPU thread per element. Inputs are public or caller-checked; nonces come from the caller.
#pragma once

#include <cstddef>
#include <cstdint>

#include "group.h"

namespace fbh {
namespace portable {

/// Fixed tables of nb finite bases (64-byte points) into tabs[nb * kTablePoints].
/// Returns -1, or the first base that is not a finite valid point.
std::int64_t tables_build(ge* tabs, const unsigned char* bases, std::size_t nb, int threads);

/// The fixed table of G (built once, shared read-only).
const ge* generator_table();

/// Encrypt nblocks blocks of k values with the given nonces (nblocks + 1 rows of 32 bytes:
/// the r_b, then the proof nonce a) into pts[nblocks][k + 1][64] and the blob's proof[96].
/// tabs: tables of G, P_0..P_{k-1}. Returns -1, or the first value index with
/// |m| > kMaxPlaintext or row index * k of an invalid nonce (as fbh::packed_encrypt).
std::int64_t encrypt(unsigned char* pts, unsigned char* proof, const ge* tabs, std::size_t k,
                     const std::int64_t* m, std::size_t nblocks, const unsigned char* ctx32,
                     std::uint64_t count, const unsigned char* nonces, int threads);

/// out[p] = sum_c items[c][p] for np points of nitems inputs (items[c * np * 64 + p * 64]).
/// Returns -1, or the first invalid point (its input in *bad_item).
std::int64_t aggregate(unsigned char* out, const unsigned char* items, std::size_t nitems,
                       std::size_t np, int threads, std::size_t* bad_item);

/// out[b][j] = s_j R_b for secrets s[k][32] (big-endian, each < n). Returns -1, or the first
/// block whose R is invalid.
std::int64_t mul_r(unsigned char* out, const unsigned char* s, std::size_t k,
                   const unsigned char* pts, std::size_t nblocks, int threads);

/// 1 if the blob's proof holds (z G = A + sum_i e_i R_i; A finite, z < n, no R_i infinite);
/// a blob of no blocks holds trivially, as in fbh::packed_verify_var.
int verify(const unsigned char* pts, const unsigned char* proof, std::size_t nblocks,
           std::size_t k, const unsigned char* ctx32, std::uint64_t count, int threads);

}  // namespace portable
}  // namespace fbh
