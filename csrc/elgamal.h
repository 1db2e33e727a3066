// Exponential ElGamal on secp256k1 over batches: keys, encrypt, decrypt, aggregate and the
// ciphertext row operations. A ciphertext row is kRowBytes: C1 (x || y) then C2 (x || y).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>

#include "bsgs.h"
#include "ecmult.h"
#include "group.h"
#include "scalar.h"

namespace fbh {

/// Bytes per ciphertext row: two uncompressed points without prefix.
constexpr std::size_t kRowBytes = 2 * kPointBytes;
/// Largest |m| accepted by encrypt (the plaintext offset below needs |m| < 2^48).
constexpr std::int64_t kMaxPlaintext = (std::int64_t{1} << 47) - 1;

/// A public key with its fixed-base tables, each built on first use.
class PubKey {
 public:
  explicit PubKey(const ge& point) : point_(point) {}
  /// The key as an affine point.
  const ge& point() const { return point_; }
  /// The window table of the key for the constant-time (ct) or fast mode.
  const FixedTable& table(bool ct);

 private:
  ge point_;
  FixedTable ct_, fast_;
  std::once_flag ct_once_, fast_once_;
};

/// A private key; the scalar is cleared on destruction.
class SecKey {
 public:
  explicit SecKey(const scalar& k) : k_(k) {}
  ~SecKey() { secure_zero(&k_, sizeof(k_)); }
  SecKey(const SecKey&) = delete;
  SecKey& operator=(const SecKey&) = delete;
  /// The secret scalar.
  const scalar& k() const { return k_; }

 private:
  scalar k_;
};

/// A uniform scalar in [1, n - 1] from the OS CSPRNG (rejection sampling).
void scalar_random(scalar* r);

/// Public point k * G, constant time.
void pubkey_from_secret(ge* r, const scalar* k);

/// Parse a SEC1 public key (33 compressed or 65 uncompressed bytes); returns 0 if invalid.
int pubkey_parse_var(ge* r, const unsigned char* in, std::size_t len);

/// Serialize p as 33 SEC1 compressed bytes.
void pubkey_serialize(unsigned char* out33, const ge* p);

/// Regular digits of the plaintext multiples of m[0..n) into dm (n rows of the returned count):
/// k_m = 2 (m + 2^48) + 1 over the table of H = G / 2 in constant time (all digits), or
/// k_m = 2 m + 1 with only the digits the batch needs in the fast mode (variable time in m).
/// Adding msg_offset(ct) to k_m H gives m G.
int message_digits(digit* dm, const std::int64_t* m, std::size_t n, bool ct);

/// Encrypt m[0..n) into rows out[n][kRowBytes]; nonces (n x 32 big-endian, each in
/// [1, n-1]) come from the caller if given, else from the OS CSPRNG. ct selects the
/// constant-time path; complete forces the slow complete-formula path (for tests).
/// Returns -1, or the first index with |m| > kMaxPlaintext or an invalid nonce.
std::int64_t elgamal_encrypt(unsigned char* out, PubKey& pk, const std::int64_t* m,
                             std::size_t n, const unsigned char* nonces, int threads, bool ct,
                             bool complete);

/// Decrypt n rows with key sk into out, decoding with table t; returns -1 or the first index
/// whose plaintext is not within +-bound.
std::int64_t elgamal_decrypt(std::int64_t* out, const SecKey& sk, const unsigned char* rows,
                             std::size_t n, const BsgsTable& t, std::uint64_t bound, int threads,
                             bool ct);

}  // namespace fbh
