// One source for host and device: FBH_HD marks functions that nvcc compiles for both the CPU
// and the GPU (plain inline functions for every other compiler). Code under csrc/portable/
// uses no STL, exceptions or heap, so the same text runs in a CUDA kernel and in the CPU
// driver that CI tests (csrc/portable_driver.cpp).
#pragma once

#include <stddef.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define FBH_HD __host__ __device__ inline
#else
#define FBH_HD inline
#endif

namespace fbh {
namespace portable {

using u32 = uint32_t;
using u64 = uint64_t;
// nvcc has supported unsigned __int128 in device code since CUDA 11.5 (it lowers to
// mul.lo/mul.hi pairs), so the 5 x 52 field keeps the CPU core's algorithms on both sides.
using u128 = unsigned __int128;

/// The full 128-bit product a * b (one helper, so a GPU build can swap in __umul64hi).
FBH_HD u128 mul_wide(u64 a, u64 b) {
#if defined(__CUDA_ARCH__)
  return (static_cast<u128>(__umul64hi(a, b)) << 64) | static_cast<u128>(a * b);
#else
  return static_cast<u128>(a) * b;
#endif
}

/// Big-endian 64-bit load and store, byte by byte (no alignment or endianness assumption).
FBH_HD u64 load_be64(const unsigned char* p) {
  u64 v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

FBH_HD void store_be64(unsigned char* p, u64 v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<unsigned char>(v);
    v >>= 8;
  }
}

}  // namespace portable
}  // namespace fbh
