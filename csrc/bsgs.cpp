// BSGS table construction (batched affine additions) and variable-time decoding.
#include "bsgs.h"

#include "ecmult.h"
#include "util.h"

namespace fbh {

namespace {

constexpr std::size_t kRow = 1024;  // consecutive baby steps computed per batched addition
constexpr int kValBits = 24;

/// Index bits come from limb 0 of the normalized x and the 40-bit tag from limb 1 (bits
/// 64..103 of x), so 61+ bits of x must match for a hit.
inline std::uint64_t slot_tag(const fe* x) { return x->n[1] >> 12; }

/// r = k * G for a public k < 2^64 (used while building; variable time is fine).
void mul_g_var(ge* r, std::uint8_t* inf, std::uint64_t k) {
  gep acc, g;
  gep_set_infinity(&acc);
  gep_set_ge(&g, &ge_generator());
  for (int bit = 63; bit >= 0; --bit) {
    gep_add(&acc, &acc, &acc);
    if ((k >> bit) & 1) gep_add(&acc, &acc, &g);
  }
  *inf = static_cast<std::uint8_t>(gep_to_ge(r, &acc));
}

void insert(BsgsTable* t, const ge* p, std::uint64_t m) {
  const std::uint64_t val = (m << 1) | (p->y.n[0] & 1);
  const std::uint64_t entry = (slot_tag(&p->x) << kValBits) | val;
  std::uint64_t i = p->x.n[0] & t->mask;
  while (t->slots[i] != 0) i = (i + 1) & t->mask;
  t->slots[i] = entry;
}

}  // namespace

void bsgs_build(BsgsTable* r, std::uint64_t baby, int threads) {
  std::uint64_t cap = 1024;
  while (cap < baby + baby / 2) cap <<= 1;  // load factor <= 2/3
  r->baby = baby;
  r->mask = cap - 1;
  r->slots.assign(cap, 0);
  std::uint8_t inf = 0;
  mul_g_var(&r->giant, &inf, 2 * baby + 1);
  // Row c holds (c * kRow + j + 1) G for j < kRow: the first row once, then add c * kRow G.
  std::vector<ge> first(kRow);
  {
    std::vector<std::uint8_t> finf(kRow, 0), ginf(kRow, 0);
    std::vector<ge> g(kRow, ge_generator());
    std::vector<fe> scratch(kRow);
    std::vector<std::uint32_t> idx(kRow);
    first[0] = ge_generator();
    for (std::size_t j = 1; j < kRow; ++j) {  // sequential: j G = (j-1) G + G
      std::uint8_t a = 0, b = 0;
      first[j] = first[j - 1];
      ge_batch_add_var(&first[j], &a, &ge_generator(), &b, 1, scratch.data(), idx.data());
    }
  }
  const std::size_t rows = static_cast<std::size_t>((baby + kRow - 1) / kRow);
  std::vector<ge> pts(rows * kRow);
  const int nt = thread_count(rows, threads, 4);
  parallel_for(rows, nt, [&](int, std::size_t begin, std::size_t end) {
    std::vector<ge> q(kRow);
    std::vector<std::uint8_t> ainf(kRow), qinf(kRow, 0);
    std::vector<fe> scratch(kRow);
    std::vector<std::uint32_t> idx(kRow);
    for (std::size_t c = begin; c < end; ++c) {
      ge* acc = &pts[c * kRow];
      for (std::size_t j = 0; j < kRow; ++j) acc[j] = first[j];
      if (c == 0) continue;
      ge step;
      std::uint8_t sinf = 0;
      mul_g_var(&step, &sinf, c * kRow);
      for (std::size_t j = 0; j < kRow; ++j) {
        q[j] = step;
        ainf[j] = 0;
      }
      ge_batch_add_var(acc, ainf.data(), q.data(), qinf.data(), kRow, scratch.data(), idx.data());
    }
  });
  for (std::uint64_t m = 1; m <= baby; ++m) {
    ge p = pts[m - 1];
    fe_normalize(&p.x);
    fe_normalize(&p.y);
    insert(r, &p, m);
  }
}

namespace {

/// 1 if m G == p (p finite), compared exactly; variable time (public data only).
/// |m| < 2^58 uses the fast table of H = G / 2 (m G = (2m + 1) H - H, 5 complete additions).
bool confirm_var(std::int64_t m, const ge* p) {
  gep acc;
  if (m > -(std::int64_t{1} << 58) && m < (std::int64_t{1} << 58)) {
    const FixedTable& th = table_h(false);
    const std::int64_t k = 2 * m + 1;
    const u64 km[5] = {static_cast<u64>(k < 0 ? -k : k), 0, 0, 0, 0};
    // Only the digits |k| needs (regular recoding: w * nd >= bits + 1): 2 for |m| < 2^22.
    const int bits = 64 - __builtin_clzll(km[0]);
    const int nd = (bits + 1 + th.w - 1) / th.w;
    digit d[kDigitsMsgFast];
    scalar_recode_regular(d, km, th.w, nd);
    if (k < 0) {
      for (int i = 0; i < nd; ++i) d[i].neg ^= 1;
    }
    // Public data: index the table directly (ecmult_fixed_complete would scan every entry).
    gep_set_infinity(&acc);
    for (int i = 0; i < nd; ++i) {
      ge e;
      gep q;
      ge_table_select_var(&e, th.pos(i), d[i]);
      gep_set_ge(&q, &e);
      gep_add(&acc, &acc, &q);
    }
    gep off;
    gep_set_ge(&off, &msg_offset(false));
    gep_add(&acc, &acc, &off);
  } else {
    std::uint8_t inf = 0;
    ge q;
    mul_g_var(&q, &inf, static_cast<std::uint64_t>(m < 0 ? -m : m));
    if (inf) return false;
    if (m < 0) ge_negate(&q, &q);
    gep_set_ge(&acc, &q);
  }
  // (X : Y : Z) == (x, y) iff X == x Z and Y == y Z (Z != 0 for a finite point).
  if (fe_is_zero(&acc.z)) return false;
  fe t;
  fe_mul(&t, &p->x, &acc.z);
  if (!fe_equal(&t, &acc.x)) return false;
  fe_mul(&t, &p->y, &acc.z);
  return fe_equal(&t, &acc.y) != 0;
}

}  // namespace

int bsgs_lookup_var(std::int64_t* m, const BsgsTable& t, const ge* p, const ge* orig,
                    std::int64_t base) {
  fe x = p->x, y = p->y;
  fe_normalize(&x);
  fe_normalize(&y);
  const std::uint64_t tag = slot_tag(&x);
  std::uint64_t i = x.n[0] & t.mask;
  for (;; i = (i + 1) & t.mask) {
    const std::uint64_t e = t.slots[i];
    if (e == 0) return 0;
    if ((e >> kValBits) != tag) continue;
    // A tag match fixes ~62 bits of x: confirm the candidate against the whole point, and keep
    // probing on a false match (there may be another entry with the same tag).
    const std::uint64_t val = e & ((1ULL << kValBits) - 1);
    const auto mag = static_cast<std::int64_t>(val >> 1);
    const std::int64_t cand = base + (((val & 1) == (y.n[0] & 1)) ? mag : -mag);
    if (confirm_var(cand, orig)) {
      *m = cand;
      return 1;
    }
  }
}

std::int64_t bsgs_decode_var(std::int64_t* out, const BsgsTable& t, const ge* p,
                             const std::uint8_t* inf, std::size_t n, std::uint64_t bound) {
  std::vector<std::size_t> left;
  for (std::size_t i = 0; i < n; ++i) {
    std::int64_t m = 0;
    if (inf[i]) {
      out[i] = 0;
    } else if (bsgs_lookup_var(&m, t, &p[i], &p[i], 0)) {
      out[i] = m;
    } else {
      left.push_back(i);
    }
  }
  // Giant steps: m = j + g (2T + 1) with |j| <= T. Both signs in one pass: entry 2l walks
  // p - g S G (positive m), entry 2l + 1 walks p + g S G (negative m).
  const std::uint64_t step = 2 * t.baby + 1;
  const std::uint64_t gmax = bound > t.baby ? (bound - t.baby + step - 1) / step : 0;
  if (gmax > 0 && !left.empty()) {
    std::vector<ge> cur(2 * left.size()), q(2 * left.size());
    std::vector<std::uint8_t> cinf(2 * left.size(), 0), qinf(2 * left.size(), 0);
    std::vector<fe> scratch(2 * left.size());
    std::vector<std::uint32_t> idx(2 * left.size());
    ge minus = t.giant;
    ge_negate(&minus, &minus);
    for (std::size_t l = 0; l < left.size(); ++l) {
      cur[2 * l] = cur[2 * l + 1] = p[left[l]];
      q[2 * l] = minus;
      q[2 * l + 1] = t.giant;
    }
    for (std::uint64_t gi = 1; gi <= gmax && !left.empty(); ++gi) {
      const std::size_t np = 2 * left.size();
      ge_batch_add_var(cur.data(), cinf.data(), q.data(), qinf.data(), np, scratch.data(),
                       idx.data());
      std::size_t kept = 0;
      for (std::size_t l = 0; l < left.size(); ++l) {
        bool found = false;
        for (int s = 0; s < 2 && !found; ++s) {
          const auto base = static_cast<std::int64_t>(gi * step) * (s == 0 ? 1 : -1);
          const std::size_t e = 2 * l + static_cast<std::size_t>(s);
          std::int64_t m = base;  // cur = infinity: p = base G exactly
          found = cinf[e] || bsgs_lookup_var(&m, t, &cur[e], &p[left[l]], base);
          if (found) out[left[l]] = m;
        }
        if (found) continue;
        left[kept] = left[l];
        cur[2 * kept] = cur[2 * l];
        cur[2 * kept + 1] = cur[2 * l + 1];
        cinf[2 * kept] = cinf[2 * l];
        cinf[2 * kept + 1] = cinf[2 * l + 1];
        ++kept;
      }
      left.resize(kept);
    }
  }
  std::vector<std::uint8_t> missing(n, 0);
  for (std::size_t i : left) missing[i] = 1;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t mag = out[i] < 0 ? static_cast<std::uint64_t>(-out[i])
                                          : static_cast<std::uint64_t>(out[i]);
    if (missing[i] || mag > bound) return static_cast<std::int64_t>(i);
  }
  return -1;
}

}  // namespace fbh
