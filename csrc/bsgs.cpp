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

int bsgs_lookup_var(std::int64_t* m, const BsgsTable& t, const ge* p) {
  fe x = p->x, y = p->y;
  fe_normalize(&x);
  fe_normalize(&y);
  const std::uint64_t tag = slot_tag(&x);
  std::uint64_t i = x.n[0] & t.mask;
  for (;;) {
    const std::uint64_t e = t.slots[i];
    if (e == 0) return 0;
    if ((e >> kValBits) == tag) {
      const std::uint64_t val = e & ((1ULL << kValBits) - 1);
      const auto mag = static_cast<std::int64_t>(val >> 1);
      *m = ((val & 1) == (y.n[0] & 1)) ? mag : -mag;
      return 1;
    }
    i = (i + 1) & t.mask;
  }
}

std::int64_t bsgs_decode_var(std::int64_t* out, const BsgsTable& t, const ge* p,
                             const std::uint8_t* inf, std::size_t n, std::uint64_t bound,
                             fe* scratch, std::uint32_t* idx) {
  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < n; ++i) {
    std::int64_t m = 0;
    if (inf[i]) {
      out[i] = 0;
    } else if (bsgs_lookup_var(&m, t, &p[i])) {
      out[i] = m;
    } else {
      todo.push_back(i);
    }
  }
  // Giant steps: m = j + g (2T + 1) with |j| <= T; walk g = +-1, +-2, ... over the misses.
  const std::uint64_t step = 2 * t.baby + 1;
  const std::uint64_t gmax = bound > t.baby ? (bound - t.baby + step - 1) / step : 0;
  for (int sign = 0; sign < 2 && !todo.empty(); ++sign) {
    std::vector<std::size_t> left = todo;
    std::vector<ge> cur(left.size()), q(left.size());
    std::vector<std::uint8_t> cinf(left.size(), 0), qinf(left.size(), 0);
    ge g = t.giant;
    if (sign == 0) ge_negate(&g, &g);  // sign 0 looks for positive m: p - g step G
    for (std::size_t j = 0; j < left.size(); ++j) {
      cur[j] = p[left[j]];
      q[j] = g;
    }
    std::vector<std::size_t> still;
    for (std::uint64_t gi = 1; gi <= gmax && !left.empty(); ++gi) {
      ge_batch_add_var(cur.data(), cinf.data(), q.data(), qinf.data(), left.size(), scratch,
                       idx);
      still.clear();
      std::vector<ge> ncur;
      std::vector<std::uint8_t> ncinf;
      for (std::size_t j = 0; j < left.size(); ++j) {
        std::int64_t m = 0;
        const std::int64_t base = static_cast<std::int64_t>(gi * step) * (sign == 0 ? 1 : -1);
        if (cinf[j]) {
          m = 0;
        } else if (!bsgs_lookup_var(&m, t, &cur[j])) {
          still.push_back(left[j]);
          ncur.push_back(cur[j]);
          ncinf.push_back(0);
          continue;
        }
        out[left[j]] = m + base;
      }
      left = still;
      cur = ncur;
      cinf = ncinf;
      q.resize(left.size());
      qinf.resize(left.size());
    }
    todo = left;
  }
  std::vector<std::uint8_t> missing(n, 0);
  for (std::size_t i : todo) missing[i] = 1;
  std::int64_t first = -1;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t mag = out[i] < 0 ? static_cast<std::uint64_t>(-out[i])
                                          : static_cast<std::uint64_t>(out[i]);
    if (missing[i] || mag > bound) {
      first = static_cast<std::int64_t>(i);
      break;
    }
  }
  return first;
}

}  // namespace fbh
