// Scalar multiplication: fixed-base window tables (for G, H = G/2 and public keys) and the
// batched variable-base multiplication by one shared scalar (decryption, k * ciphertext).
#pragma once

#include <cstddef>
#include <vector>

#include "group.h"
#include "scalar.h"

namespace fbh {

/// Window width and digit count of the constant-time fixed-base tables (w * nd >= 257).
constexpr int kWinCt = 6;
constexpr int kDigitsCt = 43;
/// Window width and digit count of the fast-mode (variable-time) fixed-base tables.
constexpr int kWinFast = 12;
constexpr int kDigitsFast = 22;
/// Digits for the plaintext multiple (k_m < 2^51 needs w * nd >= 52), per mode; the fast
/// mode uses only as many as the largest |m| of a chunk needs.
constexpr int kDigitsMsgCt = 9;
constexpr int kDigitsMsgFast = 5;
/// Window width and digit count of each GLV half (|k_i| + 2 < 2^129 needs w * nd >= 130).
constexpr int kWinMul = 5;
constexpr int kDigitsMul = 26;

/// Odd multiples of a base point: entry [i][j] = (2j + 1) * 2^(w i) * base.
struct FixedTable {
  int w = 0;
  int nd = 0;
  std::size_t entries = 0;  // 2^(w - 1) per position
  std::vector<ge> t;
  /// The entries of digit position i.
  const ge* pos(int i) const { return t.data() + static_cast<std::size_t>(i) * entries; }
};

/// Build the table of odd multiples of base for nd positions of width w.
void fixed_table_build(FixedTable* r, const ge* base, int w, int nd);

/// r = sum_i d_i 2^(w i) * base via the table, complete formulas, constant time.
void ecmult_fixed_complete(gep* r, const FixedTable& table, const digit* d, int nd);

/// r = k * p by a double-and-add-always ladder with complete formulas, constant time.
void ecmult_const_complete(gep* r, const ge* p, const scalar* k);

/// Process-wide tables for G and H = ((n + 1) / 2) * G, built on first use.
const FixedTable& table_g(bool ct);
const FixedTable& table_h(bool ct);

/// The constant added to k_m * H to give m * G: -(2^48 G + H) for the constant-time
/// encoding k_m = 2 (m + 2^48) + 1, and -H for the fast encoding k_m = 2 m + 1.
const ge& msg_offset(bool ct);

/// Regular GLV digits of a secret scalar k shared by a whole batch (cleared on destruction).
struct SharedDigits {
  scalar k;
  digit d1[kDigitsMul], d2[kDigitsMul];
  // Parity corrections: the digits encode |k_i| + e_i; the batch adds e_i (lambda^i) P,
  // negated when n_i is set, to cancel them (see scalar_recode_half).
  u64 e1 = 0, e2 = 0, n1 = 0, n2 = 0;
  explicit SharedDigits(const scalar& s);
  ~SharedDigits();
  SharedDigits(const SharedDigits&) = delete;
  SharedDigits& operator=(const SharedDigits&) = delete;
};

/// Scratch buffers for ecmult_shared_batch, sized for batches of up to n points.
struct MulWorkspace {
  std::vector<ge> tab, acc, q, p2;
  std::vector<fe> scratch;
  explicit MulWorkspace(std::size_t n);
  ~MulWorkspace();
};

/// out[i] = k * in[i] for i < n (all inputs finite, out may alias in), sharing one field
/// inversion per step across the batch (GLV halves, w = 5). With ct: regular digits and table
/// scans (constant time in k); otherwise width-5 NAF skipping zero digits, direct indexing.
/// If an addition meets its own operand (special k only) every point is redone with
/// ecmult_const_complete; inf receives the infinity flags.
void ecmult_shared_batch(ge* out, std::uint8_t* inf, const ge* in, std::size_t n,
                         const SharedDigits& k, bool ct, MulWorkspace& ws);

}  // namespace fbh
