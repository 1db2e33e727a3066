// Batched affine additions on eight lanes (AVX-512 IFMA) where the CPU has them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "group.h"

namespace fbh {

/// Whether this CPU runs the AVX-512 IFMA kernels (checked once, at run time) and they are not
/// switched off.
bool ifma_available();

/// Switch the IFMA kernels off (tests of the scalar paths on an IFMA machine) or back on.
void ifma_set_scalar_only(bool on);

/// ge_batch_add's contract (acc[i] += q[i]; returns 0, leaving acc unchanged, if some
/// acc[i].x == q[i].x), on eight IFMA lanes where available, else ge_batch_add itself.
/// Variable time only in n and in the return value: for public points.
u64 ge_batch_add_wide(ge* acc, const ge* q, std::size_t n, fe* scratch);

/// ge_batch_add_pairs's contract, on eight IFMA lanes where available.
u64 ge_batch_add_pairs_wide(ge* out, const ge* in, const std::uint32_t* src,
                            const std::uint32_t* dst, std::size_t n, fe* scratch);

/// Index of the first point of p[0..n) off the curve (points with inf[i] set are skipped), or
/// n; coordinates must already be below p.
std::size_t ge_first_off_curve_wide(const ge* p, const std::uint8_t* inf, std::size_t n);

}  // namespace fbh
