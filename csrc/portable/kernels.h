// Per-element kernels of packed ElGamal format v2 (csrc/packed.h) for host and device. Each
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
/// Bytes of one proof: A (64-byte point) then z (32 bytes big-endian).
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

/// The challenge of block `index` (csrc/packed.h packed_challenge): SHA-256 of the tag,
/// ctx32, k, count, index (64-bit big-endian), the block's points and A, reduced mod n.
FBH_HD void packed_challenge(scalar* c, const unsigned char* ctx32, u64 k, u64 count, u64 index,
                             const unsigned char* pts, const unsigned char* a) {
  const char tag[] = "FBH/packed-v2/schnorr-pok";
  sha256 h;
  sha256_init(&h);
  sha256_update(&h, reinterpret_cast<const unsigned char*>(tag), sizeof(tag) - 1);
  sha256_update(&h, ctx32, 32);
  unsigned char be[24];
  store_be64(be, k);
  store_be64(be + 8, count);
  store_be64(be + 16, index);
  sha256_update(&h, be, sizeof(be));
  sha256_update(&h, pts, (k + 1) * kPointBytes);
  sha256_update(&h, a, kPointBytes);
  unsigned char d[32];
  sha256_finish(&h, d);
  scalar_set_b32(c, d);  // reduced mod n, as the CPU path does
}

/// The proof of one block whose points (R, C_0..C_{k-1}) are already written: A = a G,
/// z = c r + a. nonce64 is r then a. Returns 0 for an invalid nonce.
FBH_HD int packed_prove_block(unsigned char* proof, const ge* tab_g, const unsigned char* pts,
                              u64 k, const unsigned char* nonce64, const unsigned char* ctx32,
                              u64 count, u64 index) {
  scalar r, a, c;
  if (!nonce_scalar(&r, nonce64) || !nonce_scalar(&a, nonce64 + 32)) return 0;
  gej pa;
  ecmult_fixed(&pa, tab_g, a.d, kWindows);
  gej_store(proof, &pa);
  packed_challenge(&c, ctx32, k, count, index, pts, proof);
  scalar_mul(&c, &c, &r);
  scalar_add(&c, &c, &a);
  scalar_get_b32(proof + kPointBytes, &c);
  return 1;
}

/// Check one block's proof: z G == A + c R with R, A finite valid points and z < n (the
/// per-block part of packed_verify_var; the batch combination, if any, stays the driver's).
FBH_HD int packed_verify_block(const ge* tab_g, const unsigned char* pts, const unsigned char* proof,
                               u64 k, const unsigned char* ctx32, u64 count, u64 index) {
  gej r, a;
  if (!gej_load(&r, pts) || !gej_load(&a, proof) || r.inf || a.inf) return 0;
  scalar z, c;
  if (scalar_set_b32(&z, proof + kPointBytes)) return 0;
  packed_challenge(&c, ctx32, k, count, index, pts, proof);
  gej lhs, rhs;
  ecmult_fixed(&lhs, tab_g, z.d, kWindows);
  ecmult_var(&rhs, &r, &c);
  gej_add(&rhs, &rhs, &a);
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
