#include "instret/inference/single_encoder.h"

#include <torch/torch.h>

#include "instret/core/device.h"
#include "instret/core/error.h"
#include "instret/core/precision.h"
#include "instret/inference/frozen_checkpoint.h"

namespace instret {
namespace fs = std::filesystem;

SingleEncoder::SingleEncoder(const fs::path& checkpoint, const torch::Device& device, bool bf16)
    : path_(checkpoint), device_(device), bf16_(bf16) {
  if (checkpoint.empty()) throw UsageError("no single-encoder checkpoint given (--single CKPT)");
  const FrozenCheckpoint frozen = read_frozen_checkpoint(checkpoint);
  if (frozen.info.model.is_multi())
    throw FormatError("checkpoint " + checkpoint.string() + " is a '" + frozen.info.model.kind +
                      "' multi encoder; a single encoder (han_cnn, from train-single) is needed here");
  config_ = frozen.info.model;
  mel_ = checkpoint_mel(frozen.info.run_config, checkpoint);
  model_ = HanCnn(config_.han, config_.emb_dim, config_.n_classes);
  frontend_ = LogMel(mel_);
  freeze_checkpoint(checkpoint, frozen, *model_, *frontend_, device_, bf16_);
  hash_ = frozen.hash;
}

torch::Tensor SingleEncoder::embed(const torch::Tensor& audio) {
  torch::NoGradGuard no_grad;
  const torch::Tensor mel = frontend_->forward(to_device(audio, device_));
  Autocast autocast(bf16_, device_);
  return model_->embed(mel).to(torch::kFloat32);
}

}  // namespace instret
