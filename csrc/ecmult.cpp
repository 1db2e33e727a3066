// Fixed-base tables and the shared-scalar batched multiplication.
#include "ecmult.h"

#include <mutex>

namespace fbh {

namespace {

constexpr fe kBeta = fe_const(0x7ae96a2b657c0710ULL, 0x6e64479eac3434e9ULL, 0x9cf0497512f58995ULL,
                              0xc1396c28719501eeULL);
constexpr ge kH = {fe_const(0x0ULL, 0x0000003b78ce563fULL, 0x89a0ed9414f5aa28ULL,
                            0xad0d96d6795f9c63ULL),
                   fe_const(0xc0c686408d517dfdULL, 0x67c2367651380d00ULL, 0xd126e4229631fd03ULL,
                            0xf8ff35eef1a61e3cULL)};

/// q = lambda * q = (beta * x, y), the GLV endomorphism.
inline void ge_mul_lambda(ge* q) { fe_mul(&q->x, &q->x, &kBeta); }

/// Select entry d of a per-point table of `count` odd multiples, constant time or not.
inline void select_entry(ge* r, const ge* tab, std::size_t count, digit d, bool ct) {
  if (ct) {
    ge_table_select(r, tab, count, d);
  } else {
    ge_table_select_var(r, tab, d);
  }
}

/// Width-5 NAF digits of the signed GLV half k (a scalar standing for k or k - n), least
/// significant first; returns the digit count. Variable time: fast mode only.
int wnaf_half_var(int* out, const scalar* k) {
  // |k| < 2^128 (+ sign): take whichever of k, n - k is small.
  scalar neg;
  scalar_negate(&neg, k);
  const bool negative = neg.d[2] == 0 && neg.d[3] == 0 && !(k->d[2] == 0 && k->d[3] == 0);
  u64 v[3] = {negative ? neg.d[0] : k->d[0], negative ? neg.d[1] : k->d[1], 0};
  int len = 0;
  while (v[0] | v[1] | v[2]) {
    int d = 0;
    if (v[0] & 1) {
      d = static_cast<int>(v[0] & 31);
      if (d >= 16) d -= 32;
      // v -= d (d odd, |d| < 16): borrow or carry through the limbs.
      if (d > 0) {
        const u64 old = v[0];
        v[0] -= static_cast<u64>(d);
        if (v[0] > old) {
          if (v[1]-- == 0) --v[2];
        }
      } else {
        const u64 old = v[0];
        v[0] += static_cast<u64>(-d);
        if (v[0] < old && ++v[1] == 0) ++v[2];
      }
    }
    out[len++] = negative ? -d : d;
    v[0] = (v[0] >> 1) | (v[1] << 63);
    v[1] = (v[1] >> 1) | (v[2] << 63);
    v[2] >>= 1;
  }
  return len;
}

/// Table digit for a nonzero wNAF digit d.
inline digit wnaf_digit(int d) {
  const int a = d < 0 ? -d : d;
  return digit{static_cast<std::uint16_t>((a - 1) >> 1), static_cast<std::uint16_t>(d < 0)};
}

/// Per-point tables of odd multiples, tab[b * stride + j] = (2j + 1) in[b] for j < used;
/// clobbers acc and p2. Returns 0 if a batched addition hit an exceptional case.
u64 batch_odd_multiples(ge* tab, ge* acc, ge* p2, const ge* in, std::size_t n, std::size_t stride,
                        std::size_t used, fe* scratch) {
  u64 ok = 1;
  for (std::size_t b = 0; b < n; ++b) acc[b] = p2[b] = tab[b * stride] = in[b];
  ge_batch_double(p2, n, scratch);
  for (std::size_t j = 1; j < used; ++j) {
    ok &= ge_batch_add(acc, p2, n, scratch);
    for (std::size_t b = 0; b < n; ++b) tab[b * stride + j] = acc[b];
  }
  return ok;
}

/// Fast-mode body of ecmult_shared_batch: wNAF of both GLV halves over 8-entry tables,
/// skipping zero digits (the digits are shared, so the batch stays in lock step).
u64 shared_batch_wnaf_var(ge* acc, const ge* in, std::size_t n, const scalar* k, MulWorkspace& ws) {
  const std::size_t count = std::size_t{1} << (kWinMul - 1);
  constexpr std::size_t kUsed = 8;  // width-5 NAF digits are odd and below 16
  scalar k1, k2;
  scalar_split_lambda(&k1, &k2, k);
  int d1[160], d2[160];
  const int n1 = wnaf_half_var(d1, &k1), n2 = wnaf_half_var(d2, &k2);
  ge* tab = ws.tab.data();
  ge* q = ws.q.data();
  ge* p2 = ws.p2.data();
  fe* scratch = ws.scratch.data();
  u64 ok = batch_odd_multiples(tab, acc, p2, in, n, count, kUsed, scratch);
  bool started = false;
  for (int i = (n1 > n2 ? n1 : n2) - 1; i >= 0; --i) {
    if (started) ge_batch_double(acc, n, scratch);
    for (int half = 0; half < 2; ++half) {
      const int d = half == 0 ? (i < n1 ? d1[i] : 0) : (i < n2 ? d2[i] : 0);
      if (d == 0) continue;
      ge* dst = started ? q : acc;
      for (std::size_t b = 0; b < n; ++b) {
        ge_table_select_var(&dst[b], tab + b * count, wnaf_digit(d));
        if (half == 1) ge_mul_lambda(&dst[b]);
      }
      if (started) ok &= ge_batch_add(acc, q, n, scratch);
      started = true;
    }
  }
  return ok && started;
}

struct StaticTables {
  FixedTable g_ct, g_fast, h_ct, h_fast;
  ge offset_ct, offset_fast;
};

const StaticTables& static_tables() {
  static StaticTables tables;
  static std::once_flag once;
  std::call_once(once, [] {
    fixed_table_build(&tables.g_ct, &ge_generator(), kWinCt, kDigitsCt);
    fixed_table_build(&tables.g_fast, &ge_generator(), kWinFast, kDigitsFast);
    fixed_table_build(&tables.h_ct, &kH, kWinCt, kDigitsMsgCt);
    fixed_table_build(&tables.h_fast, &kH, kWinFast, kDigitsMsgFast);
    // offset = -(2^48 G + H): 2^48 G = 2^(6*8) G is entry [8][0] of the CT table of G.
    gep a, b;
    gep_set_ge(&a, &tables.g_ct.pos(8)[0]);
    gep_set_ge(&b, &kH);
    gep_add(&a, &a, &b);
    gep_to_ge(&tables.offset_ct, &a);
    ge_negate(&tables.offset_ct, &tables.offset_ct);
    fe_normalize(&tables.offset_ct.y);
    ge_negate(&tables.offset_fast, &kH);
    fe_normalize(&tables.offset_fast.y);
  });
  return tables;
}

}  // namespace

void fixed_table_build(FixedTable* r, const ge* base, int w, int nd) {
  r->w = w;
  r->nd = nd;
  r->entries = std::size_t{1} << (w - 1);
  const auto npos = static_cast<std::size_t>(nd);
  r->t.assign(npos * r->entries, ge{});
  std::vector<ge> cur(npos), dbl(npos);
  std::vector<fe> scratch(npos);
  // Positions: base_i = 2^(w i) base (a chain of single doublings; built once per key).
  cur[0] = *base;
  for (std::size_t i = 1; i < npos; ++i) {
    cur[i] = cur[i - 1];
    for (int k = 0; k < w; ++k) ge_batch_double(&cur[i], 1, scratch.data());
  }
  dbl = cur;
  ge_batch_double(dbl.data(), npos, scratch.data());
  for (std::size_t j = 0; j < r->entries; ++j) {
    if (j > 0) ge_batch_add(cur.data(), dbl.data(), npos, scratch.data());
    for (std::size_t i = 0; i < npos; ++i) {
      ge e = cur[i];
      fe_normalize(&e.x);
      fe_normalize(&e.y);
      r->t[i * r->entries + j] = e;
    }
  }
}

void ecmult_fixed_complete(gep* r, const FixedTable& table, const digit* d, int nd) {
  gep acc, q;
  ge e;
  gep_set_infinity(&acc);
  for (int i = 0; i < nd; ++i) {
    ge_table_select(&e, table.pos(i), table.entries, d[i]);
    gep_set_ge(&q, &e);
    gep_add(&acc, &acc, &q);
  }
  *r = acc;
}

void ecmult_const_complete(gep* r, const ge* p, const scalar* k) {
  gep acc, sum, pp;
  gep_set_infinity(&acc);
  gep_set_ge(&pp, p);
  for (int bit = 255; bit >= 0; --bit) {
    gep_add(&acc, &acc, &acc);
    gep_add(&sum, &acc, &pp);
    const u64 b = (k->d[bit >> 6] >> (bit & 63)) & 1;
    fe_cmov(&acc.x, &sum.x, b);
    fe_cmov(&acc.y, &sum.y, b);
    fe_cmov(&acc.z, &sum.z, b);
  }
  *r = acc;
}

const FixedTable& table_g(bool ct) { return ct ? static_tables().g_ct : static_tables().g_fast; }

const FixedTable& table_h(bool ct) { return ct ? static_tables().h_ct : static_tables().h_fast; }

const ge& msg_offset(bool ct) {
  return ct ? static_tables().offset_ct : static_tables().offset_fast;
}

SharedDigits::SharedDigits(const scalar& s) : k(s) {
  scalar k1, k2;
  scalar_split_lambda(&k1, &k2, &k);
  e1 = scalar_recode_half(d1, &n1, &k1, kWinMul, kDigitsMul);
  e2 = scalar_recode_half(d2, &n2, &k2, kWinMul, kDigitsMul);
  secure_zero(&k1, sizeof(k1));
  secure_zero(&k2, sizeof(k2));
}

SharedDigits::~SharedDigits() {
  secure_zero(&k, sizeof(k));
  secure_zero(d1, sizeof(d1));
  secure_zero(d2, sizeof(d2));
  secure_zero(&e1, sizeof(e1));
  secure_zero(&e2, sizeof(e2));
  secure_zero(&n1, sizeof(n1));
  secure_zero(&n2, sizeof(n2));
}

MulWorkspace::MulWorkspace(std::size_t n)
    : tab(n << (kWinMul - 1)), acc(n), q(n), p2(n), scratch(n) {}

MulWorkspace::~MulWorkspace() {
  // Intermediate multiples of k reveal nothing about k on their own, but clear them anyway.
  secure_zero(tab.data(), tab.size() * sizeof(ge));
  secure_zero(acc.data(), acc.size() * sizeof(ge));
  secure_zero(q.data(), q.size() * sizeof(ge));
}

/// Copy the batch results out, or redo every point with the complete ladder if some
/// addition of the batch was exceptional (only for special scalars).
static void finish_shared_batch(ge* out, std::uint8_t* inf, const ge* in, std::size_t n,
                                const SharedDigits& k, ge* acc, u64 ok) {
  if (!ok) {
    for (std::size_t b = 0; b < n; ++b) {
      gep r;
      ecmult_const_complete(&r, &in[b], &k.k);
      inf[b] = static_cast<std::uint8_t>(gep_to_ge(&acc[b], &r));
    }
  } else {
    for (std::size_t b = 0; b < n; ++b) inf[b] = 0;
  }
  for (std::size_t b = 0; b < n; ++b) {
    out[b] = acc[b];
    fe_normalize(&out[b].x);
    fe_normalize(&out[b].y);
  }
}

void ecmult_shared_batch(ge* out, std::uint8_t* inf, const ge* in, std::size_t n,
                         const SharedDigits& k, bool ct, MulWorkspace& ws) {
  if (n == 0) return;
  if (!ct) {
    const u64 ok = shared_batch_wnaf_var(ws.acc.data(), in, n, &k.k, ws);
    finish_shared_batch(out, inf, in, n, k, ws.acc.data(), ok);
    return;
  }
  const std::size_t count = std::size_t{1} << (kWinMul - 1);
  ge* tab = ws.tab.data();
  ge* acc = ws.acc.data();
  ge* q = ws.q.data();
  ge* p2 = ws.p2.data();
  fe* scratch = ws.scratch.data();
  u64 ok = batch_odd_multiples(tab, acc, p2, in, n, count, count, scratch);
  // Top digits of both halves (positive), then w doublings and two additions per digit.
  const int top = kDigitsMul - 1;
  for (std::size_t b = 0; b < n; ++b) {
    select_entry(&acc[b], tab + b * count, count, k.d1[top], ct);
    select_entry(&q[b], tab + b * count, count, k.d2[top], ct);
    ge_mul_lambda(&q[b]);
  }
  ok &= ge_batch_add(acc, q, n, scratch);
  for (int i = top - 1; i >= 0; --i) {
    for (int s = 0; s < kWinMul; ++s) ge_batch_double(acc, n, scratch);
    for (std::size_t b = 0; b < n; ++b) select_entry(&q[b], tab + b * count, count, k.d1[i], ct);
    ok &= ge_batch_add(acc, q, n, scratch);
    for (std::size_t b = 0; b < n; ++b) {
      select_entry(&q[b], tab + b * count, count, k.d2[i], ct);
      ge_mul_lambda(&q[b]);
    }
    ok &= ge_batch_add(acc, q, n, scratch);
  }
  // Undo the parity corrections: add -(+-e_i) (lambda^i) P with e_i in {1, 2}.
  for (int half = 0; half < 2; ++half) {
    const u64 e = half == 0 ? k.e1 : k.e2;
    const u64 neg = half == 0 ? k.n1 : k.n2;
    for (std::size_t b = 0; b < n; ++b) {
      q[b] = in[b];
      ge_cmov(&q[b], &p2[b], e >> 1);
      fe ny;
      fe_negate(&ny, &q[b].y);
      fe_cmov(&q[b].y, &ny, neg);
      if (half == 1) ge_mul_lambda(&q[b]);
    }
    ok &= ge_batch_add(acc, q, n, scratch);
  }
  finish_shared_batch(out, inf, in, n, k, acc, ok);
}

}  // namespace fbh
