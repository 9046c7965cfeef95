// Random equalisation of a log-mel batch, a training augmentation: each item gets its own smooth
// gain curve over the mel bands (in dB, the unit of the log-mel), as if played back through a
// different EQ. It targets what separates one SoundFont (or recording chain) from another more than
// it separates instruments: broad spectral tilt and bumps.
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace instret {

// Adds to item b of `logmel` (B, n_mels, T) or (B, 1, n_mels, T) the curve
//   c_b(f) = sum_{k=1..3} a_bk cos(pi k f / (n_mels - 1)),  a_bk uniform in [-max_db/3, max_db/3),
// so |c_b| <= max_db; the a_bk are a pure function of (seed, step) through StableRng. max_db = 0
// returns the input unchanged; a negative or non-finite max_db is a UsageError.
torch::Tensor random_mel_eq(const torch::Tensor& logmel, double max_db, uint64_t seed, int64_t step);

}  // namespace instret
