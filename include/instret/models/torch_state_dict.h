// Reads PyTorch `torch.save(model.state_dict())` files as Python writes them (zip container with a
// protocol-2 pickle and one record per storage), without Python: the subset of pickle that
// torch.save emits for dicts / OrderedDicts of tensors.
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace instret {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// The (name, tensor) entries of the file in their stored order, as CPU tensors of the stored dtype
// (views of their storages, which tensors saved from shared storage share, as with torch.load).
// When the top-level dict holds non-tensor values (a training checkpoint), the dict of tensors under
// "state_dict", "model_state_dict" or "model" is used. Throws IoError when the file cannot be read
// and FormatError (naming the file) for anything else: the legacy non-zip format, unsupported
// pickle content, missing storage records.
NamedTensors read_torch_state_dict(const std::filesystem::path& path);

}  // namespace instret
