// Per-element kernels of packed ElGamal format v3 (csrc/packed.h) for host and device. Each
// function computes one element of a batch from raw pointers; the CPU driver
// (csrc/portable_driver.cpp) loops over elements and the CUDA driver (csrc/cuda/) launches one
// thread per element, so both run this same text. Results are byte-identical to the main CPU
// path (csrc/packed.cpp) given the same nonces: points are unique, serialization canonical.
//
// Not constant time: windows, additions and table reads branch on scalar digits. These
// kernels are for simulations and the server's public work (aggregation, verification).
#pragma once

#include "group.h"
#include "sha256.h"

namespace fbh {
namespace portable {

/// Largest |plaintext| (csrc/elgamal.h kMaxPlaintext): 47 bits, so m G needs only the low
/// windows of G's table.
constexpr int64_t kMaxPlaintext = (int64_t{1} << 47) - 1;
constexpr int kPlaintextWindows = (47 + kWindowBits - 1) / kWindowBits;
/// Bytes of a blob's proof: A (64-byte point) then z (32 bytes big-endian).
constexpr size_t kProofBytes = 96;

/// The generator G (SEC 2) as a 64-byte point.
FBH_HD void generator_bytes(unsigned char out[64]) {
  const u64 w[8] = {0x79BE667EF9DCBBACULL, 0x55A06295CE870B07ULL, 0x029BFCDB2DCE28D9ULL,
                    0x59F2815B16F81798ULL, 0x483ADA7726A3C465ULL, 0x5DA4FBFC0E1108A8ULL,
                    0xFD17B448A6855419ULL, 0x9C47D08FFB10D4B8ULL};
  for (int i = 0; i < 8; ++i) store_be64(out + 8 * i, w[i]);
}

/// Fixed table of one finite base: tab[w * kEntries + d - 1] = d 2^(kWindowBits w) base
/// (affine, normalized).
FBH_HD void fixed_table_build(ge* tab, const ge* base) {
  gej cur, acc;
  gej_set_ge(&cur, base);
  for (int w = 0; w < kWindows; ++w) {
    acc = cur;
    for (int d = 1; d <= kEntries; ++d) {
      if (d > 1) gej_add(&acc, &acc, &cur);
      gej_to_ge(&tab[w * kEntries + d - 1], &acc);
    }
    for (int i = 0; i < kWindowBits; ++i) gej_double(&cur, &cur);
  }
}

/// Nonce scalar from 32 big-endian bytes; 0 unless it lies in [1, n - 1].
FBH_HD int nonce_scalar(scalar* r, const unsigned char* b32) {
  return !scalar_set_b32(r, b32) && !scalar_is_zero(r);
}

/// One point of an encrypted block, element (b, j) with j in [0, k]: j = 0 writes
/// R = r G, j >= 1 writes C_{j-1} = r P_{j-1} + m G. tabs holds the fixed tables of
/// G, P_0, ..., P_{k-1} (kTablePoints each). Returns 0 (nothing written) for a nonce outside
/// [1, n - 1] or |m| > kMaxPlaintext.
FBH_HD int packed_encrypt_point(unsigned char* out, const ge* tabs, size_t j,
                                const unsigned char* r32, int64_t m) {
  scalar r;
  if (!nonce_scalar(&r, r32) || m > kMaxPlaintext || m < -kMaxPlaintext) return 0;
  gej acc;
  ecmult_fixed(&acc, tabs + j * kTablePoints, r.d, kWindows);
  if (j > 0 && m != 0) {
    const u64 mag[4] = {static_cast<u64>(m < 0 ? -m : m), 0, 0, 0};
    gej mg;
    ecmult_fixed(&mg, tabs, mag, kPlaintextWindows);
    if (m < 0) gej_negate(&mg, &mg);
    gej_add(&acc, &acc, &mg);
  }
  gej_store(out, &acc);
  return 1;
}

/// seed32 = SHA-256("FBH/packed-v3/batch-pok" || ctx32 || k || count || A || every block's
/// points), k and count big-endian u64 (csrc/packed.h packed_transcript_seed). One pass over
/// the whole blob: the drivers run it on the host.
FBH_HD void packed_transcript_seed(unsigned char* seed32, const unsigned char* ctx32, u64 k,
                                   u64 count, const unsigned char* a, const unsigned char* pts,
                                   size_t nblocks) {
  const char tag[] = "FBH/packed-v3/batch-pok";
  sha256 h;
  sha256_init(&h);
  sha256_update(&h, reinterpret_cast<const unsigned char*>(tag), sizeof(tag) - 1);
  sha256_update(&h, ctx32, 32);
  unsigned char be[16];
  store_be64(be, k);
  store_be64(be + 8, count);
  sha256_update(&h, be, sizeof(be));
  sha256_update(&h, a, kPointBytes);
  sha256_update(&h, pts, nblocks * (k + 1) * kPointBytes);
  sha256_finish(&h, seed32);
}

/// Coefficient e_i < 2^128 (csrc/packed.h packed_coeffs): the first (i even) or last (i odd)
/// 16 bytes, big-endian, of SHA-256(seed32 || i / 2 as big-endian u64).
FBH_HD void packed_coeff(scalar* e, const unsigned char* seed32, u64 i) {
  unsigned char in[40], d[32];
  for (int b = 0; b < 32; ++b) in[b] = seed32[b];
  store_be64(in + 32, i / 2);
  sha256 h;
  sha256_init(&h);
  sha256_update(&h, in, sizeof(in));
  sha256_finish(&h, d);
  const unsigned char* half = d + 16 * (i % 2);
  e->d[0] = load_be64(half + 8);
  e->d[1] = load_be64(half);
  e->d[2] = e->d[3] = 0;
}

/// One block's share of the proof response: out = e_i r_i (z = a + sum_i e_i r_i). Returns 0
/// for a nonce outside [1, n - 1].
FBH_HD int packed_weighted_nonce(scalar* out, const unsigned char* seed32, u64 i,
                                 const unsigned char* r32) {
  scalar r, e;
  if (!nonce_scalar(&r, r32)) return 0;
  packed_coeff(&e, seed32, i);
  scalar_mul(out, &e, &r);
  return 1;
}

/// One block's share of the proof check: out = e_i R_i (z G = A + sum_i e_i R_i). Returns 0
/// for an invalid or infinite R_i (never made by an honest sender).
FBH_HD int packed_weighted_point(gej* out, const unsigned char* r64, const unsigned char* seed32,
                                 u64 i) {
  gej r;
  if (!gej_load(&r, r64) || r.inf) return 0;
  scalar e;
  packed_coeff(&e, seed32, i);
  ecmult_var(out, &r, &e, 32);  // e_i < 2^128: 32 four-bit windows
  return 1;
}

/// out = sum of pts[begin, end) (a slice of a reduction over blocks).
FBH_HD void gej_sum(gej* out, const gej* pts, size_t begin, size_t end) {
  gej_set_infinity(out);
  for (size_t i = begin; i < end; ++i) gej_add(out, out, &pts[i]);
}

/// The final check of a blob's proof given S = sum_i e_i R_i: A (proof[0..64)) valid and
/// finite, z (proof[64..96)) < n, and z G == A + S.
FBH_HD int packed_check_proof(const ge* tab_g, const unsigned char* proof, const gej* sum) {
  gej a, lhs, rhs;
  scalar z;
  if (!gej_load(&a, proof) || a.inf || scalar_set_b32(&z, proof + kPointBytes)) return 0;
  ecmult_fixed(&lhs, tab_g, z.d, kWindows);
  gej_add(&rhs, &a, sum);
  return gej_equal(&lhs, &rhs);
}

/// Point p of the slot-wise sum of nitems inputs laid out items[c * stride + p * 64].
/// Returns 0 (and the input's index in *bad_item) if an input point is invalid.
FBH_HD int points_sum(unsigned char* out, const unsigned char* items, size_t stride,
                      size_t nitems, size_t p, size_t* bad_item) {
  gej acc, t;
  gej_set_infinity(&acc);
  for (size_t c = 0; c < nitems; ++c) {
    if (!gej_load(&t, items + c * stride + p * kPointBytes)) {
      *bad_item = c;
      return 0;
    }
    gej_add(&acc, &acc, &t);
  }
  gej_store(out, &acc);
  return 1;
}

/// One partial decryption s R (element (b, j) with s = s_j, R = R_b); infinity stays zeros.
/// Returns 0 for an invalid R.
FBH_HD int packed_mul_r_point(unsigned char* out, const unsigned char* r64, const scalar* s) {
  gej r, acc;
  if (!gej_load(&r, r64)) return 0;
  if (r.inf) {
    gej_store(out, &r);
    return 1;
  }
  ecmult_var(&acc, &r, s);
  gej_store(out, &acc);
  return 1;
}

}  // namespace portable
}  // namespace fbh
