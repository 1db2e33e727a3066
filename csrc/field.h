// Field arithmetic modulo p = 2^256 - 2^32 - 977 (secp256k1), 5 x 52-bit limbs.
//
// Five 52-bit limbs in 64-bit words leave headroom, so additions need no carry chains and
// products accumulate in unsigned __int128 without overflow: portable C++ that compiles to
// plain mul/add/shift on x86-64 and aarch64 (4 x 64-bit limbs would need add-with-carry,
// which compilers emit poorly from portable code). Elements are kept "weak": limbs 0..3
// below 2^53, limb 4 below 2^49, value any representative mod p; fe_normalize gives the
// canonical value for comparison and serialization. Every function here is constant time.
// The hot operations are inline in this header so that the batched kernels in other
// translation units inline them without LTO.
#pragma once

#include <cstdint>
#include <cstring>

namespace fbh {

using u64 = std::uint64_t;
using u128 = unsigned __int128;

/// A field element: value = sum n[i] 2^(52 i), in the weak form described above.
struct fe {
  u64 n[5];
};

constexpr u64 kM52 = 0xFFFFFFFFFFFFFULL;
constexpr u64 kM48 = 0xFFFFFFFFFFFFULL;
/// 2^256 - p: the part of a value above 2^256 folds back in times this constant.
constexpr u64 kFeC = 0x1000003D1ULL;
/// 2^260 mod p = 16 C: the weight of limb 5 of a product.
constexpr u64 kFeR = 0x1000003D10ULL;

/// A field constant from four 64-bit big-endian words (d3 most significant).
constexpr fe fe_const(u64 d3, u64 d2, u64 d1, u64 d0) {
  return fe{{d0 & kM52, ((d0 >> 52) | (d1 << 12)) & kM52, ((d1 >> 40) | (d2 << 24)) & kM52,
             ((d2 >> 28) | (d3 << 36)) & kM52, d3 >> 16}};
}

/// r = v for a small integer v < 2^52.
inline void fe_set_int(fe* r, u64 v) {
  r->n[0] = v;
  r->n[1] = r->n[2] = r->n[3] = r->n[4] = 0;
}

/// Carry-propagate limbs (each < 2^63) back into the weak form.
inline void fe_normalize_weak(fe* r) {
  u64 t0 = r->n[0], t1 = r->n[1], t2 = r->n[2], t3 = r->n[3], t4 = r->n[4];
  t1 += t0 >> 52;
  t0 &= kM52;
  t2 += t1 >> 52;
  t1 &= kM52;
  t3 += t2 >> 52;
  t2 &= kM52;
  t4 += t3 >> 52;
  t3 &= kM52;
  const u64 x = t4 >> 48;  // bits above 2^256 fold back as x * C
  t4 &= kM48;
  t0 += x * kFeC;
  t1 += t0 >> 52;
  t0 &= kM52;
  r->n[0] = t0;
  r->n[1] = t1;
  r->n[2] = t2;
  r->n[3] = t3;
  r->n[4] = t4;
}

/// r = a + b (mod p).
inline void fe_add(fe* r, const fe* a, const fe* b) {
  for (int i = 0; i < 5; ++i) r->n[i] = a->n[i] + b->n[i];
  fe_normalize_weak(r);
}

/// r = a - b (mod p), computed as a + 2p - b (every limb of 2p exceeds a weak limb).
inline void fe_sub(fe* r, const fe* a, const fe* b) {
  r->n[0] = a->n[0] + 0x1FFFFDFFFFF85EULL - b->n[0];
  r->n[1] = a->n[1] + 0x1FFFFFFFFFFFFEULL - b->n[1];
  r->n[2] = a->n[2] + 0x1FFFFFFFFFFFFEULL - b->n[2];
  r->n[3] = a->n[3] + 0x1FFFFFFFFFFFFEULL - b->n[3];
  r->n[4] = a->n[4] + 0x1FFFFFFFFFFFEULL - b->n[4];
  fe_normalize_weak(r);
}

/// r = a + b without carry propagation: limbs grow (< 2^55 for weak inputs), so use the
/// result only as a multiplication input or as the first operand of fe_add/fe_sub.
inline void fe_add_lazy(fe* r, const fe* a, const fe* b) {
  for (int i = 0; i < 5; ++i) r->n[i] = a->n[i] + b->n[i];
}

/// r = a - b (b weak) without carry propagation; same usage rules as fe_add_lazy.
inline void fe_sub_lazy(fe* r, const fe* a, const fe* b) {
  r->n[0] = a->n[0] + 0x1FFFFDFFFFF85EULL - b->n[0];
  r->n[1] = a->n[1] + 0x1FFFFFFFFFFFFEULL - b->n[1];
  r->n[2] = a->n[2] + 0x1FFFFFFFFFFFFEULL - b->n[2];
  r->n[3] = a->n[3] + 0x1FFFFFFFFFFFFEULL - b->n[3];
  r->n[4] = a->n[4] + 0x1FFFFFFFFFFFEULL - b->n[4];
}

/// Reduce the column sums c0..c8 of a product (column k has weight 2^(52 k)) into r.
/// Columns are folded as they are produced: 2^260 = R and 2^256 = C (mod p), with two
/// 128-bit accumulators (the order of bitcoin-core/secp256k1's field_5x52_int128_impl.h).
#define FBH_FE_REDUCE(r, c0, c1, c2, c3, c4, c5, c6, c7, c8)        \
  do {                                                             \
    u128 d_ = (c3), c_ = (c8);                                     \
    d_ += (u128)((u64)c_ & kM52) * kFeR;                           \
    c_ >>= 52;                                                     \
    const u64 t3_ = (u64)d_ & kM52;                                \
    d_ >>= 52;                                                     \
    d_ += (c4) + (u128)(u64)c_ * kFeR;                             \
    u64 t4_ = (u64)d_ & kM52;                                      \
    d_ >>= 52;                                                     \
    const u64 tx_ = t4_ >> 48;                                     \
    t4_ &= kM48;                                                   \
    d_ += (c5);                                                    \
    const u64 u0_ = (u64)d_ & kM52;                                \
    d_ >>= 52;                                                     \
    c_ = (c0) + (u128)((u0_ << 4) | tx_) * kFeC;                   \
    (r)->n[0] = (u64)c_ & kM52;                                    \
    c_ >>= 52;                                                     \
    c_ += (c1);                                                    \
    d_ += (c6);                                                    \
    c_ += (u128)((u64)d_ & kM52) * kFeR;                           \
    d_ >>= 52;                                                     \
    (r)->n[1] = (u64)c_ & kM52;                                    \
    c_ >>= 52;                                                     \
    c_ += (c2);                                                    \
    d_ += (c7);                                                    \
    c_ += (u128)((u64)d_ & kM52) * kFeR;                           \
    d_ >>= 52;                                                     \
    (r)->n[2] = (u64)c_ & kM52;                                    \
    c_ >>= 52;                                                     \
    c_ += (u128)(u64)d_ * kFeR + t3_;                              \
    (r)->n[3] = (u64)c_ & kM52;                                    \
    c_ >>= 52;                                                     \
    (r)->n[4] = (u64)c_ + t4_;                                     \
  } while (0)

/// r = a * b (mod p).
inline void fe_mul(fe* r, const fe* a, const fe* b) {
  const u64 a0 = a->n[0], a1 = a->n[1], a2 = a->n[2], a3 = a->n[3], a4 = a->n[4];
  const u64 b0 = b->n[0], b1 = b->n[1], b2 = b->n[2], b3 = b->n[3], b4 = b->n[4];
  FBH_FE_REDUCE(r, (u128)a0 * b0, (u128)a0 * b1 + (u128)a1 * b0,
                (u128)a0 * b2 + (u128)a1 * b1 + (u128)a2 * b0,
                (u128)a0 * b3 + (u128)a1 * b2 + (u128)a2 * b1 + (u128)a3 * b0,
                (u128)a0 * b4 + (u128)a1 * b3 + (u128)a2 * b2 + (u128)a3 * b1 + (u128)a4 * b0,
                (u128)a1 * b4 + (u128)a2 * b3 + (u128)a3 * b2 + (u128)a4 * b1,
                (u128)a2 * b4 + (u128)a3 * b3 + (u128)a4 * b2, (u128)a3 * b4 + (u128)a4 * b3,
                (u128)a4 * b4);
}

/// r = a^2 (mod p); cheaper than fe_mul(r, a, a).
inline void fe_sqr(fe* r, const fe* a) {
  const u64 a0 = a->n[0], a1 = a->n[1], a2 = a->n[2], a3 = a->n[3], a4 = a->n[4];
  const u64 d0 = 2 * a0, d1 = 2 * a1, d2 = 2 * a2, d3 = 2 * a3;
  FBH_FE_REDUCE(r, (u128)a0 * a0, (u128)d0 * a1, (u128)d0 * a2 + (u128)a1 * a1,
                (u128)d0 * a3 + (u128)d1 * a2, (u128)d0 * a4 + (u128)d1 * a3 + (u128)a2 * a2,
                (u128)d1 * a4 + (u128)d2 * a3, (u128)d2 * a4 + (u128)a3 * a3, (u128)d3 * a4,
                (u128)a4 * a4);
}

/// r = a^2 + b * c (mod p) with one reduction: a and b weak, c limbs below 2^55 (e.g. a lazy
/// difference). The column sums stay below 2^111, within what the reduction handles.
inline void fe_sqr_add_mul(fe* r, const fe* a, const fe* b, const fe* c) {
  const u64 a0 = a->n[0], a1 = a->n[1], a2 = a->n[2], a3 = a->n[3], a4 = a->n[4];
  const u64 d0 = 2 * a0, d1 = 2 * a1, d2 = 2 * a2, d3 = 2 * a3;
  const u64 b0 = b->n[0], b1 = b->n[1], b2 = b->n[2], b3 = b->n[3], b4 = b->n[4];
  const u64 c0 = c->n[0], c1 = c->n[1], c2 = c->n[2], c3 = c->n[3], c4 = c->n[4];
  FBH_FE_REDUCE(r, (u128)a0 * a0 + (u128)b0 * c0,
                (u128)d0 * a1 + (u128)b0 * c1 + (u128)b1 * c0,
                (u128)d0 * a2 + (u128)a1 * a1 + (u128)b0 * c2 + (u128)b1 * c1 + (u128)b2 * c0,
                (u128)d0 * a3 + (u128)d1 * a2 + (u128)b0 * c3 + (u128)b1 * c2 + (u128)b2 * c1 +
                    (u128)b3 * c0,
                (u128)d0 * a4 + (u128)d1 * a3 + (u128)a2 * a2 + (u128)b0 * c4 + (u128)b1 * c3 +
                    (u128)b2 * c2 + (u128)b3 * c1 + (u128)b4 * c0,
                (u128)d1 * a4 + (u128)d2 * a3 + (u128)b1 * c4 + (u128)b2 * c3 + (u128)b3 * c2 +
                    (u128)b4 * c1,
                (u128)d2 * a4 + (u128)a3 * a3 + (u128)b2 * c4 + (u128)b3 * c3 + (u128)b4 * c2,
                (u128)d3 * a4 + (u128)b3 * c4 + (u128)b4 * c3, (u128)a4 * a4 + (u128)b4 * c4);
}

/// r = a * k (mod p) for a small constant k <= 64.
inline void fe_mul_int(fe* r, const fe* a, u64 k) {
  for (int i = 0; i < 5; ++i) r->n[i] = a->n[i] * k;
  fe_normalize_weak(r);
}

/// r = -a (mod p).
inline void fe_negate(fe* r, const fe* a) {
  fe z;
  fe_set_int(&z, 0);
  fe_sub(r, &z, a);
}

/// Bring r into the canonical range [0, p) with limbs below 2^52 (2^48 for the top).
inline void fe_normalize(fe* r) {
  fe_normalize_weak(r);
  fe_normalize_weak(r);  // a second fold leaves the value below 2^256
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

/// r = flag ? a : r, for flag in {0, 1}, without branching.
inline void fe_cmov(fe* r, const fe* a, u64 flag) {
  const u64 mask = 0 - flag;
  for (int i = 0; i < 5; ++i) r->n[i] = (a->n[i] & mask) | (r->n[i] & ~mask);
}

/// 1 if a == 0 (mod p), else 0.
inline u64 fe_is_zero(const fe* a) {
  fe t = *a;
  fe_normalize(&t);
  const u64 z = t.n[0] | t.n[1] | t.n[2] | t.n[3] | t.n[4];
  return ((z | (0 - z)) >> 63) ^ 1;
}

/// 1 if a == b (mod p), else 0.
inline u64 fe_equal(const fe* a, const fe* b) {
  fe d;
  fe_sub(&d, a, b);
  return fe_is_zero(&d);
}

/// Parity (lowest bit) of the canonical representative of a.
inline u64 fe_is_odd(const fe* a) {
  fe t = *a;
  fe_normalize(&t);
  return t.n[0] & 1;
}

/// r = a^-1 (mod p) by a fixed exponentiation chain (a^(p-2)); 0 maps to 0.
void fe_inv(fe* r, const fe* a);

/// r = a square root of a if one exists; returns 1 on success, 0 if a is not a square.
u64 fe_sqrt(fe* r, const fe* a);

/// 1 if a == 0 (mod p), else 0, for limbs below 2^62: one folding carry pass leaves a value
/// below 2p, so it is a multiple of p only as 0 or p itself. Variable time (public data only).
inline u64 fe_normalizes_to_zero_var(const fe* a) {
  u64 t0 = a->n[0], t1 = a->n[1], t2 = a->n[2], t3 = a->n[3], t4 = a->n[4];
  t0 += (t4 >> 48) * kFeC;
  t4 &= kM48;
  t1 += t0 >> 52;
  t0 &= kM52;
  t2 += t1 >> 52;
  t1 &= kM52;
  t3 += t2 >> 52;
  t2 &= kM52;
  t4 += t3 >> 52;
  t3 &= kM52;
  if ((t0 | t1 | t2 | t3 | t4) == 0) return 1;
  return t0 == (kM52 - kFeC + 1) && (t1 & t2 & t3) == kM52 && t4 == kM48;
}

/// Big-endian 64-bit load (one load and a byte swap on little-endian targets).
inline u64 fe_load_be64(const unsigned char* p) {
  u64 v;
  std::memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

/// Big-endian 64-bit store.
inline void fe_store_be64(unsigned char* p, u64 v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  std::memcpy(p, &v, 8);
}

/// Parse 32 big-endian bytes; returns 1 if the value is < p (r is set either way).
inline u64 fe_set_b32(fe* r, const unsigned char* b32) {
  const u64 d0 = fe_load_be64(b32 + 24), d1 = fe_load_be64(b32 + 16);
  const u64 d2 = fe_load_be64(b32 + 8), d3 = fe_load_be64(b32);
  *r = fe_const(d3, d2, d1, d0);
  // In range iff d + C does not carry out of 2^256.
  u128 t = (u128)d0 + kFeC;
  t = (u128)d1 + (u64)(t >> 64);
  t = (u128)d2 + (u64)(t >> 64);
  t = (u128)d3 + (u64)(t >> 64);
  return ((u64)(t >> 64)) ^ 1;
}

/// Write the canonical value of a as 32 big-endian bytes.
void fe_get_b32(unsigned char* b32, const fe* a);

}  // namespace fbh
