// CUDA driver of the portable packed kernels (csrc/portable/kernels.h): the GPU twin of
// csrc/portable/driver.h, one GPU thread per element. Host-side API; errors throw
// std::runtime_error naming the CUDA call. Built only into fbh._ec_cuda (FBH_CUDA).
#pragma once

#include <cstddef>
#include <cstdint>

namespace fbh {
namespace cuda {

/// Number of visible CUDA devices (0 when the driver or a device is missing).
int device_count();

/// Name of device 0, or an empty string.
void device_name(char* out, std::size_t cap);

/// Fixed tables uploaded once: bytes as produced by fbh._ec.PortableTables.to_array().
struct DeviceTables {
  void* ptr = nullptr;
  std::size_t k = 0;
  DeviceTables(const unsigned char* host, std::size_t nbytes, std::size_t k);
  ~DeviceTables();
  DeviceTables(const DeviceTables&) = delete;
  DeviceTables& operator=(const DeviceTables&) = delete;
};

/// As fbh::portable::encrypt (nonces from the caller, checked on the host first).
std::int64_t encrypt(unsigned char* pts, unsigned char* proof, const DeviceTables& t,
                     const std::int64_t* m, std::size_t nblocks, const unsigned char* ctx32,
                     std::uint64_t count, const unsigned char* nonces);

/// As fbh::portable::aggregate.
std::int64_t aggregate(unsigned char* out, const unsigned char* items, std::size_t nitems,
                       std::size_t np, std::size_t* bad_item);

/// As fbh::portable::mul_r.
std::int64_t mul_r(unsigned char* out, const unsigned char* s, std::size_t k,
                   const unsigned char* pts, std::size_t nblocks);

/// As fbh::portable::verify: 1 if the blob's proof holds.
int verify(const unsigned char* pts, const unsigned char* proof, std::size_t nblocks, std::size_t k,
           const unsigned char* ctx32, std::uint64_t count);

}  // namespace cuda
}  // namespace fbh
