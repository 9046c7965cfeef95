// The random generators whose state a continued run must restore (dropout, stochastic depth): the
// default CPU generator and, on CUDA, the device's, stored as checkpoint extras.
#pragma once
#include <torch/types.h>

#include <string>

#include "instret/inference/checkpoint.h"

namespace instret {

// The generators' states as extras "generator.cpu" (and "generator.cuda" on a CUDA device).
CheckpointExtras generator_state(const torch::Device& device);

// Sets the generators back to the states in `extras`. FormatError naming `file` when it holds none
// (a weights-only checkpoint) or a broken one.
void restore_generators(const CheckpointExtras& extras, const torch::Device& device, const std::string& file);

}  // namespace instret
