// Scalars modulo the group order n of secp256k1, and the digit recodings used by the
// scalar multiplications. Everything here is constant time unless named *_var.
#pragma once

#include <cstddef>
#include <cstdint>

#include "field.h"

namespace fbh {

/// A scalar: little-endian 64-bit limbs, always fully reduced to [0, n).
struct scalar {
  u64 d[4];
};

/// One signed odd digit of a regular recoding: table index (|d| - 1) / 2 and sign.
struct digit {
  std::uint16_t idx;
  std::uint16_t neg;
};

/// Parse 32 big-endian bytes, reducing mod n; returns 1 if the input was >= n.
u64 scalar_set_b32(scalar* r, const unsigned char* b32);

/// Write r as 32 big-endian bytes.
void scalar_get_b32(unsigned char* b32, const scalar* a);

/// 1 if a == 0, else 0.
u64 scalar_is_zero(const scalar* a);

/// r = -a (mod n).
void scalar_negate(scalar* r, const scalar* a);

/// r = a + b (mod n).
void scalar_add(scalar* r, const scalar* a, const scalar* b);

/// r = a - b (mod n).
inline void scalar_sub(scalar* r, const scalar* a, const scalar* b) {
  scalar nb;
  scalar_negate(&nb, b);
  scalar_add(r, a, &nb);
}

/// r = flag ? a : r, for flag in {0, 1}, without branching.
inline void scalar_cmov(scalar* r, const scalar* a, u64 flag) {
  const u64 mask = 0 - flag;
  for (int i = 0; i < 4; ++i) r->d[i] = (r->d[i] & ~mask) | (a->d[i] & mask);
}

/// 2^i as a scalar, for 0 <= i < 256.
inline scalar scalar_pow2(int i) {
  scalar s{};
  s.d[i / 64] = u64{1} << (i % 64);
  return s;
}

/// r = a * b (mod n).
void scalar_mul(scalar* r, const scalar* a, const scalar* b);

/// Split k into (k1, k2) with k = k1 + lambda*k2 (mod n) and |k1|, |k2| < 2^128 (GLV).
void scalar_split_lambda(scalar* k1, scalar* k2, const scalar* k);

/// Recode the odd integer k (5 limbs, < 2^(w*nd - 1)) into nd odd digits of width w:
/// k = sum d_i 2^(w i), d_i odd in [-(2^w - 1), 2^w - 1], the top digit positive.
void scalar_recode_regular(digit* out, const u64 k[5], int w, int nd);

/// Regular digits of a nonzero scalar r for a fixed-base multiplication: if r is even,
/// n - r (odd) is recoded instead and every digit sign flipped, so r*P is unchanged.
void scalar_recode_nonce(digit* out, const scalar* r, int w, int nd);

/// Regular digits of the signed half of a GLV split: |k| is made odd by adding e in {1, 2};
/// the caller subtracts e*P at the end (returns e, with its sign folded into *corr_neg).
u64 scalar_recode_half(digit* out, u64* corr_neg, const scalar* k, int w, int nd);

/// Overwrite n bytes at p with zeros in a way the compiler cannot elide.
void secure_zero(void* p, std::size_t n);

}  // namespace fbh
