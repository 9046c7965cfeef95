// Platform-independent randomness for training data (with the core StableRng): seeds derived from
// (seed, epoch, step, item) keys and epoch permutations, identical on every compiler and machine.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "instret/core/stable_rng.h"

namespace instret {

// A seed for one independent stream, mixed from `seed` and the keys in order, e.g.
// stream_seed(seed, {epoch, step, item}); different keys (or key counts) give unrelated streams.
uint64_t stream_seed(uint64_t seed, std::initializer_list<uint64_t> keys);

// A permutation of 0..n-1 (Fisher-Yates with StableRng), a pure function of (n, seed, epoch).
std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch);

}  // namespace instret
