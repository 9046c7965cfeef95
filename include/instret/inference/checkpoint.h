// Training checkpoints: model parameters and buffers, optimizer state, step and configuration in
// one file (a LibTorch serialize archive), written atomically and checked against the model on load.
#pragma once
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <filesystem>
#include <map>
#include <string>

#include "instret/core/config.h"
#include "instret/models/model_config.h"

namespace instret {

// What a training run needs beyond weights and optimizer to continue exactly: a JSON object (e.g. the
// data position) and named CPU tensors (e.g. random generator states). Absent from plain checkpoints.
struct CheckpointExtras {
  Json state = nullptr;
  std::map<std::string, torch::Tensor> tensors;
};

struct CheckpointInfo {
  ModelConfig model;     // the architecture the weights belong to
  Json run_config;       // the full config of the run that wrote it (null when none was given)
  int64_t step = 0;      // optimizer steps taken
  bool has_optimizer = false;
};

// Writes `model` (parameters and buffers, copied to the CPU), the optimizer state (when given), the
// step, the configs and the extras (when given) to `path` atomically.
void save_checkpoint(const std::filesystem::path& path, const torch::nn::Module& model, const ModelConfig& config,
                     torch::optim::Optimizer* optimizer, int64_t step, const Json& run_config = nullptr,
                     const CheckpointExtras* extras = nullptr);

// Reads the header of a checkpoint (configs, step) without the weights.
CheckpointInfo read_checkpoint_info(const std::filesystem::path& path);

// Loads a checkpoint into `model`, built from `config`, and into `optimizer` when given and the file
// holds optimizer state (otherwise the optimizer is left as it is). Throws FormatError naming the
// file when it is not a checkpoint, when its model kind differs from config.kind, or when a parameter
// or buffer is missing, unexpected or of another shape (naming it and both shapes). `extras`, when
// given, receives the stored extras (left empty when the file has none).
CheckpointInfo load_checkpoint(const std::filesystem::path& path, torch::nn::Module& model, const ModelConfig& config,
                               torch::optim::Optimizer* optimizer = nullptr, CheckpointExtras* extras = nullptr);

}  // namespace instret
