// Batched exponential ElGamal kernels; every entry point splits its batch into contiguous
// per-thread ranges and processes each range in chunks that share one field inversion per step.
#include "elgamal.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "util.h"

namespace fbh {

namespace {

constexpr std::size_t kEncChunk = 512;
constexpr std::size_t kDecChunk = 1024;
constexpr std::int64_t kMsgOffset = std::int64_t{1} << 48;

/// Per-thread buffers for encryption; everything derived from nonces is cleared after use.
struct EncWorkspace {
  std::vector<ge> acc, q;
  std::vector<fe> scratch;
  std::vector<digit> dr, dm;
  std::vector<unsigned char> rnd;
  EncWorkspace(std::size_t b, int nd, int ndm)
      : acc(2 * b), q(2 * b), scratch(2 * b), dr(b * static_cast<std::size_t>(nd)),
        dm(b * static_cast<std::size_t>(ndm)), rnd(32 * b) {}
  ~EncWorkspace() {
    secure_zero(acc.data(), acc.size() * sizeof(ge));
    secure_zero(q.data(), q.size() * sizeof(ge));
    secure_zero(scratch.data(), scratch.size() * sizeof(fe));
    secure_zero(dr.data(), dr.size() * sizeof(digit));
    secure_zero(dm.data(), dm.size() * sizeof(digit));
    secure_zero(rnd.data(), rnd.size());
  }
};

inline void select_fixed(ge* r, const FixedTable& t, int pos, digit d, bool ct) {
  if (ct) {
    ge_table_select(r, t.pos(pos), t.entries, d);
  } else {
    ge_table_select_var(r, t.pos(pos), d);
  }
}

/// Nonce digits for b values: from the caller's nonces, or fresh uniform scalars.
void nonce_digits(digit* dr, const unsigned char* nonces, std::size_t b, int w, int nd,
                  unsigned char* rnd) {
  if (nonces == nullptr) os_random(rnd, 32 * b);
  for (std::size_t i = 0; i < b; ++i) {
    scalar r;
    const unsigned char* src = nonces != nullptr ? nonces + 32 * i : rnd + 32 * i;
    u64 bad = scalar_set_b32(&r, src) | scalar_is_zero(&r);
    while (bad) {  // probability ~2^-128 per draw; the rejected draw is discarded
      os_random(rnd + 32 * i, 32);
      bad = scalar_set_b32(&r, rnd + 32 * i) | scalar_is_zero(&r);
    }
    scalar_recode_nonce(dr + i * static_cast<std::size_t>(nd), &r, w, nd);
    secure_zero(&r, sizeof(r));
  }
}

/// Encrypt one chunk of b values (see elgamal_encrypt).
void encrypt_chunk(unsigned char* out, PubKey& pk, const std::int64_t* m,
                   const unsigned char* nonces, std::size_t b, bool ct, bool complete,
                   EncWorkspace& ws) {
  const FixedTable& tg = table_g(ct);
  const FixedTable& tp = pk.table(ct);
  const FixedTable& th = table_h(ct);
  const int nd = tg.nd, w = tg.w;
  digit* dr = ws.dr.data();
  digit* dm = ws.dm.data();
  nonce_digits(dr, nonces, b, w, nd, ws.rnd.data());
  const int ndm = message_digits(dm, m, b, ct);
  ge* acc = ws.acc.data();
  ge* q = ws.q.data();
  fe* scratch = ws.scratch.data();
  // Batched affine steps even for tiny chunks: measured, they never cost more than the
  // complete formulas (a batch of 1 costs the same; chunks are balanced by for_chunks).
  u64 ok = complete ? 0 : 1;
  if (ok) {
    for (std::size_t i = 0; i < b; ++i) {
      select_fixed(&acc[i], tg, 0, dr[i * nd], ct);
      select_fixed(&acc[b + i], tp, 0, dr[i * nd], ct);
    }
    for (int j = 1; j < nd; ++j) {  // C1 = r G and r PK share the nonce digits
      for (std::size_t i = 0; i < b; ++i) {
        select_fixed(&q[i], tg, j, dr[i * nd + j], ct);
        select_fixed(&q[b + i], tp, j, dr[i * nd + j], ct);
      }
      ok &= ge_batch_add(acc, q, 2 * b, scratch);
    }
    for (int j = 0; j < ndm; ++j) {
      for (std::size_t i = 0; i < b; ++i) select_fixed(&q[b + i], th, j, dm[i * ndm + j], ct);
      ok &= ge_batch_add(acc + b, q + b, b, scratch);
    }
    for (std::size_t i = 0; i < b; ++i) q[b + i] = msg_offset(ct);
    ok &= ge_batch_add(acc + b, q + b, b, scratch);
  }
  if (ok) {
    for (std::size_t i = 0; i < b; ++i) {
      ge_store(out + i * kRowBytes, &acc[i], 0);
      ge_store(out + i * kRowBytes + kPointBytes, &acc[b + i], 0);
    }
  } else {
    // An addition met its own operand (negligible for random nonces): complete formulas.
    gep off;
    gep_set_ge(&off, &msg_offset(ct));
    for (std::size_t i = 0; i < b; ++i) {
      gep c1, c2, t;
      ge a;
      ecmult_fixed_complete(&c1, tg, dr + i * nd, nd);
      ecmult_fixed_complete(&c2, tp, dr + i * nd, nd);
      ecmult_fixed_complete(&t, th, dm + i * ndm, ndm);
      gep_add(&c2, &c2, &t);
      gep_add(&c2, &c2, &off);
      u64 inf = gep_to_ge(&a, &c1);
      ge_store(out + i * kRowBytes, &a, static_cast<std::uint8_t>(inf));
      inf = gep_to_ge(&a, &c2);
      ge_store(out + i * kRowBytes + kPointBytes, &a, static_cast<std::uint8_t>(inf));
    }
  }
}

/// Per-thread buffers for decryption (the products sk C1 are cleared after each chunk).
struct DecWorkspace {
  MulWorkspace mul;
  std::vector<ge> c2, s, q;
  std::vector<std::uint8_t> c2inf, sinf, minf;
  std::vector<std::uint32_t> pos, idx;
  std::vector<fe> scratch;
  explicit DecWorkspace(std::size_t b)
      : mul(b), c2(b), s(b), q(b), c2inf(b), sinf(b), minf(b), pos(b), idx(b), scratch(b) {}
  ~DecWorkspace() {
    secure_zero(s.data(), s.size() * sizeof(ge));
    secure_zero(q.data(), q.size() * sizeof(ge));
  }
};

/// Decrypt and decode one chunk of b rows; returns -1 or the first index out of bound.
std::int64_t decrypt_chunk(std::int64_t* out, const unsigned char* rows, std::size_t b,
                           const SharedDigits& kd, const BsgsTable& t, std::uint64_t bound,
                           bool ct, DecWorkspace& ws) {
  std::size_t cnt = 0;
  for (std::size_t i = 0; i < b; ++i) {
    ge c1;
    std::uint8_t c1inf = 0;
    ge_load_var(&c1, &c1inf, rows + i * kRowBytes, false);
    ge_load_var(&ws.c2[i], &ws.c2inf[i], rows + i * kRowBytes + kPointBytes, false);
    ws.sinf[i] = 1;
    if (!c1inf) {  // whether C1 is infinity is public
      ws.s[cnt] = c1;
      ws.pos[cnt++] = static_cast<std::uint32_t>(i);
    }
  }
  ecmult_shared_batch(ws.s.data(), ws.minf.data(), ws.s.data(), cnt, kd, ct, ws.mul);
  // D = C2 - sk C1 = m G: spread the products back to their rows, negated, and add.
  for (std::size_t j = 0; j < cnt; ++j) {
    ge_negate(&ws.q[ws.pos[j]], &ws.s[j]);
    ws.sinf[ws.pos[j]] = ws.minf[j];
  }
  ge_batch_add_var(ws.c2.data(), ws.c2inf.data(), ws.q.data(), ws.sinf.data(), b,
                   ws.scratch.data(), ws.idx.data());
  return bsgs_decode_var(out, t, ws.c2.data(), ws.c2inf.data(), b, bound);
}

}  // namespace

int message_digits(digit* dm, const std::int64_t* m, std::size_t n, bool ct) {
  const int w = table_h(ct).w;
  int ndm = table_h(ct).nd;
  if (!ct) {  // only as many digits as the largest |2m + 1| of the batch needs
    u64 most = 1;
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t v = 2 * m[i] + 1;
      most |= static_cast<u64>(v < 0 ? -v : v);
    }
    const int bits = 64 - __builtin_clzll(most);
    ndm = (bits + 1 + w - 1) / w;  // regular recoding needs w * nd >= bits + 1
  }
  for (std::size_t i = 0; i < n; ++i) {
    digit* di = dm + i * static_cast<std::size_t>(ndm);
    if (ct) {
      // m G = (2 (m + 2^48) + 1) H + offset with H = G / 2: an odd positive multiplier.
      const u64 km[5] = {2 * static_cast<u64>(m[i] + kMsgOffset) + 1, 0, 0, 0, 0};
      scalar_recode_regular(di, km, w, ndm);
    } else {
      // Fast mode: m G = (2 m + 1) H - H.
      const std::int64_t v = 2 * m[i] + 1;
      const u64 km[5] = {static_cast<u64>(v < 0 ? -v : v), 0, 0, 0, 0};
      scalar_recode_regular(di, km, w, ndm);
      if (v < 0) {
        for (int j = 0; j < ndm; ++j) di[j].neg ^= 1;
      }
    }
  }
  return ndm;
}

const FixedTable& PubKey::table(bool ct) {
  if (ct) {
    std::call_once(ct_once_, [this] { fixed_table_build(&ct_, &point_, kWinCt, kDigitsCt); });
    return ct_;
  }
  std::call_once(fast_once_,
                 [this] { fixed_table_build(&fast_, &point_, kWinFast, kDigitsFast); });
  return fast_;
}

void scalar_random(scalar* r) {
  unsigned char buf[32];
  do {
    os_random(buf, 32);
  } while (scalar_set_b32(r, buf) | scalar_is_zero(r));
  secure_zero(buf, sizeof(buf));
}

void pubkey_from_secret(ge* r, const scalar* k) {
  digit d[kDigitsCt];
  scalar_recode_nonce(d, k, kWinCt, kDigitsCt);
  gep p;
  ecmult_fixed_complete(&p, table_g(true), d, kDigitsCt);
  gep_to_ge(r, &p);
  secure_zero(d, sizeof(d));
}

int pubkey_parse_var(ge* r, const unsigned char* in, std::size_t len) {
  if (len == 33 && (in[0] == 2 || in[0] == 3)) {
    fe x;
    if (!fe_set_b32(&x, in + 1)) return 0;
    return static_cast<int>(ge_set_xo_var(r, &x, in[0] & 1));
  }
  if (len == 65 && in[0] == 4) {
    std::uint8_t inf = 0;
    if (!ge_load_var(r, &inf, in + 1, true) || inf) return 0;
    fe_normalize(&r->x);
    fe_normalize(&r->y);
    return 1;
  }
  return 0;
}

void pubkey_serialize(unsigned char* out33, const ge* p) {
  out33[0] = static_cast<unsigned char>(2 + fe_is_odd(&p->y));
  fe_get_b32(out33 + 1, &p->x);
}

std::int64_t elgamal_encrypt(unsigned char* out, PubKey& pk, const std::int64_t* m,
                             std::size_t n, const unsigned char* nonces, int threads, bool ct,
                             bool complete) {
  for (std::size_t i = 0; i < n; ++i) {
    if (m[i] > kMaxPlaintext || m[i] < -kMaxPlaintext) return static_cast<std::int64_t>(i);
    if (nonces != nullptr) {
      scalar r;
      if (scalar_set_b32(&r, nonces + 32 * i) | scalar_is_zero(&r)) {
        return static_cast<std::int64_t>(i);
      }
    }
  }
  table_g(ct);  // build shared tables before the threads start
  pk.table(ct);
  const int nt = thread_count(n, threads, 256);
  parallel_for(n, nt, [&](int, std::size_t begin, std::size_t end) {
    EncWorkspace ws(kEncChunk, table_g(ct).nd, table_h(ct).nd);
    for_chunks(begin, end, kEncChunk, [&](std::size_t s, std::size_t b) {
      encrypt_chunk(out + s * kRowBytes, pk, m + s, nonces != nullptr ? nonces + 32 * s : nullptr,
                    b, ct, complete, ws);
    });
  });
  return -1;
}

std::int64_t elgamal_decrypt(std::int64_t* out, const SecKey& sk, const unsigned char* rows,
                             std::size_t n, const BsgsTable& t, std::uint64_t bound, int threads,
                             bool ct) {
  const SharedDigits kd(sk.k());
  const int nt = thread_count(n, threads, 128);
  std::vector<std::int64_t> first(static_cast<std::size_t>(nt), -1);
  parallel_for(n, nt, [&](int tid, std::size_t begin, std::size_t end) {
    DecWorkspace ws(kDecChunk);
    bool failed = false;
    for_chunks(begin, end, kDecChunk, [&](std::size_t st, std::size_t b) {
      if (failed) return;
      const std::int64_t bad =
          decrypt_chunk(out + st, rows + st * kRowBytes, b, kd, t, bound, ct, ws);
      if (bad >= 0) {
        first[static_cast<std::size_t>(tid)] = static_cast<std::int64_t>(st) + bad;
        failed = true;
      }
    });
  });
  for (std::int64_t f : first) {
    if (f >= 0) return f;
  }
  return -1;
}

}  // namespace fbh
