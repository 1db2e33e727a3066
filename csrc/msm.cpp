// Pippenger's bucket method with batch-affine buckets (variable time: public data only).
//
// Each scalar above 128 bits is GLV-split into two signed halves below 2^129 (shorter ones stay
// whole), so every point gets a short scalar; those are recoded into signed base-2^c digits
// (half the buckets) and summed window by window: per window the points are sorted into
// their buckets and each bucket is reduced by pairwise affine additions batched over all
// buckets with one shared inversion, then the running sums give sum_b b B_b (N. Pippenger,
// "On the evaluation of powers and related problems", FOCS 1976; the bucket formulation of
// D. J. Bernstein et al., "Faster batch forgery identification", INDOCRYPT 2012).
#include "msm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "batch_ifma.h"
#include "util.h"

namespace fbh {

namespace {

constexpr fe kBeta = fe_const(0x7ae96a2b657c0710ULL, 0x6e64479eac3434e9ULL, 0x9cf0497512f58995ULL,
                              0xc1396c28719501eeULL);

/// A Jacobian point (x = X / Z^2, y = Y / Z^3) with an explicit infinity flag.
struct gej {
  fe x, y, z;
  int inf;
};

inline bool fe_zero_var(const fe* a) { return fe_normalizes_to_zero_var(a) != 0; }

void gej_double_var(gej* r, const gej* a) {
  if (a->inf) {
    *r = *a;
    return;
  }
  // dbl-2009-l for a = 0 (secp256k1 has no point with y = 0).
  fe A, B, C, D, E, F, t, x3, y3, z3;
  fe_sqr(&A, &a->x);
  fe_sqr(&B, &a->y);
  fe_sqr(&C, &B);
  fe_add(&t, &a->x, &B);
  fe_sqr(&t, &t);
  fe_sub(&t, &t, &A);
  fe_sub(&t, &t, &C);
  fe_add(&D, &t, &t);
  fe_mul_int(&E, &A, 3);
  fe_sqr(&F, &E);
  fe_mul(&z3, &a->y, &a->z);
  fe_add(&z3, &z3, &z3);
  fe_add(&t, &D, &D);
  fe_sub(&x3, &F, &t);
  fe_sub(&t, &D, &x3);
  fe_mul(&y3, &E, &t);
  fe_mul_int(&t, &C, 8);
  fe_sub(&y3, &y3, &t);
  r->x = x3;
  r->y = y3;
  r->z = z3;
  r->inf = 0;
}

/// Shared tail of the additions below (add-2007-bl): r = (X1 : Y1 : Z1) + (X2 : Y2 : Z2) from
/// u1 = X1 Z2^2, s1 = Y1 Z2^3, h = U2 - u1, rr = S2 - s1 and z12 = Z1 Z2; a doubling or
/// infinity when h = 0.
void gej_add_finish(gej* r, const gej* a, const fe* u1, const fe* s1, const fe* h, fe rr,
                    const fe* z12) {
  if (fe_zero_var(h)) {
    if (fe_zero_var(&rr)) {
      gej_double_var(r, a);
    } else {
      r->inf = 1;
    }
    return;
  }
  fe i, j, v, t, x3, y3, z3;
  fe_sqr(&i, h);
  fe_mul_int(&i, &i, 4);  // I = (2h)^2
  fe_mul(&j, h, &i);
  fe_add(&rr, &rr, &rr);
  fe_mul(&v, u1, &i);
  fe_sqr(&x3, &rr);
  fe_sub(&x3, &x3, &j);
  fe_sub(&x3, &x3, &v);
  fe_sub(&x3, &x3, &v);
  fe_sub(&t, &v, &x3);
  fe_mul(&y3, &rr, &t);
  fe_mul(&t, s1, &j);
  fe_add(&t, &t, &t);
  fe_sub(&y3, &y3, &t);
  fe_mul(&z3, z12, h);
  fe_add(&z3, &z3, &z3);  // Z3 = 2 Z1 Z2 h
  r->x = x3;
  r->y = y3;
  r->z = z3;
  r->inf = 0;
}

/// r = a + b for an affine finite b (Z2 = 1).
void gej_add_ge_var(gej* r, const gej* a, const ge* b) {
  if (a->inf) {
    r->x = b->x;
    r->y = b->y;
    fe_set_int(&r->z, 1);
    r->inf = 0;
    return;
  }
  fe z1z1, u2, s2, h, rr;
  fe_sqr(&z1z1, &a->z);
  fe_mul(&u2, &b->x, &z1z1);
  fe_mul(&s2, &b->y, &a->z);
  fe_mul(&s2, &s2, &z1z1);
  fe_sub(&h, &u2, &a->x);
  fe_sub(&rr, &s2, &a->y);
  gej_add_finish(r, a, &a->x, &a->y, &h, rr, &a->z);
}

/// r = a + b.
void gej_add_var(gej* r, const gej* a, const gej* b) {
  if (a->inf) {
    *r = *b;
    return;
  }
  if (b->inf) {
    *r = *a;
    return;
  }
  fe z1z1, z2z2, u1, u2, s1, s2, h, rr, z12;
  fe_sqr(&z1z1, &a->z);
  fe_sqr(&z2z2, &b->z);
  fe_mul(&u1, &a->x, &z2z2);
  fe_mul(&u2, &b->x, &z1z1);
  fe_mul(&s1, &a->y, &b->z);
  fe_mul(&s1, &s1, &z2z2);
  fe_mul(&s2, &b->y, &a->z);
  fe_mul(&s2, &s2, &z1z1);
  fe_sub(&h, &u2, &u1);
  fe_sub(&rr, &s2, &s1);
  fe_mul(&z12, &a->z, &b->z);
  gej_add_finish(r, a, &u1, &s1, &h, rr, &z12);
}

/// A GLV half as a sign and a magnitude below 2^129 (two 64-bit words plus a top bit).
struct Half {
  u64 w[3];
  bool neg;
};

Half half_of(const scalar* k) {
  scalar neg;
  scalar_negate(&neg, k);
  Half h{};
  // The half is k or k - n; whichever of k, n - k is short is its magnitude.
  const bool short_pos = k->d[2] == 0 && k->d[3] == 0;
  const bool short_neg = neg.d[2] == 0 && neg.d[3] == 0;
  h.neg = !short_pos && short_neg;
  const scalar* m = h.neg ? &neg : k;
  h.w[0] = m->d[0];
  h.w[1] = m->d[1];
  h.w[2] = m->d[2];
  return h;
}

/// Bit length of the largest magnitude among the halves whose words are OR-ed into w.
int bit_length(const u64* w) {
  for (int i = 2; i >= 0; --i) {
    if (w[i] != 0) return 64 * i + 64 - __builtin_clzll(w[i]);
  }
  return 0;
}

/// Base-2^c digits of h (nw of them, least significant first, written to out[w * stride]):
/// signed in [-2^(c-1), 2^(c-1)) below the top window, whose digit takes the final carry
/// unsigned, in [0, 2^c]; h must be below 2^(c * nw).
void recode_signed(int* out, std::size_t stride, const Half& h, int c, int nw) {
  int carry = 0;
  const int half = 1 << (c - 1);
  for (int w = 0; w < nw; ++w) {
    const int bit = w * c;
    u64 v = 0;
    if (bit < 192) {
      const int word = bit >> 6, off = bit & 63;
      v = h.w[word] >> off;
      if (off + c > 64 && word + 1 < 3) v |= h.w[word + 1] << (64 - off);
    }
    int d = static_cast<int>(v & ((u64{1} << c) - 1)) + carry;
    carry = 0;
    if (w + 1 < nw && d >= half) {
      d -= 1 << c;
      carry = 1;
    }
    out[static_cast<std::size_t>(w) * stride] = d;
  }
}

/// Window width for np points with scalars of `bits` bits, from a cost model in field
/// multiplications: per window ~6 per point (one batched affine addition) and ~27 per bucket
/// (the two Jacobian additions of the running sums).
int window_bits(std::size_t np, int bits) {
  int best = 2;
  double best_cost = 0;
  for (int c = 2; c <= 16; ++c) {
    const double windows = std::ceil(static_cast<double>(bits) / c);
    const double cost = windows * (6.0 * static_cast<double>(np) + 27.0 * std::ldexp(1.0, c - 1));
    if (c == 2 || cost < best_cost) {
      best = c;
      best_cost = cost;
    }
  }
  return best;
}

/// One window's buckets, each reduced to a single affine point by pairwise batched additions:
/// the points are sorted by bucket (counting sort), then every pass adds the pairs (0, 1),
/// (2, 3), ... of every bucket in one batch that shares a single inversion (Montgomery's trick;
/// ~6 field multiplications per addition against ~11 for a mixed Jacobian addition), halving
/// each bucket until one point is left. Bucket skew (many points on few digits) only costs
/// passes, never unbatched additions. This is the "batch affine" bucket accumulation of the
/// fastest MSM codes (e.g. gnark-crypto's msm batchAddAffine; A. Aasaraai et al., "FPGA
/// acceleration of multi-scalar multiplication: CycloneMSM", 2022).
struct TreeBuckets {
  std::size_t nb;                         // buckets 1..nb (digit magnitudes)
  std::vector<std::uint32_t> start, len;  // bucket b's points: buf[start[b], +len[b])
  std::vector<ge> buf, nxt, acc, q, fin;  // fin[b]: bucket b's sum once len[b] <= 1
  std::vector<std::uint8_t> binf, ninf, ainf, qinf, finf;
  std::vector<fe> scratch;
  std::vector<std::uint32_t> idx, src, dst, active, cursor;
  TreeBuckets(std::size_t nbuckets, std::size_t n)
      : nb(nbuckets), start(nbuckets + 2), len(nbuckets + 1), buf(n), nxt(n), acc(n / 2 + 1),
        q(n / 2 + 1), fin(nbuckets + 1), binf(n), ninf(n), ainf(n / 2 + 1), qinf(n / 2 + 1),
        finf(nbuckets + 1), scratch(n / 2 + 1), idx(n / 2 + 1), src(n / 2 + 1), dst(n / 2 + 1) {}

  /// nxt[dst[j]] = buf[src[j]] + buf[src[j] + 1] for j < m: one two-chain batch without case
  /// checks while no operand is infinite and no pair shares an x, else the version that
  /// handles every case (equal points, opposite points, infinity). Returns 1 if a result is
  /// infinite.
  bool add_pairs(std::size_t m, bool any_inf) {
    if (!any_inf && ge_batch_add_pairs_wide(nxt.data(), buf.data(), src.data(), dst.data(), m,
                                            scratch.data())) {
      for (std::size_t j = 0; j < m; ++j) ninf[dst[j]] = 0;
      return false;
    }
    for (std::size_t j = 0; j < m; ++j) {
      acc[j] = buf[src[j]];
      ainf[j] = binf[src[j]];
      q[j] = buf[src[j] + 1];
      qinf[j] = binf[src[j] + 1];
    }
    ge_batch_add_var(acc.data(), ainf.data(), q.data(), qinf.data(), m, scratch.data(),
                     idx.data());
    unsigned out_inf = 0;
    for (std::size_t j = 0; j < m; ++j) {
      nxt[dst[j]] = acc[j];
      ninf[dst[j]] = ainf[j];
      out_inf |= ainf[j];
    }
    return out_inf != 0;
  }

  /// Sort the points with a nonzero digit in dig[0..n) into their buckets (negated for a
  /// negative digit) and reduce every bucket to one point (fin, finf).
  void fill(const ge* pts, const int* dig, std::size_t n) {
    std::fill(len.begin(), len.end(), 0U);
    for (std::size_t i = 0; i < n; ++i) {
      if (dig[i] != 0) ++len[static_cast<std::size_t>(dig[i] < 0 ? -dig[i] : dig[i])];
    }
    start[0] = 0;
    for (std::size_t b = 0; b <= nb; ++b) start[b + 1] = start[b] + len[b];
    cursor.assign(start.begin(), start.end());
    for (std::size_t i = 0; i < n; ++i) {
      const int d = dig[i];
      if (d == 0) continue;
      const std::uint32_t at = cursor[static_cast<std::size_t>(d < 0 ? -d : d)]++;
      buf[at] = pts[i];
      if (d < 0) ge_negate(&buf[at], &buf[at]);
      binf[at] = 0;
    }
    active.clear();
    for (std::size_t b = 1; b <= nb; ++b) {
      if (len[b] >= 2) {
        active.push_back(static_cast<std::uint32_t>(b));
      } else if (len[b] == 1) {
        fin[b] = buf[start[b]];
        finf[b] = 0;
      }
    }
    bool any_inf = false;  // some point in buf is infinite (only after a cancellation)
    while (!active.empty()) {
      std::size_t m = 0;
      for (std::uint32_t b : active) {
        const std::uint32_t s = start[b], l = len[b], h = l / 2;
        for (std::uint32_t t = 0; t < h; ++t, ++m) {
          src[m] = s + 2 * t;
          dst[m] = s + t;
        }
        if (l & 1) {  // the odd one out moves on unchanged
          nxt[s + h] = buf[s + l - 1];
          ninf[s + h] = binf[s + l - 1];
        }
      }
      any_inf = add_pairs(m, any_inf) || any_inf;
      buf.swap(nxt);
      binf.swap(ninf);
      std::size_t still = 0;
      for (std::uint32_t b : active) {
        len[b] = len[b] / 2 + (len[b] & 1);
        if (len[b] >= 2) {
          active[still++] = b;
        } else {
          fin[b] = buf[start[b]];
          finf[b] = binf[start[b]];
        }
      }
      active.resize(still);
    }
  }

  /// sum_b b * B_b as running sums from the top nonempty bucket down.
  gej weighted_sum() const {
    gej run{}, sum{};
    run.inf = sum.inf = 1;
    std::size_t top = nb;
    while (top > 0 && len[top] == 0) --top;
    for (std::size_t b = top; b > 0; --b) {
      if (len[b] != 0 && !finf[b]) gej_add_ge_var(&run, &run, &fin[b]);
      gej_add_var(&sum, &sum, &run);
    }
    return sum;
  }
};

/// Pippenger over pts[0..n) with digits dig[w * stride + i]; returns the sum.
gej pippenger_var(const ge* pts, const int* dig, std::size_t stride, std::size_t n, int c,
                  int nw) {
  TreeBuckets buckets(std::size_t{1} << c, n);  // the top window's digits reach 2^c
  gej total{};
  total.inf = 1;
  for (int w = nw - 1; w >= 0; --w) {
    for (int s = 0; s < c && w != nw - 1; ++s) gej_double_var(&total, &total);
    buckets.fill(pts, dig + static_cast<std::size_t>(w) * stride, n);
    const gej sum = buckets.weighted_sum();
    gej_add_var(&total, &total, &sum);
  }
  return total;
}

}  // namespace

int msm_is_infinity_var(const ge* pts, const scalar* sc, std::size_t n, int threads) {
  if (n == 0) return 1;
  // 2n points with short scalars: P with k1, lambda P = (beta x, y) with k2 (zero for short
  // scalars, whose slot then has only zero digits and is skipped).
  const std::size_t np = 2 * n;
  std::vector<ge> p(np);
  std::vector<Half> halves(np);
  const int nt = thread_count(n, threads, 512);
  std::vector<u64> bits_or(3 * static_cast<std::size_t>(nt), 0);
  parallel_for(n, nt, [&](int t, std::size_t begin, std::size_t end) {
    u64* any = &bits_or[3 * static_cast<std::size_t>(t)];
    for (std::size_t i = begin; i < end; ++i) {
      scalar k1 = sc[i], k2{};
      // Short scalars (the 128-bit coefficients of batch checks) stay whole: a GLV split would
      // give them a tiny second half and double the points.
      if (sc[i].d[2] != 0 || sc[i].d[3] != 0) scalar_split_lambda(&k1, &k2, &sc[i]);
      Half& h1 = halves[2 * i];
      Half& h2 = halves[2 * i + 1];
      h1 = half_of(&k1);
      h2 = half_of(&k2);
      p[2 * i] = pts[i];
      if (h1.neg) ge_negate(&p[2 * i], &p[2 * i]);
      if (h2.w[0] | h2.w[1] | h2.w[2]) {
        p[2 * i + 1] = pts[i];
        fe_mul(&p[2 * i + 1].x, &p[2 * i + 1].x, &kBeta);
        if (h2.neg) ge_negate(&p[2 * i + 1], &p[2 * i + 1]);
      }
      for (int j = 0; j < 3; ++j) any[j] |= h1.w[j] | h2.w[j];
    }
  });
  u64 any[3] = {0, 0, 0};
  for (std::size_t t = 0; t < static_cast<std::size_t>(nt); ++t) {
    for (int j = 0; j < 3; ++j) any[j] |= bits_or[3 * t + static_cast<std::size_t>(j)];
  }
  const int bits = bit_length(any);
  if (bits == 0) return 1;  // every scalar is zero
  const std::size_t per_thread = (np + static_cast<std::size_t>(nt) - 1) / static_cast<std::size_t>(nt);
  const int c = window_bits(per_thread, bits);
  const int nw = (bits + c - 1) / c;
  std::vector<int> dig(static_cast<std::size_t>(nw) * np);
  parallel_for(np, nt, [&](int, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) recode_signed(&dig[i], np, halves[i], c, nw);
  });
  std::vector<gej> part(static_cast<std::size_t>(nt));
  parallel_for(np, nt, [&](int t, std::size_t begin, std::size_t end) {
    part[static_cast<std::size_t>(t)] =
        pippenger_var(p.data() + begin, dig.data() + begin, np, end - begin, c, nw);
  });
  gej total = part[0];
  for (std::size_t t = 1; t < part.size(); ++t) gej_add_var(&total, &total, &part[t]);
  return total.inf ? 1 : 0;
}

}  // namespace fbh
