// Pippenger's bucket method over Jacobian coordinates (variable time: public data only).
//
// Each scalar is GLV-split into two signed halves below 2^129, so n inputs become 2n points
// with short scalars; those are recoded into signed base-2^c digits and summed window by
// window: per window one batched affine addition per point into its bucket, then 2^c
// Jacobian additions for the running sums (N. Pippenger, "On the evaluation of powers and related problems", FOCS
// 1976; the bucket formulation of D. J. Bernstein et al., "Faster batch forgery
// identification", INDOCRYPT 2012).
#include "msm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "util.h"

namespace fbh {

namespace {

constexpr fe kBeta = fe_const(0x7ae96a2b657c0710ULL, 0x6e64479eac3434e9ULL, 0x9cf0497512f58995ULL,
                              0xc1396c28719501eeULL);
constexpr int kHalfBits = 130;  // |GLV half| < 2^129, plus one bit of signed-digit carry

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

/// Signed base-2^c digits of h (least significant first, nw digits).
void recode_signed(int* out, const Half& h, int c, int nw) {
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
    carry = d >= half ? 1 : 0;
    if (carry) d -= 1 << c;
    out[w] = d;
  }
}

/// Affine buckets filled with batched additions: every step adds up to kBatch pending points
/// to distinct buckets with one shared inversion (ge_batch_add_var, ~6 multiplications each
/// against ~11 for a mixed Jacobian addition); a point whose bucket already has an addition in
/// the current step waits for the next one.
struct AffineBuckets {
  static constexpr std::size_t kBatch = 512;
  static constexpr std::size_t kMinStep = 32;
  static constexpr std::size_t kMaxWaiting = 4;  // waiting points per queued addition
  std::vector<ge> pt;
  std::vector<std::uint8_t> inf;            // bucket holds infinity (or nothing yet)
  std::vector<gej> extra;                   // overflow sums (see fill), Jacobian
  std::vector<std::uint32_t> stamp;         // step that last queued an addition to the bucket
  std::vector<ge> acc, q;                   // gathered operands of one step
  std::vector<std::uint8_t> ainf, qinf;
  std::vector<std::uint32_t> dst, idx;
  std::vector<fe> scratch;
  std::uint32_t step = 1;
  explicit AffineBuckets(std::size_t nb)
      : pt(nb), inf(nb, 1), extra(nb), stamp(nb, 0), acc(kBatch), q(kBatch), ainf(kBatch), qinf(kBatch, 0),
        dst(kBatch), idx(kBatch), scratch(kBatch) {}

  void reset() {
    std::fill(inf.begin(), inf.end(), std::uint8_t{1});
    for (auto& e : extra) e.inf = 1;
  }

  /// Run the queued additions (m of them) and write the sums back to their buckets.
  void flush(std::size_t m) {
    if (m == 0) return;
    ge_batch_add_var(acc.data(), ainf.data(), q.data(), qinf.data(), m, scratch.data(), idx.data());
    for (std::size_t j = 0; j < m; ++j) {
      pt[dst[j]] = acc[j];
      inf[dst[j]] = ainf[j];
    }
    ++step;
  }

  /// Add every point with a nonzero digit in window w to its bucket.
  void fill(const ge* pts, const int* dig, std::size_t n, int nw, int w) {
    std::vector<std::uint32_t> todo, later;
    for (std::size_t i = 0; i < n; ++i) {
      if (dig[i * static_cast<std::size_t>(nw) + static_cast<std::size_t>(w)] != 0) {
        todo.push_back(static_cast<std::uint32_t>(i));
      }
    }
    while (!todo.empty()) {
      std::size_t m = 0, queued = 0;
      later.clear();
      for (std::uint32_t i : todo) {
        const int d = dig[i * static_cast<std::size_t>(nw) + static_cast<std::size_t>(w)];
        const auto b = static_cast<std::uint32_t>((d < 0 ? -d : d) - 1);
        ge p = pts[i];
        if (d < 0) ge_negate(&p, &p);
        if (inf[b]) {  // an empty bucket takes the point as it is
          pt[b] = p;
          inf[b] = 0;
          continue;
        }
        if (stamp[b] == step) {  // the bucket is already an operand of this step
          later.push_back(i);
          continue;
        }
        stamp[b] = step;
        ++queued;
        acc[m] = pt[b];
        ainf[m] = 0;
        q[m] = p;
        dst[m] = b;
        if (++m == kBatch) {
          flush(m);
          m = 0;
        }
      }
      flush(m);
      todo.swap(later);
      if (!todo.empty() && (queued < kMinStep || todo.size() > kMaxWaiting * queued)) {
        // Few distinct buckets for many points (skewed digits, e.g. the top window of the
        // 128-bit batch weights): another pass would queue at most `queued` of them, so the
        // passes would grow quadratically; the rest goes to Jacobian sums with mixed additions.
        for (std::uint32_t i : todo) {
          const int d = dig[i * static_cast<std::size_t>(nw) + static_cast<std::size_t>(w)];
          ge p = pts[i];
          if (d < 0) ge_negate(&p, &p);
          gej* e = &extra[static_cast<std::size_t>((d < 0 ? -d : d) - 1)];
          gej_add_ge_var(e, e, &p);
        }
        return;
      }
    }
  }
};

/// Pippenger over pts[0..n) with digits dig[i * nw + w]; returns the sum.
gej pippenger_var(const ge* pts, const int* dig, std::size_t n, int c, int nw) {
  const std::size_t nbuckets = std::size_t{1} << (c - 1);
  AffineBuckets buckets(nbuckets);
  gej total{};
  total.inf = 1;
  for (int w = nw - 1; w >= 0; --w) {
    for (int s = 0; s < c && w != nw - 1; ++s) gej_double_var(&total, &total);
    buckets.reset();
    buckets.fill(pts, dig, n, nw, w);
    // sum_b (b + 1) B_b as running sums from the top bucket down.
    gej run{}, acc{};
    run.inf = acc.inf = 1;
    for (std::size_t b = nbuckets; b-- > 0;) {
      if (!buckets.inf[b]) gej_add_ge_var(&run, &run, &buckets.pt[b]);
      if (!buckets.extra[b].inf) gej_add_var(&run, &run, &buckets.extra[b]);
      gej_add_var(&acc, &acc, &run);
    }
    gej_add_var(&total, &total, &acc);
  }
  return total;
}

}  // namespace

int msm_is_infinity_var(const ge* pts, const scalar* sc, std::size_t n, int threads) {
  if (n == 0) return 1;
  // 2n points with short scalars: P with k1, lambda P = (beta x, y) with k2.
  const std::size_t np = 2 * n;
  const double lg = std::log2(static_cast<double>(np));
  int c = static_cast<int>(lg) - 2;
  c = c < 4 ? 4 : (c > 15 ? 15 : c);
  const int nw = (kHalfBits + c - 1) / c + 1;
  std::vector<ge> p(np);
  std::vector<int> dig(np * static_cast<std::size_t>(nw));
  const int nt = thread_count(n, threads, 512);
  parallel_for(n, nt, [&](int, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      scalar k1 = sc[i], k2{};
      // Short scalars (the 128-bit rho of the batch check) stay whole: a GLV split would give
      // them a tiny second half, and thousands of equal digits pile into one bucket.
      if (sc[i].d[2] != 0 || sc[i].d[3] != 0) scalar_split_lambda(&k1, &k2, &sc[i]);
      Half h1 = half_of(&k1), h2 = half_of(&k2);
      p[2 * i] = pts[i];
      p[2 * i + 1] = pts[i];
      fe_mul(&p[2 * i + 1].x, &p[2 * i + 1].x, &kBeta);
      if (h1.neg) ge_negate(&p[2 * i], &p[2 * i]);
      if (h2.neg) ge_negate(&p[2 * i + 1], &p[2 * i + 1]);
      recode_signed(&dig[2 * i * static_cast<std::size_t>(nw)], h1, c, nw);
      recode_signed(&dig[(2 * i + 1) * static_cast<std::size_t>(nw)], h2, c, nw);
    }
  });
  std::vector<gej> part(static_cast<std::size_t>(nt));
  parallel_for(np, nt, [&](int t, std::size_t begin, std::size_t end) {
    part[static_cast<std::size_t>(t)] =
        pippenger_var(p.data() + begin, dig.data() + begin * static_cast<std::size_t>(nw),
                      end - begin, c, nw);
  });
  gej total = part[0];
  for (std::size_t t = 1; t < part.size(); ++t) gej_add_var(&total, &total, &part[t]);
  return total.inf ? 1 : 0;
}

}  // namespace fbh
