// Key sets for packed (multi-recipient) ElGamal: k independent key pairs (s_j, P_j = s_j G)
// and the interleaved fixed-base tables that let one nonce serve G and every P_j at once.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "ecmult.h"
#include "group.h"
#include "scalar.h"

namespace fbh {

/// Largest number of slots (keys) in a key set.
constexpr std::size_t kMaxSlots = 256;

/// Fixed-base tables of nb bases, interleaved so that one digit selects the same multiple of
/// every base from one contiguous run: entry (position i, index e, base j) is
/// t[(i * entries + e) * nb + j] = (2e + 1) 2^(w i) base_j.
struct MultiTable {
  int w = 0;
  int nd = 0;
  std::size_t entries = 0;  // 2^(w - 1)
  std::size_t nb = 0;
  std::vector<ge> t;
  /// The nb entries of (position i, index e).
  const ge* at(int i, std::size_t e) const {
    return t.data() + (static_cast<std::size_t>(i) * entries + e) * nb;
  }
};

/// Build the interleaved table of bases[0..nb) for nd positions of width w.
void multi_table_build(MultiTable* r, const ge* bases, std::size_t nb, int w, int nd);

/// out[j] = entry (pos, d) of bases j0 .. j0 + nj - 1, negated if d.neg. With ct every entry
/// of the position is read (the access pattern does not depend on d).
void multi_table_select(ge* out, const MultiTable& t, int pos, digit d, std::size_t j0,
                        std::size_t nj, bool ct);

/// A public key set P_0 .. P_{k-1} with its tables (bases G, P_0, ..., P_{k-1}), built on first use.
class PubKeySet {
 public:
  explicit PubKeySet(std::vector<ge> points) : points_(std::move(points)) {}
  std::size_t k() const { return points_.size(); }
  const ge* points() const { return points_.data(); }
  /// The interleaved table for the constant-time (ct) or fast mode.
  const MultiTable& table(bool ct);

 private:
  std::vector<ge> points_;
  MultiTable ct_, fast_;
  std::once_flag ct_once_, fast_once_;
};

/// A secret key set s_0 .. s_{k-1}; the scalars are cleared on destruction.
class SecKeySet {
 public:
  explicit SecKeySet(std::vector<scalar> s) : s_(std::move(s)) {}
  ~SecKeySet() { secure_zero(s_.data(), s_.size() * sizeof(scalar)); }
  SecKeySet(const SecKeySet&) = delete;
  SecKeySet& operator=(const SecKeySet&) = delete;
  std::size_t k() const { return s_.size(); }
  const scalar& s(std::size_t j) const { return s_[j]; }

 private:
  std::vector<scalar> s_;
};

}  // namespace fbh
