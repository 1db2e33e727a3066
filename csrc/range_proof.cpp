// Range proofs on packed-block slots: constant-time prover, batched variable-time verifier.
#include "range_proof.h"

#include <array>
#include <cstring>
#include <vector>

#include "ecmult.h"
#include "elgamal.h"
#include "group.h"
#include "keyset.h"
#include "msm.h"
#include "scalar.h"
#include "sha256.h"
#include "util.h"

namespace fbh {

namespace {

constexpr std::size_t kPairBytes = 2 * kPointBytes;            // R_i || C_i
constexpr std::size_t kBitBytes = 4 * kPointBytes + 3 * 32;    // A0 B0 A1 B1 c0 z0 z1

void put_be64(unsigned char* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<unsigned char>(v & 0xFF);
}

scalar scalar_pow2(int i) {
  scalar s{};
  s.d[i / 64] = u64{1} << (i % 64);
  return s;
}

void scalar_cmov(scalar* r, const scalar* a, u64 flag) {
  const u64 mask = 0 - flag;
  for (int i = 0; i < 4; ++i) r->d[i] = (r->d[i] & ~mask) | (a->d[i] & mask);
}

void scalar_sub(scalar* r, const scalar* a, const scalar* b) {
  scalar nb;
  scalar_negate(&nb, b);
  scalar_add(r, a, &nb);
}

void gep_cmov(gep* r, const gep* a, u64 flag) {
  fe_cmov(&r->x, &a->x, flag);
  fe_cmov(&r->y, &a->y, flag);
  fe_cmov(&r->z, &a->z, flag);
}

void gep_neg(gep* r) { fe_negate(&r->y, &r->y); }

/// r = k G with the constant-time fixed-base table (k nonzero).
void mul_g(gep* r, const scalar* k) {
  const FixedTable& t = table_g(true);
  std::array<digit, 64> d{};
  scalar_recode_nonce(d.data(), k, t.w, t.nd);
  ecmult_fixed_complete(r, t, d.data(), t.nd);
  secure_zero(d.data(), sizeof(d));
}

/// (rg, rp) = (k G, k P_j) from the key set's constant-time interleaved table (k nonzero).
void mul_gp(gep* rg, gep* rp, const MultiTable& tab, std::size_t j, const scalar* k) {
  std::array<digit, 64> d{};
  scalar_recode_nonce(d.data(), k, tab.w, tab.nd);
  gep_set_infinity(rg);
  gep_set_infinity(rp);
  for (int i = 0; i < tab.nd; ++i) {
    ge e;
    gep t;
    multi_table_select(&e, tab, i, d[static_cast<std::size_t>(i)], 0, 1, true);
    gep_set_ge(&t, &e);
    gep_add(rg, rg, &t);
    multi_table_select(&e, tab, i, d[static_cast<std::size_t>(i)], j + 1, 1, true);
    gep_set_ge(&t, &e);
    gep_add(rp, rp, &t);
  }
  secure_zero(d.data(), sizeof(d));
}

void store(unsigned char* out, const gep* a) {
  ge g;
  const u64 inf = gep_to_ge(&g, a);
  ge_store(out, &g, static_cast<std::uint8_t>(inf));
}

/// Parse a finite, valid point.
bool load_finite(ge* r, const unsigned char* in) {
  std::uint8_t inf = 0;
  return ge_load_var(r, &inf, in, true) && !inf;
}

void statement_hash(unsigned char* h, const unsigned char* ctx, std::size_t ctx_len,
                    std::uint64_t block, std::uint64_t slot, int bits, const unsigned char* key,
                    const unsigned char* r, const unsigned char* c, const unsigned char* commits) {
  const std::size_t tag = sizeof(kRangeTag) - 1;
  const std::size_t nc = static_cast<std::size_t>(bits - 1) * kPairBytes;
  std::vector<unsigned char> buf(tag + 8 + ctx_len + 24 + 3 * kPointBytes + nc);
  unsigned char* p = buf.data();
  std::memcpy(p, kRangeTag, tag);
  p += tag;
  put_be64(p, ctx_len);
  if (ctx_len) std::memcpy(p + 8, ctx, ctx_len);
  p += 8 + ctx_len;
  put_be64(p, block);
  put_be64(p + 8, slot);
  put_be64(p + 16, static_cast<std::uint64_t>(bits));
  p += 24;
  std::memcpy(p, key, kPointBytes);
  std::memcpy(p + kPointBytes, r, kPointBytes);
  std::memcpy(p + 2 * kPointBytes, c, kPointBytes);
  if (nc) std::memcpy(p + 3 * kPointBytes, commits, nc);
  sha256(h, buf.data(), buf.size());
}

void bit_challenge(scalar* c, const unsigned char* h, int i, const unsigned char* abab) {
  unsigned char buf[32 + 8 + 4 * kPointBytes];
  std::memcpy(buf, h, 32);
  put_be64(buf + 32, static_cast<std::uint64_t>(i));
  std::memcpy(buf + 40, abab, 4 * kPointBytes);
  unsigned char d[32];
  sha256(d, buf, sizeof(buf));
  scalar_set_b32(c, d);  // reduces mod n, as the reference does
}

/// sum_{i >= 1} 2^i pts[i] by Horner's rule (complete formulas).
void weighted_tail(gep* r, const std::vector<gep>& pts, int bits) {
  gep acc;
  gep_set_infinity(&acc);
  for (int i = bits - 1; i >= 1; --i) {
    gep_add(&acc, &acc, &acc);
    gep_add(&acc, &acc, &pts[static_cast<std::size_t>(i)]);
  }
  gep_add(r, &acc, &acc);
}

/// One slot's proof; returns false if the inputs do not parse or the value is out of range.
bool prove_one(unsigned char* out, int bits, const unsigned char* ctx, std::size_t ctx_len,
               const MultiTable& tab, const unsigned char* key, const unsigned char* rp,
               const unsigned char* cp, std::int64_t m, const unsigned char* nonce,
               std::uint64_t block, std::uint64_t slot) {
  ge P, R, C;
  if (!load_finite(&P, key) || !load_finite(&R, rp) || !load_finite(&C, cp)) return false;
  const std::int64_t half = std::int64_t{1} << (bits - 1);
  if (m < -half || m >= half) return false;
  const u64 x = static_cast<u64>(m + half);
  const std::size_t L = static_cast<std::size_t>(bits);
  std::vector<scalar> w(L);
  scalar r, s{}, t;
  if (scalar_set_b32(&r, nonce)) return false;
  for (std::size_t i = 1; i < L; ++i) {
    scalar_random(&w[i]);
    t = scalar_pow2(static_cast<int>(i));
    scalar_mul(&t, &t, &w[i]);
    scalar_add(&s, &s, &t);
  }
  scalar_sub(&w[0], &r, &s);  // sum 2^i r_i = r
  gep G, negG, inf;
  gep_set_ge(&G, &ge_generator());
  negG = G;
  gep_neg(&negG);
  gep_set_infinity(&inf);
  std::vector<gep> Rp(L), Cp(L);
  unsigned char* commits = out;
  for (std::size_t i = 1; i < L; ++i) {
    const u64 b = (x >> i) & 1;
    gep pw, bg = inf;
    mul_gp(&Rp[i], &pw, tab, slot, &w[i]);
    gep_cmov(&bg, &G, b);
    gep_add(&Cp[i], &pw, &bg);
    store(commits + (i - 1) * kPairBytes, &Rp[i]);
    store(commits + (i - 1) * kPairBytes + kPointBytes, &Cp[i]);
  }
  unsigned char h[32];
  statement_hash(h, ctx, ctx_len, block, slot, bits, key, rp, cp, commits);
  // The derived pair of bit 0: (R, C + 2^(L-1) G) minus the weighted commitments.
  gep tail, shift;
  const scalar hs = scalar_pow2(bits - 1);
  gep_set_ge(&Rp[0], &R);
  gep_set_ge(&Cp[0], &C);
  mul_g(&shift, &hs);
  gep_add(&Cp[0], &Cp[0], &shift);
  weighted_tail(&tail, Rp, bits);
  gep_neg(&tail);
  gep_add(&Rp[0], &Rp[0], &tail);
  weighted_tail(&tail, Cp, bits);
  gep_neg(&tail);
  gep_add(&Cp[0], &Cp[0], &tail);

  unsigned char* bitp = out + (L - 1) * kPairBytes;
  for (std::size_t i = 0; i < L; ++i) {
    const u64 b = (x >> i) & 1;
    scalar u, fz, fc, c, creal, zreal;
    scalar_random(&u);
    scalar_random(&fz);
    scalar_random(&fc);
    ge Ri, D;
    gep Dp = inf, ar, br, af, bf, t1, t2;
    gep_to_ge(&Ri, &Rp[i]);
    gep_cmov(&Dp, &negG, b ^ 1);  // the fake branch f = 1 - b tests C_i - f G
    gep_add(&Dp, &Cp[i], &Dp);
    gep_to_ge(&D, &Dp);
    gep fzg, fzp;
    mul_gp(&ar, &br, tab, slot, &u);
    mul_gp(&fzg, &fzp, tab, slot, &fz);
    ecmult_const_complete(&t2, &Ri, &fc);
    gep_neg(&t2);
    gep_add(&af, &fzg, &t2);
    t1 = fzp;
    ecmult_const_complete(&t2, &D, &fc);
    gep_neg(&t2);
    gep_add(&bf, &t1, &t2);
    gep a0 = ar, b0 = br, a1 = af, b1 = bf;
    gep_cmov(&a0, &af, b);
    gep_cmov(&b0, &bf, b);
    gep_cmov(&a1, &ar, b);
    gep_cmov(&b1, &br, b);
    unsigned char* q = bitp + i * kBitBytes;
    store(q, &a0);
    store(q + kPointBytes, &b0);
    store(q + 2 * kPointBytes, &a1);
    store(q + 3 * kPointBytes, &b1);
    bit_challenge(&c, h, static_cast<int>(i), q);
    scalar_sub(&creal, &c, &fc);
    scalar_mul(&zreal, &creal, &w[i]);
    scalar_add(&zreal, &zreal, &u);
    scalar c0 = creal, z0 = zreal, z1 = fz;
    scalar_cmov(&c0, &fc, b);
    scalar_cmov(&z0, &fz, b);
    scalar_cmov(&z1, &zreal, b);
    scalar_get_b32(q + 4 * kPointBytes, &c0);
    scalar_get_b32(q + 4 * kPointBytes + 32, &z0);
    scalar_get_b32(q + 4 * kPointBytes + 64, &z1);
    secure_zero(&u, sizeof(u));
    secure_zero(&fz, sizeof(fz));
    secure_zero(&fc, sizeof(fc));
    secure_zero(&zreal, sizeof(zreal));
    secure_zero(&creal, sizeof(creal));
    secure_zero(&c0, sizeof(c0));
    secure_zero(&z0, sizeof(z0));
    secure_zero(&z1, sizeof(z1));
  }
  secure_zero(w.data(), w.size() * sizeof(scalar));
  secure_zero(&r, sizeof(r));
  secure_zero(&s, sizeof(s));
  secure_zero(&t, sizeof(t));
  return true;
}

scalar random_weight() {
  unsigned char b[32] = {0};
  os_random(b + 16, 16);  // 128-bit weights
  scalar s;
  scalar_set_b32(&s, b);
  return s;
}

/// Append item t's equations, weighted at random, to (pts, sc) and its G coefficient to gco.
bool collect(std::vector<ge>& pts, std::vector<scalar>& sc, scalar* gco, const unsigned char* proof,
             int bits, const unsigned char* ctx, std::size_t ctx_len, const unsigned char* key,
             const unsigned char* rp, const unsigned char* cp, std::uint64_t block,
             std::uint64_t slot) {
  const std::size_t L = static_cast<std::size_t>(bits);
  ge P, R, C;
  if (!load_finite(&P, key) || !load_finite(&R, rp) || !load_finite(&C, cp)) return false;
  std::vector<ge> Ri(L), Ci(L);
  for (std::size_t i = 1; i < L; ++i) {
    if (!load_finite(&Ri[i], proof + (i - 1) * kPairBytes) ||
        !load_finite(&Ci[i], proof + (i - 1) * kPairBytes + kPointBytes))
      return false;
  }
  unsigned char h[32];
  statement_hash(h, ctx, ctx_len, block, slot, bits, key, rp, cp, proof);
  std::vector<scalar> coef_r(L), coef_c(L);
  scalar coef_p{}, t, u;
  const unsigned char* bitp = proof + (L - 1) * kPairBytes;
  for (std::size_t i = 0; i < L; ++i) {
    const unsigned char* q = bitp + i * kBitBytes;
    ge ab[4];
    for (int j = 0; j < 4; ++j) {
      if (!load_finite(&ab[j], q + j * kPointBytes)) return false;
    }
    scalar c, c0, z0, z1, c1;
    if (scalar_set_b32(&c0, q + 4 * kPointBytes) || scalar_set_b32(&z0, q + 4 * kPointBytes + 32) ||
        scalar_set_b32(&z1, q + 4 * kPointBytes + 64))
      return false;
    bit_challenge(&c, h, static_cast<int>(i), q);
    scalar_sub(&c1, &c, &c0);
    const scalar e1 = random_weight(), e2 = random_weight(), e3 = random_weight(),
                 e4 = random_weight();
    // e1 (z0 G - c0 R_i - A0) + e2 (z0 P - c0 C_i - B0)
    //   + e3 (z1 G - c1 R_i - A1) + e4 (z1 P - c1 (C_i - G) - B1) = 0
    scalar_mul(&t, &e1, &z0);
    scalar_add(gco, gco, &t);
    scalar_mul(&t, &e3, &z1);
    scalar_add(gco, gco, &t);
    scalar_mul(&t, &e4, &c1);
    scalar_add(gco, gco, &t);
    scalar_mul(&t, &e2, &z0);
    scalar_add(&coef_p, &coef_p, &t);
    scalar_mul(&t, &e4, &z1);
    scalar_add(&coef_p, &coef_p, &t);
    scalar_mul(&t, &e1, &c0);
    scalar_mul(&u, &e3, &c1);
    scalar_add(&t, &t, &u);
    scalar_negate(&coef_r[i], &t);
    scalar_mul(&t, &e2, &c0);
    scalar_mul(&u, &e4, &c1);
    scalar_add(&t, &t, &u);
    scalar_negate(&coef_c[i], &t);
    const scalar* e[4] = {&e1, &e2, &e3, &e4};
    for (int j = 0; j < 4; ++j) {
      pts.push_back(ab[j]);
      scalar ne;
      scalar_negate(&ne, e[j]);
      sc.push_back(ne);
    }
  }
  // Bit 0's pair is (R, C + 2^(L-1) G) - sum_{i>=1} 2^i (R_i, C_i).
  pts.push_back(P);
  sc.push_back(coef_p);
  pts.push_back(R);
  sc.push_back(coef_r[0]);
  pts.push_back(C);
  sc.push_back(coef_c[0]);
  const scalar hs = scalar_pow2(bits - 1);
  scalar_mul(&t, &coef_c[0], &hs);
  scalar_add(gco, gco, &t);
  for (std::size_t i = 1; i < L; ++i) {
    const scalar p2 = scalar_pow2(static_cast<int>(i));
    scalar_mul(&t, &coef_r[0], &p2);
    scalar_sub(&u, &coef_r[i], &t);
    pts.push_back(Ri[i]);
    sc.push_back(u);
    scalar_mul(&t, &coef_c[0], &p2);
    scalar_sub(&u, &coef_c[i], &t);
    pts.push_back(Ci[i]);
    sc.push_back(u);
  }
  return true;
}

}  // namespace

std::size_t range_proof_bytes(int bits) {
  const std::size_t L = static_cast<std::size_t>(bits);
  return (L - 1) * kPairBytes + L * kBitBytes;
}

std::int64_t range_prove(unsigned char* out, std::size_t n, int bits, const unsigned char* ctx,
                         std::size_t ctx_len, PubKeySet& pk, const unsigned char* rs,
                         const unsigned char* cs, const std::int64_t* m,
                         const unsigned char* nonces, const std::uint64_t* blocks,
                         const std::uint64_t* slots, int threads) {
  const std::size_t pb = range_proof_bytes(bits);
  const MultiTable& tab = pk.table(true);
  std::vector<unsigned char> keys(n * kPointBytes);
  for (std::size_t t = 0; t < n; ++t) {
    if (slots[t] >= pk.k()) return static_cast<std::int64_t>(t);
    ge_store(keys.data() + t * kPointBytes, &pk.points()[slots[t]], 0);
  }
  const int nt = thread_count(n, threads, 1);
  std::vector<std::int64_t> bad(static_cast<std::size_t>(nt), -1);
  parallel_for(n, nt, [&](int th, std::size_t begin, std::size_t end) {
    for (std::size_t t = begin; t < end; ++t) {
      if (!prove_one(out + t * pb, bits, ctx, ctx_len, tab, keys.data() + t * kPointBytes, rs + t * kPointBytes,
                     cs + t * kPointBytes, m[t], nonces + t * 32, blocks[t], slots[t])) {
        bad[static_cast<std::size_t>(th)] = static_cast<std::int64_t>(t);
        return;
      }
    }
  });
  for (const std::int64_t b : bad) {
    if (b >= 0) return b;
  }
  return -1;
}

std::int64_t range_verify_var(const unsigned char* proofs, std::size_t n, int bits,
                              const unsigned char* ctx, std::size_t ctx_len,
                              const unsigned char* keys, const unsigned char* rs,
                              const unsigned char* cs, const std::uint64_t* blocks,
                              const std::uint64_t* slots, int threads) {
  const std::size_t pb = range_proof_bytes(bits);
  auto check = [&](std::size_t lo, std::size_t hi, std::int64_t* first_bad) {
    std::vector<ge> pts;
    std::vector<scalar> sc;
    pts.reserve((hi - lo) * (6 * static_cast<std::size_t>(bits) + 2) + 1);
    sc.reserve(pts.capacity());
    scalar gco{};
    for (std::size_t t = lo; t < hi; ++t) {
      if (!collect(pts, sc, &gco, proofs + t * pb, bits, ctx, ctx_len, keys + t * kPointBytes,
                   rs + t * kPointBytes, cs + t * kPointBytes, blocks[t], slots[t])) {
        *first_bad = static_cast<std::int64_t>(t);
        return false;
      }
    }
    pts.push_back(ge_generator());
    sc.push_back(gco);
    return msm_is_infinity_var(pts.data(), sc.data(), pts.size(), threads) == 1;
  };
  std::int64_t first_bad = -1;
  if (check(0, n, &first_bad)) return -1;
  for (std::size_t t = 0; t < n; ++t) {
    std::int64_t ignored = -1;
    if (!check(t, t + 1, &ignored)) return static_cast<std::int64_t>(t);
  }
  return first_bad;  // unreachable unless the batch failed only by chance (~2^-128)
}

}  // namespace fbh
