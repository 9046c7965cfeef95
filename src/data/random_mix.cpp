#include "instret/data/random_mix.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "instret/core/config_checks.h"
#include "instret/core/error.h"
#include "instret/data/sampling.h"

namespace instret {

void check_random_mix(const RandomMixConfig& config, const std::string& key_prefix) {
  config_require(config.min_tracks >= 1 && config.min_tracks <= config.max_tracks, key_prefix + "min_tracks",
                 "must lie in [1, max_tracks], got " + std::to_string(config.min_tracks) + " with max_tracks " +
                     std::to_string(config.max_tracks));
  const auto& w = config.track_weights;
  if (!w.empty()) {
    config_require(int64_t(w.size()) == int64_t(config.max_tracks) - config.min_tracks + 1, key_prefix + "track_weights",
                   "has " + std::to_string(w.size()) + " weights, needs one per count " +
                       std::to_string(config.min_tracks) + ".." + std::to_string(config.max_tracks) +
                       " (or none: uniform)");
    double total = 0;
    for (double x : w) {
      config_require(std::isfinite(x) && x >= 0, key_prefix + "track_weights", "must be finite and >= 0");
      total += x;
    }
    config_require(total > 0, key_prefix + "track_weights", "must not all be 0");
  }
  const double lo = config.gain_db_min, hi = config.gain_db_max;
  config_require(std::isfinite(lo) && std::isfinite(hi) && lo <= hi && lo >= -60 && hi <= 20, key_prefix + "gain_db",
                 "must be [min, max] with -60 <= min <= max <= 20 dB");
}

MixRecipe random_mix_recipe(const NlakhSingle& data, const RandomMixConfig& config, uint64_t seed, int64_t epoch,
                            int64_t step, int64_t item) {
  check_random_mix(config);
  const std::vector<int64_t>& pool = data.instruments_with_clips();
  const int64_t available = int64_t(pool.size());
  const int64_t hi = std::min<int64_t>(config.max_tracks, available);
  const int64_t lo = std::min<int64_t>(config.min_tracks, hi);
  StableRng rng(stream_seed(seed, {uint64_t(epoch), uint64_t(step), uint64_t(item)}));
  int64_t n = lo;
  if (config.track_weights.empty() || hi <= lo) {
    n = lo + int64_t(rng.below(uint64_t(hi - lo + 1)));
  } else {
    // The weights of the counts that fit (lo .. hi), drawn by inverse CDF.
    const auto weight = [&](int64_t count) { return config.track_weights[size_t(count - config.min_tracks)]; };
    double total = 0;
    for (int64_t c = lo; c <= hi; ++c) total += weight(c);
    if (total > 0) {
      double u = rng.uniform() * total;
      n = hi;
      for (int64_t c = lo; c <= hi; ++c) {
        if (u < weight(c)) {
          n = c;
          break;
        }
        u -= weight(c);
      }
    } else {
      n = hi;  // every count that fits has weight 0: as many as there are
    }
  }
  // Distinct instruments by redrawing repeats: n <= 9 and the pool is usually far larger.
  std::vector<int64_t> chosen;
  chosen.reserve(size_t(n));
  while (int64_t(chosen.size()) < n) {
    const int64_t inst = pool[size_t(rng.below(uint64_t(available)))];
    if (std::find(chosen.begin(), chosen.end(), inst) == chosen.end()) chosen.push_back(inst);
  }
  MixRecipe recipe;
  recipe.clips.reserve(chosen.size());
  for (int64_t inst : chosen) {
    const std::vector<int64_t>& own = data.clips_by_instrument()[size_t(inst)];
    recipe.clips.push_back(own[size_t(rng.below(own.size()))]);
  }
  recipe.gains.assign(recipe.clips.size(), 1.0f);
  if (config.gain_db_max > config.gain_db_min || config.gain_db_min != 0)
    for (float& g : recipe.gains) {
      const double db = config.gain_db_min + (config.gain_db_max - config.gain_db_min) * rng.uniform();
      g = float(std::pow(10.0, db / 20.0));
    }
  return recipe;
}

std::vector<MixRecipe> random_mix_recipes(const NlakhSingle& data, const RandomMixConfig& config, uint64_t seed,
                                          int64_t epoch, int64_t step, int64_t batch_size) {
  std::vector<MixRecipe> recipes;
  recipes.reserve(size_t(std::max<int64_t>(batch_size, 0)));
  for (int64_t i = 0; i < batch_size; ++i) recipes.push_back(random_mix_recipe(data, config, seed, epoch, step, i));
  return recipes;
}

void mix_down(const std::vector<const float*>& clips, int64_t samples, float* out, const std::vector<float>& gains) {
  if (!gains.empty() && gains.size() != clips.size())
    throw std::invalid_argument("mix_down: " + std::to_string(gains.size()) + " gains for " +
                                std::to_string(clips.size()) + " clips");
  const auto gain = [&gains](size_t k) { return gains.empty() ? 1.0f : gains[k]; };
  // Blocks that stay in L1/L2 while every clip is added and the peak taken: one pass over memory.
  constexpr int64_t kBlock = 4096;
  float peak = 0.0f;
  for (int64_t begin = 0; begin < samples; begin += kBlock) {
    const int64_t n = std::min(kBlock, samples - begin);
    float* o = out + begin;
    if (clips.empty()) {
      std::fill(o, o + n, 0.0f);
      continue;
    }
    const float g0 = gain(0);
    const float* c0 = clips[0] + begin;
    if (g0 == 1.0f) std::copy(c0, c0 + n, o);
    else for (int64_t i = 0; i < n; ++i) o[i] = g0 * c0[i];
    for (size_t k = 1; k < clips.size(); ++k) {
      const float* c = clips[k] + begin;
      const float g = gain(k);
      if (g == 1.0f) for (int64_t i = 0; i < n; ++i) o[i] += c[i];
      else for (int64_t i = 0; i < n; ++i) o[i] += g * c[i];
    }
    float block_peak = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      const float a = std::fabs(o[i]);
      block_peak = a > block_peak ? a : block_peak;
    }
    peak = std::max(peak, block_peak);
  }
  if (peak == 0.0f) {
    std::fill(out, out + samples, 0.0f);  // also turns -0 into 0
    return;
  }
  for (int64_t i = 0; i < samples; ++i) out[i] /= peak;
}

}  // namespace instret
