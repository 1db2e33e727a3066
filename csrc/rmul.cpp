// s_j R for all slot keys over one shared table of R per point (see rmul.h).
#include "rmul.h"

#include <cstring>

#include "batch_ifma.h"
#include "scalar.h"

namespace fbh {

namespace {

constexpr fe kBeta = fe_const(0x7ae96a2b657c0710ULL, 0x6e64479eac3434e9ULL, 0x9cf0497512f58995ULL,
                              0xc1396c28719501eeULL);
constexpr std::size_t kEntries = std::size_t{1} << (kWinMul - 1);
constexpr std::size_t kPerPoint = kEntries * kDigitsMul;

/// Build the tables of n points: tab[p * kPerPoint + i * kEntries + e] = (2e + 1) 2^(5i) R_p.
u64 build_tables(RMulWorkspace& ws, const ge* r, std::size_t n) {
  u64 ok = 1;
  ge* base = ws.base.data();
  ge* dbl = ws.dbl.data();
  fe* scratch = ws.scratch.data();
  std::memcpy(base, r, n * sizeof(ge));
  for (int i = 0; i < kDigitsMul; ++i) {
    std::memcpy(dbl, base, n * sizeof(ge));
    ge_batch_double(dbl, n, scratch);
    if (i == 0) std::memcpy(ws.p2.data(), dbl, n * sizeof(ge));
    for (std::size_t p = 0; p < n; ++p) ws.tab[p * kPerPoint + static_cast<std::size_t>(i) * kEntries] = base[p];
    for (std::size_t e = 1; e < kEntries; ++e) {
      ok &= ge_batch_add_wide(base, dbl, n, scratch);
      for (std::size_t p = 0; p < n; ++p) {
        ws.tab[p * kPerPoint + static_cast<std::size_t>(i) * kEntries + e] = base[p];
      }
    }
    if (i + 1 < kDigitsMul) {  // next position: 2^5 (2^(5i) R) = 2^4 dbl
      std::memcpy(base, dbl, n * sizeof(ge));
      for (int s = 1; s < kWinMul; ++s) ge_batch_double(base, n, scratch);
    }
  }
  return ok;
}

inline void select(ge* r, const ge* entries, digit d, bool ct) {
  if (ct) {
    ge_table_select(r, entries, kEntries, d);
  } else {
    ge_table_select_var(r, entries, d);
  }
}

}  // namespace

RMulWorkspace::RMulWorkspace(std::size_t b_, std::size_t k_)
    : b(b_), k(k_), tab(b_ * kPerPoint), p2(b_), base(b_), dbl(b_), acc(b_ * k_), q(b_ * k_),
      scratch(b_ * k_ > b_ ? b_ * k_ : b_) {}

RMulWorkspace::~RMulWorkspace() {
  // Partial sums are multiples of R by parts of the secret keys: clear them.
  secure_zero(acc.data(), acc.size() * sizeof(ge));
  secure_zero(q.data(), q.size() * sizeof(ge));
}

void rmul_batch(ge* out, std::uint8_t* inf, const ge* r, std::size_t n, const KeyDigits& kd,
                bool ct, RMulWorkspace& ws) {
  if (n == 0) return;
  const std::size_t k = kd.size();
  const std::size_t m = n * k;
  u64 ok = build_tables(ws, r, n);
  ge* acc = ws.acc.data();
  ge* q = ws.q.data();
  fe* scratch = ws.scratch.data();
  bool first = true;
  for (int i = 0; i < kDigitsMul; ++i) {
    for (int half = 0; half < 2; ++half) {
      ge* dst = first ? acc : q;
      for (std::size_t p = 0; p < n; ++p) {
        const ge* entries = &ws.tab[p * kPerPoint + static_cast<std::size_t>(i) * kEntries];
        for (std::size_t j = 0; j < k; ++j) {
          const digit d = half == 0 ? kd[j]->d1[i] : kd[j]->d2[i];
          ge* t = &dst[p * k + j];
          select(t, entries, d, ct);
          if (half == 1) fe_mul(&t->x, &t->x, &kBeta);
        }
      }
      if (!first) ok &= ge_batch_add_wide(acc, q, m, scratch);
      first = false;
    }
  }
  // Undo the parity corrections of the regular digits: add -(+-e) (lambda^half) R, e in {1, 2}.
  for (int half = 0; half < 2; ++half) {
    for (std::size_t p = 0; p < n; ++p) {
      for (std::size_t j = 0; j < k; ++j) {
        const SharedDigits& s = *kd[j];
        const u64 e = half == 0 ? s.e1 : s.e2;
        const u64 neg = half == 0 ? s.n1 : s.n2;
        ge* t = &q[p * k + j];
        *t = r[p];
        ge_cmov(t, &ws.p2[p], e >> 1);
        fe ny;
        fe_negate(&ny, &t->y);
        fe_cmov(&t->y, &ny, neg);
        if (half == 1) fe_mul(&t->x, &t->x, &kBeta);
      }
    }
    ok &= ge_batch_add_wide(acc, q, m, scratch);
  }
  if (!ok) {
    // Some addition met its own operand (a property of the keys, negligible for random
    // keys): redo every product with the complete ladder.
    for (std::size_t p = 0; p < n; ++p) {
      for (std::size_t j = 0; j < k; ++j) {
        gep t;
        ecmult_const_complete(&t, &r[p], &kd[j]->k);
        inf[p * k + j] = static_cast<std::uint8_t>(gep_to_ge(&out[p * k + j], &t));
      }
    }
    return;
  }
  for (std::size_t v = 0; v < m; ++v) {
    out[v] = acc[v];
    inf[v] = 0;
  }
}

}  // namespace fbh
