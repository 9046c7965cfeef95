#include "instret/data/sampling.h"

#include <utility>

#include "instret/core/error.h"
#include "instret/core/hash.h"

namespace instret {

namespace {
constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;
// Keeps epoch permutations apart from streams a caller derives with the same numbers as keys.
constexpr uint64_t kPermutationTag = 0x7065726d75746521ull;
}  // namespace

uint64_t stream_seed(uint64_t seed, std::initializer_list<uint64_t> keys) {
  uint64_t h = splitmix64(seed);
  for (uint64_t key : keys) h = splitmix64(h ^ splitmix64(key + kGolden));
  return h;
}

std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch) {
  if (n < 0) throw UsageError("epoch_permutation: negative size " + std::to_string(n));
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
  StableRng rng(stream_seed(seed, {kPermutationTag, static_cast<uint64_t>(epoch)}));
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(rng.below(uint64_t(i) + 1))]);
  return order;
}

}  // namespace instret
