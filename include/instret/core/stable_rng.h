// The one platform-independent pseudo-random generator of the toolkit (training data sampling,
// evaluation protocols, chance levels): the same seed gives the same draws on every compiler and
// standard library, because no std:: distribution is used.
#pragma once
#include <cstdint>
#include <vector>

namespace instret {

// SplitMix64 (Steele, Lea & Flood 2014; Vigna's splitmix64.c): state += 0x9e3779b97f4a7c15, output
// = the splitmix64 finaliser of the state, so StableRng(0).next() = 0xe220a8397b1dcdaf. Every derived
// draw below is defined here.
class StableRng {
 public:
  explicit StableRng(uint64_t seed);
  // The next 64 random bits.
  uint64_t next();
  // Uniform in [0, n) without modulo bias (outputs below 2^64 mod n are redrawn); n = 0 is a UsageError.
  uint64_t below(uint64_t n);
  // Uniform in [0, 1) with 53 random bits: (next() >> 11) * 2^-53.
  double uniform();
  // k distinct values of [0, n) in draw order, by a partial Fisher-Yates shuffle of 0..n-1
  // (element i swapped with i + below(n - i)). Throws UsageError unless 0 <= k <= n.
  std::vector<int64_t> sample_without_replacement(int64_t n, int64_t k);

 private:
  uint64_t state_;
};

}  // namespace instret
