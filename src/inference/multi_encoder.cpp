#include "instret/inference/multi_encoder.h"

#include <torch/torch.h>

#include "instret/core/precision.h"

namespace instret {

MultiEncoder::MultiEncoder(const std::filesystem::path& checkpoint, const torch::Device& device, bool bf16)
    : FrozenEncoder(checkpoint, device, bf16, true) {
  model_ = MultiEncoderNet(config());
  freeze(*model_);
}

torch::Tensor MultiEncoder::embed(const torch::Tensor& audio) { return embed_all(audio).embeddings; }

MultiOutput MultiEncoder::embed_all(const torch::Tensor& audio) {
  torch::NoGradGuard no_grad;
  const torch::Tensor mel = logmel(audio);
  Autocast autocast(bf16(), device_);
  MultiOutput out = model_->forward_all(mel);
  out.embeddings = out.embeddings.to(torch::kFloat32);
  if (out.existence.defined()) out.existence = out.existence.to(torch::kFloat32);
  return out;
}

}  // namespace instret
