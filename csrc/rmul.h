// One point times many secret scalars: s_j R for every slot key s_j of a key set, with one
// table of R shared by all the slots (the decryption step of packed ElGamal).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "ecmult.h"

namespace fbh {

/// GLV digits of each slot key (SharedDigits: width kWinMul, kDigitsMul per half).
using KeyDigits = std::vector<std::unique_ptr<SharedDigits>>;

/// Scratch buffers for rmul_batch over up to b points and k keys.
struct RMulWorkspace {
  std::size_t b, k;
  std::vector<ge> tab, p2, base, dbl, acc, q;
  std::vector<fe> scratch;
  RMulWorkspace(std::size_t b, std::size_t k);
  ~RMulWorkspace();
};

/// out[i * k + j] = s_j r[i] for i < n (r finite, n <= ws.b), inf the infinity flags.
///
/// Per point: one fixed-base table of odd multiples (2e + 1) 2^(5 i) R for the 26 digit
/// positions of a GLV half (26 * 15 additions + 26 * 5 doublings = 520 batched steps; the
/// other half uses lambda R = (beta x, y) from the same table for one multiplication), then
/// per key 2 * 26 table additions + 2 parity corrections = 53 steps and no doublings. For
/// k = 32 slots: 520 + 32 * 53 = 2216 steps per block, 69 per value, against 191 per value
/// for a separate double-and-add per slot. Every step is an affine addition batched over
/// the n points (and the k keys), sharing one field inversion. With ct the digits select
/// table entries by full scans (constant time in the keys); R is public.
void rmul_batch(ge* out, std::uint8_t* inf, const ge* r, std::size_t n, const KeyDigits& kd,
                bool ct, RMulWorkspace& ws);

}  // namespace fbh
