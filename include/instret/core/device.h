// Which torch device a tool runs on: "auto" (CUDA when available, else the CPU), "cpu", "cuda",
// "cuda:N".
#pragma once
#include <torch/types.h>

#include <string>

namespace instret {

// Resolves a --device value; UsageError for a malformed name or a CUDA device this machine lacks.
torch::Device resolve_device(const std::string& name);

}  // namespace instret
