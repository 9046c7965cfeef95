// Which torch device a tool runs on: "auto" (CUDA when available, else the CPU), "cpu", "cuda",
// "cuda:N".
#pragma once
#include <torch/types.h>

#include <string>

namespace instret {

// Resolves a --device value; UsageError for a malformed name or a CUDA device this machine lacks.
torch::Device resolve_device(const std::string& name);

// A host (CPU) tensor on `device`: on CUDA staged through pinned memory and copied without blocking
// the host (the caller may reuse or free `host` at once: the staging copy is the transfer's source,
// kept by the pinned allocator until the copy is done); `host` itself on the CPU.
torch::Tensor to_device(const torch::Tensor& host, const torch::Device& device);

// Training's compute settings for `device`: deterministic algorithms where they exist (others warn;
// and the cuBLAS workspace setting they need) when `deterministic`, else cuDNN's autotuner on CUDA
// when the input shapes are fixed (it tunes once per shape).
void configure_determinism(bool deterministic, const torch::Device& device, bool fixed_shapes);

}  // namespace instret
