// Range proofs on packed-block slots: the generator H, the transcript hashes and the batched
// variable-time verifier (the constant-time prover is in range_prove.cpp).
#include "range_proof.h"

#include <cstring>
#include <vector>

#include "ecmult.h"
#include "group.h"
#include "msm.h"
#include "scalar.h"
#include "sha256.h"
#include "util.h"

namespace fbh {

namespace {

constexpr std::size_t kBitBytes = 2 * kPointBytes + 3 * 32;    // A0 A1 c0 z0 z1
constexpr std::size_t kLinkBytes = 3 * kPointBytes + 3 * 32;   // T1 T2 T3 s_r s_m s_rho

/// H = hash_to_curve("FBH/range-v3/pedersen-H") as x || y (tests/crypto/test_range_proof.py
/// re-derives it in Python and checks it with coincurve).
constexpr unsigned char kHBytes[64] = {
    0x91, 0xa9, 0xe0, 0xf8, 0x76, 0x6f, 0xdd, 0xbe, 0xf8, 0x3c, 0x7d, 0x00,
    0x3e, 0xd9, 0xbf, 0x02, 0x39, 0xde, 0xb1, 0x79, 0x6a, 0x16, 0xd8, 0x99,
    0x40, 0x9e, 0x18, 0xf0, 0x7f, 0x14, 0xac, 0x8c, 0x8e, 0x37, 0x8c, 0x74,
    0x2f, 0x1b, 0x74, 0x34, 0x30, 0x0c, 0x8d, 0xa8, 0x8c, 0x9b, 0x7e, 0x51,
    0x96, 0x63, 0xfe, 0x8b, 0x4b, 0xfc, 0xb0, 0xb1, 0x2c, 0xa9, 0xfc, 0x7b,
    0xa4, 0xa5, 0x31, 0x3c,
};

struct HTables {
  ge h;
  FixedTable ct;
  HTables() {
    std::uint8_t inf = 0;
    ge_load_var(&h, &inf, kHBytes, true);
    const FixedTable& g = table_g(true);
    fixed_table_build(&ct, &h, g.w, g.nd);
  }
};

const HTables& h_tables() {
  static const HTables t;  // thread-safe initialisation (C++11)
  return t;
}

void put_be64(unsigned char* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<unsigned char>(v & 0xFF);
}

/// Parse a finite, valid point.
bool load_finite(ge* r, const unsigned char* in) {
  std::uint8_t inf = 0;
  return ge_load_var(r, &inf, in, true) && !inf;
}

}  // namespace

int range_bits(std::int64_t bound) {
  int bits = 0;
  for (auto x = static_cast<std::uint64_t>(2 * bound); x; x >>= 1) ++bits;
  return bits;
}

std::uint64_t range_weight(std::int64_t bound, int i) {
  const int top = range_bits(bound) - 1;
  if (i < top) return std::uint64_t{1} << i;
  return static_cast<std::uint64_t>(2 * bound) - (std::uint64_t{1} << top) + 1;
}

void range_statement_hash(unsigned char* h, const unsigned char* ctx, std::size_t ctx_len,
                          std::uint64_t block, std::uint64_t slot, std::int64_t bound,
                          const unsigned char* key, const unsigned char* r, const unsigned char* c,
                          const unsigned char* commits) {
  const int bits = range_bits(bound);
  const std::size_t tag = sizeof(kRangeTag) - 1;
  const std::size_t nc = static_cast<std::size_t>(bits) * kPointBytes;
  std::vector<unsigned char> buf(tag + 8 + ctx_len + 24 + 3 * kPointBytes + nc);
  unsigned char* p = buf.data();
  std::memcpy(p, kRangeTag, tag);
  p += tag;
  put_be64(p, ctx_len);
  if (ctx_len) std::memcpy(p + 8, ctx, ctx_len);
  p += 8 + ctx_len;
  put_be64(p, block);
  put_be64(p + 8, slot);
  put_be64(p + 16, static_cast<std::uint64_t>(bound));
  p += 24;
  std::memcpy(p, key, kPointBytes);
  std::memcpy(p + kPointBytes, r, kPointBytes);
  std::memcpy(p + 2 * kPointBytes, c, kPointBytes);
  if (nc) std::memcpy(p + 3 * kPointBytes, commits, nc);
  sha256(h, buf.data(), buf.size());
}

void range_bit_challenge(scalar* c, const unsigned char* h, int i, const unsigned char* aa) {
  unsigned char buf[32 + 8 + 2 * kPointBytes];
  std::memcpy(buf, h, 32);
  put_be64(buf + 32, static_cast<std::uint64_t>(i));
  std::memcpy(buf + 40, aa, 2 * kPointBytes);
  unsigned char d[32];
  sha256(d, buf, sizeof(buf));
  scalar_set_b32(c, d);  // reduces mod n, as the reference does
}

void range_link_challenge(scalar* e, const unsigned char* h, const unsigned char* ts) {
  unsigned char buf[32 + 4 + 3 * kPointBytes];
  std::memcpy(buf, h, 32);
  std::memcpy(buf + 32, "link", 4);
  std::memcpy(buf + 36, ts, 3 * kPointBytes);
  unsigned char d[32];
  sha256(d, buf, sizeof(buf));
  scalar_set_b32(e, d);
}

const ge& range_generator_h() { return h_tables().h; }

const FixedTable& range_table_h() { return h_tables().ct; }

namespace {

scalar random_weight() {
  unsigned char b[32] = {0};
  os_random(b + 16, 16);  // 128-bit weights
  scalar s;
  scalar_set_b32(&s, b);
  return s;
}

/// Append item t's equations, weighted at random, to (pts, sc) and its G and H coefficients
/// to gco and hco.
bool collect(std::vector<ge>& pts, std::vector<scalar>& sc, scalar* gco, scalar* hco,
             const unsigned char* proof, std::int64_t bound, const unsigned char* ctx,
             std::size_t ctx_len, const unsigned char* key, const unsigned char* rp,
             const unsigned char* cp, std::uint64_t block, std::uint64_t slot) {
  const int bits = range_bits(bound);
  const std::size_t L = static_cast<std::size_t>(bits);
  ge P, R, C;
  if (!load_finite(&P, key) || !load_finite(&R, rp) || !load_finite(&C, cp)) return false;
  std::vector<ge> com(L);
  for (std::size_t i = 0; i < L; ++i) {
    if (!load_finite(&com[i], proof + i * kPointBytes)) return false;
  }
  unsigned char h[32];
  range_statement_hash(h, ctx, ctx_len, block, slot, bound, key, rp, cp, proof);
  std::vector<scalar> coef_com(L);
  scalar t, u;
  const unsigned char* bitp = proof + L * kPointBytes;
  for (std::size_t i = 0; i < L; ++i) {
    const unsigned char* q = bitp + i * kBitBytes;
    ge a0, a1;
    if (!load_finite(&a0, q) || !load_finite(&a1, q + kPointBytes)) return false;
    scalar c, c0, z0, z1, c1;
    if (scalar_set_b32(&c0, q + 2 * kPointBytes) || scalar_set_b32(&z0, q + 2 * kPointBytes + 32) ||
        scalar_set_b32(&z1, q + 2 * kPointBytes + 64))
      return false;
    range_bit_challenge(&c, h, static_cast<int>(i), q);
    scalar_sub(&c1, &c, &c0);
    const scalar e1 = random_weight(), e2 = random_weight();
    // e1 (z0 H - A0 - c0 Com_i) + e2 (z1 H - A1 - c1 (Com_i - G)) = 0
    scalar_mul(&t, &e1, &z0);
    scalar_add(hco, hco, &t);
    scalar_mul(&t, &e2, &z1);
    scalar_add(hco, hco, &t);
    scalar_mul(&t, &e2, &c1);
    scalar_add(gco, gco, &t);
    scalar_mul(&t, &e1, &c0);
    scalar_mul(&u, &e2, &c1);
    scalar_add(&t, &t, &u);
    scalar_negate(&coef_com[i], &t);
    pts.push_back(a0);
    scalar_negate(&t, &e1);
    sc.push_back(t);
    pts.push_back(a1);
    scalar_negate(&t, &e2);
    sc.push_back(t);
  }
  // Link: f1 (s_r G - T1 - e R) + f2 (s_r P + s_m G - T2 - e C) + f3 (s_m G + s_rho H - T3 - e V)
  // with V = sum w_i Com_i - B G.
  const unsigned char* lk = bitp + L * kBitBytes;
  ge T[3];
  for (int k = 0; k < 3; ++k) {
    if (!load_finite(&T[k], lk + k * kPointBytes)) return false;
  }
  scalar e, s_r, s_m, s_rho;
  if (scalar_set_b32(&s_r, lk + 3 * kPointBytes) || scalar_set_b32(&s_m, lk + 3 * kPointBytes + 32) ||
      scalar_set_b32(&s_rho, lk + 3 * kPointBytes + 64))
    return false;
  range_link_challenge(&e, h, lk);
  const scalar f[3] = {random_weight(), random_weight(), random_weight()};
  scalar_mul(&t, &f[0], &s_r);
  scalar_add(gco, gco, &t);
  scalar_add(&u, &f[1], &f[2]);
  scalar_mul(&t, &u, &s_m);
  scalar_add(gco, gco, &t);
  scalar fe3;  // f3 e
  scalar_mul(&fe3, &f[2], &e);
  scalar b{};
  b.d[0] = static_cast<u64>(bound);
  scalar_mul(&t, &fe3, &b);
  scalar_add(gco, gco, &t);
  scalar_mul(&t, &f[2], &s_rho);
  scalar_add(hco, hco, &t);
  pts.push_back(P);
  scalar_mul(&t, &f[1], &s_r);
  sc.push_back(t);
  pts.push_back(R);
  scalar_mul(&t, &f[0], &e);
  scalar_negate(&t, &t);
  sc.push_back(t);
  pts.push_back(C);
  scalar_mul(&t, &f[1], &e);
  scalar_negate(&t, &t);
  sc.push_back(t);
  for (int k = 0; k < 3; ++k) {
    pts.push_back(T[k]);
    scalar_negate(&t, &f[k]);
    sc.push_back(t);
  }
  for (std::size_t i = 0; i < L; ++i) {
    scalar w{};
    w.d[0] = range_weight(bound, static_cast<int>(i));
    scalar_mul(&t, &fe3, &w);
    scalar_sub(&u, &coef_com[i], &t);
    pts.push_back(com[i]);
    sc.push_back(u);
  }
  return true;
}

}  // namespace

std::size_t range_proof_bytes(int bits) {
  const std::size_t L = static_cast<std::size_t>(bits);
  return L * (kPointBytes + kBitBytes) + kLinkBytes;
}

std::int64_t range_verify_var(const unsigned char* proofs, std::size_t n, std::int64_t bound,
                              const unsigned char* ctx, std::size_t ctx_len,
                              const unsigned char* keys, const unsigned char* rs,
                              const unsigned char* cs, const std::uint64_t* blocks,
                              const std::uint64_t* slots, int threads) {
  const int bits = range_bits(bound);
  const std::size_t pb = range_proof_bytes(bits);
  auto check = [&](std::size_t lo, std::size_t hi, std::int64_t* first_bad) {
    std::vector<ge> pts;
    std::vector<scalar> sc;
    pts.reserve((hi - lo) * (3 * static_cast<std::size_t>(bits) + 6) + 2);
    sc.reserve(pts.capacity());
    scalar gco{}, hco{};
    for (std::size_t t = lo; t < hi; ++t) {
      if (!collect(pts, sc, &gco, &hco, proofs + t * pb, bound, ctx, ctx_len, keys + t * kPointBytes,
                   rs + t * kPointBytes, cs + t * kPointBytes, blocks[t], slots[t])) {
        *first_bad = static_cast<std::int64_t>(t);
        return false;
      }
    }
    pts.push_back(ge_generator());
    sc.push_back(gco);
    pts.push_back(range_generator_h());
    sc.push_back(hco);
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
