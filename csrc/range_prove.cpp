// Range-proof prover (see range_proof.h for the proof layout): constant time in the secrets,
// fixed-base multiplications only, many slots per batch sharing one field inversion per step.
//
// Why no variable-base multiplication is needed. The simulated OR branch f = 1 - b of bit i
// is normally (A_f, B_f) = (fz G - fc R_i, fz P - fc (C_i - f G)) for random fz, fc: two
// multiplications of public points by fc. The prover knows w_i = log_G R_i (the bit
// commitment's randomness; for bit 0, w_0 = r - sum 2^i w_i), and C_i = w_i P + b G, so with
// v = fz - fc w_i the same pair is
//     A_f = v G,    B_f = v P - (2b - 1) fc G.
// Choosing v and fc uniformly and setting fz = v + fc w_i gives exactly the distribution of
// the textbook simulation (the map (v, fc) -> (fz, fc) is a bijection), so the proofs are
// identical in distribution and on the wire. Every point the prover computes is then a
// fixed-base multiple of G or of the slot key P_j by a secret scalar, and all of them go
// through the constant-time comb tables (scans of every table entry, regular signed digits):
//   secret: the block nonce r, the value bits b_i, w_i, u_i, v_i, fc_i (and which branch is
//           real, i.e. b_i again); they enter only table scans, branch-free batched affine
//           additions and cmovs;
//   public: the slot index j (which table is scanned), L, the context, the proof bytes.
// The only data-dependent branch is the batch-wide check that no affine addition met its
// own operand (an x-coordinate collision between a partial sum and a table entry, or
// v P = +-fc G). Below the top digit position a collision is impossible (the partial sum is
// a smaller multiple than the entry); at the top, and for w P + G and v P +- fc G, it needs a
// fresh uniform scalar to hit one of a few values (probability ~2^-250). If it ever happens
// the chunk is redone with fresh randomness, so timing reveals at most that event about
// values that are then discarded.
#include <algorithm>
#include <cstring>
#include <vector>

#include "ecmult.h"
#include "elgamal.h"
#include "group.h"
#include "keyset.h"
#include "range_proof.h"
#include "scalar.h"
#include "util.h"

namespace fbh {

namespace {

constexpr std::size_t kChunkSlots = 4;  // slots per batch: ~600 points per shared inversion
constexpr int kMaxAttempts = 8;         // redraws after a (negligible) exceptional addition

/// The constant-time comb table of base j + 1 (the slot key P_j) copied out of the key set's
/// interleaved table, so that a slot's scans read one contiguous, cache-resident table.
void slot_table(FixedTable* r, const MultiTable& tab, std::size_t j) {
  r->w = tab.w;
  r->nd = tab.nd;
  r->entries = tab.entries;
  r->t.resize(static_cast<std::size_t>(tab.nd) * tab.entries);
  for (int i = 0; i < tab.nd; ++i) {
    for (std::size_t e = 0; e < tab.entries; ++e) {
      r->t[static_cast<std::size_t>(i) * tab.entries + e] = tab.at(i, e)[j + 1];
    }
  }
}

/// One fixed-base multiplication: digits of a secret scalar and the table of its base.
struct FixedJob {
  const FixedTable* tab;
  const digit* d;
};

/// out[i] = jobs[i] for i < n in affine coordinates, all tables of equal shape: one table
/// scan per digit and one batched affine addition per digit position. Returns 0 if an
/// addition met its own operand (out is then garbage).
u64 fixed_batch(ge* out, const FixedJob* jobs, std::size_t n, ge* q, fe* scratch) {
  u64 ok = 1;
  const int nd = jobs[0].tab->nd;
  const std::size_t entries = jobs[0].tab->entries;
  for (int p = 0; p < nd; ++p) {
    ge* dst = p == 0 ? out : q;
    for (std::size_t i = 0; i < n; ++i) {
      ge_table_select(&dst[i], jobs[i].tab->pos(p), entries, jobs[i].d[p]);
    }
    if (p > 0) ok &= ge_batch_add(out, q, n, scratch);
  }
  return ok;
}

/// One proven slot of a chunk.
struct SlotItem {
  unsigned char* out;
  const unsigned char* key;
  const unsigned char* r;
  const unsigned char* c;
  const FixedTable* tab;
  scalar nonce;
  u64 x;  // bit i of x is b_i, the digits of m + B = sum_i w_i b_i
  std::uint64_t block, slot;
};

/// Per-thread buffers; every secret they hold is cleared after each chunk.
class ProveWorkspace {
 public:
  ProveWorkspace(std::size_t slots, std::int64_t bound)
      : L_(static_cast<std::size_t>(range_bits(bound))), bound_(bound),
        w_(slots * L_), u_(slots * L_), v_(slots * L_), fc_(slots * L_),
        digits_(slots * 4 * L_ * static_cast<std::size_t>(kDigitsCt)),
        jobs_(slots * per_slot()), pts_(jobs_.size()), q_(jobs_.size()), scratch_(jobs_.size()),
        acc_(slots * 2 * L_), add_(acc_.size()) {}
  ~ProveWorkspace() { clear(); }
  ProveWorkspace(const ProveWorkspace&) = delete;
  ProveWorkspace& operator=(const ProveWorkspace&) = delete;

  /// Points per slot: (w_i G, w_i P) for i >= 1, then (u G, u P, v G, v P, fc G) per bit.
  std::size_t per_slot() const { return 2 * (L_ - 1) + 5 * L_; }

  /// Prove the n <= kChunkSlots slots of items; false if every attempt met an exception.
  bool prove(SlotItem* items, std::size_t n, const unsigned char* ctx, std::size_t ctx_len) {
    bool ok = false;
    for (int attempt = 0; attempt < kMaxAttempts && !ok; ++attempt) {
      ok = attempt_chunk(items, n, ctx, ctx_len);
    }
    clear();
    return ok;
  }

 private:
  bool attempt_chunk(SlotItem* items, std::size_t n, const unsigned char* ctx, std::size_t ctx_len);
  void finish_slot(const SlotItem& it, std::size_t s, const unsigned char* ctx, std::size_t ctx_len);
  digit* dig(std::size_t k) { return &digits_[k * static_cast<std::size_t>(kDigitsCt)]; }

  void clear() {
    for (auto* v : {&w_, &u_, &v_, &fc_}) secure_zero(v->data(), v->size() * sizeof(scalar));
    secure_zero(digits_.data(), digits_.size() * sizeof(digit));
    for (auto* v : {&pts_, &q_, &acc_, &add_}) secure_zero(v->data(), v->size() * sizeof(ge));
    secure_zero(scratch_.data(), scratch_.size() * sizeof(fe));
  }

  std::size_t L_;
  std::int64_t bound_;
  std::vector<scalar> w_, u_, v_, fc_;
  std::vector<digit> digits_;
  std::vector<FixedJob> jobs_;
  std::vector<ge> pts_, q_;
  std::vector<fe> scratch_;
  std::vector<ge> acc_, add_;
};

bool ProveWorkspace::attempt_chunk(SlotItem* items, std::size_t n, const unsigned char* ctx,
                                   std::size_t ctx_len) {
  const FixedTable& tg = table_g(true);
  const std::size_t L = L_, ps = per_slot();
  // Fresh scalars and their regular digits; w_0 = r - sum_{i>=1} W_i w_i (W_i the bit weights).
  for (std::size_t s = 0; s < n; ++s) {
    scalar sum{}, t;
    for (std::size_t i = 0; i < L; ++i) {
      const std::size_t k = s * L + i;
      if (i > 0) {
        scalar_random(&w_[k]);
        t = scalar{};
        t.d[0] = range_weight(bound_, static_cast<int>(i));
        scalar_mul(&t, &t, &w_[k]);
        scalar_add(&sum, &sum, &t);
      }
      scalar_random(&u_[k]);
      scalar_random(&v_[k]);
      scalar_random(&fc_[k]);
    }
    scalar_sub(&w_[s * L], &items[s].nonce, &sum);
    secure_zero(&sum, sizeof(sum));
    secure_zero(&t, sizeof(t));
    const FixedTable* tp = items[s].tab;
    FixedJob* job = &jobs_[s * ps];
    for (std::size_t i = 0; i < L; ++i) {
      const std::size_t k = s * L + i;
      digit* dw = dig(4 * k);
      digit* du = dig(4 * k + 1);
      digit* dv = dig(4 * k + 2);
      digit* df = dig(4 * k + 3);
      if (i > 0) {
        scalar_recode_nonce(dw, &w_[k], tg.w, tg.nd);
        job[2 * (i - 1)] = {&tg, dw};
        job[2 * (i - 1) + 1] = {tp, dw};
      }
      scalar_recode_nonce(du, &u_[k], tg.w, tg.nd);
      scalar_recode_nonce(dv, &v_[k], tg.w, tg.nd);
      scalar_recode_nonce(df, &fc_[k], tg.w, tg.nd);
      FixedJob* a = job + 2 * (L - 1) + 5 * i;
      a[0] = {&tg, du};
      a[1] = {tp, du};
      a[2] = {&tg, dv};
      a[3] = {tp, dv};
      a[4] = {&tg, df};
    }
  }
  if (!fixed_batch(pts_.data(), jobs_.data(), n * ps, q_.data(), scratch_.data())) return false;
  // C_i = w_i P + b_i G: add G to a copy and keep the sum where b_i = 1. B_f = v P - (2b - 1) fc G.
  std::size_t m = 0;
  for (std::size_t s = 0; s < n; ++s) {
    const ge* p = &pts_[s * ps];
    for (std::size_t i = 1; i < L; ++i) {
      acc_[m] = p[2 * (i - 1) + 1];
      add_[m++] = ge_generator();
    }
    for (std::size_t i = 0; i < L; ++i) {
      const ge* a = p + 2 * (L - 1) + 5 * i;
      const u64 b = (items[s].x >> i) & 1;
      acc_[m] = a[3];
      add_[m] = a[4];
      fe ny;
      fe_negate(&ny, &add_[m].y);
      fe_cmov(&add_[m].y, &ny, b);
      ++m;
    }
  }
  if (!ge_batch_add(acc_.data(), add_.data(), m, scratch_.data())) return false;
  for (std::size_t s = 0; s < n; ++s) finish_slot(items[s], s, ctx, ctx_len);
  return true;
}

/// Write slot s's proof from the computed points and answer the challenges.
void ProveWorkspace::finish_slot(const SlotItem& it, std::size_t s, const unsigned char* ctx,
                                 std::size_t ctx_len) {
  const std::size_t L = L_, ps = per_slot();
  const ge* p = &pts_[s * ps];
  const ge* sums = &acc_[s * (2 * L - 1)];  // L - 1 commitments + G, then L fake B's
  unsigned char* commits = it.out;
  for (std::size_t i = 1; i < L; ++i) {
    const u64 b = (it.x >> i) & 1;
    ge c = p[2 * (i - 1) + 1];
    ge_cmov(&c, &sums[i - 1], b);
    ge_store(commits + (i - 1) * 2 * kPointBytes, &p[2 * (i - 1)], 0);
    ge_store(commits + (i - 1) * 2 * kPointBytes + kPointBytes, &c, 0);
  }
  unsigned char h[32];
  range_statement_hash(h, ctx, ctx_len, it.block, it.slot, bound_, it.key, it.r, it.c, commits);
  unsigned char* bitp = it.out + (L - 1) * 2 * kPointBytes;
  constexpr std::size_t kBitBytes = 4 * kPointBytes + 3 * 32;
  for (std::size_t i = 0; i < L; ++i) {
    const std::size_t k = s * L + i;
    const u64 b = (it.x >> i) & 1;
    const ge* a = p + 2 * (L - 1) + 5 * i;
    // Real branch (u G, u P), fake branch (v G, B_f); branch 0 is the real one iff b = 0.
    ge a0 = a[0], b0 = a[1], a1 = a[2], b1 = sums[L - 1 + i];
    ge_cmov(&a0, &a[2], b);
    ge_cmov(&b0, &sums[L - 1 + i], b);
    ge_cmov(&a1, &a[0], b);
    ge_cmov(&b1, &a[1], b);
    unsigned char* q = bitp + i * kBitBytes;
    ge_store(q, &a0, 0);
    ge_store(q + kPointBytes, &b0, 0);
    ge_store(q + 2 * kPointBytes, &a1, 0);
    ge_store(q + 3 * kPointBytes, &b1, 0);
    scalar c, creal, zreal, fz;
    range_bit_challenge(&c, h, static_cast<int>(i), q);
    scalar_sub(&creal, &c, &fc_[k]);
    scalar_mul(&zreal, &creal, &w_[k]);
    scalar_add(&zreal, &zreal, &u_[k]);
    scalar_mul(&fz, &fc_[k], &w_[k]);
    scalar_add(&fz, &fz, &v_[k]);
    scalar c0 = creal, z0 = zreal, z1 = fz;
    scalar_cmov(&c0, &fc_[k], b);
    scalar_cmov(&z0, &fz, b);
    scalar_cmov(&z1, &zreal, b);
    scalar_get_b32(q + 4 * kPointBytes, &c0);
    scalar_get_b32(q + 4 * kPointBytes + 32, &z0);
    scalar_get_b32(q + 4 * kPointBytes + 64, &z1);
    for (scalar* x : {&creal, &zreal, &fz, &c0, &z0, &z1}) secure_zero(x, sizeof(scalar));
    for (ge* x : {&a0, &b0, &a1, &b1}) secure_zero(x, sizeof(ge));
  }
}

/// Parse a finite, valid point.
bool load_finite(const unsigned char* in) {
  ge r;
  std::uint8_t inf = 0;
  return ge_load_var(&r, &inf, in, true) && !inf;
}

}  // namespace

std::int64_t range_prove(unsigned char* out, std::size_t n, std::int64_t bound, const unsigned char* ctx,
                         std::size_t ctx_len, PubKeySet& pk, const unsigned char* rs,
                         const unsigned char* cs, const std::int64_t* m,
                         const unsigned char* nonces, const std::uint64_t* blocks,
                         const std::uint64_t* slots, int threads) {
  const int bits = range_bits(bound);
  const std::size_t pb = range_proof_bytes(bits);
  const u64 top = static_cast<u64>(bits - 1), wtop = range_weight(bound, bits - 1);
  std::vector<unsigned char> keys(n * kPointBytes);
  std::vector<SlotItem> items(n);
  for (std::size_t t = 0; t < n; ++t) {
    // Validate everything first, so that a bad item writes nothing and names itself.
    if (slots[t] >= pk.k()) return static_cast<std::int64_t>(t);
    ge_store(keys.data() + t * kPointBytes, &pk.points()[slots[t]], 0);
    SlotItem& it = items[t];
    if (!load_finite(rs + t * kPointBytes) || !load_finite(cs + t * kPointBytes) ||
        m[t] < -bound || m[t] > bound || scalar_set_b32(&it.nonce, nonces + t * 32)) {
      return static_cast<std::int64_t>(t);
    }
    it.out = out + t * pb;
    it.key = keys.data() + t * kPointBytes;
    it.r = rs + t * kPointBytes;
    it.c = cs + t * kPointBytes;
    // x = m + B in [0, 2B] < 2^L: its top bit says whether b_(L-1) = 1, and then
    // x - w_(L-1) in [0, 2^(L-1)) (w_(L-1) <= 2^(L-1) <= x) gives the low bits. No branch.
    const u64 x = static_cast<u64>(m[t] + bound), b_top = x >> top;
    it.x = (x - b_top * wtop) | (b_top << top);
    it.block = blocks[t];
    it.slot = slots[t];
  }
  // One contiguous comb table per slot key in use (public: which slots were picked).
  const MultiTable& tab = pk.table(true);
  std::vector<FixedTable> tables(pk.k());
  std::vector<char> used(pk.k(), 0);
  for (std::size_t t = 0; t < n; ++t) used[slots[t]] = 1;
  for (std::size_t j = 0; j < pk.k(); ++j) {
    if (used[j]) slot_table(&tables[j], tab, j);
  }
  for (SlotItem& it : items) it.tab = &tables[it.slot];
  const std::size_t chunks = (n + kChunkSlots - 1) / kChunkSlots;
  const int nt = thread_count(chunks, threads, 1);
  std::vector<std::int64_t> bad(static_cast<std::size_t>(nt), -1);
  parallel_for(chunks, nt, [&](int th, std::size_t begin, std::size_t end) {
    ProveWorkspace ws(kChunkSlots, bound);
    for (std::size_t c = begin; c < end; ++c) {
      const std::size_t lo = c * kChunkSlots, cnt = std::min(kChunkSlots, n - lo);
      if (!ws.prove(&items[lo], cnt, ctx, ctx_len)) {
        bad[static_cast<std::size_t>(th)] = static_cast<std::int64_t>(lo);
        return;
      }
    }
  });
  for (SlotItem& it : items) secure_zero(&it.nonce, sizeof(scalar));
  for (SlotItem& it : items) secure_zero(&it.x, sizeof(u64));
  for (const std::int64_t b : bad) {
    if (b >= 0) return b;
  }
  return -1;
}

}  // namespace fbh
