// Packed exponential ElGamal (multi-recipient ElGamal with randomness reuse) with a Schnorr
// proof of knowledge of each block's nonce. A block of k values under a key set P_0..P_{k-1}:
//   R = r G,  C_j = r P_j + m_j G  (j < k),  proof (A = a G, z = a + c r),
//   c = SHA-256(kChallengeTag || ctx || k || count || index || R || C_0..C_{k-1} || A) mod n.
// Points are 64-byte rows (x || y, see group.h); a block's points are R, C_0, ..., C_{k-1}.
#pragma once

#include <cstddef>
#include <cstdint>

#include "bsgs.h"
#include "keyset.h"

namespace fbh {

/// Bytes of one proof: A (64-byte point) then z (32 bytes big-endian).
constexpr std::size_t kProofBytes = 96;
/// Domain-separation tag that starts every challenge transcript (without a terminator).
constexpr char kChallengeTag[] = "FBH/packed-v2/schnorr-pok";

/// The challenge c of block `index`: pts = R || C_0..C_{k-1} ((k + 1) * 64 bytes), a = A.
void packed_challenge(scalar* c, const unsigned char* ctx32, std::uint64_t k, std::uint64_t count,
                      std::uint64_t index, const unsigned char* pts, const unsigned char* a);

/// Encrypt nblocks blocks of k values m[nblocks * k] into pts[nblocks][k + 1][64] and
/// proofs[nblocks][96], binding each proof to ctx32, count and the block index. Nonces
/// (nblocks x 64: r then a, big-endian, each in [1, n-1]) come from the caller for tests,
/// else from the OS CSPRNG. Returns -1, or the first value index with |m| > kMaxPlaintext or
/// the first block index * k with an invalid nonce.
std::int64_t packed_encrypt(unsigned char* pts, unsigned char* proofs, PubKeySet& pk,
                            const std::int64_t* m, std::size_t nblocks,
                            const unsigned char* ctx32, std::uint64_t count,
                            const unsigned char* nonces, int threads, bool ct);

/// Check every block's proof with one random linear combination (see packed_verify in
/// packed.cpp for the soundness argument). Returns -1 if all proofs hold, else the first
/// failing block. Points must already be validated.
std::int64_t packed_verify_var(const unsigned char* pts, const unsigned char* proofs,
                               std::size_t nblocks, std::size_t k, const unsigned char* ctx32,
                               std::uint64_t count, int threads);

/// out[b][j] = s_j R_b (64-byte rows; infinity as zeros) for every block: the partial
/// decryptions a guardian holding the s_j contributes.
void packed_mul_r(unsigned char* out, const SecKeySet& sk, const unsigned char* pts,
                  std::size_t nblocks, int threads, bool ct);

/// Decrypt nblocks blocks into out[nblocks * k]: m_j = dlog(C_j - s_j R). Returns -1 or the
/// first value index that does not decode within +-bound.
std::int64_t packed_decrypt(std::int64_t* out, const SecKeySet& sk, const unsigned char* pts,
                            std::size_t nblocks, const BsgsTable& t, std::uint64_t bound,
                            int threads, bool ct);

/// Check nblocks blocks: every point valid (coordinates < p, on the curve) and, with proofs,
/// every z < n and R, A finite. Returns -1 or the first bad block.
std::int64_t packed_validate_var(const unsigned char* pts, const unsigned char* proofs,
                                 std::size_t nblocks, std::size_t k, int threads);

}  // namespace fbh
