// Field inversion, square root and serialization (the non-inline part of field.h).
#include "field.h"

#include <cstring>

namespace fbh {

namespace {

/// r = a^(2^k): k repeated squarings.
void fe_sqr_n(fe* r, const fe* a, int k) {
  *r = *a;
  for (int i = 0; i < k; ++i) fe_sqr(r, r);
}

/// Shared prefix of the inversion and square-root chains: x2, x22 and x223, where
/// xk = a^(2^k - 1) (the addition chain of bitcoin-core/secp256k1 field_impl.h).
void fe_chain_prefix(fe* x2, fe* x22, fe* x223, const fe* a) {
  fe x3, x6, x9, x11, x44, x88, x176, x220, t;
  fe_sqr(x2, a);
  fe_mul(x2, x2, a);
  fe_sqr(&x3, x2);
  fe_mul(&x3, &x3, a);
  fe_sqr_n(&t, &x3, 3);
  fe_mul(&x6, &t, &x3);
  fe_sqr_n(&t, &x6, 3);
  fe_mul(&x9, &t, &x3);
  fe_sqr_n(&t, &x9, 2);
  fe_mul(&x11, &t, x2);
  fe_sqr_n(&t, &x11, 11);
  fe_mul(x22, &t, &x11);
  fe_sqr_n(&t, x22, 22);
  fe_mul(&x44, &t, x22);
  fe_sqr_n(&t, &x44, 44);
  fe_mul(&x88, &t, &x44);
  fe_sqr_n(&t, &x88, 88);
  fe_mul(&x176, &t, &x88);
  fe_sqr_n(&t, &x176, 44);
  fe_mul(&x220, &t, &x44);
  fe_sqr_n(&t, &x220, 3);
  fe_mul(x223, &t, &x3);
}

}  // namespace

void fe_inv(fe* r, const fe* a) {
  // p - 2 = 2^256 - 2^32 - 979: blocks of ones 223, 22, then bits 1.0000.1.0.11 -> a^(p-2).
  fe x2, x22, x223, t;
  fe_chain_prefix(&x2, &x22, &x223, a);
  fe_sqr_n(&t, &x223, 23);
  fe_mul(&t, &t, &x22);
  fe_sqr_n(&t, &t, 5);
  fe_mul(&t, &t, a);
  fe_sqr_n(&t, &t, 3);
  fe_mul(&t, &t, &x2);
  fe_sqr_n(&t, &t, 2);
  fe_mul(r, &t, a);
}

u64 fe_sqrt(fe* r, const fe* a) {
  // p = 3 (mod 4): a^((p+1)/4) is a root whenever a is a square.
  fe x2, x22, x223, t, check;
  fe_chain_prefix(&x2, &x22, &x223, a);
  fe_sqr_n(&t, &x223, 23);
  fe_mul(&t, &t, &x22);
  fe_sqr_n(&t, &t, 6);
  fe_mul(&t, &t, &x2);
  fe_sqr_n(&t, &t, 2);
  *r = t;
  fe_sqr(&check, &t);
  return fe_equal(&check, a);
}

void fe_get_b32(unsigned char* b32, const fe* a) {
  fe t = *a;
  fe_normalize(&t);
  const u64 d[4] = {t.n[0] | (t.n[1] << 52), (t.n[1] >> 12) | (t.n[2] << 40),
                    (t.n[2] >> 24) | (t.n[3] << 28), (t.n[3] >> 36) | (t.n[4] << 16)};
  for (int i = 0; i < 4; ++i) fe_store_be64(b32 + (3 - i) * 8, d[i]);
}

}  // namespace fbh
