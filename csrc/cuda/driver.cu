// CUDA driver: the per-element functions of csrc/portable/kernels.h launched as kernels, one
// thread per element (grid-stride loops). Buffers are copied per call; the tables of
// encryption live on the device (DeviceTables). First failures are found with atomicMin.
#include <cuda_runtime.h>

#include <climits>
#include <stdexcept>
#include <string>
#include <vector>

#include "../portable/kernels.h"
#include "driver.h"

namespace fbh {
namespace cuda {

namespace pt = fbh::portable;

namespace {

constexpr int kThreadsPerBlock = 128;

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

/// A device buffer freed on scope exit.
struct Buf {
  void* p = nullptr;
  explicit Buf(std::size_t n) { check(cudaMalloc(&p, n == 0 ? 1 : n), "cudaMalloc"); }
  Buf(const void* host, std::size_t n) : Buf(n) {
    if (n) check(cudaMemcpy(p, host, n, cudaMemcpyHostToDevice), "cudaMemcpy to device");
  }
  ~Buf() { cudaFree(p); }
  template <class T>
  T* as() const { return static_cast<T*>(p); }
  void get(void* host, std::size_t n) const {
    if (n) check(cudaMemcpy(host, p, n, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
  }
};

/// Smallest failing element, ULLONG_MAX when none.
struct First {
  Buf b{sizeof(unsigned long long)};
  First() {
    const unsigned long long none = ULLONG_MAX;
    check(cudaMemcpy(b.p, &none, sizeof(none), cudaMemcpyHostToDevice), "cudaMemcpy");
  }
  std::int64_t get() const {
    unsigned long long v;
    b.get(&v, sizeof(v));
    return v == ULLONG_MAX ? -1 : static_cast<std::int64_t>(v);
  }
};

unsigned grid(std::size_t n) {
  const std::size_t g = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return static_cast<unsigned>(g < 65535 * 16 ? (g == 0 ? 1 : g) : 65535 * 16);
}

/// ptxas (nvcc 13.0, sm_90) reports up to 2,528 bytes of stack per thread (verify: the
/// 15-point table of ecmult_var) against a 1 KB default: raise the limit once to 4 KB.
void ensure_stack() {
  static const bool done = [] {
    std::size_t cur = 0;
    check(cudaDeviceGetLimit(&cur, cudaLimitStackSize), "cudaDeviceGetLimit");
    if (cur < 4096) check(cudaDeviceSetLimit(cudaLimitStackSize, 4096), "cudaDeviceSetLimit stack");
    return true;
  }();
  (void)done;
}

void launched(const char* what) {
  check(cudaGetLastError(), what);
  check(cudaDeviceSynchronize(), what);
}

#define FBH_FOR_ELEMENTS(i, n) \
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)

__global__ void encrypt_points_kernel(unsigned char* pts, const pt::ge* tabs, std::size_t k,
                                      const std::int64_t* m, std::size_t nblocks,
                                      const unsigned char* nonces, unsigned long long* first) {
  const std::size_t nb = k + 1;
  FBH_FOR_ELEMENTS(e, nblocks * nb) {
    const std::size_t b = e / nb, j = e % nb;
    if (!pt::packed_encrypt_point(pts + e * pt::kPointBytes, tabs, j, nonces + 32 * b,
                                  j == 0 ? 0 : m[b * k + j - 1])) {
      atomicMin(first, static_cast<unsigned long long>(e));
    }
  }
}

__global__ void weighted_nonce_kernel(pt::scalar* out, const unsigned char* seed, std::size_t nblocks,
                                      const unsigned char* nonces, unsigned long long* first) {
  FBH_FOR_ELEMENTS(b, nblocks) {
    if (!pt::packed_weighted_nonce(&out[b], seed, b, nonces + 32 * b)) {
      atomicMin(first, static_cast<unsigned long long>(b));
    }
  }
}

__global__ void aggregate_kernel(unsigned char* out, const unsigned char* items, std::size_t nitems,
                                 std::size_t np, unsigned long long* first) {
  FBH_FOR_ELEMENTS(p, np) {
    std::size_t bad_item = 0;
    if (!pt::points_sum(out + p * pt::kPointBytes, items, np * pt::kPointBytes, nitems, p, &bad_item)) {
      atomicMin(first, static_cast<unsigned long long>(p) * 65536ULL + bad_item);
    }
  }
}

__global__ void mul_r_kernel(unsigned char* out, const pt::scalar* keys, std::size_t k,
                             const unsigned char* pts, std::size_t nblocks, unsigned long long* first) {
  FBH_FOR_ELEMENTS(e, nblocks * k) {
    const std::size_t b = e / k, j = e % k;
    if (!pt::packed_mul_r_point(out + e * pt::kPointBytes, pts + b * (k + 1) * pt::kPointBytes, &keys[j])) {
      atomicMin(first, static_cast<unsigned long long>(b));
    }
  }
}

__global__ void weighted_point_kernel(pt::gej* out, const unsigned char* pts, std::size_t k,
                                      std::size_t nblocks, const unsigned char* seed,
                                      unsigned long long* first) {
  FBH_FOR_ELEMENTS(b, nblocks) {
    if (!pt::packed_weighted_point(&out[b], pts + b * (k + 1) * pt::kPointBytes, seed, b)) {
      atomicMin(first, static_cast<unsigned long long>(b));
    }
  }
}

/// One reduction pass: out[t] = sum of in[t * chunk, (t + 1) * chunk).
__global__ void sum_kernel(pt::gej* out, const pt::gej* in, std::size_t n, std::size_t chunk) {
  FBH_FOR_ELEMENTS(t, (n + chunk - 1) / chunk) {
    const std::size_t end = (t + 1) * chunk < n ? (t + 1) * chunk : n;
    pt::gej_sum(&out[t], in, t * chunk, end);
  }
}

constexpr std::size_t kSumChunk = 32;  // points summed per thread and reduction pass

/// G's fixed table on the device, built on the host once.
const pt::ge* device_generator_table() {
  static const Buf* tab = [] {
    std::vector<pt::ge> t(pt::kTablePoints);
    unsigned char g[64];
    pt::generator_bytes(g);
    pt::gej b;
    pt::gej_load(&b, g);
    pt::ge a{b.x, b.y};
    pt::fixed_table_build(t.data(), &a);
    return new Buf(t.data(), t.size() * sizeof(pt::ge));  // lives as long as the process
  }();
  return tab->as<pt::ge>();
}

}  // namespace

int device_count() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

void device_name(char* out, std::size_t cap) {
  cudaDeviceProp p;
  out[0] = 0;
  if (device_count() > 0 && cudaGetDeviceProperties(&p, 0) == cudaSuccess && cap > 0) {
    std::size_t i = 0;
    for (; i + 1 < cap && p.name[i] != 0; ++i) out[i] = p.name[i];
    out[i] = 0;
  }
}

DeviceTables::DeviceTables(const unsigned char* host, std::size_t nbytes, std::size_t k_) : k(k_) {
  if (nbytes != (k_ + 1) * pt::kTablePoints * sizeof(pt::ge)) {
    throw std::invalid_argument("table bytes do not match k");
  }
  check(cudaMalloc(&ptr, nbytes), "cudaMalloc");
  check(cudaMemcpy(ptr, host, nbytes, cudaMemcpyHostToDevice), "cudaMemcpy tables");
}

DeviceTables::~DeviceTables() { cudaFree(ptr); }

std::int64_t encrypt(unsigned char* pts, unsigned char* proof, const DeviceTables& t,
                     const std::int64_t* m, std::size_t nblocks, const unsigned char* ctx32,
                     std::uint64_t count, const unsigned char* nonces) {
  ensure_stack();
  const std::size_t k = t.k, nb = k + 1;
  for (std::size_t i = 0; i < nblocks * k; ++i) {
    if (m[i] > pt::kMaxPlaintext || m[i] < -pt::kMaxPlaintext) return static_cast<std::int64_t>(i);
  }
  for (std::size_t b = 0; b <= nblocks; ++b) {
    pt::scalar s;
    if (!pt::nonce_scalar(&s, nonces + 32 * b)) return static_cast<std::int64_t>(b * k);
  }
  const auto* tabs = static_cast<const pt::ge*>(t.ptr);
  Buf dm(m, nblocks * k * sizeof(std::int64_t)), dn(nonces, 32 * nblocks);
  Buf dp(nblocks * nb * pt::kPointBytes), de(nblocks * sizeof(pt::scalar));
  First f1, f2;
  encrypt_points_kernel<<<grid(nblocks * nb), kThreadsPerBlock>>>(
      dp.as<unsigned char>(), tabs, k, dm.as<std::int64_t>(), nblocks, dn.as<unsigned char>(),
      f1.b.as<unsigned long long>());
  launched("encrypt kernel");
  dp.get(pts, nblocks * nb * pt::kPointBytes);
  // The blob's proof: A = a G and the transcript seed on the host (one pass over the blob),
  // the products e_b r_b on the device, their sum z - a on the host.
  pt::scalar a;
  pt::nonce_scalar(&a, nonces + 32 * nblocks);
  std::vector<pt::ge> tab_g(pt::kTablePoints);
  check(cudaMemcpy(tab_g.data(), tabs, tab_g.size() * sizeof(pt::ge), cudaMemcpyDeviceToHost), "cudaMemcpy G table");
  pt::gej pa;
  pt::ecmult_fixed(&pa, tab_g.data(), a.d, pt::kWindows);
  pt::gej_store(proof, &pa);
  unsigned char seed[32];
  pt::packed_transcript_seed(seed, ctx32, k, count, proof, pts, nblocks);
  Buf ds(seed, 32);
  weighted_nonce_kernel<<<grid(nblocks), kThreadsPerBlock>>>(de.as<pt::scalar>(), ds.as<unsigned char>(),
                                                             nblocks, dn.as<unsigned char>(),
                                                             f2.b.as<unsigned long long>());
  launched("weighted nonce kernel");
  std::vector<pt::scalar> er(nblocks);
  de.get(er.data(), nblocks * sizeof(pt::scalar));
  cudaMemset(dn.p, 0, 32 * nblocks);  // nonces and their multiples are secret: wipe them
  cudaMemset(de.p, 0, nblocks * sizeof(pt::scalar));
  if (f1.get() >= 0 || f2.get() >= 0) throw std::runtime_error("encrypt kernel rejected checked input");
  for (const pt::scalar& x : er) pt::scalar_add(&a, &a, &x);
  pt::scalar_get_b32(proof + pt::kPointBytes, &a);
  volatile pt::u64* wipe = nblocks ? &er[0].d[0] : &a.d[0];  // volatile: not optimized away
  for (std::size_t i = 0; i < 4 * nblocks; ++i) wipe[i] = 0;
  volatile pt::u64* wipe_a = &a.d[0];
  for (int i = 0; i < 4; ++i) wipe_a[i] = 0;
  return -1;
}

std::int64_t aggregate(unsigned char* out, const unsigned char* items, std::size_t nitems,
                       std::size_t np, std::size_t* bad_item) {
  ensure_stack();
  Buf di(items, nitems * np * pt::kPointBytes), dout(np * pt::kPointBytes);
  First f;
  aggregate_kernel<<<grid(np), kThreadsPerBlock>>>(dout.as<unsigned char>(), di.as<unsigned char>(),
                                                   nitems, np, f.b.as<unsigned long long>());
  launched("aggregate kernel");
  const std::int64_t bad = f.get();
  if (bad >= 0) {
    *bad_item = static_cast<std::size_t>(bad % 65536);
    return bad / 65536;
  }
  dout.get(out, np * pt::kPointBytes);
  return -1;
}

std::int64_t mul_r(unsigned char* out, const unsigned char* s, std::size_t k,
                   const unsigned char* pts, std::size_t nblocks) {
  ensure_stack();
  std::vector<pt::scalar> keys(k);
  for (std::size_t j = 0; j < k; ++j) pt::scalar_set_b32(&keys[j], s + 32 * j);
  Buf dk(keys.data(), k * sizeof(pt::scalar)), dp(pts, nblocks * (k + 1) * pt::kPointBytes);
  Buf dout(nblocks * k * pt::kPointBytes);
  volatile pt::u64* wipe = &keys[0].d[0];  // volatile: the clearing is not optimized away
  for (std::size_t i = 0; i < 4 * k; ++i) wipe[i] = 0;
  First f;
  mul_r_kernel<<<grid(nblocks * k), kThreadsPerBlock>>>(dout.as<unsigned char>(), dk.as<pt::scalar>(), k,
                                                        dp.as<unsigned char>(), nblocks,
                                                        f.b.as<unsigned long long>());
  launched("mul_r kernel");
  cudaMemset(dk.p, 0, k * sizeof(pt::scalar));
  dout.get(out, nblocks * k * pt::kPointBytes);
  return f.get();
}

int verify(const unsigned char* pts, const unsigned char* proof, std::size_t nblocks, std::size_t k,
           const unsigned char* ctx32, std::uint64_t count) {
  if (nblocks == 0) return 1;  // nothing to prove, as fbh::packed_verify_var
  ensure_stack();
  unsigned char seed[32];
  pt::packed_transcript_seed(seed, ctx32, k, count, proof, pts, nblocks);
  Buf dp(pts, nblocks * (k + 1) * pt::kPointBytes), ds(seed, 32);
  Buf a(nblocks * sizeof(pt::gej)), b(nblocks * sizeof(pt::gej));
  First f;
  weighted_point_kernel<<<grid(nblocks), kThreadsPerBlock>>>(a.as<pt::gej>(), dp.as<unsigned char>(), k, nblocks,
                                                             ds.as<unsigned char>(), f.b.as<unsigned long long>());
  launched("weighted point kernel");
  if (f.get() >= 0) return 0;
  // Reduce in passes of kSumChunk points per thread until few enough remain for the host.
  std::size_t n = nblocks;
  Buf* in = &a;
  Buf* out = &b;
  while (n > kSumChunk) {
    sum_kernel<<<grid((n + kSumChunk - 1) / kSumChunk), kThreadsPerBlock>>>(out->as<pt::gej>(), in->as<pt::gej>(),
                                                                            n, kSumChunk);
    launched("sum kernel");
    n = (n + kSumChunk - 1) / kSumChunk;
    Buf* tmp = in;
    in = out;
    out = tmp;
  }
  std::vector<pt::gej> rest(n == 0 ? 1 : n);
  in->get(rest.data(), n * sizeof(pt::gej));
  pt::gej sum;
  pt::gej_sum(&sum, rest.data(), 0, n);
  std::vector<pt::ge> tab_g(pt::kTablePoints);
  check(cudaMemcpy(tab_g.data(), device_generator_table(), tab_g.size() * sizeof(pt::ge), cudaMemcpyDeviceToHost),
        "cudaMemcpy G table");
  return pt::packed_check_proof(tab_g.data(), proof, &sum);
}

}  // namespace cuda
}  // namespace fbh
