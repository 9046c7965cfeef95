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
  // Relative weights of min_tracks, min_tracks + 1, ..., max_tracks instruments per mixture (one
  // per count, >= 0, not all 0); empty: uniform, as the paper.
  std::vector<double> track_weights;
  // Each clip's gain in dB, uniform in [gain_db_min, gain_db_max]; 0, 0: every clip as rendered,
  // as the paper.
  double gain_db_min = 0, gain_db_max = 0;
};

// UsageError naming the key (`key_prefix` + its name, e.g. "data.") when the config is
// inconsistent: min_tracks < 1, max_tracks < min_tracks, weights of the wrong count, negative, not
// finite or all 0, gains not finite, min above max, or outside [-60, 20] dB.
void check_random_mix(const RandomMixConfig& config, const std::string& key_prefix = "");

// One random mixture: which clips (indices into the Nlakh-single split) at which linear gains.
struct MixRecipe {
  std::vector<int64_t> clips;
  std::vector<float> gains;  // one per clip

  bool operator==(const MixRecipe& o) const { return clips == o.clips && gains == o.gains; }
  bool operator!=(const MixRecipe& o) const { return !(*this == o); }
};

// One random mixture: n instruments, n drawn from min_tracks .. min(max_tracks, I) (uniformly, or by
// track_weights restricted to that range) where I is the number of instruments with >= 1 clip
// (n = I when I < min_tracks); n distinct instruments drawn uniformly from those I, one uniformly
// random clip of each, in draw order; then each clip's gain. A pure function of its arguments
// (StableRng seeded with stream_seed(seed, {epoch, step, item})); with the paper's defaults the
// clips are those of the uniform recipe exactly. UsageError as check_random_mix.
MixRecipe random_mix_recipe(const NlakhSingle& data, const RandomMixConfig& config, uint64_t seed, int64_t epoch,
                            int64_t step, int64_t item);

// The recipes of items 0 .. batch_size-1 of one step (what a random-mix batch maker needs).
std::vector<MixRecipe> random_mix_recipes(const NlakhSingle& data, const RandomMixConfig& config, uint64_t seed,
                                          int64_t epoch, int64_t step, int64_t batch_size);

// Sums the clips (each `samples` floats), each times its gain (none given: 1), and divides by the
// peak |sum| into `out`, as the reference does (np.sum / np.max(np.abs)); an all-zero sum (or no
// clips) stays zero. `out` may not alias a clip; `gains` is empty or one per clip.
void mix_down(const std::vector<const float*>& clips, int64_t samples, float* out,
              const std::vector<float>& gains = {});

}  // namespace instret
