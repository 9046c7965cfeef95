#include "instret/inference/multi_encoder.h"

#include <torch/torch.h>

#include "instret/core/device.h"
#include "instret/core/error.h"
#include "instret/core/precision.h"
#include "instret/inference/frozen_checkpoint.h"

namespace instret {
namespace fs = std::filesystem;

MultiEncoder::MultiEncoder(const fs::path& checkpoint, const torch::Device& device, bool bf16)
    : path_(checkpoint), device_(device), bf16_(bf16) {
  if (checkpoint.empty()) throw UsageError("no multi-encoder checkpoint given");
  const FrozenCheckpoint frozen = read_frozen_checkpoint(checkpoint);
  if (!frozen.info.model.is_multi())
    throw FormatError("checkpoint " + checkpoint.string() +
                      " is a 'han_cnn' single encoder; a multi encoder (small or large, from train-multi or "
                      "import-weights) is needed here");
  config_ = frozen.info.model;
  mel_ = checkpoint_mel(frozen.info.run_config, checkpoint);
  model_ = MultiEncoderNet(config_);
  frontend_ = LogMel(mel_);
  freeze_checkpoint(checkpoint, frozen, *model_, *frontend_, device_, bf16_);
  hash_ = frozen.hash;
}

torch::Tensor MultiEncoder::embed(const torch::Tensor& audio) { return embed_all(audio).embeddings; }

MultiOutput MultiEncoder::embed_all(const torch::Tensor& audio) {
  torch::NoGradGuard no_grad;
  const torch::Tensor mel = frontend_->forward(to_device(audio, device_));
  Autocast autocast(bf16_, device_);
  MultiOutput out = model_->forward_all(mel);
  out.embeddings = out.embeddings.to(torch::kFloat32);
  if (out.existence.defined()) out.existence = out.existence.to(torch::kFloat32);
  return out;
}

}  // namespace instret
