// Layer-norm inputs in float32 under bf16 autocast, as CUDA's autocast runs layer norms: on the CPU
// the convolutions and matrix products hand them bf16, which LibTorch's CPU layer norm does not take
// beside float32 weights (ConvNeXt's norms, the set head's).
#pragma once
#include <torch/types.h>

namespace instret {

// `x` in float32 when it is bf16 or half; `x` itself otherwise.
inline torch::Tensor norm_input(const torch::Tensor& x) {
  return x.scalar_type() == torch::kBFloat16 || x.scalar_type() == torch::kHalf ? x.to(torch::kFloat32) : x;
}

}  // namespace instret
