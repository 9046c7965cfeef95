#include "instret/eval/instrument_library.h"

#include <torch/torch.h>

#include <string>

#include "instret/core/error.h"

namespace instret {

std::vector<std::pair<int64_t, int64_t>> library_clips(const std::vector<std::vector<int64_t>>& clips_by_instrument,
                                                       int64_t clips_per_instrument) {
  if (clips_per_instrument < 1)
    throw UsageError("library clips per instrument must be >= 1, got " + std::to_string(clips_per_instrument));
  std::vector<std::pair<int64_t, int64_t>> out;
  for (size_t k = 0; k < clips_by_instrument.size(); ++k) {
    const auto& clips = clips_by_instrument[k];
    const size_t n = std::min(clips.size(), size_t(clips_per_instrument));
    for (size_t i = 0; i < n; ++i) out.emplace_back(clips[i], int64_t(k));
  }
  return out;
}

torch::Tensor instrument_library(const torch::Tensor& embeddings, const std::vector<int64_t>& row_instrument,
                                 int64_t n_instruments) {
  if (embeddings.dim() != 2 || embeddings.size(0) != int64_t(row_instrument.size()))
    throw UsageError("instrument_library: " + std::to_string(row_instrument.size()) +
                     " row instruments for embeddings of shape " + std::to_string(embeddings.dim()) + "-d");
  for (int64_t k : row_instrument)
    if (k < 0 || k >= n_instruments)
      throw UsageError("instrument_library: instrument " + std::to_string(k) + " outside [0, " +
                       std::to_string(n_instruments) + ")");
  const torch::Tensor emb = embeddings.to(torch::kFloat32);
  torch::Tensor sum = torch::zeros({n_instruments, emb.size(1)}, emb.options());
  const torch::Tensor index = torch::tensor(row_instrument, torch::kInt64).to(emb.device());
  sum.index_add_(0, index, emb);
  // Normalising the sum equals normalising the mean.
  return torch::nn::functional::normalize(sum, torch::nn::functional::NormalizeFuncOptions().dim(1).eps(1e-12));
}

torch::Tensor slot_library_cosines(const torch::Tensor& outputs, const torch::Tensor& library) {
  if (outputs.dim() != 3 || library.dim() != 2 || outputs.size(2) != library.size(1))
    throw UsageError("the multi encoder gives " + std::to_string(outputs.dim() == 3 ? outputs.size(2) : -1) +
                     "-d embeddings but the library holds " + std::to_string(library.dim() == 2 ? library.size(1) : -1) +
                     "-d ones: the two encoders do not belong together");
  const torch::Tensor lib = library.to(outputs.device(), torch::kFloat32);
  const torch::Tensor missing = lib.norm(2, 1).eq(0);
  const torch::Tensor out = torch::nn::functional::normalize(
      outputs.to(torch::kFloat32), torch::nn::functional::NormalizeFuncOptions().dim(2).eps(1e-12));
  return torch::matmul(out, lib.t()).masked_fill(missing.view({1, 1, -1}), -2.0).to(torch::kCPU, torch::kFloat64).contiguous();
}

}  // namespace instret
