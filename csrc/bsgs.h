// Baby-step giant-step decoding of m * G for small |m| (Shanks), keyed by an x prefix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "group.h"

namespace fbh {

/// Open-addressing table of x(m G) -> m for m in [1, baby]; x is shared by +-m, so one
/// entry decodes both signs (the stored y parity tells which).
struct BsgsTable {
  std::uint64_t baby = 0;  // T: largest m stored
  std::uint64_t mask = 0;  // capacity - 1
  std::vector<std::uint64_t> slots;  // tag (40 bits of x) << 24 | (m << 1 | y parity); 0 = empty
  ge giant;                // (2T + 1) G, the giant step
};

/// Build the table for baby steps m in [1, baby] (baby <= kMaxBabySteps) with up to `threads`
/// threads.
void bsgs_build(BsgsTable* r, std::uint64_t baby, int threads);

/// Largest number of baby steps a table may hold (2^21 points: a 32 MiB table).
constexpr std::uint64_t kMaxBabySteps = std::uint64_t{1} << 21;

/// Look up the affine point p = orig - base G; on success writes m = base +- j with
/// m G == orig confirmed on the whole point (not just the x prefix), and returns 1.
int bsgs_lookup_var(std::int64_t* m, const BsgsTable& t, const ge* p, const ge* orig,
                    std::int64_t base);

/// Decode n points (inf flags mark m = 0) into out; |m| must be <= bound, found with giant
/// steps beyond T (both signs in one pass). Every value is confirmed against its point.
/// Returns the first index that does not decode within bound, or -1.
std::int64_t bsgs_decode_var(std::int64_t* out, const BsgsTable& t, const ge* p,
                             const std::uint8_t* inf, std::size_t n, std::uint64_t bound);

}  // namespace fbh
