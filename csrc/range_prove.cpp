// Range-proof prover (see range_proof.h for the proof layout): constant time in the secrets,
// fixed-base multiplications only, many slots per batch sharing one field inversion per step.
//
// Why no variable-base multiplication is needed. The simulated OR branch f = 1 - b of bit i
// is normally A_f = fz H - fc (Com_i - f G) for random fz, fc: a multiplication of a public
// point by fc. The prover knows rho_i (Com_i = b G + rho_i H), so with v = fz - fc rho_i the
// same point is
//     A_f = v H - (2b - 1) fc G.
// Choosing v and fc uniformly and setting fz = v + fc rho_i gives exactly the distribution of
// the textbook simulation (the map (v, fc) -> (fz, fc) is a bijection), so the proofs are
// identical in distribution and on the wire. Every point the prover computes is then a
// fixed-base multiple of G, H or the slot key P_j by a secret scalar: per bit rho_i H, u_i H,
// v_i H, fc_i G (Com_i = rho_i H + b G, A_real = u_i H, A_fake as above), per slot a G, a P_j,
// mu G, beta H (T1 = a G, T2 = a P_j + mu G, T3 = mu G + beta H). All go through the
// constant-time comb tables (scans of every table entry, regular signed digits):
//   secret: the block nonce r, the value m and its bits b_i, rho_i, u_i, v_i, fc_i, a, mu, beta
//           (and which branch is real, i.e. b_i again); they enter only table scans,
//           branch-free batched affine additions, scalar arithmetic and cmovs;
//   public: the slot index j (which table is scanned), B and L, the context, the proof bytes.
// The only data-dependent branch is the batch-wide check that no affine addition met its
// own operand (an x-coordinate collision between a partial sum and a table entry, or
// rho H = +-G, v H = +-fc G, a P = +-mu G, mu G = +-beta H). Below the top digit position a
// collision is impossible (the partial sum is a smaller multiple than the entry); at the top,
// and for the sums, it needs a fresh uniform scalar to hit one of a few values (probability
// ~2^-250). If it ever happens the chunk is redone with fresh randomness, so timing reveals at
// most that event about values that are then discarded.
#include <algorithm>
#include <cstring>
#include <vector>

#include "batch_ifma.h"
#include "ecmult.h"
#include "elgamal.h"
#include "group.h"
#include "keyset.h"
#include "range_proof.h"
#include "scalar.h"
#include "util.h"

namespace fbh {

namespace {

constexpr std::size_t kChunkSlots = 4;  // slots per batch: ~300 points per shared inversion (L = 18)
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
    if (p > 0) ok &= ge_batch_add_wide(out, q, n, scratch);
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
  scalar value;  // m mod n
  u64 x;         // bit i of x is b_i, the digits of m + B = sum_i w_i b_i
  std::uint64_t block, slot;
};

/// Per-thread buffers; every secret they hold is cleared after each chunk.
class ProveWorkspace {
 public:
  ProveWorkspace(std::size_t slots, std::int64_t bound)
      : L_(static_cast<std::size_t>(range_bits(bound))), bound_(bound),
        rho_(slots * L_), u_(slots * L_), v_(slots * L_), fc_(slots * L_), lk_(slots * 3),
        digits_(slots * per_slot() * static_cast<std::size_t>(kDigitsCt)),
        jobs_(slots * per_slot()), pts_(jobs_.size()), q_(jobs_.size()), scratch_(jobs_.size()),
        acc_(slots * sums_per_slot()), add_(acc_.size()) {}
  ~ProveWorkspace() { clear(); }
  ProveWorkspace(const ProveWorkspace&) = delete;
  ProveWorkspace& operator=(const ProveWorkspace&) = delete;

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
  /// Points per slot: (rho H, u H, v H, fc G) per bit, then (a G, a P, mu G, beta H).
  std::size_t per_slot() const { return 4 * L_ + 4; }
  /// Sums per slot: (rho H + G, v H -+ fc G) per bit, then (a P + mu G, mu G + beta H).
  std::size_t sums_per_slot() const { return 2 * L_ + 2; }
  bool attempt_chunk(SlotItem* items, std::size_t n, const unsigned char* ctx, std::size_t ctx_len);
  void finish_slot(const SlotItem& it, std::size_t s, const unsigned char* ctx, std::size_t ctx_len);
  digit* dig(std::size_t k) { return &digits_[k * static_cast<std::size_t>(kDigitsCt)]; }

  void clear() {
    for (auto* v : {&rho_, &u_, &v_, &fc_, &lk_}) secure_zero(v->data(), v->size() * sizeof(scalar));
    secure_zero(digits_.data(), digits_.size() * sizeof(digit));
    for (auto* v : {&pts_, &q_, &acc_, &add_}) secure_zero(v->data(), v->size() * sizeof(ge));
    secure_zero(scratch_.data(), scratch_.size() * sizeof(fe));
  }

  std::size_t L_;
  std::int64_t bound_;
  std::vector<scalar> rho_, u_, v_, fc_, lk_;  // lk_: a, mu, beta per slot
  std::vector<digit> digits_;
  std::vector<FixedJob> jobs_;
  std::vector<ge> pts_, q_;
  std::vector<fe> scratch_;
  std::vector<ge> acc_, add_;
};

bool ProveWorkspace::attempt_chunk(SlotItem* items, std::size_t n, const unsigned char* ctx,
                                   std::size_t ctx_len) {
  const FixedTable& tg = table_g(true);
  const FixedTable& th = range_table_h();
  const std::size_t L = L_, ps = per_slot();
  // Fresh scalars and their regular digits, one job per fixed-base multiplication.
  for (std::size_t s = 0; s < n; ++s) {
    FixedJob* job = &jobs_[s * ps];
    for (std::size_t i = 0; i < L; ++i) {
      const std::size_t k = s * L + i;
      scalar* sc[4] = {&rho_[k], &u_[k], &v_[k], &fc_[k]};
      const FixedTable* base[4] = {&th, &th, &th, &tg};
      for (int q = 0; q < 4; ++q) {
        scalar_random(sc[q]);
        digit* d = dig(s * ps + 4 * i + static_cast<std::size_t>(q));
        scalar_recode_nonce(d, sc[q], tg.w, tg.nd);
        job[4 * i + static_cast<std::size_t>(q)] = {base[q], d};
      }
    }
    digit* da = dig(s * ps + 4 * L);
    digit* dm = dig(s * ps + 4 * L + 1);
    digit* db = dig(s * ps + 4 * L + 2);
    for (int q = 0; q < 3; ++q) scalar_random(&lk_[3 * s + static_cast<std::size_t>(q)]);
    scalar_recode_nonce(da, &lk_[3 * s], tg.w, tg.nd);
    scalar_recode_nonce(dm, &lk_[3 * s + 1], tg.w, tg.nd);
    scalar_recode_nonce(db, &lk_[3 * s + 2], tg.w, tg.nd);
    job[4 * L] = {&tg, da};
    job[4 * L + 1] = {items[s].tab, da};
    job[4 * L + 2] = {&tg, dm};
    job[4 * L + 3] = {&th, db};
  }
  if (!fixed_batch(pts_.data(), jobs_.data(), n * ps, q_.data(), scratch_.data())) return false;
  // Com_i = rho_i H + b_i G: add G to a copy and keep the sum where b_i = 1.
  // A_f = v H - (2b - 1) fc G. T2 = a P + mu G, T3 = mu G + beta H.
  std::size_t m = 0;
  for (std::size_t s = 0; s < n; ++s) {
    const ge* p = &pts_[s * ps];
    for (std::size_t i = 0; i < L; ++i) {
      const u64 b = (items[s].x >> i) & 1;
      acc_[m] = p[4 * i];
      add_[m++] = ge_generator();
      acc_[m] = p[4 * i + 2];
      add_[m] = p[4 * i + 3];
      fe ny;
      fe_negate(&ny, &add_[m].y);
      fe_cmov(&add_[m].y, &ny, b);
      ++m;
    }
    acc_[m] = p[4 * L + 1];
    add_[m++] = p[4 * L + 2];
    acc_[m] = p[4 * L + 2];
    add_[m++] = p[4 * L + 3];
  }
  if (!ge_batch_add_wide(acc_.data(), add_.data(), m, scratch_.data())) return false;
  for (std::size_t s = 0; s < n; ++s) finish_slot(items[s], s, ctx, ctx_len);
  return true;
}

/// Write slot s's proof from the computed points and answer the challenges.
void ProveWorkspace::finish_slot(const SlotItem& it, std::size_t s, const unsigned char* ctx,
                                 std::size_t ctx_len) {
  const std::size_t L = L_, ps = per_slot();
  const ge* p = &pts_[s * ps];
  const ge* sums = &acc_[s * sums_per_slot()];
  for (std::size_t i = 0; i < L; ++i) {
    const u64 b = (it.x >> i) & 1;
    ge c = p[4 * i];
    ge_cmov(&c, &sums[2 * i], b);
    ge_store(it.out + i * kPointBytes, &c, 0);
    secure_zero(&c, sizeof(ge));
  }
  unsigned char h[32];
  range_statement_hash(h, ctx, ctx_len, it.block, it.slot, bound_, it.key, it.r, it.c, it.out);
  unsigned char* bitp = it.out + L * kPointBytes;
  constexpr std::size_t kBitBytes = 2 * kPointBytes + 3 * 32;
  scalar rho{}, t;
  for (std::size_t i = 0; i < L; ++i) {
    const std::size_t k = s * L + i;
    const u64 b = (it.x >> i) & 1;
    // Real branch u H, fake branch v H -+ fc G; branch 0 is the real one iff b = 0.
    ge a0 = p[4 * i + 1], a1 = sums[2 * i + 1];
    ge_cmov(&a0, &sums[2 * i + 1], b);
    ge_cmov(&a1, &p[4 * i + 1], b);
    unsigned char* q = bitp + i * kBitBytes;
    ge_store(q, &a0, 0);
    ge_store(q + kPointBytes, &a1, 0);
    scalar c, creal, zreal, fz;
    range_bit_challenge(&c, h, static_cast<int>(i), q);
    scalar_sub(&creal, &c, &fc_[k]);
    scalar_mul(&zreal, &creal, &rho_[k]);
    scalar_add(&zreal, &zreal, &u_[k]);
    scalar_mul(&fz, &fc_[k], &rho_[k]);
    scalar_add(&fz, &fz, &v_[k]);
    scalar c0 = creal, z0 = zreal, z1 = fz;
    scalar_cmov(&c0, &fc_[k], b);
    scalar_cmov(&z0, &fz, b);
    scalar_cmov(&z1, &zreal, b);
    scalar_get_b32(q + 2 * kPointBytes, &c0);
    scalar_get_b32(q + 2 * kPointBytes + 32, &z0);
    scalar_get_b32(q + 2 * kPointBytes + 64, &z1);
    // rho = sum w_i rho_i, the opening of V = sum w_i Com_i - B G.
    t = scalar{};
    t.d[0] = range_weight(bound_, static_cast<int>(i));
    scalar_mul(&t, &t, &rho_[k]);
    scalar_add(&rho, &rho, &t);
    for (scalar* x : {&creal, &zreal, &fz, &c0, &z0, &z1}) secure_zero(x, sizeof(scalar));
    for (ge* x : {&a0, &a1}) secure_zero(x, sizeof(ge));
  }
  // Link: T1 = a G, T2 = a P + mu G, T3 = mu G + beta H; s = (a, mu, beta) + e (r, m, rho).
  unsigned char* lk = bitp + L * kBitBytes;
  ge_store(lk, &p[4 * L], 0);
  ge_store(lk + kPointBytes, &sums[2 * L], 0);
  ge_store(lk + 2 * kPointBytes, &sums[2 * L + 1], 0);
  scalar e;
  range_link_challenge(&e, h, lk);
  const scalar* wit[3] = {&it.nonce, &it.value, &rho};
  for (std::size_t q = 0; q < 3; ++q) {
    scalar_mul(&t, &e, wit[q]);
    scalar_add(&t, &t, &lk_[3 * s + q]);
    scalar_get_b32(lk + 3 * kPointBytes + 32 * q, &t);
  }
  secure_zero(&rho, sizeof(scalar));
  secure_zero(&t, sizeof(scalar));
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
    // m mod n without a branch on its sign: |m| as a scalar, negated where m < 0.
    const u64 neg = static_cast<u64>(m[t]) >> 63;
    const u64 mag = (static_cast<u64>(m[t]) ^ (0 - neg)) + neg;
    scalar pos{}, negv;
    pos.d[0] = mag;
    scalar_negate(&negv, &pos);
    it.value = pos;
    scalar_cmov(&it.value, &negv, neg);
    secure_zero(&pos, sizeof(pos));
    secure_zero(&negv, sizeof(negv));
    it.block = blocks[t];
    it.slot = slots[t];
  }
  range_table_h();  // build the shared table before the threads start
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
  for (SlotItem& it : items) secure_zero(&it.value, sizeof(scalar));
  for (const std::int64_t b : bad) {
    if (b >= 0) return b;
  }
  return -1;
}

}  // namespace fbh
