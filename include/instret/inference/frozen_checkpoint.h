// Loading a checkpoint for inference, shared by SingleEncoder and MultiEncoder: the file's content
// hash taken before anything is read from it and its header; the log-mel settings its run used; then
// the weights, frozen in eval mode on a device (channels-last under bf16).
#pragma once
#include <torch/nn/module.h>

#include <filesystem>
#include <string>

#include "instret/audio/mel.h"
#include "instret/inference/checkpoint.h"

namespace instret {

// The mel settings a checkpoint's run was trained with (its run config's "mel"; the defaults when it
// has none, e.g. an imported checkpoint). FormatError naming the file for a bad section.
MelConfig checkpoint_mel(const Json& run_config, const std::filesystem::path& checkpoint);

struct FrozenCheckpoint {
  std::string hash;  // 16 hex digits of the file's bytes, taken first
  CheckpointInfo info;
};

// Hashes `checkpoint` (a FIFO or device is refused unread), then reads its header.
FrozenCheckpoint read_frozen_checkpoint(const std::filesystem::path& checkpoint);

// Loads the weights into `model` (built from `frozen.info.model`), moves model and frontend to the
// device, freezes the model in eval mode (channels-last when `bf16`). IoError when the file's hash
// is no longer `frozen.hash`: a file replaced meanwhile (a run writing `best.pt`) would pair these
// weights with another file's cached targets or library.
void freeze_checkpoint(const std::filesystem::path& checkpoint, const FrozenCheckpoint& frozen,
                       torch::nn::Module& model, LogMelImpl& frontend, const torch::Device& device, bool bf16);

}  // namespace instret
