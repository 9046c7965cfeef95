// The instrument library of the retrieval evaluation (one embedding per instrument, from its clips)
// and the cosines between a multi encoder's output slots and it.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace instret {

// The clips that make the library: for each instrument, its first `clips_per_instrument` clips in
// the given order (all of them when it has fewer; none for an instrument without clips).
// Returns (clip index, instrument) pairs, instrument by instrument. UsageError when clips_per_instrument < 1.
std::vector<std::pair<int64_t, int64_t>> library_clips(const std::vector<std::vector<int64_t>>& clips_by_instrument,
                                                       int64_t clips_per_instrument);

// (n_instruments, D) float32 library on the device of `embeddings`: row k = the L2-normalised mean of
// the rows r of `embeddings` (R, D) with row_instrument[r] == k; a zero row for an instrument without
// rows. UsageError on inconsistent sizes or an instrument outside [0, n_instruments).
torch::Tensor instrument_library(const torch::Tensor& embeddings, const std::vector<int64_t>& row_instrument,
                                 int64_t n_instruments);

// Cosines (N, M, L) float64 on the CPU between every output slot of `outputs` (N, M, D) and every row of
// `library` (L, D); a zero library row (no clips) gets -2 everywhere, so no slot ever picks it and it
// ranks last for mAP. UsageError when the embedding sizes differ.
torch::Tensor slot_library_cosines(const torch::Tensor& outputs, const torch::Tensor& library);

}  // namespace instret
