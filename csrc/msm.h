// Variable-time multi-scalar multiplication (Pippenger's bucket method) for batch proof
// verification: all inputs are public.
#pragma once

#include <cstddef>
#include <cstdint>

#include "group.h"
#include "scalar.h"

namespace fbh {

/// 1 if sum_i sc[i] * pts[i] is the point at infinity (pts finite and valid), else 0. Every
/// scalar is split with the GLV endomorphism; up to `threads` threads share the points.
int msm_is_infinity_var(const ge* pts, const scalar* sc, std::size_t n, int threads);

}  // namespace fbh
