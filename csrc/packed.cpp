// Packed-ElGamal kernels: encryption with proofs, batch verification, per-slot multiplication
// of R by the secret keys, decryption and validation. Batches split into contiguous per-thread
// ranges of blocks, processed in chunks that share one field inversion per step.
#include "packed.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "elgamal.h"
#include "msm.h"
#include "rmul.h"
#include "sha256.h"
#include "util.h"

namespace fbh {

namespace {

constexpr std::size_t kEncBlocks = 16;  // blocks per encryption chunk: 16 (k + 2) points
constexpr std::size_t kDecBlocks = 128;  // blocks per chunk: their R tables are built in one batch

/// Scalar from 32 big-endian bytes in [1, n - 1], or from the OS CSPRNG when src is null.
/// Returns 0 if src holds 0 or a value >= n.
u64 nonce_scalar(scalar* r, const unsigned char* src) {
  if (src != nullptr) return (scalar_set_b32(r, src) | scalar_is_zero(r)) ^ 1;
  scalar_random(r);
  return 1;
}

/// Per-thread buffers for one chunk; secrets (nonces, digits, r-multiples) are cleared.
struct PackedEncWorkspace {
  std::size_t b, k;
  std::vector<ge> acc, q, row;
  std::vector<fe> scratch;
  std::vector<digit> dr, da, dm;
  std::vector<scalar> r, a;
  PackedEncWorkspace(std::size_t b_, std::size_t k_, int nd, int ndm)
      : b(b_), k(k_), acc(b_ * (k_ + 2)), q(b_ * (k_ + 2)), row(k_ + 1), scratch(b_ * (k_ + 2)),
        dr(b_ * static_cast<std::size_t>(nd)), da(b_ * static_cast<std::size_t>(nd)),
        dm(b_ * k_ * static_cast<std::size_t>(ndm)), r(b_), a(b_) {}
  ~PackedEncWorkspace() {
    secure_zero(acc.data(), acc.size() * sizeof(ge));
    secure_zero(q.data(), q.size() * sizeof(ge));
    secure_zero(row.data(), row.size() * sizeof(ge));
    secure_zero(scratch.data(), scratch.size() * sizeof(fe));
    secure_zero(dr.data(), dr.size() * sizeof(digit));
    secure_zero(da.data(), da.size() * sizeof(digit));
    secure_zero(dm.data(), dm.size() * sizeof(digit));
    secure_zero(r.data(), r.size() * sizeof(scalar));
    secure_zero(a.data(), a.size() * sizeof(scalar));
  }
};

/// Encrypt b blocks (layout of acc: C points b * k, then R b, then A b).
void encrypt_chunk(unsigned char* pts, unsigned char* proofs, PubKeySet& pk,
                   const std::int64_t* m, std::size_t b, const unsigned char* ctx32,
                   std::uint64_t count, std::uint64_t first_block, const unsigned char* nonces,
                   bool ct, PackedEncWorkspace& ws) {
  const MultiTable& tab = pk.table(ct);
  const FixedTable& th = table_h(ct);
  const std::size_t k = pk.k(), nb = k + 1, nd = static_cast<std::size_t>(tab.nd);
  const int w = tab.w;
  for (std::size_t i = 0; i < b; ++i) {
    const unsigned char* src = nonces != nullptr ? nonces + 64 * i : nullptr;
    nonce_scalar(&ws.r[i], src);
    nonce_scalar(&ws.a[i], src != nullptr ? src + 32 : nullptr);
    scalar_recode_nonce(&ws.dr[i * nd], &ws.r[i], w, tab.nd);
    scalar_recode_nonce(&ws.da[i * nd], &ws.a[i], w, tab.nd);
  }
  const int ndm = message_digits(ws.dm.data(), m, b * k, ct);
  ge* acc = ws.acc.data();
  ge* q = ws.q.data();
  ge* row = ws.row.data();
  fe* scratch = ws.scratch.data();
  const std::size_t npts = b * (k + 2);
  u64 ok = 1;
  for (std::size_t j = 0; j < nd; ++j) {
    ge* dst = j == 0 ? acc : q;
    for (std::size_t i = 0; i < b; ++i) {
      // One digit of r selects r-multiples of G (-> R) and of every P_j (-> C_j).
      multi_table_select(row, tab, static_cast<int>(j), ws.dr[i * nd + j], 0, nb, ct);
      dst[b * k + i] = row[0];
      std::memcpy(&dst[i * k], row + 1, k * sizeof(ge));
      multi_table_select(&dst[b * k + b + i], tab, static_cast<int>(j), ws.da[i * nd + j], 0, 1,
                         ct);
    }
    if (j > 0) ok &= ge_batch_add(acc, q, npts, scratch);
  }
  for (int j = 0; j < ndm; ++j) {
    for (std::size_t v = 0; v < b * k; ++v) {
      const digit d = ws.dm[v * static_cast<std::size_t>(ndm) + static_cast<std::size_t>(j)];
      if (ct) {
        ge_table_select(&q[v], th.pos(j), th.entries, d);
      } else {
        ge_table_select_var(&q[v], th.pos(j), d);
      }
    }
    ok &= ge_batch_add(acc, q, b * k, scratch);
  }
  for (std::size_t v = 0; v < b * k; ++v) q[v] = msg_offset(ct);
  ok &= ge_batch_add(acc, q, b * k, scratch);
  std::vector<std::uint8_t> inf(npts, 0);
  if (!ok) {
    // An addition met its own operand (negligible for random nonces): complete formulas.
    gep off;
    gep_set_ge(&off, &msg_offset(ct));
    for (std::size_t i = 0; i < b; ++i) {
      for (std::size_t jb = 0; jb < nb + 1; ++jb) {
        gep acc_p, t;
        gep_set_infinity(&acc_p);
        const std::size_t base = jb == nb ? 0 : jb;
        const digit* dd = jb == nb ? &ws.da[i * nd] : &ws.dr[i * nd];
        for (std::size_t j = 0; j < nd; ++j) {
          multi_table_select(row, tab, static_cast<int>(j), dd[j], base, 1, ct);
          gep_set_ge(&t, row);
          gep_add(&acc_p, &acc_p, &t);
        }
        std::size_t slot;
        if (jb == 0) {
          slot = b * k + i;
        } else if (jb == nb) {
          slot = b * k + b + i;
        } else {
          slot = i * k + (jb - 1);
          gep mg;
          ecmult_fixed_complete(&mg, th, &ws.dm[slot * static_cast<std::size_t>(ndm)], ndm);
          gep_add(&acc_p, &acc_p, &mg);
          gep_add(&acc_p, &acc_p, &off);
        }
        inf[slot] = static_cast<std::uint8_t>(gep_to_ge(&acc[slot], &acc_p));
      }
    }
  }
  const std::size_t blk = nb * kPointBytes;
  for (std::size_t i = 0; i < b; ++i) {
    unsigned char* p = pts + i * blk;
    ge_store(p, &acc[b * k + i], inf[b * k + i]);
    for (std::size_t j = 0; j < k; ++j) ge_store(p + (j + 1) * kPointBytes, &acc[i * k + j], inf[i * k + j]);
    unsigned char* pr = proofs + i * kProofBytes;
    ge_store(pr, &acc[b * k + b + i], inf[b * k + b + i]);
    scalar c, z;
    packed_challenge(&c, ctx32, k, count, first_block + i, p, pr);
    scalar_mul(&z, &c, &ws.r[i]);
    scalar_add(&z, &z, &ws.a[i]);
    scalar_get_b32(pr + kPointBytes, &z);
    secure_zero(&z, sizeof(z));
  }
}

/// 1 if the proofs of blocks [lo, hi) all hold (random linear combination, see below).
int verify_range(const unsigned char* pts, const unsigned char* proofs, std::size_t lo,
                 std::size_t hi, std::size_t k, const unsigned char* ctx32, std::uint64_t count,
                 int threads) {
  const std::size_t n = hi - lo;
  const std::size_t blk = (k + 1) * kPointBytes;
  std::vector<ge> p(2 * n + 1);
  std::vector<scalar> sc(2 * n + 1);
  std::vector<unsigned char> rho(16 * n);
  os_random(rho.data(), rho.size());
  std::vector<scalar> zsum(static_cast<std::size_t>(thread_count(n, threads, 64)));
  const int nt = static_cast<int>(zsum.size());
  std::vector<int> bad(zsum.size(), 0);
  parallel_for(n, nt, [&](int t, std::size_t begin, std::size_t end) {
    scalar acc{};
    for (std::size_t i = begin; i < end; ++i) {
      const unsigned char* bp = pts + (lo + i) * blk;
      const unsigned char* pr = proofs + (lo + i) * kProofBytes;
      std::uint8_t rinf = 0, ainf = 0;
      ge_load_var(&p[2 * i], &rinf, bp, false);
      ge_load_var(&p[2 * i + 1], &ainf, pr, false);
      if (rinf || ainf) bad[static_cast<std::size_t>(t)] = 1;
      unsigned char r32[32] = {};
      std::memcpy(r32 + 16, rho.data() + 16 * i, 16);
      scalar r, c, z;
      scalar_set_b32(&r, r32);
      packed_challenge(&c, ctx32, k, count, lo + i, bp, pr);
      scalar_set_b32(&z, pr + kPointBytes);
      scalar_mul(&sc[2 * i], &r, &c);  // rho c R
      sc[2 * i + 1] = r;               // rho A
      scalar_mul(&z, &z, &r);
      scalar_add(&acc, &acc, &z);
    }
    zsum[static_cast<std::size_t>(t)] = acc;
  });
  for (int b : bad) {
    if (b) return 0;
  }
  scalar total{};
  for (const scalar& z : zsum) scalar_add(&total, &total, &z);
  scalar_negate(&sc[2 * n], &total);  // - (sum rho z) G
  p[2 * n] = ge_generator();
  return msm_is_infinity_var(p.data(), sc.data(), 2 * n + 1, threads);
}

/// Per-thread buffers for decryption; the products s_j R are cleared after use.
struct PackedDecWorkspace {
  RMulWorkspace mul;
  std::vector<ge> r, d;
  std::vector<std::uint8_t> rinf, dinf, sinf;
  std::vector<std::uint32_t> pos, idx;
  std::vector<fe> scratch;
  PackedDecWorkspace(std::size_t b, std::size_t k)
      : mul(b, k), r(b), d(b * k), rinf(b), dinf(b * k), sinf(b * k), pos(b), idx(b * k),
        scratch(b * k) {}
  ~PackedDecWorkspace() { secure_zero(d.data(), d.size() * sizeof(ge)); }
};

/// s_j R_i for the b blocks at pts into ws.d[i * k + j] (inf flags in ws.dinf).
void mul_r_chunk(const unsigned char* pts, std::size_t b, std::size_t k, const KeyDigits& kd,
                 bool ct, PackedDecWorkspace& ws) {
  const std::size_t blk = (k + 1) * kPointBytes;
  std::size_t cnt = 0;
  for (std::size_t i = 0; i < b; ++i) {
    ge_load_var(&ws.r[cnt], &ws.rinf[i], pts + i * blk, false);
    if (!ws.rinf[i]) ws.pos[cnt++] = static_cast<std::uint32_t>(i);
  }
  // Products land compacted (non-infinite R first); spread them back, last first.
  rmul_batch(ws.d.data(), ws.sinf.data(), ws.r.data(), cnt, kd, ct, ws.mul);
  for (std::size_t i = b; i-- > 0;) {
    for (std::size_t j = 0; j < k; ++j) ws.dinf[i * k + j] = 1;  // s_j * infinity
  }
  for (std::size_t c = cnt; c-- > 0;) {
    const std::size_t i = ws.pos[c];
    for (std::size_t j = 0; j < k; ++j) {
      ws.d[i * k + j] = ws.d[c * k + j];
      ws.dinf[i * k + j] = ws.sinf[c * k + j];
    }
  }
}

KeyDigits key_digits(const SecKeySet& sk) {
  KeyDigits kd;
  for (std::size_t j = 0; j < sk.k(); ++j) kd.push_back(std::make_unique<SharedDigits>(sk.s(j)));
  return kd;
}

}  // namespace

void packed_challenge(scalar* c, const unsigned char* ctx32, std::uint64_t k, std::uint64_t count,
                      std::uint64_t index, const unsigned char* pts, const unsigned char* a) {
  Sha256 h;
  h.update(reinterpret_cast<const unsigned char*>(kChallengeTag), sizeof(kChallengeTag) - 1);
  h.update(ctx32, 32);
  unsigned char be[24];
  const std::uint64_t words[3] = {k, count, index};
  for (int w = 0; w < 3; ++w) {
    for (int i = 0; i < 8; ++i) be[8 * w + i] = static_cast<unsigned char>(words[w] >> (56 - 8 * i));
  }
  h.update(be, sizeof(be));
  h.update(pts, (k + 1) * kPointBytes);
  h.update(a, kPointBytes);
  unsigned char d[32];
  h.finish(d);
  scalar_set_b32(c, d);  // reduced mod n (the bias is below 2^-127)
}

std::int64_t packed_encrypt(unsigned char* pts, unsigned char* proofs, PubKeySet& pk,
                            const std::int64_t* m, std::size_t nblocks,
                            const unsigned char* ctx32, std::uint64_t count,
                            const unsigned char* nonces, int threads, bool ct) {
  const std::size_t k = pk.k();
  for (std::size_t i = 0; i < nblocks * k; ++i) {
    if (m[i] > kMaxPlaintext || m[i] < -kMaxPlaintext) return static_cast<std::int64_t>(i);
  }
  if (nonces != nullptr) {
    for (std::size_t i = 0; i < 2 * nblocks; ++i) {
      scalar r;
      if (!nonce_scalar(&r, nonces + 32 * i)) return static_cast<std::int64_t>((i / 2) * k);
    }
  }
  table_h(ct);  // build shared tables before the threads start
  const MultiTable& tab = pk.table(ct);
  const int nt = thread_count(nblocks, threads, 8);
  parallel_for(nblocks, nt, [&](int, std::size_t begin, std::size_t end) {
    PackedEncWorkspace ws(kEncBlocks, k, tab.nd, table_h(ct).nd);
    for_chunks(begin, end, kEncBlocks, [&](std::size_t s, std::size_t b) {
      encrypt_chunk(pts + s * (k + 1) * kPointBytes, proofs + s * kProofBytes, pk, m + s * k, b,
                    ctx32, count, s, nonces != nullptr ? nonces + 64 * s : nullptr, ct, ws);
    });
  });
  return -1;
}

// Batch verification (small-exponent test, M. Bellare, J. Garay, T. Rabin, "Fast batch
// verification for modular exponentiation and digital signatures", EUROCRYPT 1998): each
// proof claims z_i G - c_i R_i - A_i = 0. With rho_i uniform in [0, 2^128) from the OS CSPRNG,
// drawn after the proofs are fixed, the batch accepts iff
//   sum_i rho_i A_i + sum_i (rho_i c_i) R_i - (sum_i rho_i z_i) G = 0.
// If some D_i = z_i G - c_i R_i - A_i is not 0, then (secp256k1 having prime order n > 2^128
// and every point being validated) sum rho_i D_i = 0 holds for at most one value of rho_i mod
// n given the others: a batch with a bad proof passes with probability <= 2^-128. The cost is
// one (2B + 1)-point multi-scalar multiplication instead of B double multiplications.
std::int64_t packed_verify_var(const unsigned char* pts, const unsigned char* proofs,
                               std::size_t nblocks, std::size_t k, const unsigned char* ctx32,
                               std::uint64_t count, int threads) {
  if (nblocks == 0 || verify_range(pts, proofs, 0, nblocks, k, ctx32, count, threads)) return -1;
  // Locate the first bad block by bisection (only on failure).
  std::size_t lo = 0, hi = nblocks;
  while (hi - lo > 1) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (!verify_range(pts, proofs, lo, mid, k, ctx32, count, threads)) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return static_cast<std::int64_t>(lo);
}

void packed_mul_r(unsigned char* out, const SecKeySet& sk, const unsigned char* pts,
                  std::size_t nblocks, int threads, bool ct) {
  const std::size_t k = sk.k();
  const auto kd = key_digits(sk);
  const int nt = thread_count(nblocks, threads, 8);
  parallel_for(nblocks, nt, [&](int, std::size_t begin, std::size_t end) {
    PackedDecWorkspace ws(std::min(kDecBlocks, end - begin), k);  // small batches: small buffers
    for_chunks(begin, end, kDecBlocks, [&](std::size_t s, std::size_t b) {
      mul_r_chunk(pts + s * (k + 1) * kPointBytes, b, k, kd, ct, ws);
      for (std::size_t v = 0; v < b * k; ++v) {
        ge_store(out + (s * k + v) * kPointBytes, &ws.d[v], ws.dinf[v]);
      }
    });
  });
}

std::int64_t packed_decrypt(std::int64_t* out, const SecKeySet& sk, const unsigned char* pts,
                            std::size_t nblocks, const BsgsTable& t, std::uint64_t bound,
                            int threads, bool ct) {
  const std::size_t k = sk.k();
  const std::size_t blk = (k + 1) * kPointBytes;
  const auto kd = key_digits(sk);
  const int nt = thread_count(nblocks, threads, 8);
  std::vector<std::int64_t> first(static_cast<std::size_t>(nt), -1);
  parallel_for(nblocks, nt, [&](int tid, std::size_t begin, std::size_t end) {
    PackedDecWorkspace ws(std::min(kDecBlocks, end - begin), k);  // small batches: small buffers
    std::vector<ge> c(kDecBlocks * k);
    std::vector<std::uint8_t> cinf(kDecBlocks * k);
    bool failed = false;
    for_chunks(begin, end, kDecBlocks, [&](std::size_t s, std::size_t b) {
      if (failed) return;
      mul_r_chunk(pts + s * blk, b, k, kd, ct, ws);
      // m_j G = C_j - s_j R: negate the products and add them to the C_j.
      for (std::size_t i = 0; i < b; ++i) {
        for (std::size_t j = 0; j < k; ++j) {
          ge_load_var(&c[i * k + j], &cinf[i * k + j], pts + (s + i) * blk + (j + 1) * kPointBytes,
                      false);
          ge_negate(&ws.d[i * k + j], &ws.d[i * k + j]);
        }
      }
      ge_batch_add_var(c.data(), cinf.data(), ws.d.data(), ws.dinf.data(), b * k,
                       ws.scratch.data(), ws.idx.data());
      const std::int64_t bad = bsgs_decode_var(out + s * k, t, c.data(), cinf.data(), b * k, bound);
      if (bad >= 0) {
        first[static_cast<std::size_t>(tid)] = static_cast<std::int64_t>(s * k) + bad;
        failed = true;
      }
    });
  });
  for (std::int64_t f : first) {
    if (f >= 0) return f;
  }
  return -1;
}

std::int64_t packed_validate_var(const unsigned char* pts, const unsigned char* proofs,
                                 std::size_t nblocks, std::size_t k, int threads) {
  const std::size_t blk = (k + 1) * kPointBytes;
  const int nt = thread_count(nblocks, threads, 16);
  std::vector<std::int64_t> first(static_cast<std::size_t>(nt), -1);
  parallel_for(nblocks, nt, [&](int tid, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      bool ok = true;
      for (std::size_t j = 0; j <= k && ok; ++j) {
        ge a;
        std::uint8_t inf = 0;
        ok = ge_load_var(&a, &inf, pts + i * blk + j * kPointBytes, true) != 0;
      }
      if (ok && proofs != nullptr) {
        ge a;
        std::uint8_t inf = 0;
        scalar z;
        const unsigned char* pr = proofs + i * kProofBytes;
        ok = ge_load_var(&a, &inf, pr, true) && !inf && !scalar_set_b32(&z, pr + kPointBytes);
      }
      if (!ok) {
        first[static_cast<std::size_t>(tid)] = static_cast<std::int64_t>(i);
        return;
      }
    }
  });
  for (std::int64_t f : first) {
    if (f >= 0) return f;
  }
  return -1;
}

}  // namespace fbh
