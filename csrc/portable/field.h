// Field arithmetic modulo p = 2^256 - 2^32 - 977 for host and device: the 5 x 52-bit limb
// algorithms of csrc/field.h (bitcoin-core/secp256k1 field_5x52_int128_impl.h order), written
// once with FBH_HD. Why 5 x 52 and not 4 x 64 on the GPU as well: lazy limbs need no carry
// chains (PTX has add-with-carry, but C++ cannot ask for it portably), and one algorithm for
// both sides is what lets CI test the GPU's arithmetic on the CPU. Elements are "weak" (limbs
// 0..3 < 2^53, limb 4 < 2^49); fe_normalize gives the canonical value. Inversion and the
// comparisons are variable time where noted; the rest has no data-dependent branch.
#pragma once

#include "hd.h"

namespace fbh {
namespace portable {

/// A field element: value = sum n[i] 2^(52 i).
struct fe {
  u64 n[5];
};

constexpr u64 kM52 = 0xFFFFFFFFFFFFFULL;
constexpr u64 kM48 = 0xFFFFFFFFFFFFULL;
constexpr u64 kFeC = 0x1000003D1ULL;   // 2^256 - p
constexpr u64 kFeR = 0x1000003D10ULL;  // 2^260 mod p

/// r = v for a small v < 2^52.
FBH_HD void fe_set_int(fe* r, u64 v) {
  r->n[0] = v;
  r->n[1] = r->n[2] = r->n[3] = r->n[4] = 0;
}

/// Carry-propagate limbs (each < 2^63) back into the weak form.
FBH_HD void fe_normalize_weak(fe* r) {
  u64 t0 = r->n[0], t1 = r->n[1], t2 = r->n[2], t3 = r->n[3], t4 = r->n[4];
  t1 += t0 >> 52;
  t0 &= kM52;
  t2 += t1 >> 52;
  t1 &= kM52;
  t3 += t2 >> 52;
  t2 &= kM52;
  t4 += t3 >> 52;
  t3 &= kM52;
  t0 += (t4 >> 48) * kFeC;  // bits above 2^256 fold back times C
  t4 &= kM48;
  t1 += t0 >> 52;
  t0 &= kM52;
  r->n[0] = t0;
  r->n[1] = t1;
  r->n[2] = t2;
  r->n[3] = t3;
  r->n[4] = t4;
}

/// r = a + b.
FBH_HD void fe_add(fe* r, const fe* a, const fe* b) {
  for (int i = 0; i < 5; ++i) r->n[i] = a->n[i] + b->n[i];
  fe_normalize_weak(r);
}

/// r = a - b, as a + 2p - b (every limb of 2p exceeds a weak limb).
FBH_HD void fe_sub(fe* r, const fe* a, const fe* b) {
  r->n[0] = a->n[0] + 0x1FFFFDFFFFF85EULL - b->n[0];
  r->n[1] = a->n[1] + 0x1FFFFFFFFFFFFEULL - b->n[1];
  r->n[2] = a->n[2] + 0x1FFFFFFFFFFFFEULL - b->n[2];
  r->n[3] = a->n[3] + 0x1FFFFFFFFFFFFEULL - b->n[3];
  r->n[4] = a->n[4] + 0x1FFFFFFFFFFFEULL - b->n[4];
  fe_normalize_weak(r);
}

/// r = a * k for a small k <= 64.
FBH_HD void fe_mul_int(fe* r, const fe* a, u64 k) {
  for (int i = 0; i < 5; ++i) r->n[i] = a->n[i] * k;
  fe_normalize_weak(r);
}

/// Reduce the column sums c0..c8 of a product (column i weighs 2^(52 i)): 2^260 = R and
/// 2^256 = C (mod p), folded as the columns are produced (two 128-bit accumulators).
FBH_HD void fe_reduce(fe* r, u128 c0, u128 c1, u128 c2, u128 c3, u128 c4, u128 c5, u128 c6,
                      u128 c7, u128 c8) {
  u128 d = c3, c = c8;
  d += mul_wide(static_cast<u64>(c) & kM52, kFeR);
  c >>= 52;
  const u64 t3 = static_cast<u64>(d) & kM52;
  d >>= 52;
  d += c4 + mul_wide(static_cast<u64>(c), kFeR);
  u64 t4 = static_cast<u64>(d) & kM52;
  d >>= 52;
  const u64 tx = t4 >> 48;
  t4 &= kM48;
  d += c5;
  const u64 u0 = static_cast<u64>(d) & kM52;
  d >>= 52;
  c = c0 + mul_wide((u0 << 4) | tx, kFeC);
  r->n[0] = static_cast<u64>(c) & kM52;
  c >>= 52;
  c += c1;
  d += c6;
  c += mul_wide(static_cast<u64>(d) & kM52, kFeR);
  d >>= 52;
  r->n[1] = static_cast<u64>(c) & kM52;
  c >>= 52;
  c += c2;
  d += c7;
  c += mul_wide(static_cast<u64>(d) & kM52, kFeR);
  d >>= 52;
  r->n[2] = static_cast<u64>(c) & kM52;
  c >>= 52;
  c += mul_wide(static_cast<u64>(d), kFeR) + t3;
  r->n[3] = static_cast<u64>(c) & kM52;
  c >>= 52;
  r->n[4] = static_cast<u64>(c) + t4;
}

/// r = a * b.
FBH_HD void fe_mul(fe* r, const fe* a, const fe* b) {
  const u64 a0 = a->n[0], a1 = a->n[1], a2 = a->n[2], a3 = a->n[3], a4 = a->n[4];
  const u64 b0 = b->n[0], b1 = b->n[1], b2 = b->n[2], b3 = b->n[3], b4 = b->n[4];
  fe_reduce(r, mul_wide(a0, b0), mul_wide(a0, b1) + mul_wide(a1, b0),
            mul_wide(a0, b2) + mul_wide(a1, b1) + mul_wide(a2, b0),
            mul_wide(a0, b3) + mul_wide(a1, b2) + mul_wide(a2, b1) + mul_wide(a3, b0),
            mul_wide(a0, b4) + mul_wide(a1, b3) + mul_wide(a2, b2) + mul_wide(a3, b1) +
                mul_wide(a4, b0),
            mul_wide(a1, b4) + mul_wide(a2, b3) + mul_wide(a3, b2) + mul_wide(a4, b1),
            mul_wide(a2, b4) + mul_wide(a3, b3) + mul_wide(a4, b2),
            mul_wide(a3, b4) + mul_wide(a4, b3), mul_wide(a4, b4));
}

/// r = a^2.
FBH_HD void fe_sqr(fe* r, const fe* a) {
  const u64 a0 = a->n[0], a1 = a->n[1], a2 = a->n[2], a3 = a->n[3], a4 = a->n[4];
  const u64 d0 = 2 * a0, d1 = 2 * a1, d2 = 2 * a2, d3 = 2 * a3;
  fe_reduce(r, mul_wide(a0, a0), mul_wide(d0, a1), mul_wide(d0, a2) + mul_wide(a1, a1),
            mul_wide(d0, a3) + mul_wide(d1, a2),
            mul_wide(d0, a4) + mul_wide(d1, a3) + mul_wide(a2, a2),
            mul_wide(d1, a4) + mul_wide(d2, a3), mul_wide(d2, a4) + mul_wide(a3, a3),
            mul_wide(d3, a4), mul_wide(a4, a4));
}

/// r = -a.
FBH_HD void fe_negate(fe* r, const fe* a) {
  fe z;
  fe_set_int(&z, 0);
  fe_sub(r, &z, a);
}

/// Bring r into the canonical range [0, p).
FBH_HD void fe_normalize(fe* r) {
  fe_normalize_weak(r);
  fe_normalize_weak(r);
  // r >= p exactly when r + C reaches 2^256; then r - p = r + C - 2^256.
  u64 t0 = r->n[0] + kFeC, t1 = r->n[1], t2 = r->n[2], t3 = r->n[3], t4 = r->n[4];
  t1 += t0 >> 52;
  t0 &= kM52;
  t2 += t1 >> 52;
  t1 &= kM52;
  t3 += t2 >> 52;
  t2 &= kM52;
  t4 += t3 >> 52;
  t3 &= kM52;
  const u64 mask = 0 - (t4 >> 48);
  t4 &= kM48;
  r->n[0] = (t0 & mask) | (r->n[0] & ~mask);
  r->n[1] = (t1 & mask) | (r->n[1] & ~mask);
  r->n[2] = (t2 & mask) | (r->n[2] & ~mask);
  r->n[3] = (t3 & mask) | (r->n[3] & ~mask);
  r->n[4] = (t4 & mask) | (r->n[4] & ~mask);
}

/// 1 if a == 0 (mod p).
FBH_HD u64 fe_is_zero(const fe* a) {
  fe t = *a;
  fe_normalize(&t);
  return (t.n[0] | t.n[1] | t.n[2] | t.n[3] | t.n[4]) == 0 ? 1 : 0;
}

/// 1 if a == b (mod p).
FBH_HD u64 fe_equal(const fe* a, const fe* b) {
  fe d;
  fe_sub(&d, a, b);
  return fe_is_zero(&d);
}

/// r = a^(2^k).
FBH_HD void fe_sqr_n(fe* r, const fe* a, int k) {
  *r = *a;
  for (int i = 0; i < k; ++i) fe_sqr(r, r);
}

/// r = a^-1 = a^(p-2) by the addition chain of bitcoin-core/secp256k1 (field_impl.h); 0 -> 0.
FBH_HD void fe_inv(fe* r, const fe* a) {
  fe x2, x3, x6, x9, x11, x22, x44, x88, x176, x220, x223, t;
  fe_sqr(&x2, a);
  fe_mul(&x2, &x2, a);
  fe_sqr(&x3, &x2);
  fe_mul(&x3, &x3, a);
  fe_sqr_n(&t, &x3, 3);
  fe_mul(&x6, &t, &x3);
  fe_sqr_n(&t, &x6, 3);
  fe_mul(&x9, &t, &x3);
  fe_sqr_n(&t, &x9, 2);
  fe_mul(&x11, &t, &x2);
  fe_sqr_n(&t, &x11, 11);
  fe_mul(&x22, &t, &x11);
  fe_sqr_n(&t, &x22, 22);
  fe_mul(&x44, &t, &x22);
  fe_sqr_n(&t, &x44, 44);
  fe_mul(&x88, &t, &x44);
  fe_sqr_n(&t, &x88, 88);
  fe_mul(&x176, &t, &x88);
  fe_sqr_n(&t, &x176, 44);
  fe_mul(&x220, &t, &x44);
  fe_sqr_n(&t, &x220, 3);
  fe_mul(&x223, &t, &x3);
  fe_sqr_n(&t, &x223, 23);
  fe_mul(&t, &t, &x22);
  fe_sqr_n(&t, &t, 5);
  fe_mul(&t, &t, a);
  fe_sqr_n(&t, &t, 3);
  fe_mul(&t, &t, &x2);
  fe_sqr_n(&t, &t, 2);
  fe_mul(r, &t, a);
}

/// Parse 32 big-endian bytes; returns 1 if the value is < p (r is set either way).
FBH_HD u64 fe_set_b32(fe* r, const unsigned char* b32) {
  const u64 d0 = load_be64(b32 + 24), d1 = load_be64(b32 + 16);
  const u64 d2 = load_be64(b32 + 8), d3 = load_be64(b32);
  r->n[0] = d0 & kM52;
  r->n[1] = ((d0 >> 52) | (d1 << 12)) & kM52;
  r->n[2] = ((d1 >> 40) | (d2 << 24)) & kM52;
  r->n[3] = ((d2 >> 28) | (d3 << 36)) & kM52;
  r->n[4] = d3 >> 16;
  // In range iff d + C does not carry out of 2^256.
  u128 t = static_cast<u128>(d0) + kFeC;
  t = static_cast<u128>(d1) + static_cast<u64>(t >> 64);
  t = static_cast<u128>(d2) + static_cast<u64>(t >> 64);
  t = static_cast<u128>(d3) + static_cast<u64>(t >> 64);
  return static_cast<u64>(t >> 64) ^ 1;
}

/// Write the canonical value of a as 32 big-endian bytes.
FBH_HD void fe_get_b32(unsigned char* b32, const fe* a) {
  fe t = *a;
  fe_normalize(&t);
  store_be64(b32 + 24, t.n[0] | (t.n[1] << 52));
  store_be64(b32 + 16, (t.n[1] >> 12) | (t.n[2] << 40));
  store_be64(b32 + 8, (t.n[2] >> 24) | (t.n[3] << 28));
  store_be64(b32, (t.n[3] >> 36) | (t.n[4] << 16));
}

}  // namespace portable
}  // namespace fbh
