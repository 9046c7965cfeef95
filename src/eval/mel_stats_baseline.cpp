#include "instret/eval/mel_stats_baseline.h"

#include <torch/torch.h>

#include <cmath>

#include "instret/core/error.h"

namespace instret {

void validate(const MelStatsConfig& config) {
  if (config.kind != "mfcc" && config.kind != "logmel")
    throw UsageError("unknown baseline '" + config.kind + "' (choose mfcc or logmel)");
  config.mel.validate();
  if (config.n_mfcc < 1 || config.n_mfcc >= config.mel.n_mels)
    throw UsageError("baseline n_mfcc must be in [1, n_mels - 1], got " + std::to_string(config.n_mfcc));
}

torch::Tensor dct2_ortho_matrix(int64_t n, int64_t m) {
  torch::Tensor c = torch::empty({n, m}, torch::kFloat64);
  auto a = c.accessor<double, 2>();
  for (int64_t k = 0; k < n; ++k)
    for (int64_t j = 0; j < m; ++j)
      a[k][j] = (k == 0 ? std::sqrt(1.0 / double(m)) : std::sqrt(2.0 / double(m))) *
                std::cos(M_PI * double(k) * double(2 * j + 1) / double(2 * m));
  return c;
}

MelStatsEmbedder::MelStatsEmbedder(const MelStatsConfig& config, const torch::Device& device)
    : config_(config), device_(device) {
  validate(config_);
  frontend_ = LogMel(config_.mel);
  frontend_->to(device_);
  if (config_.kind == "mfcc")
    dct_ = dct2_ortho_matrix(config_.n_mfcc + 1, config_.mel.n_mels).narrow(0, 1, config_.n_mfcc).to(device_, torch::kFloat32);
}

int64_t MelStatsEmbedder::dim() const { return 2 * (config_.kind == "mfcc" ? config_.n_mfcc : config_.mel.n_mels); }

torch::Tensor MelStatsEmbedder::embed(const torch::Tensor& audio) {
  torch::NoGradGuard no_grad;
  torch::Tensor x = frontend_->forward(audio.to(device_, torch::kFloat32));  // (B, n_mels, frames) dB
  if (config_.kind == "mfcc") x = torch::matmul(dct_, x);                     // (B, n_mfcc, frames)
  else x = x - x.mean(1, true);
  const torch::Tensor mean = x.mean(2, true);
  const torch::Tensor std = (x - mean).pow(2).mean(2).sqrt();  // population standard deviation
  return torch::cat({mean.squeeze(2), std}, 1);
}

}  // namespace instret
