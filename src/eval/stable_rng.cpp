#include "instret/eval/stable_rng.h"

#include <numeric>
#include <string>
#include <utility>

#include "instret/core/error.h"

namespace instret {

namespace {

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

uint64_t splitmix64_next(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

EvalRng::EvalRng(uint64_t seed) {
  uint64_t state = seed;
  for (auto& s : s_) s = splitmix64_next(state);
}

uint64_t EvalRng::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

int64_t EvalRng::uniform_index(int64_t n) {
  if (n <= 0) throw UsageError("EvalRng::uniform_index: n must be positive, got " + std::to_string(n));
  const uint64_t un = static_cast<uint64_t>(n);
  const uint64_t limit = (0 - un) % un;  // 2^64 mod n: the low values that would bias the modulo
  uint64_t x = next_u64();
  while (x < limit) x = next_u64();
  return static_cast<int64_t>(x % un);
}

double EvalRng::uniform_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

std::vector<int64_t> EvalRng::sample_without_replacement(int64_t n, int64_t k) {
  if (k < 0 || k > n)
    throw UsageError("EvalRng::sample_without_replacement: need 0 <= k <= n, got k=" + std::to_string(k) +
                     ", n=" + std::to_string(n));
  std::vector<int64_t> pool(static_cast<size_t>(n));
  std::iota(pool.begin(), pool.end(), int64_t{0});
  for (int64_t i = 0; i < k; ++i) std::swap(pool[i], pool[i + uniform_index(n - i)]);
  pool.resize(static_cast<size_t>(k));
  return pool;
}

}  // namespace instret
