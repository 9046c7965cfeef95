#include "common/eval_tool.h"

#include <torch/torch.h>

#include "instret/core/device.h"

namespace instret {

EvalToolStart start_eval_tool(const CommonOptions& options, const std::string& baseline, int threads,
                              const std::string& device, const std::filesystem::path& data, const std::string& split) {
  EvalToolStart start{
      EvalToolConfig::from_json(tool_config(EvalToolConfig::defaults(), options), baseline.empty() ? "mfcc" : baseline),
      torch::kCPU};
  if (threads > 0) torch::set_num_threads(threads);
  start.device = resolve_device(device);
  require_split(data, split);
  return start;
}

}  // namespace instret
