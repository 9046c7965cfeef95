// Platform-independent randomness for training data: a small seeded generator, seeds derived from
// (seed, epoch, step, item) keys and epoch permutations, identical on every compiler and machine.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace instret {

// SplitMix64 generator (std:: distributions are implementation-defined, so none is used here).
class StableRng {
 public:
  explicit StableRng(uint64_t seed);
  // The next 64 random bits.
  uint64_t next();
  // Uniform in [0, n) without modulo bias (rejection of the top remainder); n = 0 is a UsageError.
  uint64_t below(uint64_t n);
  // Uniform in [0, 1) with 53 random bits.
  double uniform();

 private:
  uint64_t state_;
};

// A seed for one independent stream, mixed from `seed` and the keys in order, e.g.
// stream_seed(seed, {epoch, step, item}); different keys (or key counts) give unrelated streams.
uint64_t stream_seed(uint64_t seed, std::initializer_list<uint64_t> keys);

// A permutation of 0..n-1 (Fisher-Yates with StableRng), a pure function of (n, seed, epoch).
std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch);

}  // namespace instret
