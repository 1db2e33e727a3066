// Points of secp256k1 (y^2 = x^3 + 7): affine points, projective points with complete
// addition formulas, batched affine arithmetic and fixed-width row serialization.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "field.h"
#include "scalar.h"

namespace fbh {

/// An affine point (x, y); the point at infinity is tracked separately by callers.
struct ge {
  fe x, y;
};

/// A projective point (X : Y : Z) with x = X/Z, y = Y/Z; infinity is (0 : 1 : 0).
struct gep {
  fe x, y, z;
};

/// Bytes of one serialized affine point: x || y big-endian; 64 zero bytes encode infinity.
constexpr std::size_t kPointBytes = 64;

/// The generator G.
const ge& ge_generator();

/// r = -a.
inline void ge_negate(ge* r, const ge* a) {
  r->x = a->x;
  fe_negate(&r->y, &a->y);
}

/// r = flag ? a : r, for flag in {0, 1}, without branching.
inline void ge_cmov(ge* r, const ge* a, u64 flag) {
  fe_cmov(&r->x, &a->x, flag);
  fe_cmov(&r->y, &a->y, flag);
}

/// 1 if (x, y) satisfies y^2 = x^3 + 7.
u64 ge_is_on_curve(const ge* a);

/// Decompress: the point with the given x and y parity; returns 0 if x is not on the curve.
u64 ge_set_xo_var(ge* r, const fe* x, u64 odd);

/// r = a (affine) as a projective point.
void gep_set_ge(gep* r, const ge* a);

/// r = the point at infinity.
void gep_set_infinity(gep* r);

/// r = a + b with the complete formulas of Renes-Costello-Batina (any inputs, constant time).
void gep_add(gep* r, const gep* a, const gep* b);

/// Affine form of a; returns 1 if a is the point at infinity (r is then unspecified).
u64 gep_to_ge(ge* r, const gep* a);

/// acc[i] += q[i] for i < n using one shared inversion (Montgomery's trick); scratch holds n
/// elements. Returns 0, leaving acc unchanged, if some acc[i].x == q[i].x (doubling/infinity).
u64 ge_batch_add(ge* acc, const ge* q, std::size_t n, fe* scratch);

/// out[dst[j]] = in[src[j]] + in[src[j] + 1] for j < n using one shared inversion (out must
/// not alias in; scratch holds n elements). Returns 0, writing nothing, if a pair shares x.
u64 ge_batch_add_pairs(ge* out, const ge* in, const std::uint32_t* src, const std::uint32_t* dst,
                       std::size_t n, fe* scratch);

/// acc[i] = 2 * acc[i] for i < n using one shared inversion; no input may have y = 0.
void ge_batch_double(ge* acc, std::size_t n, fe* scratch);

/// acc[i] += q[i] with full case handling (infinity flags, doubling, opposite points),
/// variable time: for public data only. scratch holds n elements, idx n entries.
void ge_batch_add_var(ge* acc, std::uint8_t* acc_inf, const ge* q, const std::uint8_t* q_inf,
                      std::size_t n, fe* scratch, std::uint32_t* idx);

/// r = the entry with index d.idx of table (count entries), negated if d.neg; scans every
/// entry so that the memory access pattern does not depend on d.
void ge_table_select(ge* r, const ge* table, std::size_t count, digit d);

/// Like ge_table_select but indexes directly: variable time, for the fast mode.
inline void ge_table_select_var(ge* r, const ge* table, digit d) {
  *r = table[d.idx];
  if (d.neg) fe_negate(&r->y, &r->y);
}

/// 1 if (x, y) satisfies y^2 = x^3 + 7; variable time (public points only).
inline u64 ge_is_on_curve_var(const ge* a) {
  // y^2 + x^2 (-x) - 7 with one reduction for y^2 - x^3 (fe_sqr_add_mul).
  fe x2, nx, zero, d;
  fe_sqr(&x2, &a->x);
  fe_set_int(&zero, 0);
  fe_sub_lazy(&nx, &zero, &a->x);  // 2p - x: x is parsed, so its limbs are below 2^52
  fe_sqr_add_mul(&d, &a->y, &x2, &nx);
  d.n[0] += 0x1FFFFDFFFFF85EULL - 7;  // + 2p - 7: add limb 0 of 2p, the other limbs below
  d.n[1] += 0x1FFFFFFFFFFFFEULL;
  d.n[2] += 0x1FFFFFFFFFFFFEULL;
  d.n[3] += 0x1FFFFFFFFFFFFEULL;
  d.n[4] += 0x1FFFFFFFFFFFEULL;
  return fe_normalizes_to_zero_var(&d);
}

/// Parse a 64-byte row into r and *inf; returns 0 if a coordinate is >= p or the point is
/// off the curve (only checked when validate is set). Inline: it runs once per parsed point.
inline u64 ge_load_var(ge* r, std::uint8_t* inf, const unsigned char* in, bool validate) {
  u64 any = 0;
  for (std::size_t i = 0; i < kPointBytes; i += 8) {
    u64 w;
    std::memcpy(&w, in + i, 8);
    any |= w;
  }
  if (!any) {
    *inf = 1;
    fe_set_int(&r->x, 0);
    fe_set_int(&r->y, 0);
    return 1;
  }
  *inf = 0;
  const u64 okx = fe_set_b32(&r->x, in);
  const u64 oky = fe_set_b32(&r->y, in + 32);
  if (!validate) return 1;
  return okx && oky && ge_is_on_curve_var(r);
}

/// Serialize a (or infinity if inf) as a 64-byte row.
void ge_store(unsigned char* out, const ge* a, std::uint8_t inf);

}  // namespace fbh
