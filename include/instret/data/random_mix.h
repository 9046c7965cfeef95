// The paper's random mixing of Nlakh-single clips into training mixtures for the multi-instrument
// encoder: which clips make a mixture (a pure function of seed, epoch, step, item) and the mix-down.
#pragma once
#include <cstdint>
#include <vector>

#include "instret/data/nlakh_dataset.h"

namespace instret {

struct RandomMixConfig {
  int min_tracks = 2;
  int max_tracks = 9;
};

// Clip indices of one random mixture: n ~ uniform{min_tracks .. min(max_tracks, I)} where I is the
// number of instruments with >= 1 clip (n = I when I < min_tracks), n distinct instruments drawn
// uniformly from those I, one uniformly random clip of each, in draw order. A pure function of its
// arguments (StableRng seeded with stream_seed(seed, {epoch, step, item})). UsageError when
// min_tracks < 1 or max_tracks < min_tracks.
std::vector<int64_t> random_mix_recipe(const NlakhSingle& data, const RandomMixConfig& config, uint64_t seed,
                                       int64_t epoch, int64_t step, int64_t item);

// The recipes of items 0 .. batch_size-1 of one step (what a random-mix batch maker needs).
std::vector<std::vector<int64_t>> random_mix_recipes(const NlakhSingle& data, const RandomMixConfig& config,
                                                     uint64_t seed, int64_t epoch, int64_t step, int64_t batch_size);

// Sums the clips (each `samples` floats) and divides by the peak |sum| into `out`, as the reference
// does (np.sum / np.max(np.abs)); an all-zero sum (or no clips) stays zero. `out` may not alias a clip.
void mix_down(const std::vector<const float*>& clips, int64_t samples, float* out);

}  // namespace instret
