// Scalar arithmetic mod n and regular signed-digit recodings (all constant time).
#include "scalar.h"

#include <cstring>

namespace fbh {

namespace {

constexpr u64 kN[4] = {0xbfd25e8cd0364141ULL, 0xbaaedce6af48a03bULL, 0xfffffffffffffffeULL,
                       0xffffffffffffffffULL};
constexpr u64 kNC[4] = {0x402da1732fc9bebfULL, 0x4551231950b75fc4ULL, 0x1ULL, 0x0ULL};
constexpr u64 kNHalf[4] = {0xdfe92f46681b20a0ULL, 0x5d576e7357a4501dULL, 0xffffffffffffffffULL,
                           0x7fffffffffffffffULL};
constexpr scalar kMinusB1 = {{0x6f547fa90abfe4c3ULL, 0xe4437ed6010e8828ULL, 0x0ULL, 0x0ULL}};
constexpr scalar kMinusB2 = {{0xd765cda83db1562cULL, 0x8a280ac50774346dULL, 0xfffffffffffffffeULL,
                              0xffffffffffffffffULL}};
constexpr scalar kMinusLambda = {{0xe0cfc810b51283cfULL, 0xa880b9fc8ec739c2ULL,
                                  0x5ad9e3fd77ed9ba4ULL, 0xac9c52b33fa3cf1fULL}};
constexpr u64 kG1[4] = {0xe893209a45dbb031ULL, 0x3daa8a1471e8ca7fULL, 0xe86c90e49284eb15ULL,
                        0x3086d221a7d46bcdULL};
constexpr u64 kG2[4] = {0x1571b4ae8ac47f71ULL, 0x221208ac9df506c6ULL, 0x6f547fa90abfe4c4ULL,
                        0xe4437ed6010e8828ULL};

/// out[0..na+nb) = a * b + c (c has nc <= na + nb limbs); fixed loop bounds.
void limbs_muladd(u64* out, const u64* a, int na, const u64* b, int nb, const u64* c, int nc) {
  for (int i = 0; i < na + nb; ++i) out[i] = i < nc ? c[i] : 0;
  for (int i = 0; i < na; ++i) {
    u64 carry = 0;
    for (int j = 0; j < nb; ++j) {
      u128 t = (u128)a[i] * b[j] + out[i + j] + carry;
      out[i + j] = (u64)t;
      carry = (u64)(t >> 64);
    }
    for (int k = i + nb; k < na + nb; ++k) {
      u128 t = (u128)out[k] + carry;
      out[k] = (u64)t;
      carry = (u64)(t >> 64);
    }
  }
}

/// r = v mod n for v < 2^256 + n (v given as 4 limbs plus a carry bit).
void scalar_reduce_once(scalar* r, const u64 v[4], u64 carry) {
  u64 t[4];
  u128 acc = 0;
  for (int i = 0; i < 4; ++i) {
    acc = (u128)v[i] + kNC[i] + (u64)(acc >> 64);
    t[i] = (u64)acc;
  }
  const u64 mask = 0 - (carry | (u64)(acc >> 64));
  for (int i = 0; i < 4; ++i) r->d[i] = (t[i] & mask) | (v[i] & ~mask);
}

/// r = l mod n for a 512-bit l, folding 2^256 = NC (mod n) three times.
void scalar_reduce512(scalar* r, const u64 l[8]) {
  u64 m[7], p[6], q[5];
  limbs_muladd(m, l + 4, 4, kNC, 3, l, 4);  // l_lo + l_hi*NC < 2^386
  limbs_muladd(p, m + 4, 3, kNC, 3, m, 4);  // < 2^260
  limbs_muladd(q, p + 4, 1, kNC, 4, p, 4);  // < 2^256 + 2^133 < 2n
  scalar_reduce_once(r, q, q[4]);
  secure_zero(m, sizeof(m));
  secure_zero(p, sizeof(p));
  secure_zero(q, sizeof(q));
}

/// 512-bit product of two 4-limb values.
void mul_256(u64 l[8], const u64 a[4], const u64 b[4]) { limbs_muladd(l, a, 4, b, 4, nullptr, 0); }

/// r = round(k * g / 2^384) for the GLV constants g1, g2.
void scalar_mul_shift384(scalar* r, const scalar* k, const u64 g[4]) {
  u64 l[8];
  mul_256(l, k->d, g);
  const u64 round = (l[5] >> 63) & 1;
  u128 t = (u128)l[6] + round;
  r->d[0] = (u64)t;
  t = (u128)l[7] + (u64)(t >> 64);
  r->d[1] = (u64)t;
  r->d[2] = 0;
  r->d[3] = 0;
}

/// Encode a signed odd digit as table index and sign.
digit digit_encode(std::int64_t d) {
  const std::int64_t s = d >> 63;
  const u64 a = (u64)((d ^ s) - s);
  return digit{(std::uint16_t)((a - 1) >> 1), (std::uint16_t)(s & 1)};
}

}  // namespace

u64 scalar_set_b32(scalar* r, const unsigned char* b32) {
  u64 v[4];
  for (int i = 0; i < 4; ++i) {
    u64 x = 0;
    for (int j = 0; j < 8; ++j) x = (x << 8) | b32[(3 - i) * 8 + j];
    v[i] = x;
  }
  u128 acc = 0;
  for (int i = 0; i < 4; ++i) acc = (u128)v[i] + kNC[i] + (u64)(acc >> 64);
  const u64 overflow = (u64)(acc >> 64);
  scalar_reduce_once(r, v, 0);
  return overflow;
}

void scalar_get_b32(unsigned char* b32, const scalar* a) {
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 8; ++j) b32[(3 - i) * 8 + j] = (unsigned char)(a->d[i] >> (56 - 8 * j));
  }
}

u64 scalar_is_zero(const scalar* a) {
  const u64 z = a->d[0] | a->d[1] | a->d[2] | a->d[3];
  return ((z | (0 - z)) >> 63) ^ 1;
}

void scalar_negate(scalar* r, const scalar* a) {
  const u64 mask = 0 - (scalar_is_zero(a) ^ 1);
  u128 t = 0;
  u64 borrow = 0;
  for (int i = 0; i < 4; ++i) {
    t = (u128)kN[i] - a->d[i] - borrow;
    r->d[i] = (u64)t & mask;
    borrow = (u64)(t >> 64) & 1;
  }
}

void scalar_add(scalar* r, const scalar* a, const scalar* b) {
  u64 v[4];
  u128 t = 0;
  for (int i = 0; i < 4; ++i) {
    t = (u128)a->d[i] + b->d[i] + (u64)(t >> 64);
    v[i] = (u64)t;
  }
  scalar_reduce_once(r, v, (u64)(t >> 64));
}

void scalar_mul(scalar* r, const scalar* a, const scalar* b) {
  u64 l[8];
  mul_256(l, a->d, b->d);
  scalar_reduce512(r, l);
  secure_zero(l, sizeof(l));
}

void scalar_split_lambda(scalar* k1, scalar* k2, const scalar* k) {
  // bitcoin-core/secp256k1 scalar_split_lambda: c1, c2 approximate the lattice coordinates.
  scalar c1, c2, t;
  scalar_mul_shift384(&c1, k, kG1);
  scalar_mul_shift384(&c2, k, kG2);
  scalar_mul(&c1, &c1, &kMinusB1);
  scalar_mul(&c2, &c2, &kMinusB2);
  scalar_add(k2, &c1, &c2);
  scalar_mul(&t, k2, &kMinusLambda);
  scalar_add(k1, &t, k);
  secure_zero(&c1, sizeof(c1));
  secure_zero(&c2, sizeof(c2));
  secure_zero(&t, sizeof(t));
}

void scalar_recode_regular(digit* out, const u64 k_in[5], int w, int nd) {
  u64 k[5];
  std::memcpy(k, k_in, sizeof(k));
  const u64 wmask = (1ULL << (w + 1)) - 1;
  for (int i = 0; i + 1 < nd; ++i) {
    // d = (k mod 2^(w+1)) - 2^w is odd and keeps (k - d) / 2^w odd.
    const std::int64_t d = (std::int64_t)(k[0] & wmask) - (std::int64_t)(1ULL << w);
    out[i] = digit_encode(d);
    const u64 nd64 = (u64)(-d);
    const u64 ext = 0 - (nd64 >> 63);
    u128 t = (u128)k[0] + nd64;
    k[0] = (u64)t;
    for (int j = 1; j < 5; ++j) {
      t = (u128)k[j] + ext + (u64)(t >> 64);
      k[j] = (u64)t;
    }
    for (int j = 0; j < 4; ++j) k[j] = (k[j] >> w) | (k[j + 1] << (64 - w));
    k[4] >>= w;
  }
  out[nd - 1] = digit_encode((std::int64_t)k[0]);
  secure_zero(k, sizeof(k));
}

void scalar_recode_nonce(digit* out, const scalar* r, int w, int nd) {
  const u64 odd = r->d[0] & 1;
  scalar neg;
  scalar_negate(&neg, r);
  u64 k[5] = {0, 0, 0, 0, 0};
  const u64 mask = 0 - odd;
  for (int i = 0; i < 4; ++i) k[i] = (r->d[i] & mask) | (neg.d[i] & ~mask);
  scalar_recode_regular(out, k, w, nd);
  const std::uint16_t flip = (std::uint16_t)(odd ^ 1);
  for (int i = 0; i < nd; ++i) out[i].neg ^= flip;
  secure_zero(k, sizeof(k));
  secure_zero(&neg, sizeof(neg));
}

u64 scalar_recode_half(digit* out, u64* corr_neg, const scalar* k, int w, int nd) {
  // high = k > n/2, i.e. k stands for the negative value k - n.
  u128 t = 0;
  for (int i = 0; i < 4; ++i) t = (u128)kNHalf[i] - k->d[i] - ((u64)(t >> 64) & 1);
  const u64 high = (u64)(t >> 64) & 1;
  scalar neg;
  scalar_negate(&neg, k);
  u64 a[5] = {0, 0, 0, 0, 0};
  const u64 mask = 0 - high;
  for (int i = 0; i < 4; ++i) a[i] = (neg.d[i] & mask) | (k->d[i] & ~mask);
  const u64 e = 1 + (a[0] & 1);
  t = (u128)a[0] + e;
  a[0] = (u64)t;
  for (int i = 1; i < 5; ++i) {
    t = (u128)a[i] + (u64)(t >> 64);
    a[i] = (u64)t;
  }
  scalar_recode_regular(out, a, w, nd);
  for (int i = 0; i < nd; ++i) out[i].neg ^= (std::uint16_t)high;
  // value = sign * (a - e): the caller adds -sign * e * P, whose sign bit is !high.
  *corr_neg = high ^ 1;
  secure_zero(a, sizeof(a));
  secure_zero(&neg, sizeof(neg));
  return e;
}

void secure_zero(void* p, std::size_t n) {
  std::memset(p, 0, n);
  // The empty asm with a memory clobber makes the stores observable, so they stay.
  __asm__ __volatile__("" : : "r"(p) : "memory");
}

}  // namespace fbh
