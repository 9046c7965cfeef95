#include "instret/models/reference_import.h"

#include <map>
#include <set>

#include "instret/core/error.h"
#include "instret/models/encoders.h"

namespace instret {

namespace {

std::string shape_str(const torch::Tensor& t) { return c10::str(t.sizes()); }

bool ends_with_component(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  return s.size() == suffix.size() || s[s.size() - suffix.size() - 1] == '.';
}

}  // namespace

ImportSummary load_reference_state_dict(torch::nn::Module& model, const ModelConfig& config,
                                        const NamedTensors& source, const std::string& source_name) {
  if (config.is_multi() && config.head != "linear")
    throw UsageError("the reference code has only the paper's linear head, not model.head \"" + config.head + "\"");
  const std::string own_prefix = backbone_prefix(config);
  std::vector<std::pair<std::string, torch::Tensor>> targets;  // reference-relative name -> model tensor
  for (const auto& p : model.named_parameters()) targets.emplace_back(p.key().substr(own_prefix.size()), p.value());
  for (const auto& b : model.named_buffers()) targets.emplace_back(b.key().substr(own_prefix.size()), b.value());
  std::map<std::string, torch::Tensor> by_name(source.begin(), source.end());
  if (targets.empty()) throw UsageError("model has no parameters to import into");

  // The prefix in front of the reference names: the one under which every model tensor is found.
  std::set<std::string> candidates;
  for (const auto& [name, t] : source)
    if (ends_with_component(name, targets.front().first))
      candidates.insert(name.substr(0, name.size() - targets.front().first.size()));
  std::string prefix;
  bool found = false;
  for (const auto& c : candidates) {
    bool all = true;
    for (const auto& [name, t] : targets) all = all && by_name.count(c + name);
    if (all) {
      prefix = c;
      found = true;
      break;
    }
  }
  if (!found) {
    const std::string guess = candidates.empty() ? std::string("module.") : *candidates.begin();
    for (const auto& [name, t] : targets)
      if (!by_name.count(guess + name))
        throw FormatError(source_name + ": no tensor '" + guess + name + "' for the " + config.kind +
                          " model's '" + own_prefix + name + "' (is this file a " + config.kind + " model?)");
  }

  // Every name and shape is checked before the first copy: a failed import leaves the model as it was.
  ImportSummary summary;
  summary.source_prefix = prefix;
  std::set<std::string> used;
  std::vector<torch::Tensor> sources;
  torch::NoGradGuard guard;
  for (auto& [name, target] : targets) {
    torch::Tensor src = by_name.at(prefix + name);
    if (config.kind == "large" && name == "stem.0.weight" && src.dim() == 4 && src.size(1) == 3 &&
        target.size(1) == 1) {
      src = src.sum(1, /*keepdim=*/true);
      summary.summed_rgb_stem = true;
    }
    if (src.sizes() != target.sizes())
      throw FormatError(source_name + ": tensor '" + prefix + name + "' has shape " + shape_str(src) +
                        ", the " + config.kind + " model's '" + own_prefix + name + "' expects " +
                        shape_str(target));
    sources.push_back(src);
    used.insert(prefix + name);
  }
  for (const auto& [name, t] : source)
    if (!used.count(name))
      throw FormatError(source_name + ": unexpected tensor '" + name + "' " + shape_str(t) +
                        " that the " + config.kind + " model does not have (different architecture or config?)");
  for (size_t k = 0; k < targets.size(); ++k) {
    targets[k].second.copy_(sources[k].to(targets[k].second.dtype()));
    ++summary.n_tensors;
  }
  return summary;
}

ImportSummary import_reference_weights(torch::nn::Module& model, const ModelConfig& config,
                                       const std::filesystem::path& path) {
  return load_reference_state_dict(model, config, read_torch_state_dict(path), path.string());
}

}  // namespace instret
