#include "instret/data/mel_eq.h"

#include <cmath>
#include <string>
#include <vector>

#include "instret/core/error.h"
#include "instret/core/stable_rng.h"
#include "instret/data/sampling.h"

namespace instret {

torch::Tensor random_mel_eq(const torch::Tensor& logmel, double max_db, uint64_t seed, int64_t step) {
  if (!(max_db >= 0) || !std::isfinite(max_db))
    throw UsageError("random EQ: the largest gain must be a number >= 0 dB, got " + std::to_string(max_db));
  if (logmel.dim() != 3 && logmel.dim() != 4)
    throw UsageError("random EQ expects a (B, n_mels, T) or (B, 1, n_mels, T) log-mel, got " + c10::str(logmel.sizes()));
  if (max_db == 0) return logmel;
  constexpr int kTerms = 3;
  const int64_t batch = logmel.size(0), bands = logmel.size(-2);
  StableRng rng(stream_seed(seed, {uint64_t(step)}));
  std::vector<float> coefficients(size_t(batch * kTerms));
  for (float& a : coefficients) a = float((rng.uniform() * 2 - 1) * max_db / kTerms);
  std::vector<float> basis(size_t(kTerms * bands));
  for (int k = 0; k < kTerms; ++k)
    for (int64_t f = 0; f < bands; ++f)
      basis[size_t(k * bands + f)] =
          bands > 1 ? float(std::cos(M_PI * (k + 1) * double(f) / double(bands - 1))) : 1.0f;
  const auto cpu = torch::TensorOptions().dtype(torch::kFloat32);
  torch::Tensor curves = torch::mm(torch::from_blob(coefficients.data(), {batch, kTerms}, cpu),
                                   torch::from_blob(basis.data(), {kTerms, bands}, cpu));  // (B, n_mels)
  std::vector<int64_t> shape(size_t(logmel.dim()), 1);
  shape[0] = batch;
  shape[size_t(logmel.dim() - 2)] = bands;
  return logmel + curves.view(shape).to(logmel.device(), logmel.scalar_type());
}

}  // namespace instret
