// A platform-independent pseudo-random generator for evaluation protocols (trial sampling, chance
// levels): the same seed gives the same draws on every compiler and standard library.
#pragma once
#include <cstdint>
#include <vector>

namespace instret {

// xoshiro256** (Blackman & Vigna 2018) seeded by four outputs of splitmix64(seed). Unlike std::
// distributions, every derived draw below is defined here, so results never depend on the library.
class EvalRng {
 public:
  explicit EvalRng(uint64_t seed);

  // Next raw 64-bit output of xoshiro256**.
  uint64_t next_u64();
  // Uniform integer in [0, n), unbiased (rejection of the low remainder zone). Throws UsageError if n <= 0.
  int64_t uniform_index(int64_t n);
  // Uniform double in [0, 1) with 53 random bits: (next_u64() >> 11) * 2^-53.
  double uniform_double();
  // k distinct values of [0, n) in draw order, by a partial Fisher-Yates shuffle of 0..n-1
  // (element i swapped with i + uniform_index(n - i)). Throws UsageError unless 0 <= k <= n.
  std::vector<int64_t> sample_without_replacement(int64_t n, int64_t k);

 private:
  uint64_t s_[4];
};

// One step of splitmix64: advances `state` by 0x9e3779b97f4a7c15 and returns the mixed value.
uint64_t splitmix64_next(uint64_t& state);

}  // namespace instret
