// Point arithmetic on secp256k1: complete projective formulas, batched affine kernels.
#include "group.h"

#include <cstring>

namespace fbh {

namespace {

// The per-point formulas are inlined into the batch loops (GCC otherwise keeps them as calls).
#if defined(__GNUC__)
#define FBH_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define FBH_ALWAYS_INLINE inline
#endif

constexpr ge kG = {fe_const(0x79be667ef9dcbbacULL, 0x55a06295ce870b07ULL, 0x029bfcdb2dce28d9ULL,
                            0x59f2815b16f81798ULL),
                   fe_const(0x483ada7726a3c465ULL, 0x5da4fbfc0e1108a8ULL, 0xfd17b448a6855419ULL,
                            0x9c47d08ffb10d4b8ULL)};

/// acc = acc + q given dinv = 1 / (q.x - acc.x): the affine chord formulas.
FBH_ALWAYS_INLINE void ge_add_with_inv(ge* acc, const ge* q, const fe* dinv) {
  fe lam, t, x3;
  fe_sub_lazy(&t, &q->y, &acc->y);
  fe_mul(&lam, &t, dinv);
  fe_sqr(&x3, &lam);
  // x3 = lam^2 + 8p - (acc.x + q.x) in one pass: each limb of 8p exceeds the sum of two weak
  // limbs, so none goes negative, and the sum stays far below 2^63 for the carry pass.
  x3.n[0] += 0x7FFFF7FFFFE178ULL - acc->x.n[0] - q->x.n[0];
  x3.n[1] += 0x7FFFFFFFFFFFF8ULL - acc->x.n[1] - q->x.n[1];
  x3.n[2] += 0x7FFFFFFFFFFFF8ULL - acc->x.n[2] - q->x.n[2];
  x3.n[3] += 0x7FFFFFFFFFFFF8ULL - acc->x.n[3] - q->x.n[3];
  x3.n[4] += 0x7FFFFFFFFFFF8ULL - acc->x.n[4] - q->x.n[4];
  fe_normalize_weak(&x3);
  fe_sub_lazy(&t, &acc->x, &x3);
  fe_mul(&t, &t, &lam);
  fe_sub(&acc->y, &t, &acc->y);
  acc->x = x3;
}

/// acc = 2 acc given dinv = 1 / (2 acc.y): the affine tangent formulas.
FBH_ALWAYS_INLINE void ge_double_with_inv(ge* acc, const fe* dinv) {
  fe lam, t, x3;
  fe_sqr(&t, &acc->x);
  fe_add_lazy(&x3, &t, &t);
  fe_add_lazy(&t, &x3, &t);  // 3 x^2, limbs < 2^55
  fe_mul(&lam, &t, dinv);
  fe_sqr(&x3, &lam);
  // x3 = lam^2 + 8p - 2 acc.x in one pass (as in ge_add_with_inv).
  x3.n[0] += 0x7FFFF7FFFFE178ULL - 2 * acc->x.n[0];
  x3.n[1] += 0x7FFFFFFFFFFFF8ULL - 2 * acc->x.n[1];
  x3.n[2] += 0x7FFFFFFFFFFFF8ULL - 2 * acc->x.n[2];
  x3.n[3] += 0x7FFFFFFFFFFFF8ULL - 2 * acc->x.n[3];
  x3.n[4] += 0x7FFFFFFFFFFF8ULL - 2 * acc->x.n[4];
  fe_normalize_weak(&x3);
  fe_sub_lazy(&t, &acc->x, &x3);
  fe_mul(&t, &t, &lam);
  fe_sub(&acc->y, &t, &acc->y);
  acc->x = x3;
}

}  // namespace

const ge& ge_generator() { return kG; }

u64 ge_is_on_curve(const ge* a) {
  // y^2 - x^3 - 7 == 0, with one normalization at the end (this runs per parsed point).
  fe y2, x3, d;
  fe_sqr(&y2, &a->y);
  fe_sqr(&x3, &a->x);
  fe_mul(&x3, &x3, &a->x);
  fe_sub_lazy(&d, &y2, &x3);
  d.n[0] -= 7;  // limb 0 of y^2 + 2p - x^3 is at least 2^53 - 2^52 - 2^33, so no borrow
  return fe_is_zero(&d);
}

u64 ge_set_xo_var(ge* r, const fe* x, u64 odd) {
  fe rhs, seven;
  fe_sqr(&rhs, x);
  fe_mul(&rhs, &rhs, x);
  fe_set_int(&seven, 7);
  fe_add(&rhs, &rhs, &seven);
  if (!fe_sqrt(&r->y, &rhs)) return 0;
  r->x = *x;
  fe_normalize(&r->x);
  fe_normalize(&r->y);
  if ((r->y.n[0] & 1) != odd) fe_negate(&r->y, &r->y);
  fe_normalize(&r->y);
  return 1;
}

void gep_set_ge(gep* r, const ge* a) {
  r->x = a->x;
  r->y = a->y;
  fe_set_int(&r->z, 1);
}

void gep_set_infinity(gep* r) {
  fe_set_int(&r->x, 0);
  fe_set_int(&r->y, 1);
  fe_set_int(&r->z, 0);
}

void gep_add(gep* r, const gep* p, const gep* q) {
  // Algorithm 7 of Renes, Costello, Batina, "Complete addition formulas for prime order
  // elliptic curves" (2016), for a = 0 and b3 = 3 * 7.
  fe t0, t1, t2, t3, t4, x3, y3, z3;
  fe_mul(&t0, &p->x, &q->x);
  fe_mul(&t1, &p->y, &q->y);
  fe_mul(&t2, &p->z, &q->z);
  fe_add(&t3, &p->x, &p->y);
  fe_add(&t4, &q->x, &q->y);
  fe_mul(&t3, &t3, &t4);
  fe_add(&t4, &t0, &t1);
  fe_sub(&t3, &t3, &t4);
  fe_add(&t4, &p->y, &p->z);
  fe_add(&x3, &q->y, &q->z);
  fe_mul(&t4, &t4, &x3);
  fe_add(&x3, &t1, &t2);
  fe_sub(&t4, &t4, &x3);
  fe_add(&x3, &p->x, &p->z);
  fe_add(&y3, &q->x, &q->z);
  fe_mul(&x3, &x3, &y3);
  fe_add(&y3, &t0, &t2);
  fe_sub(&y3, &x3, &y3);
  fe_add(&x3, &t0, &t0);
  fe_add(&t0, &x3, &t0);
  fe_mul_int(&t2, &t2, 21);
  fe_add(&z3, &t1, &t2);
  fe_sub(&t1, &t1, &t2);
  fe_mul_int(&y3, &y3, 21);
  fe_mul(&x3, &t4, &y3);
  fe_mul(&t2, &t3, &t1);
  fe_sub(&x3, &t2, &x3);
  fe_mul(&y3, &y3, &t0);
  fe_mul(&t1, &t1, &z3);
  fe_add(&y3, &t1, &y3);
  fe_mul(&t0, &t0, &t3);
  fe_mul(&z3, &z3, &t4);
  fe_add(&z3, &z3, &t0);
  r->x = x3;
  r->y = y3;
  r->z = z3;
}

u64 gep_to_ge(ge* r, const gep* a) {
  fe zi;
  fe_inv(&zi, &a->z);
  fe_mul(&r->x, &a->x, &zi);
  fe_mul(&r->y, &a->y, &zi);
  fe_normalize(&r->x);
  fe_normalize(&r->y);
  return fe_is_zero(&a->z);
}

namespace {

/// Montgomery's simultaneous inversion with the per-point work fused in: denom(i, d) writes
/// point i's denominator, apply(i, dinv) consumes its inverse. The prefix products run as
/// two interleaved chains (even and odd i), so consecutive multiplications are independent
/// and overlap in the pipeline instead of waiting on each other's latency. Returns 0, before
/// touching any point, if some denominator is zero.
template <class Denom, class Apply>
FBH_ALWAYS_INLINE u64 batch_invert_apply(std::size_t n, fe* scratch, Denom denom, Apply apply) {
  if (n == 0) return 1;
  fe d, inv, di;
  for (std::size_t i = 0; i < n; ++i) {
    if (i < 2) {
      denom(i, &scratch[i]);
    } else {
      denom(i, &d);
      fe_mul(&scratch[i], &scratch[i - 2], &d);
    }
  }
  fe inv_par[2];
  if (n == 1) {
    if (fe_is_zero(&scratch[0])) return 0;
    fe_inv(&inv_par[0], &scratch[0]);
  } else {
    // scratch[last even] * scratch[last odd] is the product of all denominators.
    const std::size_t le = (n - 1) & ~std::size_t{1};
    const std::size_t lo = ((n - 2) & ~std::size_t{1}) + 1;
    fe total;
    fe_mul(&total, &scratch[le], &scratch[lo]);
    if (fe_is_zero(&total)) return 0;
    fe_inv(&inv, &total);
    fe_mul(&inv_par[0], &inv, &scratch[lo]);
    fe_mul(&inv_par[1], &inv, &scratch[le]);
  }
  for (std::size_t i = n; i-- > 0;) {
    fe* ip = &inv_par[i & 1];
    if (i >= 2) {
      fe_mul(&di, ip, &scratch[i - 2]);
      denom(i, &d);
      fe_mul(ip, ip, &d);
      apply(i, &di);
    } else {
      apply(i, ip);
    }
  }
  return 1;
}

}  // namespace

u64 ge_batch_add(ge* acc, const ge* q, std::size_t n, fe* scratch) {
  return batch_invert_apply(
      n, scratch, [&](std::size_t i, fe* d) { fe_sub_lazy(d, &q[i].x, &acc[i].x); },
      [&](std::size_t i, const fe* di) { ge_add_with_inv(&acc[i], &q[i], di); });
}

u64 ge_batch_add_pairs(ge* out, const ge* in, const std::uint32_t* src, const std::uint32_t* dst,
                       std::size_t n, fe* scratch) {
  return batch_invert_apply(
      n, scratch,
      [&](std::size_t j, fe* d) { fe_sub_lazy(d, &in[src[j] + 1].x, &in[src[j]].x); },
      [&](std::size_t j, const fe* di) {
        ge a = in[src[j]];
        ge_add_with_inv(&a, &in[src[j] + 1], di);
        out[dst[j]] = a;
      });
}

void ge_batch_double(ge* acc, std::size_t n, fe* scratch) {
  batch_invert_apply(
      n, scratch, [&](std::size_t i, fe* d) { fe_add_lazy(d, &acc[i].y, &acc[i].y); },
      [&](std::size_t i, const fe* di) { ge_double_with_inv(&acc[i], di); });
}

void ge_batch_add_var(ge* acc, std::uint8_t* acc_inf, const ge* q, const std::uint8_t* q_inf,
                      std::size_t n, fe* scratch, std::uint32_t* idx) {
  // idx[j] = point index, with the top bit set for doublings (acc == q): their denominator
  // is 2y instead of x_q - x_acc, so they share the batch inversion too.
  constexpr std::uint32_t kDbl = 0x80000000U;
  std::size_t m = 0;
  fe d, inv, di;
  for (std::size_t i = 0; i < n; ++i) {
    if (q_inf[i]) continue;
    if (acc_inf[i]) {
      acc[i] = q[i];
      acc_inf[i] = 0;
      continue;
    }
    fe_sub(&d, &q[i].x, &acc[i].x);
    std::uint32_t tag = static_cast<std::uint32_t>(i);
    if (fe_is_zero(&d)) {
      // Same x: the same point (double it) or opposite points (infinity).
      if (!fe_equal(&q[i].y, &acc[i].y)) {
        acc_inf[i] = 1;
        continue;
      }
      fe_add(&d, &acc[i].y, &acc[i].y);
      tag |= kDbl;
    }
    if (m == 0) {
      scratch[0] = d;
    } else {
      fe_mul(&scratch[m], &scratch[m - 1], &d);
    }
    idx[m++] = tag;
  }
  if (m == 0) return;
  fe_inv(&inv, &scratch[m - 1]);
  for (std::size_t j = m; j-- > 0;) {
    const std::size_t i = idx[j] & ~kDbl;
    const bool dbl = (idx[j] & kDbl) != 0;
    if (j > 0) {
      fe_mul(&di, &inv, &scratch[j - 1]);
    } else {
      di = inv;
    }
    if (dbl) {
      fe_add(&d, &acc[i].y, &acc[i].y);
    } else {
      fe_sub(&d, &q[i].x, &acc[i].x);
    }
    fe_mul(&inv, &inv, &d);
    if (dbl) {
      ge_double_with_inv(&acc[i], &di);
    } else {
      ge_add_with_inv(&acc[i], &q[i], &di);
    }
  }
}

void ge_table_select(ge* r, const ge* table, std::size_t count, digit d) {
  constexpr int kWords = sizeof(ge) / sizeof(u64);
  u64 out[kWords] = {};
  const u64 want = d.idx;
  for (std::size_t j = 0; j < count; ++j) {
    const u64 diff = (u64)j ^ want;
    const u64 mask = ((diff | (0 - diff)) >> 63) - 1;  // all ones iff j == want
    const u64* e = &table[j].x.n[0];
    for (int k = 0; k < kWords; ++k) out[k] |= e[k] & mask;
  }
  std::memcpy(r, out, sizeof(ge));
  fe ny;
  fe_negate(&ny, &r->y);
  fe_cmov(&r->y, &ny, d.neg);
}

void ge_store(unsigned char* out, const ge* a, std::uint8_t inf) {
  if (inf) {
    std::memset(out, 0, kPointBytes);
    return;
  }
  fe_get_b32(out, &a->x);
  fe_get_b32(out + 32, &a->y);
}

}  // namespace fbh
