// SHA-256 following FIPS 180-4, section 6.2 (checked against hashlib in tests/crypto).
#include "sha256.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace fbh {

namespace {

constexpr std::uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

inline std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void compress(std::uint32_t* h, const unsigned char* p) {
  std::uint32_t w[64];
  for (int i = 0; i < 16; ++i) {
    w[i] = (std::uint32_t{p[4 * i]} << 24) | (std::uint32_t{p[4 * i + 1]} << 16) |
           (std::uint32_t{p[4 * i + 2]} << 8) | std::uint32_t{p[4 * i + 3]};
  }
  for (int i = 16; i < 64; ++i) {
    const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int i = 0; i < 64; ++i) {
    const std::uint32_t t1 =
        hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[i] + w[i];
    const std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

#if defined(__x86_64__)
/// The same compression with the x86 SHA extensions (4 rounds per sha256rnds2 pair; message
/// schedule by sha256msg1/msg2), following Intel's "Intel SHA Extensions" white paper (2013).
__attribute__((target("sha,sse4.1"))) void compress_shani(std::uint32_t* h,
                                                          const unsigned char* p,
                                                          std::size_t blocks) {
  const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  __m128i tmp = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h));
  __m128i s1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + 4));
  tmp = _mm_shuffle_epi32(tmp, 0xB1);         // CDAB
  s1 = _mm_shuffle_epi32(s1, 0x1B);           // EFGH
  __m128i s0 = _mm_alignr_epi8(tmp, s1, 8);   // ABEF
  s1 = _mm_blend_epi16(s1, tmp, 0xF0);        // CDGH
  for (; blocks > 0; --blocks, p += 64) {
    const __m128i abef = s0, cdgh = s1;
    __m128i w[4];
    for (int g = 0; g < 16; ++g) {
      __m128i& cur = w[g & 3];
      if (g < 4) {
        cur = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * g)), mask);
      } else {
        // W_g = msg2(msg1(W_{g-4}, W_{g-3}) + (W_{g-1}:W_{g-2} >> 4 bytes), W_{g-1})
        const __m128i t = _mm_alignr_epi8(w[(g - 1) & 3], w[(g - 2) & 3], 4);
        cur = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(cur, w[(g - 3) & 3]), t),
                                   w[(g - 1) & 3]);
      }
      __m128i msg = _mm_add_epi32(cur, _mm_loadu_si128(reinterpret_cast<const __m128i*>(kK + 4 * g)));
      s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
      msg = _mm_shuffle_epi32(msg, 0x0E);
      s0 = _mm_sha256rnds2_epu32(s0, s1, msg);
    }
    s0 = _mm_add_epi32(s0, abef);
    s1 = _mm_add_epi32(s1, cdgh);
  }
  tmp = _mm_shuffle_epi32(s0, 0x1B);          // FEBA
  s1 = _mm_shuffle_epi32(s1, 0xB1);           // DCHG
  s0 = _mm_blend_epi16(tmp, s1, 0xF0);        // DCBA
  s1 = _mm_alignr_epi8(s1, tmp, 8);           // ABEF
  _mm_storeu_si128(reinterpret_cast<__m128i*>(h), s0);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(h + 4), s1);
}

/// Two independent compressions interleaved round by round: the rounds of one stream fill
/// the latency of the other's sha256rnds2 chain (~2x the throughput of one stream on CPUs
/// where that latency, not the port, bounds a single stream).
__attribute__((target("sha,sse4.1"))) void compress_shani_x2(std::uint32_t* ha,
                                                             const unsigned char* pa,
                                                             std::uint32_t* hb,
                                                             const unsigned char* pb,
                                                             std::size_t blocks) {
  const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  std::uint32_t* hs[2] = {ha, hb};
  const unsigned char* ps[2] = {pa, pb};
  __m128i s0[2], s1[2];
  for (int x = 0; x < 2; ++x) {
    __m128i tmp = _mm_loadu_si128(reinterpret_cast<const __m128i*>(hs[x]));
    s1[x] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(hs[x] + 4));
    tmp = _mm_shuffle_epi32(tmp, 0xB1);
    s1[x] = _mm_shuffle_epi32(s1[x], 0x1B);
    s0[x] = _mm_alignr_epi8(tmp, s1[x], 8);
    s1[x] = _mm_blend_epi16(s1[x], tmp, 0xF0);
  }
  for (std::size_t blk = 0; blk < blocks; ++blk) {
    const __m128i abef[2] = {s0[0], s0[1]}, cdgh[2] = {s1[0], s1[1]};
    __m128i w[2][4];
    for (int g = 0; g < 16; ++g) {
      for (int x = 0; x < 2; ++x) {
        __m128i& cur = w[x][g & 3];
        if (g < 4) {
          cur = _mm_shuffle_epi8(
              _mm_loadu_si128(reinterpret_cast<const __m128i*>(ps[x] + 64 * blk + 16 * g)), mask);
        } else {
          const __m128i t = _mm_alignr_epi8(w[x][(g - 1) & 3], w[x][(g - 2) & 3], 4);
          cur = _mm_sha256msg2_epu32(
              _mm_add_epi32(_mm_sha256msg1_epu32(cur, w[x][(g - 3) & 3]), t), w[x][(g - 1) & 3]);
        }
        __m128i msg =
            _mm_add_epi32(cur, _mm_loadu_si128(reinterpret_cast<const __m128i*>(kK + 4 * g)));
        s1[x] = _mm_sha256rnds2_epu32(s1[x], s0[x], msg);
        msg = _mm_shuffle_epi32(msg, 0x0E);
        s0[x] = _mm_sha256rnds2_epu32(s0[x], s1[x], msg);
      }
    }
    for (int x = 0; x < 2; ++x) {
      s0[x] = _mm_add_epi32(s0[x], abef[x]);
      s1[x] = _mm_add_epi32(s1[x], cdgh[x]);
    }
  }
  for (int x = 0; x < 2; ++x) {
    const __m128i tmp = _mm_shuffle_epi32(s0[x], 0x1B);
    const __m128i t1 = _mm_shuffle_epi32(s1[x], 0xB1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(hs[x]), _mm_blend_epi16(tmp, t1, 0xF0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(hs[x] + 4), _mm_alignr_epi8(t1, tmp, 8));
  }
}

bool cpu_has_sha() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) || !(c & (1u << 9))) return false;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (b & (1u << 29)) != 0;  // SHA extensions (with SSSE3 and SSE4.1 checked above)
}
#endif

/// Compress `blocks` 64-byte blocks, with the SHA extensions where the CPU has them.
void compress_blocks(std::uint32_t* h, const unsigned char* p, std::size_t blocks) {
#if defined(__x86_64__)
  static const bool shani = cpu_has_sha();
  if (shani) {
    compress_shani(h, p, blocks);
    return;
  }
#endif
  for (; blocks > 0; --blocks, p += 64) compress(h, p);
}

/// The compressions of two streams of `blocks` blocks each, interleaved where the CPU has the
/// SHA extensions.
void compress_blocks_x2(std::uint32_t* ha, const unsigned char* pa, std::uint32_t* hb,
                        const unsigned char* pb, std::size_t blocks) {
#if defined(__x86_64__)
  static const bool shani = cpu_has_sha();
  if (shani) {
    compress_shani_x2(ha, pa, hb, pb, blocks);
    return;
  }
#endif
  compress_blocks(ha, pa, blocks);
  compress_blocks(hb, pb, blocks);
}

}  // namespace

Sha256::Sha256()
    : h{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19},
      buf{} {}

void Sha256::update(const unsigned char* data, std::size_t n) {
  std::size_t used = static_cast<std::size_t>(len % 64);
  len += n;
  if (used > 0) {
    const std::size_t take = n < 64 - used ? n : 64 - used;
    std::memcpy(buf + used, data, take);
    data += take;
    n -= take;
    if (used + take < 64) return;
    compress_blocks(h, buf, 1);
  }
  compress_blocks(h, data, n / 64);
  data += n - n % 64;
  n %= 64;
  if (n > 0) std::memcpy(buf, data, n);
}

void Sha256::finish(unsigned char* out32) {
  const std::uint64_t bits = len * 8;
  unsigned char pad[72] = {0x80};
  const std::size_t used = static_cast<std::size_t>(len % 64);
  const std::size_t npad = (used < 56 ? 56 : 120) - used;
  for (int i = 0; i < 8; ++i) pad[npad + i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
  update(pad, npad + 8);
  for (int i = 0; i < 8; ++i) {
    out32[4 * i] = static_cast<unsigned char>(h[i] >> 24);
    out32[4 * i + 1] = static_cast<unsigned char>(h[i] >> 16);
    out32[4 * i + 2] = static_cast<unsigned char>(h[i] >> 8);
    out32[4 * i + 3] = static_cast<unsigned char>(h[i]);
  }
}

void sha256_update_x2(Sha256* a, const unsigned char* pa, Sha256* b, const unsigned char* pb,
                      std::size_t n) {
  const std::size_t used = static_cast<std::size_t>(a->len % 64);
  if (used != b->len % 64) {
    a->update(pa, n);
    b->update(pb, n);
    return;
  }
  // Finish the buffered partial blocks one by one, then run the whole blocks in lockstep.
  const std::size_t head = std::min(n, (64 - used) % 64);
  a->update(pa, head);
  b->update(pb, head);
  const std::size_t blocks = (n - head) / 64;
  compress_blocks_x2(a->h, pa + head, b->h, pb + head, blocks);
  a->len += blocks * 64;
  b->len += blocks * 64;
  const std::size_t done = head + blocks * 64;
  a->update(pa + done, n - done);
  b->update(pb + done, n - done);
}

void sha256(unsigned char* out32, const unsigned char* data, std::size_t n) {
  Sha256 s;
  s.update(data, n);
  s.finish(out32);
}

}  // namespace fbh
