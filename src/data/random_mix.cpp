#include "instret/data/random_mix.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "instret/core/error.h"
#include "instret/data/sampling.h"

namespace instret {

std::vector<int64_t> random_mix_recipe(const NlakhSingle& data, const RandomMixConfig& config, uint64_t seed,
                                       int64_t epoch, int64_t step, int64_t item) {
  if (config.min_tracks < 1 || config.max_tracks < config.min_tracks)
    throw UsageError("random mixing: need 1 <= min_tracks <= max_tracks, got min_tracks " +
                     std::to_string(config.min_tracks) + ", max_tracks " + std::to_string(config.max_tracks));
  const std::vector<int64_t>& pool = data.instruments_with_clips();
  const int64_t available = int64_t(pool.size());
  const int64_t hi = std::min<int64_t>(config.max_tracks, available);
  const int64_t lo = std::min<int64_t>(config.min_tracks, hi);
  StableRng rng(stream_seed(seed, {uint64_t(epoch), uint64_t(step), uint64_t(item)}));
  const int64_t n = lo + int64_t(rng.below(uint64_t(hi - lo + 1)));
  // Distinct instruments by redrawing repeats: n <= 9 and the pool is usually far larger.
  std::vector<int64_t> chosen;
  chosen.reserve(size_t(n));
  while (int64_t(chosen.size()) < n) {
    const int64_t inst = pool[size_t(rng.below(uint64_t(available)))];
    if (std::find(chosen.begin(), chosen.end(), inst) == chosen.end()) chosen.push_back(inst);
  }
  std::vector<int64_t> clips;
  clips.reserve(chosen.size());
  for (int64_t inst : chosen) {
    const std::vector<int64_t>& own = data.clips_by_instrument()[size_t(inst)];
    clips.push_back(own[size_t(rng.below(own.size()))]);
  }
  return clips;
}

std::vector<std::vector<int64_t>> random_mix_recipes(const NlakhSingle& data, const RandomMixConfig& config,
                                                     uint64_t seed, int64_t epoch, int64_t step, int64_t batch_size) {
  std::vector<std::vector<int64_t>> recipes;
  recipes.reserve(size_t(std::max<int64_t>(batch_size, 0)));
  for (int64_t i = 0; i < batch_size; ++i) recipes.push_back(random_mix_recipe(data, config, seed, epoch, step, i));
  return recipes;
}

void mix_down(const std::vector<const float*>& clips, int64_t samples, float* out) {
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
    std::copy(clips[0] + begin, clips[0] + begin + n, o);
    for (size_t k = 1; k < clips.size(); ++k) {
      const float* c = clips[k] + begin;
      for (int64_t i = 0; i < n; ++i) o[i] += c[i];
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
