// SHA-256 (FIPS 180-4) for host and device: the packed proofs' Fiat-Shamir challenge is
// computed inside the kernels. Streaming interface without heap or STL.
#pragma once

#include "hd.h"

namespace fbh {
namespace portable {

struct sha256 {
  u32 h[8];
  unsigned char buf[64];
  u64 len;  // bytes hashed so far
};

FBH_HD u32 sha256_rotr(u32 x, int n) { return (x >> n) | (x << (32 - n)); }

/// Process one 64-byte block.
FBH_HD void sha256_block(sha256* s, const unsigned char* p) {
  const u32 k[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
      0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
      0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
      0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
      0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
      0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
      0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
  u32 w[64];
  for (int i = 0; i < 16; ++i) {
    w[i] = (static_cast<u32>(p[4 * i]) << 24) | (static_cast<u32>(p[4 * i + 1]) << 16) |
           (static_cast<u32>(p[4 * i + 2]) << 8) | static_cast<u32>(p[4 * i + 3]);
  }
  for (int i = 16; i < 64; ++i) {
    const u32 s0 = sha256_rotr(w[i - 15], 7) ^ sha256_rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const u32 s1 = sha256_rotr(w[i - 2], 17) ^ sha256_rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  u32 a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
  u32 e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
  for (int i = 0; i < 64; ++i) {
    const u32 t1 = h + (sha256_rotr(e, 6) ^ sha256_rotr(e, 11) ^ sha256_rotr(e, 25)) +
                   ((e & f) ^ (~e & g)) + k[i] + w[i];
    const u32 t2 = (sha256_rotr(a, 2) ^ sha256_rotr(a, 13) ^ sha256_rotr(a, 22)) +
                   ((a & b) ^ (a & c) ^ (b & c));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  s->h[0] += a;
  s->h[1] += b;
  s->h[2] += c;
  s->h[3] += d;
  s->h[4] += e;
  s->h[5] += f;
  s->h[6] += g;
  s->h[7] += h;
}

FBH_HD void sha256_init(sha256* s) {
  const u32 iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  for (int i = 0; i < 8; ++i) s->h[i] = iv[i];
  s->len = 0;
}

FBH_HD void sha256_update(sha256* s, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    s->buf[s->len % 64] = p[i];
    ++s->len;
    if (s->len % 64 == 0) sha256_block(s, s->buf);
  }
}

FBH_HD void sha256_finish(sha256* s, unsigned char out[32]) {
  const u64 bits = s->len * 8;
  const unsigned char one = 0x80, zero = 0;
  sha256_update(s, &one, 1);
  while (s->len % 64 != 56) sha256_update(s, &zero, 1);
  unsigned char be[8];
  store_be64(be, bits);
  sha256_update(s, be, 8);
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<unsigned char>(s->h[i] >> (24 - 8 * j));
  }
}

}  // namespace portable
}  // namespace fbh
