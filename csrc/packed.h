// Packed exponential ElGamal (multi-recipient ElGamal with randomness reuse) with one batched
// Schnorr proof of knowledge of all the blob's block nonces. A block of k values under a key set
// P_0..P_{k-1}: R_i = r_i G, C_ij = r_i P_j + m_ij G (j < k). The blob's proof (A = a G, z):
//   seed = SHA-256(kChallengeTag || ctx || k || count || A || every block's R_i, C_i0..C_i,k-1),
//   e_i  = 128-bit coefficients expanded from seed (packed_coeffs),  z = a + sum_i e_i r_i mod n,
// and a verifier checks z G = A + sum_i e_i R_i.
// Soundness (batched Schnorr identification: R. Gennaro, D. Leigh, R. Sundaram, W. Yerazunis,
// "Batching Schnorr identification scheme with applications to privacy-preserving
// authorization and low-bandwidth communication devices", ASIACRYPT 2004): from n + 1 accepting
// answers to one A under coefficient vectors e^(0..n) whose rows (1, e^(t)) are linearly
// independent mod n, the linear system z_t = a + sum_i e^(t)_i r_i yields a and every r_i = dlog
// R_i. A fresh uniform vector in [0, 2^128)^n falls in the span of earlier rows with
// probability <= 2^-128 (a nonzero linear form vanishing on that span depends on some
// coordinate; with the others fixed, at most one of its 2^128 values is a root), so rewinding
// (the forking lemma in the random-oracle model) extracts all nonces: a prover must know every
// r_i. Binding ctx, the header and every point makes the proof sender- and blob-bound.
// Points are 64-byte rows (x || y, see group.h); a block's points are R, C_0, ..., C_{k-1}.
#pragma once

#include <cstddef>
#include <cstdint>

#include "bsgs.h"
#include "keyset.h"

namespace fbh {

/// Bytes of the blob's proof: A (64-byte point) then z (32 bytes big-endian).
constexpr std::size_t kProofBytes = 96;
/// Domain-separation tag that starts the transcript (without a terminator).
constexpr char kChallengeTag[] = "FBH/packed-v3/batch-pok";
/// packed_validate_var's answer when the proof itself (A or z) is invalid.
constexpr std::int64_t kBadProof = -2;

/// seed32 = SHA-256(kChallengeTag || ctx32 || k || count || a || pts), with k and count as
/// big-endian u64, a = A (64 bytes) and pts the nblocks blocks ((k + 1) * 64 bytes each).
void packed_transcript_seed(unsigned char* seed32, const unsigned char* ctx32, std::uint64_t k,
                            std::uint64_t count, const unsigned char* a, const unsigned char* pts,
                            std::size_t nblocks);

/// e[0 .. end - begin) = coefficients e_begin .. e_{end-1}: e_{2t} and e_{2t+1} are the first
/// and last 16 bytes (big-endian) of SHA-256(seed32 || t as big-endian u64).
void packed_coeffs(scalar* e, const unsigned char* seed32, std::size_t begin, std::size_t end);

/// Encrypt nblocks blocks of k values m[nblocks * k] into pts[nblocks][k + 1][64] and the
/// blob's proof proof[96], bound to ctx32 and count. Nonces (nblocks + 1 rows of 32 bytes: the
/// r_i, then a; big-endian, each in [1, n-1]) come from the caller for tests, else from the OS
/// CSPRNG. Returns -1, or the first value index with |m| > kMaxPlaintext or the first block
/// index * k with an invalid nonce (nblocks * k for a).
std::int64_t packed_encrypt(unsigned char* pts, unsigned char* proof, PubKeySet& pk,
                            const std::int64_t* m, std::size_t nblocks,
                            const unsigned char* ctx32, std::uint64_t count,
                            const unsigned char* nonces, int threads, bool ct);

/// 1 if the blob's proof holds (one multi-scalar multiplication), else 0; an infinite R_i or A
/// fails. Points must already be validated.
int packed_verify_var(const unsigned char* pts, const unsigned char* proof, std::size_t nblocks,
                      std::size_t k, const unsigned char* ctx32, std::uint64_t count,
                      int threads);

/// packed_verify_var for nc blobs of the same k, count and nblocks (blob c: pts[c], proofs[c],
/// ctx32[c]); their transcripts are hashed two at a time. Returns -1 if every proof holds,
/// else the first blob whose proof fails.
std::int64_t packed_verify_many_var(const unsigned char* const* pts,
                                    const unsigned char* const* proofs,
                                    const unsigned char* const* ctx32, std::size_t nc,
                                    std::size_t nblocks, std::size_t k, std::uint64_t count,
                                    int threads);

/// out[b][j] = s_j R_b (64-byte rows; infinity as zeros) for every block: the partial
/// decryptions a guardian holding the s_j contributes.
void packed_mul_r(unsigned char* out, const SecKeySet& sk, const unsigned char* pts,
                  std::size_t nblocks, int threads, bool ct);

/// Decrypt nblocks blocks into out[nblocks * k]: m_j = dlog(C_j - s_j R). Returns -1 or the
/// first value index that does not decode within +-bound.
std::int64_t packed_decrypt(std::int64_t* out, const SecKeySet& sk, const unsigned char* pts,
                            std::size_t nblocks, const BsgsTable& t, std::uint64_t bound,
                            int threads, bool ct);

/// Check nblocks blocks: every point valid (coordinates < p, on the curve) and, with a proof,
/// A valid and finite and z < n. Returns -1, kBadProof, or the first bad block.
std::int64_t packed_validate_var(const unsigned char* pts, const unsigned char* proofs,
                                 std::size_t nblocks, std::size_t k, int threads);

}  // namespace fbh
