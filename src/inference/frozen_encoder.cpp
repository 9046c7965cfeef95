#include "instret/inference/frozen_encoder.h"

#include <torch/torch.h>

#include "instret/core/device.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/inference/checkpoint.h"
#include "instret/models/memory_format.h"

namespace instret {
namespace fs = std::filesystem;

MelConfig checkpoint_mel(const Json& run_config, const fs::path& checkpoint) {
  MelConfig mel;
  if (run_config.is_object() && run_config.contains("mel")) {
    try {
      from_json(run_config["mel"], mel);
    } catch (const UsageError& e) {
      throw FormatError("checkpoint " + checkpoint.string() + ": bad mel settings: " + e.what());
    }
  }
  return mel;
}

FrozenEncoder::FrozenEncoder(const fs::path& checkpoint, const torch::Device& device, bool bf16, bool multi)
    : device_(device), path_(checkpoint), bf16_(bf16) {
  if (checkpoint.empty())
    throw UsageError(multi ? "no multi-encoder checkpoint given" : "no single-encoder checkpoint given (--single CKPT)");
  // "" when it does not exist: read_checkpoint_info then says so.
  if (fs::exists(checkpoint)) {
    try {
      hash_ = file_hash(checkpoint);
    } catch (const IoError& e) {
      throw IoError("checkpoint " + std::string(e.what()));
    }
  }
  const CheckpointInfo info = read_checkpoint_info(checkpoint);
  if (!multi && info.model.is_multi())
    throw FormatError("checkpoint " + checkpoint.string() + " is a '" + info.model.kind +
                      "' multi encoder; a single encoder (han_cnn, from train-single) is needed here");
  if (multi && !info.model.is_multi())
    throw FormatError("checkpoint " + checkpoint.string() +
                      " is a 'han_cnn' single encoder; a multi encoder (small or large, from train-multi or "
                      "import-weights) is needed here");
  config_ = info.model;
  mel_ = checkpoint_mel(info.run_config, checkpoint);
  frontend_ = LogMel(mel_);
}

void FrozenEncoder::freeze(torch::nn::Module& model) {
  load_checkpoint(path_, model, config_);
  if (file_hash(path_) != hash_)
    throw IoError("checkpoint " + path_.string() + " changed while it was read (is a run writing it?): try again");
  model.to(device_);
  // oneDNN's and cuDNN's bf16 convolutions want channels-last (values unchanged).
  if (bf16_) to_channels_last(model);
  model.eval();
  for (auto& p : model.parameters()) p.requires_grad_(false);
  frontend_->to(device_);
}

torch::Tensor FrozenEncoder::logmel(const torch::Tensor& audio) { return frontend_->forward(to_device(audio, device_)); }

}  // namespace instret
