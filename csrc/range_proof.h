// Range proofs for single slots of packed ElGamal blocks, format v3: Pedersen bit commitments
// with one Cramer-Damgard-Schoenmakers OR-proof per bit and one linking proof per slot (see
// src/fbh/crypto/range_proof.py for the construction, the transcript and the soundness
// argument; this is its fast implementation). A slot statement is (P_j, R, C_j) with R = r G,
// C_j = r P_j + m G and a public bound B >= 1; the proof shows m in [-B, B] exactly:
// x = m + B = sum_i w_i b_i with b_i in {0, 1}, w_i = 2^i for i < L - 1,
// w_(L-1) = 2B - 2^(L-1) + 1, L = bitlen(2B) (Schoenmakers 2005).
// Proof layout for L bits, 288 (L + 1) bytes (64-byte points, 32-byte big-endian scalars):
//   Com_0 .. Com_(L-1), then per bit A0 || A1 || c0 || z0 || z1, then T1 || T2 || T3 ||
//   s_r || s_m || s_rho.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fbh {

/// Largest bit count a range proof supports.
constexpr int kRangeMaxBits = 48;
/// Largest bound B: 2B must fit in kRangeMaxBits bits.
constexpr std::int64_t kRangeMaxBound = (std::int64_t{1} << (kRangeMaxBits - 1)) - 1;
/// Domain-separation tag that starts every statement hash (without a terminator).
constexpr char kRangeTag[] = "FBH/range-v3/pedersen-bits";

/// L = bitlen(2B), the number of bits proven for 1 <= bound <= kRangeMaxBound.
int range_bits(std::int64_t bound);

/// w_i: 2^i below the top bit, 2B - 2^(L-1) + 1 for the top bit i = L - 1.
std::uint64_t range_weight(std::int64_t bound, int i);

/// Bytes of one slot's proof for `bits` bits.
std::size_t range_proof_bytes(int bits);

class PubKeySet;
struct scalar;
struct ge;
struct FixedTable;

/// H, the Pedersen commitments' second generator: try-and-increment hash to the curve of the
/// seed "FBH/range-v3/pedersen-H" (range_proof.py's hash_to_curve; nobody knows log_G H).
const ge& range_generator_h();

/// H's constant-time comb table (the shape of table_g(true)), built on first use.
const FixedTable& range_table_h();

/// h = SHA-256 of the statement (tag, length-prefixed ctx, block, slot, B, key, R, C and the
/// L commitments at commits): the Fiat-Shamir seed of every challenge.
void range_statement_hash(unsigned char* h, const unsigned char* ctx, std::size_t ctx_len,
                          std::uint64_t block, std::uint64_t slot, std::int64_t bound,
                          const unsigned char* key, const unsigned char* r, const unsigned char* c,
                          const unsigned char* commits);

/// c = SHA-256(h || i || A0 A1) mod n, the challenge of bit i (aa: 2 points).
void range_bit_challenge(scalar* c, const unsigned char* h, int i, const unsigned char* aa);

/// e = SHA-256(h || "link" || T1 T2 T3) mod n, the linking proof's challenge (ts: 3 points).
void range_link_challenge(scalar* e, const unsigned char* h, const unsigned char* ts);

/// Prove |m[t]| <= bound for n slots, item t being (P_slots[t] of pk, rs[t], cs[t]) (64-byte
/// points), plaintext m[t],
/// the block nonce nonces[t] (32 bytes big-endian), its block and slot index, all bound to
/// ctx (ctx_len bytes). Constant time in the secrets (nonce, value and its bits, commitment and
/// proof nonces, which OR branch is real): fixed-base comb multiplications only
/// (range_prove.cpp says why).
/// Returns -1, or the first item whose value is out of range or whose points do not parse
/// (then nothing is written).
std::int64_t range_prove(unsigned char* out, std::size_t n, std::int64_t bound, const unsigned char* ctx,
                         std::size_t ctx_len, PubKeySet& pk, const unsigned char* rs,
                         const unsigned char* cs, const std::int64_t* m,
                         const unsigned char* nonces, const std::uint64_t* blocks,
                         const std::uint64_t* slots, int threads);

/// Verify n proofs with one random linear combination of all their equations (a cheating
/// proof passes with probability ~2^-128); on failure, items are re-checked one by one.
/// Returns -1 if all hold, else the first failing item. Variable time: public inputs only.
std::int64_t range_verify_var(const unsigned char* proofs, std::size_t n, std::int64_t bound,
                              const unsigned char* ctx, std::size_t ctx_len,
                              const unsigned char* keys, const unsigned char* rs,
                              const unsigned char* cs, const std::uint64_t* blocks,
                              const std::uint64_t* slots, int threads);

}  // namespace fbh
