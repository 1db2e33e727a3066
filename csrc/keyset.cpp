// Interleaved multi-base fixed tables for packed encryption.
#include "keyset.h"

#include <cstring>

namespace fbh {

void multi_table_build(MultiTable* r, const ge* bases, std::size_t nb, int w, int nd) {
  r->w = w;
  r->nd = nd;
  r->nb = nb;
  r->entries = std::size_t{1} << (w - 1);
  const auto npos = static_cast<std::size_t>(nd);
  r->t.assign(npos * r->entries * nb, ge{});
  // cur[i * nb + j] = 2^(w i) base_j; all bases advance together so every batched step
  // shares one inversion across nb (positions) or nb * npos (entries) points.
  std::vector<ge> cur(npos * nb), dbl(npos * nb);
  std::vector<fe> scratch(npos * nb);
  for (std::size_t j = 0; j < nb; ++j) cur[j] = bases[j];
  for (std::size_t i = 1; i < npos; ++i) {
    std::memcpy(&cur[i * nb], &cur[(i - 1) * nb], nb * sizeof(ge));
    for (int s = 0; s < w; ++s) ge_batch_double(&cur[i * nb], nb, scratch.data());
  }
  dbl = cur;
  ge_batch_double(dbl.data(), npos * nb, scratch.data());
  for (std::size_t e = 0; e < r->entries; ++e) {
    if (e > 0) ge_batch_add(cur.data(), dbl.data(), npos * nb, scratch.data());
    for (std::size_t i = 0; i < npos; ++i) {
      ge* dst = r->t.data() + (i * r->entries + e) * nb;
      for (std::size_t j = 0; j < nb; ++j) {
        ge v = cur[i * nb + j];
        fe_normalize(&v.x);
        fe_normalize(&v.y);
        dst[j] = v;
      }
    }
  }
}

void multi_table_select(ge* out, const MultiTable& t, int pos, digit d, std::size_t j0,
                        std::size_t nj, bool ct) {
  if (!ct) {
    const ge* src = t.at(pos, d.idx) + j0;
    std::memcpy(out, src, nj * sizeof(ge));
    if (d.neg) {
      for (std::size_t j = 0; j < nj; ++j) fe_negate(&out[j].y, &out[j].y);
    }
    return;
  }
  constexpr int kWords = sizeof(ge) / sizeof(u64);
  std::memset(out, 0, nj * sizeof(ge));
  const u64 want = d.idx;
  for (std::size_t e = 0; e < t.entries; ++e) {
    const u64 diff = static_cast<u64>(e) ^ want;
    const u64 mask = ((diff | (0 - diff)) >> 63) - 1;  // all ones iff e == want
    const ge* src = t.at(pos, e) + j0;
    for (std::size_t j = 0; j < nj; ++j) {
      const u64* s = &src[j].x.n[0];
      u64* o = &out[j].x.n[0];
      for (int q = 0; q < kWords; ++q) o[q] |= s[q] & mask;
    }
  }
  for (std::size_t j = 0; j < nj; ++j) {
    fe ny;
    fe_negate(&ny, &out[j].y);
    fe_cmov(&out[j].y, &ny, d.neg);
  }
}

const MultiTable& PubKeySet::table(bool ct) {
  auto build = [this](MultiTable* r, int w, int nd) {
    std::vector<ge> bases;
    bases.reserve(points_.size() + 1);
    bases.push_back(ge_generator());
    bases.insert(bases.end(), points_.begin(), points_.end());
    multi_table_build(r, bases.data(), bases.size(), w, nd);
  };
  if (ct) {
    std::call_once(ct_once_, [&] { build(&ct_, kWinCt, kDigitsCt); });
    return ct_;
  }
  std::call_once(fast_once_, [&] { build(&fast_, kWinFast, kDigitsFast); });
  return fast_;
}

}  // namespace fbh
