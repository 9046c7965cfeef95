// Maps the paper authors' PyTorch state_dicts (reference code layout: DataParallel "module."
// prefixes, Han CNN as conv1..conv4 / linear1 / linear2, timm ConvNeXt names) onto this toolkit's
// encoders.
#pragma once
#include <torch/nn/module.h>

#include <filesystem>
#include <string>

#include "instret/models/model_config.h"
#include "instret/models/torch_state_dict.h"

namespace instret {

struct ImportSummary {
  std::string source_prefix;  // the prefix found in front of the reference names, e.g. "module."
  int64_t n_tensors = 0;      // parameters and buffers copied
  bool summed_rgb_stem = false;
};

// Copies `source` onto `model` (built from `config`). The prefix in front of the reference names is
// detected (e.g. "module." or none); every model parameter and buffer must be present with its exact
// shape, and every source tensor must be used, else FormatError naming `source_name`, the tensor and
// both shapes. A 3-channel ConvNeXt stem (ImageNet weights) is summed over its input channels to fit
// the 1-channel stem, as timm does for in_chans=1.
ImportSummary load_reference_state_dict(torch::nn::Module& model, const ModelConfig& config,
                                        const NamedTensors& source, const std::string& source_name);

// Reads a torch.save file (read_torch_state_dict) and loads it as above.
ImportSummary import_reference_weights(torch::nn::Module& model, const ModelConfig& config,
                                       const std::filesystem::path& path);

}  // namespace instret
