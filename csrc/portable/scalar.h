// Scalars modulo the group order n of secp256k1 for host and device, 4 x 64-bit limbs
// (least significant first). Only what the packed kernels need: parse, serialize, add,
// multiply (the 512-bit product is folded with 2^256 = 2^256 - n (mod n), as in
// bitcoin-core/secp256k1 scalar_4x64_impl.h, by a fixed number of generic passes).
#pragma once

#include "hd.h"

namespace fbh {
namespace portable {

/// A scalar: value = sum d[i] 2^(64 i), fully reduced (< n) after every operation.
struct scalar {
  u64 d[4];
};

// Limbs of n and of 2^256 - n (functions: namespace-scope arrays are not visible to device code).
FBH_HD u64 n_limb(int i) {
  return i == 0 ? 0xBFD25E8CD0364141ULL : i == 1 ? 0xBAAEDCE6AF48A03BULL
       : i == 2 ? 0xFFFFFFFFFFFFFFFEULL : 0xFFFFFFFFFFFFFFFFULL;
}
FBH_HD u64 nc_limb(int i) { return i == 0 ? 0x402DA1732FC9BEBFULL : i == 1 ? 0x4551231950B75FC4ULL : i == 2 ? 1 : 0; }

/// 1 if a >= n.
FBH_HD u64 scalar_check_overflow(const u64 a[4]) {
  for (int i = 3; i >= 0; --i) {
    if (a[i] != n_limb(i)) return a[i] > n_limb(i) ? 1 : 0;
  }
  return 1;
}

/// r = a + 2^256 - n (mod 2^256): a - n when a >= n.
FBH_HD void scalar_add_nc(u64 r[4], const u64 a[4]) {
  u128 t = 0;
  for (int i = 0; i < 4; ++i) {
    t += static_cast<u128>(a[i]) + nc_limb(i);
    r[i] = static_cast<u64>(t);
    t >>= 64;
  }
}

/// Parse 32 big-endian bytes reduced mod n; returns 1 if the input was >= n.
FBH_HD u64 scalar_set_b32(scalar* r, const unsigned char* b32) {
  for (int i = 0; i < 4; ++i) r->d[i] = load_be64(b32 + 24 - 8 * i);
  const u64 over = scalar_check_overflow(r->d);
  if (over) scalar_add_nc(r->d, r->d);
  return over;
}

/// Write r as 32 big-endian bytes.
FBH_HD void scalar_get_b32(unsigned char* b32, const scalar* a) {
  for (int i = 0; i < 4; ++i) store_be64(b32 + 24 - 8 * i, a->d[i]);
}

/// 1 if a == 0.
FBH_HD u64 scalar_is_zero(const scalar* a) {
  return (a->d[0] | a->d[1] | a->d[2] | a->d[3]) == 0 ? 1 : 0;
}

/// r = a + b (mod n).
FBH_HD void scalar_add(scalar* r, const scalar* a, const scalar* b) {
  u128 t = 0;
  u64 s[4];
  for (int i = 0; i < 4; ++i) {
    t += static_cast<u128>(a->d[i]) + b->d[i];
    s[i] = static_cast<u64>(t);
    t >>= 64;
  }
  // a + b < 2n: subtract n once if the sum carried out of 2^256 or is >= n.
  if (static_cast<u64>(t) | scalar_check_overflow(s)) scalar_add_nc(s, s);
  for (int i = 0; i < 4; ++i) r->d[i] = s[i];
}

/// r = a * b (mod n).
FBH_HD void scalar_mul(scalar* r, const scalar* a, const scalar* b) {
  u64 l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) {
    u128 c = 0;
    for (int j = 0; j < 4; ++j) {
      c += mul_wide(a->d[i], b->d[j]) + l[i + j];
      l[i + j] = static_cast<u64>(c);
      c >>= 64;
    }
    l[i + 4] = static_cast<u64>(c);
  }
  // lo + hi 2^256 = lo + hi (2^256 - n) (mod n). From < 2^512 the passes leave values below
  // 2^386, 2^260, 2^256 + 2^133 and finally 2^256 (n > 2^255 makes one subtraction enough).
  for (int pass = 0; pass < 4; ++pass) {
    u64 o[8] = {l[0], l[1], l[2], l[3], 0, 0, 0, 0};
    for (int i = 0; i < 4; ++i) {
      u128 c = 0;
      for (int j = 0; j < 3; ++j) {
        c += mul_wide(l[4 + i], nc_limb(j)) + o[i + j];
        o[i + j] = static_cast<u64>(c);
        c >>= 64;
      }
      for (int j = i + 3; j < 8 && c != 0; ++j) {
        c += o[j];
        o[j] = static_cast<u64>(c);
        c >>= 64;
      }
    }
    for (int i = 0; i < 8; ++i) l[i] = o[i];
  }
  if (scalar_check_overflow(l)) scalar_add_nc(l, l);
  for (int i = 0; i < 4; ++i) r->d[i] = l[i];
}

}  // namespace portable
}  // namespace fbh
