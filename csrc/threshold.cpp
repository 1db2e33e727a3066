#include "threshold.h"

#include <algorithm>
#include <vector>

#include "ecmult.h"
#include "msm.h"
#include "util.h"

namespace fbh {

namespace {

/// Bits [pos, pos + c) of a 32-byte big-endian scalar (bit 0 = least significant).
unsigned window_bits(const unsigned char* s, unsigned pos, unsigned c) {
  unsigned v = 0;
  for (unsigned b = 0; b < c && pos + b < 256; ++b) {
    const unsigned bit = pos + b;
    v |= static_cast<unsigned>((s[31 - bit / 8] >> (bit % 8)) & 1U) << b;
  }
  return v;
}

unsigned top_bit(const unsigned char* s) {
  for (unsigned i = 0; i < 32; ++i) {
    if (s[i]) {
      unsigned b = 7;
      while (!((s[i] >> b) & 1U)) --b;
      return (31 - i) * 8 + b + 1;
    }
  }
  return 0;
}

}  // namespace

int points_lincomb_var(unsigned char* out, const unsigned char* pts, const unsigned char* sc,
                       std::size_t n, std::size_t* bad) {
  std::vector<gep> p(n);
  unsigned bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ge a;
    std::uint8_t inf;
    scalar tmp;
    if (!ge_load_var(&a, &inf, pts + 64 * i, true) || scalar_set_b32(&tmp, sc + 32 * i)) {
      *bad = i;
      return 0;
    }
    if (inf) {
      gep_set_infinity(&p[i]);
    } else {
      gep_set_ge(&p[i], &a);
    }
    bits = std::max(bits, top_bit(sc + 32 * i));
  }
  // Window width ~ log2(n) - 2 balances n additions per window against 2^(c+1) for the
  // bucket sums (Pippenger, "On the evaluation of powers and monomials", SIAM J. Comp. 1980).
  unsigned c = 2;
  while (c < 14 && (std::size_t{1} << (c + 3)) <= n) ++c;
  const unsigned nw = (bits + c - 1) / c;
  std::vector<gep> bucket(std::size_t{1} << c);
  gep acc, t;
  gep_set_infinity(&acc);
  for (unsigned w = nw; w-- > 0;) {
    for (unsigned d = 0; d < c; ++d) {
      gep_add(&t, &acc, &acc);
      acc = t;
    }
    for (auto& b : bucket) gep_set_infinity(&b);
    unsigned hi = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const unsigned d = window_bits(sc + 32 * i, w * c, c);
      if (!d) continue;
      gep_add(&t, &bucket[d], &p[i]);
      bucket[d] = t;
      hi = std::max(hi, d);
    }
    gep run, sum;  // sum_d d * bucket[d] as running sums
    gep_set_infinity(&run);
    gep_set_infinity(&sum);
    for (unsigned d = hi; d >= 1; --d) {
      gep_add(&t, &run, &bucket[d]);
      run = t;
      gep_add(&t, &sum, &run);
      sum = t;
    }
    gep_add(&t, &acc, &sum);
    acc = t;
  }
  ge r;
  const u64 inf = gep_to_ge(&r, &acc);
  ge_store(out, &r, static_cast<std::uint8_t>(inf));
  return 1;
}

void point_mul_const(unsigned char* out, const ge* p, const scalar* k) {
  gep r;
  ge a;
  ecmult_const_complete(&r, p, k);
  const u64 inf = gep_to_ge(&a, &r);
  ge_store(out, &a, static_cast<std::uint8_t>(inf));
  secure_zero(&r, sizeof(r));
}

std::int64_t points_decode_var(std::int64_t* out, const unsigned char* pts, std::size_t n,
                               const BsgsTable& t, std::uint64_t bound, int threads) {
  const int nt = thread_count(n, threads, 4096);
  std::vector<std::int64_t> first(static_cast<std::size_t>(nt), -1);
  parallel_for(n, nt, [&](int th, std::size_t b, std::size_t e) {
    std::vector<ge> p(e - b);
    std::vector<std::uint8_t> inf(e - b);
    for (std::size_t i = b; i < e; ++i) {
      if (!ge_load_var(&p[i - b], &inf[i - b], pts + 64 * i, true)) {
        first[static_cast<std::size_t>(th)] = static_cast<std::int64_t>(i);
        return;
      }
    }
    const std::int64_t bad = bsgs_decode_var(out + b, t, p.data(), inf.data(), e - b, bound);
    if (bad >= 0) first[static_cast<std::size_t>(th)] = static_cast<std::int64_t>(b) + bad;
  });
  for (const auto f : first) {
    if (f >= 0) return f;  // ranges are in order: the first hit is the lowest index
  }
  return -1;
}

int share_batch_check_var(const unsigned char* r, const unsigned char* d, const unsigned char* c,
                          std::size_t nb, std::size_t k, const unsigned char* rstar,
                          const unsigned char* dstar, const unsigned char* rho, int threads) {
  const std::size_t n = nb * k + nb + k + 1;
  std::vector<ge> pts(n);
  std::vector<scalar> sc(n);
  std::vector<scalar> rh(k + 1), cb(nb);
  for (std::size_t j = 0; j <= k; ++j) {
    if (scalar_set_b32(&rh[j], rho + 32 * j)) return 0;
  }
  for (std::size_t b = 0; b < nb; ++b) {
    if (scalar_set_b32(&cb[b], c + 32 * b)) return 0;
  }
  std::size_t at = 0;
  auto put = [&](const unsigned char* p, const scalar& s) {
    std::uint8_t inf;
    if (!ge_load_var(&pts[at], &inf, p, true) || inf) return false;
    sc[at++] = s;
    return true;
  };
  for (std::size_t b = 0; b < nb; ++b) {
    for (std::size_t j = 0; j < k; ++j) {
      scalar s;
      scalar_mul(&s, &rh[j], &cb[b]);
      if (!put(d + 64 * (b * k + j), s)) return 0;
    }
    scalar s;
    scalar_mul(&s, &rh[k], &cb[b]);
    if (!put(r + 64 * b, s)) return 0;
  }
  for (std::size_t j = 0; j <= k; ++j) {
    scalar s;
    scalar_negate(&s, &rh[j]);
    if (!put(j < k ? dstar + 64 * j : rstar, s)) return 0;
  }
  return msm_is_infinity_var(pts.data(), sc.data(), n, threads);
}

}  // namespace fbh
