// SHA-256 (FIPS 180-4) for the Fiat-Shamir challenges of the packed-ciphertext proofs.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fbh {

/// Incremental SHA-256 state.
struct Sha256 {
  std::uint32_t h[8];
  unsigned char buf[64];
  std::uint64_t len = 0;  // bytes absorbed so far
  Sha256();
  /// Absorb n bytes.
  void update(const unsigned char* data, std::size_t n);
  /// Write the 32-byte digest (the state is left unusable).
  void finish(unsigned char* out32);
};

/// a.update(pa, n) and b.update(pb, n) with the two streams' compressions interleaved (about
/// twice one stream's throughput with the SHA extensions) when both have absorbed the same
/// length mod 64; otherwise one after the other.
void sha256_update_x2(Sha256* a, const unsigned char* pa, Sha256* b, const unsigned char* pb,
                      std::size_t n);

/// out32 = SHA-256(data[0..n)).
void sha256(unsigned char* out32, const unsigned char* data, std::size_t n);

}  // namespace fbh
