// Batched affine additions eight lanes at a time with AVX-512 IFMA (see field_ifma.h): the
// same Montgomery simultaneous inversion as group.cpp's ge_batch_add, with one prefix chain
// per lane and the eight lane totals inverted together.
#include "batch_ifma.h"

#include <atomic>
#include <new>

#include "field_ifma.h"

namespace fbh {

#if defined(FBH_HAVE_IFMA)

namespace {

/// One group of eight additions in SoA form: acc (ax, ay) += (qx, qy); pre = the lane's prefix
/// product of denominators qx - ax up to and including this group.
struct Group8 {
  fe8 ax, ay, qx, qy, pre;
};

/// Per-thread groups, 64-byte aligned (std::vector does not promise that for vector types).
struct Groups {
  Group8* p = nullptr;
  std::size_t cap = 0;
  Group8* get(std::size_t n) {
    if (n > cap) {
      ::operator delete(p, std::align_val_t{64});
      p = static_cast<Group8*>(::operator new(n * sizeof(Group8), std::align_val_t{64}));
      cap = n;
    }
    return p;
  }
  ~Groups() { ::operator delete(p, std::align_val_t{64}); }
};

constexpr ge kG2 = {fe_const(0xc6047f9441ed7d6dULL, 0x3045406e95c07cd8ULL, 0x5c778e4b8cef3ca7ULL,
                             0xabac09b95c709ee5ULL),
                    fe_const(0x1ae168fea63dc339ULL, 0xa3c58419466ceaeeULL, 0xf7f632653266d0e1ULL,
                             0x236431a950cfe52aULL)};  // 2G: padding lanes add G + 2G

/// The additions a(i) + b(i) for i < n, each written by store(i, sum); load(i, &a, &b) names the
/// operands. Returns 0, before any store, if some pair shares x.
template <class Load, class Store>
__attribute__((target("avx512f,avx512ifma"))) u64 batch_add_ifma(std::size_t n, Groups& groups,
                                                                 Load load, Store store) {
  const std::size_t ng = (n + 7) / 8;
  Group8* ws = groups.get(ng);
  const ge& g1 = ge_generator();
  for (std::size_t g = 0; g < ng; ++g) {
    alignas(64) u64 v[4][5][8];
    for (int l = 0; l < 8; ++l) {
      const std::size_t i = 8 * g + static_cast<std::size_t>(l);
      const ge* a = &g1;
      const ge* b = &kG2;
      if (i < n) load(i, &a, &b);
      for (int k = 0; k < 5; ++k) {
        v[0][k][l] = a->x.n[k];
        v[1][k][l] = a->y.n[k];
        v[2][k][l] = b->x.n[k];
        v[3][k][l] = b->y.n[k];
      }
    }
    Group8& gr = ws[g];
    fe8* dst[4] = {&gr.ax, &gr.ay, &gr.qx, &gr.qy};
    for (int c = 0; c < 4; ++c) {
      for (int k = 0; k < 5; ++k) dst[c]->n[k] = _mm512_load_si512(v[c][k]);
    }
    fe8 d;
    fe8_sub(&d, &gr.qx, &gr.ax);
    if (g == 0) {
      gr.pre = d;
    } else {
      fe8_mul(&gr.pre, &ws[g - 1].pre, &d);
    }
  }
  // Invert the eight lane products with one field inversion (Montgomery's trick again).
  fe tot[8], run[8], inv;
  u64 zero = 0;
  for (int l = 0; l < 8; ++l) {
    tot[l] = fe8_lane(&ws[ng - 1].pre, l);
    zero |= fe_is_zero(&tot[l]);  // constant time: encryption passes secret-derived points
    run[l] = l == 0 ? tot[0] : fe{};
    if (l > 0) fe_mul(&run[l], &run[l - 1], &tot[l]);
  }
  if (zero) {
    secure_zero(ws, ng * sizeof(Group8));
    return 0;
  }  // some qx == ax (negligible for random nonces): caller's full path
  fe_inv(&inv, &run[7]);
  alignas(64) u64 iv[5][8];
  for (int l = 7; l >= 0; --l) {
    fe il;
    if (l > 0) {
      fe_mul(&il, &inv, &run[l - 1]);
      fe_mul(&inv, &inv, &tot[l]);
    } else {
      il = inv;
    }
    fe_normalize_weak(&il);
    for (int k = 0; k < 5; ++k) iv[k][l] = il.n[k];
  }
  fe8 linv;  // per lane: the inverse of the prefix product still pending
  for (int k = 0; k < 5; ++k) linv.n[k] = _mm512_load_si512(iv[k]);
  for (std::size_t g = ng; g-- > 0;) {
    Group8& gr = ws[g];
    fe8 di, d, lam, t, x3, y3;
    fe8_sub(&d, &gr.qx, &gr.ax);
    if (g > 0) {
      fe8_mul(&di, &linv, &ws[g - 1].pre);
      fe8_mul(&linv, &linv, &d);
    } else {
      di = linv;
    }
    // The chord: lam = (qy - ay) / (qx - ax), x3 = lam^2 - ax - qx, y3 = lam (ax - x3) - ay.
    fe8_sub(&t, &gr.qy, &gr.ay);
    fe8_mul(&lam, &t, &di);
    fe8_mul(&t, &lam, &lam);
    fe8_sub2(&x3, &t, &gr.ax, &gr.qx);
    fe8_sub(&t, &gr.ax, &x3);
    fe8_mul(&t, &t, &lam);
    fe8_sub(&y3, &t, &gr.ay);
    alignas(64) u64 out[2][5][8];
    for (int k = 0; k < 5; ++k) {
      _mm512_store_si512(reinterpret_cast<__m512i*>(out[0][k]), x3.n[k]);
      _mm512_store_si512(reinterpret_cast<__m512i*>(out[1][k]), y3.n[k]);
    }
    for (int l = 0; l < 8; ++l) {
      const std::size_t i = 8 * g + static_cast<std::size_t>(l);
      if (i >= n) break;
      ge r;
      for (int k = 0; k < 5; ++k) {
        r.x.n[k] = out[0][k][l];
        r.y.n[k] = out[1][k][l];
      }
      store(i, r);
    }
  }
  // The groups held partial sums (secret in encryption): clear them as ge_batch_add's
  // callers clear their scratch.
  secure_zero(ws, ng * sizeof(Group8));
  return 1;
}

}  // namespace

namespace {
std::atomic<bool> g_scalar_only{false};
}  // namespace

void ifma_set_scalar_only(bool on) { g_scalar_only.store(on); }

bool ifma_available() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
  return ok && !g_scalar_only.load(std::memory_order_relaxed);
}

u64 ge_batch_add_wide(ge* acc, const ge* q, std::size_t n, fe* scratch) {
  if (n < 16 || !ifma_available()) return ge_batch_add(acc, q, n, scratch);
  thread_local Groups groups;
  return batch_add_ifma(
      n, groups,
      [&](std::size_t i, const ge** a, const ge** b) {
        *a = &acc[i];
        *b = &q[i];
      },
      [&](std::size_t i, const ge& r) { acc[i] = r; });
}

u64 ge_batch_add_pairs_wide(ge* out, const ge* in, const std::uint32_t* src,
                            const std::uint32_t* dst, std::size_t n, fe* scratch) {
  if (n < 16 || !ifma_available()) return ge_batch_add_pairs(out, in, src, dst, n, scratch);
  thread_local Groups groups;
  return batch_add_ifma(
      n, groups,
      [&](std::size_t i, const ge** a, const ge** b) {
        *a = &in[src[i]];
        *b = &in[src[i] + 1];
      },
      [&](std::size_t i, const ge& r) { out[dst[i]] = r; });
}

namespace {

/// Index of the first of p[0..n) (8 per step, infinite ones skipped) off y^2 = x^3 + 7, or n.
__attribute__((target("avx512f,avx512ifma"))) std::size_t first_off_curve_ifma(
    const ge* p, const std::uint8_t* inf, std::size_t n) {
  const ge& g1 = ge_generator();
  for (std::size_t s = 0; s < n; s += 8) {
    alignas(64) u64 v[2][5][8];
    for (int l = 0; l < 8; ++l) {
      const std::size_t i = s + static_cast<std::size_t>(l);
      const ge* a = i < n && !inf[i] ? &p[i] : &g1;
      for (int k = 0; k < 5; ++k) {
        v[0][k][l] = a->x.n[k];
        v[1][k][l] = a->y.n[k];
      }
    }
    fe8 x, y, x2, x3, y2, d;
    for (int k = 0; k < 5; ++k) {
      x.n[k] = _mm512_load_si512(v[0][k]);
      y.n[k] = _mm512_load_si512(v[1][k]);
    }
    fe8_mul(&x2, &x, &x);
    fe8_mul(&x3, &x2, &x);
    fe8_mul(&y2, &y, &y);
    fe8_sub(&d, &y2, &x3);  // y^2 - x^3, which must be 7
    for (int l = 0; l < 8 && s + static_cast<std::size_t>(l) < n; ++l) {
      fe t = fe8_lane(&d, l);
      t.n[0] += 0x1FFFFDFFFFF85EULL - 7;  // + 2p - 7 (weak limbs stay below 2^53)
      t.n[1] += 0x1FFFFFFFFFFFFEULL;
      t.n[2] += 0x1FFFFFFFFFFFFEULL;
      t.n[3] += 0x1FFFFFFFFFFFFEULL;
      t.n[4] += 0x1FFFFFFFFFFFEULL;
      if (!fe_normalizes_to_zero_var(&t)) return s + static_cast<std::size_t>(l);
    }
  }
  return n;
}

}  // namespace

std::size_t ge_first_off_curve_wide(const ge* p, const std::uint8_t* inf, std::size_t n) {
  if (n >= 8 && ifma_available()) return first_off_curve_ifma(p, inf, n);
  for (std::size_t i = 0; i < n; ++i) {
    if (!inf[i] && !ge_is_on_curve_var(&p[i])) return i;
  }
  return n;
}

#else

void ifma_set_scalar_only(bool) {}

bool ifma_available() { return false; }

u64 ge_batch_add_wide(ge* acc, const ge* q, std::size_t n, fe* scratch) {
  return ge_batch_add(acc, q, n, scratch);
}

u64 ge_batch_add_pairs_wide(ge* out, const ge* in, const std::uint32_t* src,
                            const std::uint32_t* dst, std::size_t n, fe* scratch) {
  return ge_batch_add_pairs(out, in, src, dst, n, scratch);
}

std::size_t ge_first_off_curve_wide(const ge* p, const std::uint8_t* inf, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!inf[i] && !ge_is_on_curve_var(&p[i])) return i;
  }
  return n;
}

#endif

}  // namespace fbh
