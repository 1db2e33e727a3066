// Eight field elements at once with AVX-512 IFMA (52-bit multiply-add lanes), for the batched
// kernels on public data. The limbs are those of field.h (five 52-bit limbs, the top one 48
// bits), one element per 64-bit lane: a product is 25 vpmadd52lo/hi pairs, and the reduction
// folds 2^260 = R and 2^256 = C (mod p) as field.h does. Only compiled for x86-64 GCC/Clang;
// callers check ifma_available() at run time.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FBH_HAVE_IFMA 1
#include <immintrin.h>

#include "field.h"

#define FBH_IFMA_FN __attribute__((target("avx512f,avx512ifma"), always_inline)) inline

namespace fbh {

/// Limb k of eight elements in n[k], lane l for element l: limbs < 2^52, the top one < 2^48
/// (field.h's weak form: value below 2^256, not necessarily below p).
struct fe8 {
  __m512i n[5];
};

/// Fold columns c[0..5) (each below 2^63) into fe8's weak form, two passes of 2^256 = C.
/// A second carry out of the top limb only happens when the first left a value below
/// 2^256 + 2^48, whose fold then cannot carry again.
FBH_IFMA_FN void fe8_reduce(fe8* r, __m512i* c) {
  const __m512i m52 = _mm512_set1_epi64(static_cast<long long>(kM52));
  const __m512i m48 = _mm512_set1_epi64(static_cast<long long>(kM48));
  const __m512i kc = _mm512_set1_epi64(static_cast<long long>(kFeC));
  for (int pass = 0; pass < 2; ++pass) {
    for (int k = 0; k < 4; ++k) {
      c[k + 1] = _mm512_add_epi64(c[k + 1], _mm512_srli_epi64(c[k], 52));
      c[k] = _mm512_and_si512(c[k], m52);
    }
    const __m512i t = _mm512_srli_epi64(c[4], 48);  // below 2^15: t C below 2^48
    c[4] = _mm512_and_si512(c[4], m48);
    c[0] = _mm512_madd52lo_epu64(c[0], t, kc);
  }
  for (int k = 0; k < 5; ++k) r->n[k] = c[k];
}

/// r = a * b (inputs in weak form).
FBH_IFMA_FN void fe8_mul(fe8* r, const fe8* a, const fe8* b) {
  const __m512i z = _mm512_setzero_si512();
  __m512i lo[10], hi[10];
  for (int k = 0; k < 10; ++k) lo[k] = hi[k] = z;
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 5; ++j) {
      lo[i + j] = _mm512_madd52lo_epu64(lo[i + j], a->n[i], b->n[j]);
      hi[i + j + 1] = _mm512_madd52hi_epu64(hi[i + j + 1], a->n[i], b->n[j]);
    }
  }
  __m512i c[10];
  for (int k = 0; k < 10; ++k) c[k] = _mm512_add_epi64(lo[k], hi[k]);  // each below 2^56
  // Columns 5..9 to 52-bit limbs (plus `top` at 2^520), then fold them by 2^260 = R: the
  // low halves land on columns 0..4, the high halves one column up; what reaches 2^260 again
  // (x, below 2^43) folds once more.
  const __m512i m52 = _mm512_set1_epi64(static_cast<long long>(kM52));
  for (int k = 5; k < 9; ++k) {
    c[k + 1] = _mm512_add_epi64(c[k + 1], _mm512_srli_epi64(c[k], 52));
    c[k] = _mm512_and_si512(c[k], m52);
  }
  const __m512i top = _mm512_srli_epi64(c[9], 52);
  c[9] = _mm512_and_si512(c[9], m52);
  const __m512i kr = _mm512_set1_epi64(static_cast<long long>(kFeR));
  __m512i x = _mm512_madd52lo_epu64(z, top, kr);
  for (int k = 5; k < 10; ++k) {
    c[k - 5] = _mm512_madd52lo_epu64(c[k - 5], c[k], kr);
    if (k < 9) {
      c[k - 4] = _mm512_madd52hi_epu64(c[k - 4], c[k], kr);
    } else {
      x = _mm512_madd52hi_epu64(x, c[k], kr);
    }
  }
  c[0] = _mm512_madd52lo_epu64(c[0], x, kr);
  c[1] = _mm512_madd52hi_epu64(c[1], x, kr);
  fe8_reduce(r, c);
}

/// r = a + k p - b - b2 (k p's limbs exceed those of the subtrahends; kp is that multiple's
/// limbs): the shared form of the subtractions below.
FBH_IFMA_FN void fe8_sub_multiple(fe8* r, const fe8* a, const fe8* b, const fe8* b2,
                                  const u64* kp) {
  __m512i c[5];
  for (int k = 0; k < 5; ++k) {
    c[k] = _mm512_sub_epi64(_mm512_add_epi64(a->n[k], _mm512_set1_epi64(static_cast<long long>(kp[k]))),
                            b->n[k]);
    if (b2 != nullptr) c[k] = _mm512_sub_epi64(c[k], b2->n[k]);
  }
  fe8_reduce(r, c);
}

constexpr u64 kTwoP[5] = {0x1FFFFDFFFFF85EULL, 0x1FFFFFFFFFFFFEULL, 0x1FFFFFFFFFFFFEULL,
                          0x1FFFFFFFFFFFFEULL, 0x1FFFFFFFFFFFEULL};
constexpr u64 kFourP[5] = {0x3FFFFBFFFFF0BCULL, 0x3FFFFFFFFFFFFCULL, 0x3FFFFFFFFFFFFCULL,
                           0x3FFFFFFFFFFFFCULL, 0x3FFFFFFFFFFFCULL};

/// r = a - b.
FBH_IFMA_FN void fe8_sub(fe8* r, const fe8* a, const fe8* b) {
  fe8_sub_multiple(r, a, b, nullptr, kTwoP);
}

/// r = a - b - c.
FBH_IFMA_FN void fe8_sub2(fe8* r, const fe8* a, const fe8* b, const fe8* c) {
  fe8_sub_multiple(r, a, b, c, kFourP);
}

/// Lane l of a (weak form, as field.h's fe).
FBH_IFMA_FN fe fe8_lane(const fe8* a, int l) {
  fe r;
  for (int k = 0; k < 5; ++k) {
    alignas(64) u64 v[8];
    _mm512_store_si512(reinterpret_cast<__m512i*>(v), a->n[k]);
    r.n[k] = v[l];
  }
  return r;
}

}  // namespace fbh

#endif
