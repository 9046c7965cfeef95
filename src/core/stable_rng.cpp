#include "instret/core/stable_rng.h"

#include <numeric>
#include <string>
#include <utility>

#include "instret/core/error.h"
#include "instret/core/hash.h"

namespace instret {

namespace {
constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;
}  // namespace

StableRng::StableRng(uint64_t seed) : state_(seed) {}

uint64_t StableRng::next() {
  const uint64_t value = splitmix64(state_);  // the finaliser of state_ + kGolden
  state_ += kGolden;
  return value;
}

uint64_t StableRng::below(uint64_t n) {
  if (n == 0) throw UsageError("StableRng::below(0): the range is empty");
  // 2^64 mod n: values below it would make the low residues more likely, so they are redrawn.
  const uint64_t threshold = (0 - n) % n;
  while (true) {
    const uint64_t r = next();
    if (r >= threshold) return r % n;
  }
}

double StableRng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

std::vector<int64_t> StableRng::sample_without_replacement(int64_t n, int64_t k) {
  if (k < 0 || k > n)
    throw UsageError("StableRng::sample_without_replacement: need 0 <= k <= n, got k=" + std::to_string(k) +
                     ", n=" + std::to_string(n));
  std::vector<int64_t> pool(static_cast<size_t>(n));
  std::iota(pool.begin(), pool.end(), int64_t{0});
  for (int64_t i = 0; i < k; ++i)
    std::swap(pool[size_t(i)], pool[size_t(i + int64_t(below(uint64_t(n - i))))]);
  pool.resize(static_cast<size_t>(k));
  return pool;
}

}  // namespace instret
