// Operations on public ciphertext rows (variable time): aggregation, scaling, negation,
// validation and SEC1 conversion.
#include "rows.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "batch_ifma.h"
#include "ecmult.h"
#include "util.h"

namespace fbh {

namespace {

constexpr std::size_t kAggChunk = 2048;  // points per batched step (fits in L2)
constexpr std::size_t kScaleChunk = 512;

}  // namespace

std::int64_t points_aggregate_var(unsigned char* out, const unsigned char* const* in,
                                  const std::uint8_t* validate, std::size_t nc, std::size_t np,
                                  int threads, std::size_t* bad_input) {
  const int nt = thread_count(np, threads, 1024);
  std::vector<std::int64_t> first(static_cast<std::size_t>(nt), -1);
  std::vector<std::size_t> first_c(static_cast<std::size_t>(nt), 0);
  parallel_for(np, nt, [&](int tid, std::size_t begin, std::size_t end) {
    std::vector<ge> acc(kAggChunk), q(kAggChunk);
    std::vector<std::uint8_t> ainf(kAggChunk), qinf(kAggChunk);
    std::vector<fe> scratch(kAggChunk);
    std::vector<std::uint32_t> idx(kAggChunk);
    for (std::size_t st = begin; st < end; st += kAggChunk) {
      const std::size_t b = std::min(kAggChunk, end - st);
      std::int64_t bad = -1;
      std::size_t bad_c = 0;
      for (std::size_t c = 0; c < nc; ++c) {
        ge* dst = c == 0 ? acc.data() : q.data();
        std::uint8_t* dinf = c == 0 ? ainf.data() : qinf.data();
        const unsigned char* src = in[c] + st * kPointBytes;
        for (std::size_t p = 0; p < b; ++p) {
          if (!ge_load_var(&dst[p], &dinf[p], src + p * kPointBytes, validate[c] != 0)) {
            const auto k = static_cast<std::int64_t>(p);
            if (bad < 0 || k < bad) {
              bad = k;
              bad_c = c;
            }
          }
        }
        if (c > 0 && bad < 0) {
          // Fast path without per-point case checks; rare cases take the full version.
          unsigned any_inf = 0;
          for (std::size_t p = 0; p < b; ++p) any_inf |= unsigned{ainf[p]} | unsigned{qinf[p]};
          if (any_inf || !ge_batch_add_wide(acc.data(), q.data(), b, scratch.data())) {
            ge_batch_add_var(acc.data(), ainf.data(), q.data(), qinf.data(), b, scratch.data(),
                             idx.data());
          }
        }
      }
      if (bad >= 0) {
        first[static_cast<std::size_t>(tid)] = static_cast<std::int64_t>(st) + bad;
        first_c[static_cast<std::size_t>(tid)] = bad_c;
        return;
      }
      for (std::size_t p = 0; p < b; ++p) ge_store(out + (st + p) * kPointBytes, &acc[p], ainf[p]);
    }
  });
  for (std::size_t t = 0; t < first.size(); ++t) {
    if (first[t] >= 0) {
      *bad_input = first_c[t];
      return first[t];
    }
  }
  return -1;
}

void points_scale_var(unsigned char* out, const unsigned char* in, std::size_t np,
                      const scalar* k, int threads) {
  const SharedDigits kd(*k);
  const int nt = thread_count(np, threads, 256);
  parallel_for(np, nt, [&](int, std::size_t begin, std::size_t end) {
    MulWorkspace ws(kScaleChunk);
    std::vector<ge> p(kScaleChunk);
    std::vector<std::uint8_t> pinf(kScaleChunk), minf(kScaleChunk);
    std::vector<std::uint32_t> pos(kScaleChunk);
    for (std::size_t st = begin; st < end; st += kScaleChunk) {
      const std::size_t b = std::min(kScaleChunk, end - st);
      std::size_t cnt = 0;
      for (std::size_t i = 0; i < b; ++i) {
        std::uint8_t inf = 0;
        ge_load_var(&p[cnt], &inf, in + (st + i) * kPointBytes, false);
        if (inf) {
          std::memset(out + (st + i) * kPointBytes, 0, kPointBytes);
        } else {
          pos[cnt++] = static_cast<std::uint32_t>(i);
        }
      }
      ecmult_shared_batch(p.data(), minf.data(), p.data(), cnt, kd, false, ws);
      for (std::size_t j = 0; j < cnt; ++j) {
        ge_store(out + (st + pos[j]) * kPointBytes, &p[j], minf[j]);
      }
    }
  });
}

void points_negate_var(unsigned char* out, const unsigned char* in, std::size_t np) {
  for (std::size_t p = 0; p < np; ++p) {
    ge a;
    std::uint8_t inf = 0;
    ge_load_var(&a, &inf, in + p * kPointBytes, false);
    if (!inf) ge_negate(&a, &a);
    ge_store(out + p * kPointBytes, &a, inf);
  }
}

std::int64_t points_validate_var(const unsigned char* in, std::size_t npoints, int threads) {
  const int nt = thread_count(npoints, threads, 4096);
  std::vector<std::int64_t> first(static_cast<std::size_t>(nt), -1);
  parallel_for(npoints, nt, [&](int tid, std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; ++p) {
      ge a;
      std::uint8_t inf = 0;
      if (!ge_load_var(&a, &inf, in + p * kPointBytes, true)) {
        first[static_cast<std::size_t>(tid)] = static_cast<std::int64_t>(p);
        return;
      }
    }
  });
  for (std::int64_t f : first) {
    if (f >= 0) return f;
  }
  return -1;
}

void points_to_sec1(unsigned char* out, const unsigned char* in, std::size_t npoints) {
  for (std::size_t p = 0; p < npoints; ++p) {
    ge a;
    std::uint8_t inf = 0;
    ge_load_var(&a, &inf, in + p * kPointBytes, false);
    if (inf) {
      std::memset(out + 33 * p, 0, 33);
    } else {
      pubkey_serialize(out + 33 * p, &a);
    }
  }
}

std::int64_t points_from_sec1_var(unsigned char* out, const unsigned char* in,
                                  std::size_t npoints) {
  for (std::size_t p = 0; p < npoints; ++p) {
    const unsigned char* src = in + 33 * p;
    unsigned char any = 0;
    for (int i = 0; i < 33; ++i) any |= src[i];
    if (!any) {
      std::memset(out + p * kPointBytes, 0, kPointBytes);
      continue;
    }
    ge a;
    if (!pubkey_parse_var(&a, src, 33)) return static_cast<std::int64_t>(p);
    ge_store(out + p * kPointBytes, &a, 0);
  }
  return -1;
}

}  // namespace fbh
