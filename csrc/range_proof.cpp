// Range proofs on packed-block slots: the transcript hashes and the batched variable-time
// verifier (the constant-time prover is in range_prove.cpp).
#include "range_proof.h"

#include <cstring>
#include <vector>

#include "group.h"
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
  put_be64(p + 16, static_cast<std::uint64_t>(bound));
  p += 24;
  std::memcpy(p, key, kPointBytes);
  std::memcpy(p + kPointBytes, r, kPointBytes);
  std::memcpy(p + 2 * kPointBytes, c, kPointBytes);
  if (nc) std::memcpy(p + 3 * kPointBytes, commits, nc);
  sha256(h, buf.data(), buf.size());
}

void range_bit_challenge(scalar* c, const unsigned char* h, int i, const unsigned char* abab) {
  unsigned char buf[32 + 8 + 4 * kPointBytes];
  std::memcpy(buf, h, 32);
  put_be64(buf + 32, static_cast<std::uint64_t>(i));
  std::memcpy(buf + 40, abab, 4 * kPointBytes);
  unsigned char d[32];
  sha256(d, buf, sizeof(buf));
  scalar_set_b32(c, d);  // reduces mod n, as the reference does
}

namespace {

scalar random_weight() {
  unsigned char b[32] = {0};
  os_random(b + 16, 16);  // 128-bit weights
  scalar s;
  scalar_set_b32(&s, b);
  return s;
}

/// Append item t's equations, weighted at random, to (pts, sc) and its G coefficient to gco.
bool collect(std::vector<ge>& pts, std::vector<scalar>& sc, scalar* gco, const unsigned char* proof,
             std::int64_t bound, const unsigned char* ctx, std::size_t ctx_len, const unsigned char* key,
             const unsigned char* rp, const unsigned char* cp, std::uint64_t block,
             std::uint64_t slot) {
  const int bits = range_bits(bound);
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
  range_statement_hash(h, ctx, ctx_len, block, slot, bound, key, rp, cp, proof);
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
    range_bit_challenge(&c, h, static_cast<int>(i), q);
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
  // Bit 0's pair (weight 1) is (R, C + B G) - sum_{i>=1} w_i (R_i, C_i).
  pts.push_back(P);
  sc.push_back(coef_p);
  pts.push_back(R);
  sc.push_back(coef_r[0]);
  pts.push_back(C);
  sc.push_back(coef_c[0]);
  scalar hs{};
  hs.d[0] = static_cast<u64>(bound);
  scalar_mul(&t, &coef_c[0], &hs);
  scalar_add(gco, gco, &t);
  for (std::size_t i = 1; i < L; ++i) {
    scalar p2{};
    p2.d[0] = range_weight(bound, static_cast<int>(i));
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
    pts.reserve((hi - lo) * (6 * static_cast<std::size_t>(bits) + 2) + 1);
    sc.reserve(pts.capacity());
    scalar gco{};
    for (std::size_t t = lo; t < hi; ++t) {
      if (!collect(pts, sc, &gco, proofs + t * pb, bound, ctx, ctx_len, keys + t * kPointBytes,
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
