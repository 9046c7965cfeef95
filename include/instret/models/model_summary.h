// Human-readable layer summary and exact parameter counts of a model (train-* --print-model).
#pragma once
#include <torch/nn/module.h>

#include <cstdint>
#include <string>

namespace instret {

// Number of scalar parameters (buffers excluded); `trainable_only` counts those requiring grad.
int64_t count_parameters(const torch::nn::Module& module, bool trainable_only = false);

// One line per leaf layer: dotted name, the layer as LibTorch prints it, its parameter count;
// then the totals.
std::string model_summary(const torch::nn::Module& module);

}  // namespace instret
