#include "instret/inference/frozen_checkpoint.h"

#include <torch/torch.h>

#include "instret/core/error.h"
#include "instret/core/fs.h"
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

FrozenCheckpoint read_frozen_checkpoint(const fs::path& checkpoint) {
  FrozenCheckpoint frozen;
  // "" when it does not exist: read_checkpoint_info then says so.
  if (fs::exists(checkpoint)) {
    try {
      frozen.hash = file_hash(checkpoint);
    } catch (const IoError& e) {
      throw IoError("checkpoint " + std::string(e.what()));
    }
  }
  frozen.info = read_checkpoint_info(checkpoint);
  return frozen;
}

void freeze_checkpoint(const fs::path& checkpoint, const FrozenCheckpoint& frozen, torch::nn::Module& model,
                       LogMelImpl& frontend, const torch::Device& device, bool bf16) {
  load_checkpoint(checkpoint, model, frozen.info.model);
  if (file_hash(checkpoint) != frozen.hash)
    throw IoError("checkpoint " + checkpoint.string() + " changed while it was read (is a run writing it?): try again");
  model.to(device);
  // oneDNN's and cuDNN's bf16 convolutions want channels-last (values unchanged).
  if (bf16) to_channels_last(model);
  model.eval();
  for (auto& p : model.parameters()) p.requires_grad_(false);
  frontend.to(device);
}

}  // namespace instret
