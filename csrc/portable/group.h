// Points of secp256k1 (y^2 = x^3 + 7) for host and device: affine points, Jacobian points
// (X, Y, Z) = (X/Z^2, Y/Z^3) with an explicit infinity flag, and scalar multiplication by a
// fixed-base table (4-bit windows) or by a per-call table of a variable base. Formulas:
// "dbl-2009-l" and "add-2007-bl"/"madd" of the Explicit-Formulas Database (Bernstein-Lange,
// hyperelliptic.org/EFD/g1p/auto-shortw-jacobian-0.html). The additions branch on the
// doubling and infinity cases: everything here is variable time (public data, simulations).
#pragma once

#include "field.h"
#include "scalar.h"

namespace fbh {
namespace portable {

/// An affine point; infinity is tracked by callers (serialized as 64 zero bytes).
struct ge {
  fe x, y;
};

/// A Jacobian point; inf = 1 is the point at infinity (coordinates unspecified).
struct gej {
  fe x, y, z;
  int inf;
};

/// Bytes of one serialized point (x || y big-endian; zeros for infinity).
constexpr size_t kPointBytes = 64;
/// Bits per window of the fixed-base tables (the GPU's main tuning knob: 8 halves the
/// additions and multiplies the table by 8.5, ~650 KB per base). Must divide 64.
#ifndef FBH_PORTABLE_WINDOW_BITS
#define FBH_PORTABLE_WINDOW_BITS 4
#endif
constexpr int kWindowBits = FBH_PORTABLE_WINDOW_BITS;
static_assert(64 % kWindowBits == 0, "window bits must divide 64");
/// Windows of a full 256-bit scalar and entries per window (digits 1 .. 2^w - 1).
constexpr int kWindows = 256 / kWindowBits;
constexpr int kEntries = (1 << kWindowBits) - 1;
/// Affine points of one base's fixed table.
constexpr size_t kTablePoints = static_cast<size_t>(kWindows) * kEntries;

/// Window w (kWindowBits wide) of the little-endian limbs k.
FBH_HD unsigned window_digit(const u64 k[4], int w) {
  const int bit = w * kWindowBits;
  return static_cast<unsigned>(k[bit / 64] >> (bit % 64)) & static_cast<unsigned>(kEntries);
}

/// r = infinity.
FBH_HD void gej_set_infinity(gej* r) {
  fe_set_int(&r->x, 0);
  fe_set_int(&r->y, 1);
  fe_set_int(&r->z, 0);
  r->inf = 1;
}

/// r = a (finite affine).
FBH_HD void gej_set_ge(gej* r, const ge* a) {
  r->x = a->x;
  r->y = a->y;
  fe_set_int(&r->z, 1);
  r->inf = 0;
}

/// r = 2 a.
FBH_HD void gej_double(gej* r, const gej* a) {
  if (a->inf) {
    *r = *a;
    return;
  }
  fe xx, yy, yyyy, s, m, t;
  fe_sqr(&xx, &a->x);
  fe_sqr(&yy, &a->y);
  fe_sqr(&yyyy, &yy);
  fe_add(&s, &a->x, &yy);
  fe_sqr(&s, &s);
  fe_sub(&s, &s, &xx);
  fe_sub(&s, &s, &yyyy);
  fe_add(&s, &s, &s);          // S = 2((X + YY)^2 - XX - YYYY) = 4 X YY
  fe_mul_int(&m, &xx, 3);      // M = 3 XX (a = 0)
  fe_mul(&r->z, &a->y, &a->z);
  fe_add(&r->z, &r->z, &r->z);  // Z3 = 2 Y Z
  fe_sqr(&t, &m);
  fe_sub(&t, &t, &s);
  fe_sub(&t, &t, &s);          // X3 = M^2 - 2 S
  fe_sub(&s, &s, &t);
  fe_mul(&s, &s, &m);
  fe_mul_int(&yyyy, &yyyy, 8);
  fe_sub(&r->y, &s, &yyyy);    // Y3 = M (S - X3) - 8 YYYY
  r->x = t;
  r->inf = 0;
}

/// r = a + (u2, s2) given in a's frame (U2 = x2 Z1^2, S2 = y2 Z1^3), with a finite and the
/// second operand's own Z factor zb folded into Z3 (null: affine second operand). u1, s1 are
/// a's coordinates in the second operand's frame.
FBH_HD void gej_add_core(gej* r, const gej* a, const fe* u1, const fe* s1, const fe* u2,
                         const fe* s2, const fe* zb) {
  fe h, rr, h2, h3, v, t;
  fe_sub(&h, u2, u1);
  fe_sub(&rr, s2, s1);
  if (fe_is_zero(&h)) {
    if (fe_is_zero(&rr)) {
      gej_double(r, a);  // same point
    } else {
      gej_set_infinity(r);  // opposite points
    }
    return;
  }
  fe_sqr(&h2, &h);
  fe_mul(&h3, &h, &h2);
  fe_mul(&v, u1, &h2);
  fe_mul(&t, &a->z, &h);
  if (zb != nullptr) fe_mul(&t, &t, zb);
  r->z = t;
  fe_sqr(&t, &rr);
  fe_sub(&t, &t, &h3);
  fe_sub(&t, &t, &v);
  fe_sub(&t, &t, &v);  // X3 = R^2 - H^3 - 2 U1 H^2
  fe_sub(&v, &v, &t);
  fe_mul(&v, &v, &rr);
  fe_mul(&h3, &h3, s1);
  fe_sub(&r->y, &v, &h3);  // Y3 = R (U1 H^2 - X3) - S1 H^3
  r->x = t;
  r->inf = 0;
}

/// r = a + b for an affine, finite b (r may alias a).
FBH_HD void gej_add_ge(gej* r, const gej* a, const ge* b) {
  if (a->inf) {
    gej_set_ge(r, b);
    return;
  }
  fe zz, u2, s2;
  fe_sqr(&zz, &a->z);
  fe_mul(&u2, &b->x, &zz);
  fe_mul(&s2, &b->y, &zz);
  fe_mul(&s2, &s2, &a->z);
  const fe u1 = a->x, s1 = a->y;
  gej_add_core(r, a, &u1, &s1, &u2, &s2, nullptr);
}

/// r = a + b (r may alias either).
FBH_HD void gej_add(gej* r, const gej* a, const gej* b) {
  if (a->inf) {
    *r = *b;
    return;
  }
  if (b->inf) {
    *r = *a;
    return;
  }
  fe z1z1, z2z2, u1, u2, s1, s2;
  fe_sqr(&z1z1, &a->z);
  fe_sqr(&z2z2, &b->z);
  fe_mul(&u1, &a->x, &z2z2);
  fe_mul(&u2, &b->x, &z1z1);
  fe_mul(&s1, &a->y, &b->z);
  fe_mul(&s1, &s1, &z2z2);
  fe_mul(&s2, &b->y, &a->z);
  fe_mul(&s2, &s2, &z1z1);
  const fe zb = b->z;
  gej_add_core(r, a, &u1, &s1, &u2, &s2, &zb);
}

/// r = -a.
FBH_HD void gej_negate(gej* r, const gej* a) {
  *r = *a;
  fe_negate(&r->y, &a->y);
}

/// 1 if a == b as points.
FBH_HD int gej_equal(const gej* a, const gej* b) {
  if (a->inf || b->inf) return a->inf && b->inf;
  fe z1z1, z2z2, l, r;
  fe_sqr(&z1z1, &a->z);
  fe_sqr(&z2z2, &b->z);
  fe_mul(&l, &a->x, &z2z2);
  fe_mul(&r, &b->x, &z1z1);
  if (!fe_equal(&l, &r)) return 0;
  fe_mul(&l, &a->y, &z2z2);
  fe_mul(&l, &l, &b->z);
  fe_mul(&r, &b->y, &z1z1);
  fe_mul(&r, &r, &a->z);
  return static_cast<int>(fe_equal(&l, &r));
}

/// Affine, normalized form of a finite a.
FBH_HD void gej_to_ge(ge* r, const gej* a) {
  fe zi, zi2;
  fe_inv(&zi, &a->z);
  fe_sqr(&zi2, &zi);
  fe_mul(&r->x, &a->x, &zi2);
  fe_mul(&zi2, &zi2, &zi);
  fe_mul(&r->y, &a->y, &zi2);
  fe_normalize(&r->x);
  fe_normalize(&r->y);
}

/// Parse a 64-byte point into r (64 zeros: infinity, *inf = 1). Returns 0 unless both
/// coordinates are below p and the point is on the curve (or is the zero encoding).
FBH_HD int gej_load(gej* r, const unsigned char* p) {
  unsigned char any = 0;
  for (size_t i = 0; i < kPointBytes; ++i) any |= p[i];
  if (any == 0) {
    gej_set_infinity(r);
    return 1;
  }
  ge a;
  if (!fe_set_b32(&a.x, p) || !fe_set_b32(&a.y, p + 32)) return 0;
  fe y2, x3;
  fe_sqr(&y2, &a.y);
  fe_sqr(&x3, &a.x);
  fe_mul(&x3, &x3, &a.x);
  fe seven;
  fe_set_int(&seven, 7);
  fe_add(&x3, &x3, &seven);
  if (!fe_equal(&y2, &x3)) return 0;
  gej_set_ge(r, &a);
  return 1;
}

/// Serialize a as 64 bytes (zeros for infinity).
FBH_HD void gej_store(unsigned char* p, const gej* a) {
  if (a->inf) {
    for (size_t i = 0; i < kPointBytes; ++i) p[i] = 0;
    return;
  }
  ge g;
  gej_to_ge(&g, a);
  fe_get_b32(p, &g.x);
  fe_get_b32(p + 32, &g.y);
}

/// r = k B from B's fixed table (tab[w * kEntries + d - 1] = d 2^(kWindowBits w) B) using
/// the low `windows` windows of the little-endian limbs k.
FBH_HD void ecmult_fixed(gej* r, const ge* tab, const u64 k[4], int windows) {
  gej_set_infinity(r);
  for (int w = 0; w < windows; ++w) {
    const unsigned d = window_digit(k, w);
    if (d != 0) gej_add_ge(r, r, &tab[w * kEntries + static_cast<int>(d) - 1]);
  }
}

/// r = k a for any point a and k < 2^(4 windows) (4-bit fixed windows, most significant
/// first: a 15-point table per call, whatever kWindowBits is).
FBH_HD void ecmult_var(gej* r, const gej* a, const scalar* k, int windows = 64) {
  gej t[15];
  t[0] = *a;
  for (int i = 1; i < 15; ++i) gej_add(&t[i], &t[i - 1], a);
  gej_set_infinity(r);
  for (int w = windows - 1; w >= 0; --w) {
    for (int i = 0; i < 4; ++i) gej_double(r, r);
    const unsigned d = static_cast<unsigned>(k->d[w / 16] >> (4 * (w % 16))) & 15U;
    if (d != 0) gej_add(r, r, &t[d - 1]);
  }
}

}  // namespace portable
}  // namespace fbh
