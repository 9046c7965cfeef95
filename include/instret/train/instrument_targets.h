// Targets per instrument instead of per clip (train-multi's targets_per "instrument"): every row of a
// cached target table is replaced by the normalised mean of the rows of its instrument, so the
// multi encoder regresses what the retrieval library holds (an instrument) rather than one clip's
// notes and level.
#pragma once
#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace instret {

// rows (N, D) float; labels: N instrument ids >= 0. Returns (N, D): row i is the unit mean of the
// unit rows j with labels[j] == labels[i]. UsageError when the sizes differ, a label is negative,
// or an instrument's mean is zero (its rows cancel).
torch::Tensor instrument_mean_targets(const torch::Tensor& rows, const std::vector<int64_t>& labels);

}  // namespace instret
