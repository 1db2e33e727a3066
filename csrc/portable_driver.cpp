// CPU driver of the portable kernels: the GPU's twin, run on threads so that CI tests the
// arithmetic the CUDA build launches (csrc/cuda/driver.cu). Each loop body is one element.
#include <algorithm>
#include <vector>

#include "elgamal.h"
#include "portable/driver.h"
#include "portable/kernels.h"
#include "util.h"

namespace fbh {
namespace portable {

static_assert(kMaxPlaintext == fbh::kMaxPlaintext, "portable and main plaintext bounds differ");

namespace {

/// Run fn(i) for i in [0, n) on threads; returns the smallest i for which fn returned false
/// (every element is still visited: the kernels have no early exit on the GPU either).
template <class F>
std::int64_t first_failure(std::size_t n, int threads, std::size_t grain, F&& fn) {
  const int nt = thread_count(n, threads, grain);
  std::vector<std::int64_t> first(static_cast<std::size_t>(nt), -1);
  parallel_for(n, nt, [&](int t, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      if (!fn(i) && first[static_cast<std::size_t>(t)] < 0) {
        first[static_cast<std::size_t>(t)] = static_cast<std::int64_t>(i);
      }
    }
  });
  for (std::int64_t f : first) {
    if (f >= 0) return f;
  }
  return -1;
}

}  // namespace

std::int64_t tables_build(ge* tabs, const unsigned char* bases, std::size_t nb, int threads) {
  return first_failure(nb, threads, 1, [&](std::size_t j) {
    gej b;
    if (!gej_load(&b, bases + j * kPointBytes) || b.inf) return false;
    ge a{b.x, b.y};
    fixed_table_build(tabs + j * kTablePoints, &a);
    return true;
  });
}

const ge* generator_table() {
  static const std::vector<ge> tab = [] {
    std::vector<ge> t(kTablePoints);
    unsigned char g[64];
    generator_bytes(g);
    tables_build(t.data(), g, 1, 1);
    return t;
  }();
  return tab.data();
}

std::int64_t encrypt(unsigned char* pts, unsigned char* proof, const ge* tabs, std::size_t k,
                     const std::int64_t* m, std::size_t nblocks, const unsigned char* ctx32,
                     std::uint64_t count, const unsigned char* nonces, int threads) {
  for (std::size_t i = 0; i < nblocks * k; ++i) {
    if (m[i] > kMaxPlaintext || m[i] < -kMaxPlaintext) return static_cast<std::int64_t>(i);
  }
  for (std::size_t b = 0; b <= nblocks; ++b) {
    scalar s;
    if (!nonce_scalar(&s, nonces + 32 * b)) return static_cast<std::int64_t>(b * k);
  }
  const std::size_t nb = k + 1;
  // Element (b, j): the GPU launches these B (k + 1) points.
  first_failure(nblocks * nb, threads, 64, [&](std::size_t e) {
    const std::size_t b = e / nb, j = e % nb;
    return packed_encrypt_point(pts + e * kPointBytes, tabs, j, nonces + 32 * b,
                                j == 0 ? 0 : m[b * k + j - 1]) != 0;
  });
  // The blob's proof: A = a G, seed over the blob, z = a + sum_b e_b r_b (elements: blocks).
  scalar a;
  nonce_scalar(&a, nonces + 32 * nblocks);
  gej pa;
  ecmult_fixed(&pa, tabs, a.d, kWindows);
  gej_store(proof, &pa);
  unsigned char seed[32];
  packed_transcript_seed(seed, ctx32, k, count, proof, pts, nblocks);
  const int nt = thread_count(nblocks, threads, 256);
  std::vector<scalar> part(static_cast<std::size_t>(nt), scalar{{0, 0, 0, 0}});
  parallel_for(nblocks, nt, [&](int t, std::size_t begin, std::size_t end) {
    scalar acc{{0, 0, 0, 0}}, er;
    for (std::size_t b = begin; b < end; ++b) {
      packed_weighted_nonce(&er, seed, b, nonces + 32 * b);
      scalar_add(&acc, &acc, &er);
    }
    part[static_cast<std::size_t>(t)] = acc;
    secure_zero(&er, sizeof(er));
    secure_zero(&acc, sizeof(acc));
  });
  for (const scalar& p : part) scalar_add(&a, &a, &p);
  scalar_get_b32(proof + kPointBytes, &a);
  secure_zero(part.data(), part.size() * sizeof(scalar));
  secure_zero(&a, sizeof(a));
  return -1;
}

std::int64_t aggregate(unsigned char* out, const unsigned char* items, std::size_t nitems,
                       std::size_t np, int threads, std::size_t* bad_item) {
  std::vector<std::size_t> which(np == 0 ? 1 : np, 0);
  const std::int64_t bad = first_failure(np, threads, 256, [&](std::size_t p) {
    return points_sum(out + p * kPointBytes, items, np * kPointBytes, nitems, p, &which[p]) != 0;
  });
  if (bad >= 0) *bad_item = which[static_cast<std::size_t>(bad)];
  return bad;
}

std::int64_t mul_r(unsigned char* out, const unsigned char* s, std::size_t k,
                   const unsigned char* pts, std::size_t nblocks, int threads) {
  std::vector<scalar> keys(k);
  for (std::size_t j = 0; j < k; ++j) scalar_set_b32(&keys[j], s + 32 * j);
  const std::int64_t bad = first_failure(nblocks * k, threads, 16, [&](std::size_t e) {
    const std::size_t b = e / k, j = e % k;
    return packed_mul_r_point(out + e * kPointBytes, pts + b * (k + 1) * kPointBytes, &keys[j]) != 0;
  });
  secure_zero(keys.data(), keys.size() * sizeof(scalar));
  return bad < 0 ? -1 : bad / static_cast<std::int64_t>(k);
}

int verify(const unsigned char* pts, const unsigned char* proof, std::size_t nblocks,
           std::size_t k, const unsigned char* ctx32, std::uint64_t count, int threads) {
  if (nblocks == 0) return 1;  // nothing to prove, as fbh::packed_verify_var
  unsigned char seed[32];
  packed_transcript_seed(seed, ctx32, k, count, proof, pts, nblocks);
  // Elements: e_b R_b per block, then a sum per thread (the GPU reduces in passes).
  std::vector<gej> t(nblocks == 0 ? 1 : nblocks);
  if (first_failure(nblocks, threads, 8, [&](std::size_t b) {
        return packed_weighted_point(&t[b], pts + b * (k + 1) * kPointBytes, seed, b) != 0;
      }) >= 0) {
    return 0;
  }
  const int nt = thread_count(nblocks, threads, 256);
  std::vector<gej> part(static_cast<std::size_t>(nt));
  parallel_for(nblocks, nt, [&](int i, std::size_t begin, std::size_t end) {
    gej_sum(&part[static_cast<std::size_t>(i)], t.data(), begin, end);
  });
  gej sum;
  gej_sum(&sum, part.data(), 0, part.size());
  return packed_check_proof(generator_table(), proof, &sum);
}

}  // namespace portable
}  // namespace fbh
