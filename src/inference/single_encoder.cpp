#include "instret/inference/single_encoder.h"

#include <torch/torch.h>

#include "instret/core/precision.h"

namespace instret {

SingleEncoder::SingleEncoder(const std::filesystem::path& checkpoint, const torch::Device& device, bool bf16)
    : FrozenEncoder(checkpoint, device, bf16, false) {
  model_ = HanCnn(config().han, config().emb_dim, config().n_classes);
  freeze(*model_);
}

torch::Tensor SingleEncoder::embed(const torch::Tensor& audio) {
  torch::NoGradGuard no_grad;
  const torch::Tensor mel = logmel(audio);
  Autocast autocast(bf16(), device_);
  return model_->embed(mel).to(torch::kFloat32);
}

}  // namespace instret
