// Packed-ElGamal kernels: encryption with the blob's proof, its verification, per-slot multiplication
// of R by the secret keys, decryption and validation. Batches split into contiguous per-thread
// ranges of blocks, processed in chunks that share one field inversion per step.
#include "packed.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "batch_ifma.h"
#include "elgamal.h"
#include "msm.h"
#include "rmul.h"
#include "sha256.h"
#include "util.h"

namespace fbh {

namespace {

constexpr std::size_t kEncBlocks = 16;  // blocks per encryption chunk: 16 (k + 1) points
constexpr std::size_t kDecBlocks = 128;
constexpr std::size_t kValidateBlocks = 16;  // blocks whose points are checked in one batch  // blocks per chunk: their R tables are built in one batch

/// Scalar from 32 big-endian bytes in [1, n - 1], or from the OS CSPRNG when src is null.
/// Returns 0 if src holds 0 or a value >= n.
u64 nonce_scalar(scalar* r, const unsigned char* src) {
  if (src != nullptr) return (scalar_set_b32(r, src) | scalar_is_zero(r)) ^ 1;
  scalar_random(r);
  return 1;
}

/// acc = d * base_jb (base 0 is G, base j + 1 is P_j) from the signed digits d, with complete
/// formulas: the rare fallback of the batched path, and the proof commitment A = a G.
void fixed_base_complete(gep* acc, const MultiTable& tab, const digit* d, std::size_t jb, bool ct,
                         ge* tmp) {
  gep t;
  gep_set_infinity(acc);
  for (int j = 0; j < tab.nd; ++j) {
    multi_table_select(tmp, tab, j, d[j], jb, 1, ct);
    gep_set_ge(&t, tmp);
    gep_add(acc, acc, &t);
  }
  secure_zero(&t, sizeof(t));
}

/// Per-thread buffers for one chunk; secrets (nonces, digits, r-multiples) are cleared.
struct PackedEncWorkspace {
  std::size_t b, k;
  std::vector<ge> acc, q, row;
  std::vector<fe> scratch;
  std::vector<digit> dr, dm;
  PackedEncWorkspace(std::size_t b_, std::size_t k_, int nd, int ndm)
      : b(b_), k(k_), acc(b_ * (k_ + 1)), q(b_ * (k_ + 1)), row(k_ + 1), scratch(b_ * (k_ + 1)),
        dr(b_ * static_cast<std::size_t>(nd)), dm(b_ * k_ * static_cast<std::size_t>(ndm)) {}
  ~PackedEncWorkspace() {
    secure_zero(acc.data(), acc.size() * sizeof(ge));
    secure_zero(q.data(), q.size() * sizeof(ge));
    secure_zero(row.data(), row.size() * sizeof(ge));
    secure_zero(scratch.data(), scratch.size() * sizeof(fe));
    secure_zero(dr.data(), dr.size() * sizeof(digit));
    secure_zero(dm.data(), dm.size() * sizeof(digit));
  }
};

/// Encrypt b blocks (layout of acc: C points b * k, then R b); their nonces r_i go to r[0..b).
void encrypt_chunk(unsigned char* pts, PubKeySet& pk, const std::int64_t* m, std::size_t b,
                   scalar* r, const unsigned char* nonces, bool ct, PackedEncWorkspace& ws) {
  const MultiTable& tab = pk.table(ct);
  const FixedTable& th = table_h(ct);
  const std::size_t k = pk.k(), nb = k + 1, nd = static_cast<std::size_t>(tab.nd);
  const int w = tab.w;
  for (std::size_t i = 0; i < b; ++i) {
    nonce_scalar(&r[i], nonces != nullptr ? nonces + 32 * i : nullptr);
    scalar_recode_nonce(&ws.dr[i * nd], &r[i], w, tab.nd);
  }
  const int ndm = message_digits(ws.dm.data(), m, b * k, ct);
  ge* acc = ws.acc.data();
  ge* q = ws.q.data();
  ge* row = ws.row.data();
  fe* scratch = ws.scratch.data();
  const std::size_t npts = b * (k + 1);
  u64 ok = 1;
  for (std::size_t j = 0; j < nd; ++j) {
    ge* dst = j == 0 ? acc : q;
    for (std::size_t i = 0; i < b; ++i) {
      // One digit of r selects r-multiples of G (-> R) and of every P_j (-> C_j).
      multi_table_select(row, tab, static_cast<int>(j), ws.dr[i * nd + j], 0, nb, ct);
      dst[b * k + i] = row[0];
      std::memcpy(&dst[i * k], row + 1, k * sizeof(ge));
    }
    if (j > 0) ok &= ge_batch_add_wide(acc, q, npts, scratch);
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
    ok &= ge_batch_add_wide(acc, q, b * k, scratch);
  }
  for (std::size_t v = 0; v < b * k; ++v) q[v] = msg_offset(ct);
  ok &= ge_batch_add_wide(acc, q, b * k, scratch);
  std::vector<std::uint8_t> inf(npts, 0);
  if (!ok) {
    // An addition met its own operand (negligible for random nonces): complete formulas.
    gep off;
    gep_set_ge(&off, &msg_offset(ct));
    for (std::size_t i = 0; i < b; ++i) {
      for (std::size_t jb = 0; jb < nb; ++jb) {
        gep acc_p;
        fixed_base_complete(&acc_p, tab, &ws.dr[i * nd], jb, ct, row);
        std::size_t slot = b * k + i;
        if (jb > 0) {
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
  }
}

/// Parse a 64-byte row (all zeros: infinity) with both coordinates below p; the curve
/// equation is left to the caller. Returns 0 for a coordinate >= p.
u64 load_in_range_var(ge* r, std::uint8_t* inf, const unsigned char* in) {
  static constexpr unsigned char kZero[kPointBytes] = {};
  *inf = std::memcmp(in, kZero, kPointBytes) == 0 ? 1 : 0;
  const u64 okx = fe_set_b32(&r->x, in);
  const u64 oky = fe_set_b32(&r->y, in + 32);
  return okx & oky;
}

/// Bytes of one block: R, C_0..C_{k-1}.
inline std::size_t block_bytes(std::size_t k) { return (k + 1) * kPointBytes; }

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

namespace {

/// The transcript up to the blocks: tag, ctx, k, count, A.
void transcript_prefix(Sha256* h, const unsigned char* ctx32, std::uint64_t k,
                       std::uint64_t count, const unsigned char* a) {
  h->update(reinterpret_cast<const unsigned char*>(kChallengeTag), sizeof(kChallengeTag) - 1);
  h->update(ctx32, 32);
  unsigned char be[16];
  const std::uint64_t words[2] = {k, count};
  for (int w = 0; w < 2; ++w) {
    for (int i = 0; i < 8; ++i) be[8 * w + i] = static_cast<unsigned char>(words[w] >> (56 - 8 * i));
  }
  h->update(be, sizeof(be));
  h->update(a, kPointBytes);
}

}  // namespace

void packed_transcript_seed(unsigned char* seed32, const unsigned char* ctx32, std::uint64_t k,
                            std::uint64_t count, const unsigned char* a, const unsigned char* pts,
                            std::size_t nblocks) {
  Sha256 h;
  transcript_prefix(&h, ctx32, k, count, a);
  h.update(pts, nblocks * block_bytes(k));
  h.finish(seed32);
}

void packed_coeffs(scalar* e, const unsigned char* seed32, std::size_t begin, std::size_t end) {
  for (std::size_t i = begin & ~std::size_t{1}; i < end; i += 2) {
    unsigned char in[40], d[32], half[32] = {};
    std::memcpy(in, seed32, 32);
    const std::uint64_t t = i / 2;
    for (int b = 0; b < 8; ++b) in[32 + b] = static_cast<unsigned char>(t >> (56 - 8 * b));
    sha256(d, in, sizeof(in));
    for (std::size_t h = 0; h < 2; ++h) {
      if (i + h < begin || i + h >= end) continue;
      std::memcpy(half + 16, d + 16 * h, 16);
      scalar_set_b32(&e[i + h - begin], half);  // < 2^128 < n: no reduction
    }
  }
}

std::int64_t packed_encrypt(unsigned char* pts, unsigned char* proof, PubKeySet& pk,
                            const std::int64_t* m, std::size_t nblocks,
                            const unsigned char* ctx32, std::uint64_t count,
                            const unsigned char* nonces, int threads, bool ct) {
  const std::size_t k = pk.k();
  for (std::size_t i = 0; i < nblocks * k; ++i) {
    if (m[i] > kMaxPlaintext || m[i] < -kMaxPlaintext) return static_cast<std::int64_t>(i);
  }
  if (nonces != nullptr) {
    for (std::size_t i = 0; i <= nblocks; ++i) {
      scalar r;
      if (!nonce_scalar(&r, nonces + 32 * i)) return static_cast<std::int64_t>(i * k);
    }
  }
  table_h(ct);  // build shared tables before the threads start
  const MultiTable& tab = pk.table(ct);
  // The block nonces r_i stay until the response z = a + sum e_i r_i is computed.
  std::vector<scalar> r(nblocks);
  struct Wipe {
    std::vector<scalar>& v;
    ~Wipe() { secure_zero(v.data(), v.size() * sizeof(scalar)); }
  } wipe_r{r};
  const int nt = thread_count(nblocks, threads, 8);
  parallel_for(nblocks, nt, [&](int, std::size_t begin, std::size_t end) {
    PackedEncWorkspace ws(kEncBlocks, k, tab.nd, table_h(ct).nd);
    for_chunks(begin, end, kEncBlocks, [&](std::size_t s, std::size_t b) {
      encrypt_chunk(pts + s * block_bytes(k), pk, m + s * k, b, &r[s],
                    nonces != nullptr ? nonces + 32 * s : nullptr, ct, ws);
    });
  });
  // The commitment A = a G of the one proof for the whole blob.
  scalar a, z;
  nonce_scalar(&a, nonces != nullptr ? nonces + 32 * nblocks : nullptr);
  std::vector<digit> da(static_cast<std::size_t>(tab.nd));
  scalar_recode_nonce(da.data(), &a, tab.w, tab.nd);
  gep ap;
  ge ag, tmp;
  fixed_base_complete(&ap, tab, da.data(), 0, ct, &tmp);
  ge_store(proof, &ag, static_cast<std::uint8_t>(gep_to_ge(&ag, &ap)));
  secure_zero(da.data(), da.size() * sizeof(digit));
  secure_zero(&ap, sizeof(ap));
  secure_zero(&tmp, sizeof(tmp));
  unsigned char seed[32];
  packed_transcript_seed(seed, ctx32, k, count, proof, pts, nblocks);
  // z = a + sum_i e_i r_i (the e_i are public; scalar_mul and scalar_add are constant time).
  z = a;
  constexpr std::size_t kCoeffBatch = 256;
  scalar e[kCoeffBatch], t;
  for (std::size_t s = 0; s < nblocks; s += kCoeffBatch) {
    const std::size_t n = std::min(kCoeffBatch, nblocks - s);
    packed_coeffs(e, seed, s, s + n);
    for (std::size_t i = 0; i < n; ++i) {
      scalar_mul(&t, &e[i], &r[s + i]);
      scalar_add(&z, &z, &t);
    }
  }
  scalar_get_b32(proof + kPointBytes, &z);
  secure_zero(&a, sizeof(a));
  secure_zero(&z, sizeof(z));
  secure_zero(&t, sizeof(t));
  return -1;
}

namespace {

// Verification of the blob's one proof given its transcript seed: z G = A + sum_i e_i R_i, as a
// single multi-scalar multiplication sum_i e_i R_i + A - z G = 0 over nblocks + 2 points, with
// 128-bit e_i for the R_i (Pippenger keeps them whole: no GLV split). Soundness: see packed.h.
int verify_with_seed(const unsigned char* pts, const unsigned char* proof, std::size_t nblocks,
                     std::size_t k, const unsigned char* seed, int threads) {
  std::vector<ge> p(nblocks + 2);
  std::vector<scalar> sc(nblocks + 2);
  const int nt = thread_count(nblocks, threads, 256);
  std::vector<int> bad(static_cast<std::size_t>(nt), 0);
  parallel_for(nblocks, nt, [&](int t, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      std::uint8_t inf = 0;
      ge_load_var(&p[i], &inf, pts + i * block_bytes(k), false);
      if (inf) bad[static_cast<std::size_t>(t)] = 1;  // r_i = 0: never made by an honest sender
    }
    packed_coeffs(&sc[begin], seed, begin, end);
  });
  std::uint8_t ainf = 0;
  ge_load_var(&p[nblocks], &ainf, proof, false);
  for (int b : bad) ainf |= static_cast<std::uint8_t>(b);
  if (ainf) return 0;
  scalar z;
  scalar_set_b32(&z, proof + kPointBytes);
  sc[nblocks] = scalar{};
  sc[nblocks].d[0] = 1;  // + A
  scalar_negate(&sc[nblocks + 1], &z);  // - z G
  p[nblocks + 1] = ge_generator();
  return msm_is_infinity_var(p.data(), sc.data(), nblocks + 2, threads);
}

}  // namespace

int packed_verify_var(const unsigned char* pts, const unsigned char* proof, std::size_t nblocks,
                      std::size_t k, const unsigned char* ctx32, std::uint64_t count,
                      int threads) {
  if (nblocks == 0) return 1;
  unsigned char seed[32];
  packed_transcript_seed(seed, ctx32, k, count, proof, pts, nblocks);
  return verify_with_seed(pts, proof, nblocks, k, seed, threads);
}

std::int64_t packed_verify_many_var(const unsigned char* const* pts,
                                    const unsigned char* const* proofs,
                                    const unsigned char* const* ctx32, std::size_t nc,
                                    std::size_t nblocks, std::size_t k, std::uint64_t count,
                                    int threads) {
  if (nblocks == 0) return -1;
  // The transcripts of two blobs have the same length: hash them in lockstep (interleaved
  // SHA-NI compressions), one pair per thread.
  std::vector<unsigned char> seeds(32 * nc);
  const std::size_t npairs = (nc + 1) / 2;
  parallel_for(npairs, thread_count(npairs, threads, 1), [&](int, std::size_t begin, std::size_t end) {
    for (std::size_t t = begin; t < end; ++t) {
      const std::size_t c = 2 * t;
      if (c + 1 == nc) {
        packed_transcript_seed(&seeds[32 * c], ctx32[c], k, count, proofs[c], pts[c], nblocks);
        continue;
      }
      Sha256 ha, hb;
      transcript_prefix(&ha, ctx32[c], k, count, proofs[c]);
      transcript_prefix(&hb, ctx32[c + 1], k, count, proofs[c + 1]);
      sha256_update_x2(&ha, pts[c], &hb, pts[c + 1], nblocks * block_bytes(k));
      ha.finish(&seeds[32 * c]);
      hb.finish(&seeds[32 * (c + 1)]);
    }
  });
  for (std::size_t c = 0; c < nc; ++c) {
    if (!verify_with_seed(pts[c], proofs[c], nblocks, k, &seeds[32 * c], threads)) {
      return static_cast<std::int64_t>(c);
    }
  }
  return -1;
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
  const std::size_t blk = block_bytes(k);
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

std::int64_t packed_validate_var(const unsigned char* pts, const unsigned char* proof,
                                 std::size_t nblocks, std::size_t k, int threads) {
  if (proof != nullptr) {
    ge a;
    std::uint8_t inf = 0;
    scalar z;
    if (!ge_load_var(&a, &inf, proof, true) || inf || scalar_set_b32(&z, proof + kPointBytes)) {
      return kBadProof;
    }
  }
  const std::size_t blk = block_bytes(k);
  const int nt = thread_count(nblocks, threads, 16);
  std::vector<std::int64_t> first(static_cast<std::size_t>(nt), -1);
  parallel_for(nblocks, nt, [&](int tid, std::size_t begin, std::size_t end) {
    // Coordinates are range-checked while parsing; the curve equation runs over a chunk of
    // blocks at once (eight lanes per step where the CPU has IFMA).
    std::vector<ge> p(kValidateBlocks * (k + 1));
    std::vector<std::uint8_t> inf(p.size());
    for (std::size_t s = begin; s < end; s += kValidateBlocks) {
      const std::size_t b = std::min(kValidateBlocks, end - s);
      const std::size_t np = b * (k + 1);
      for (std::size_t j = 0; j < np; ++j) {
        if (!load_in_range_var(&p[j], &inf[j], pts + s * blk + j * kPointBytes)) {
          first[static_cast<std::size_t>(tid)] = static_cast<std::int64_t>(s + j / (k + 1));
          return;
        }
      }
      const std::size_t off = ge_first_off_curve_wide(p.data(), inf.data(), np);
      if (off < np) {
        first[static_cast<std::size_t>(tid)] = static_cast<std::int64_t>(s + off / (k + 1));
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
