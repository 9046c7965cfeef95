// The start that eval-eer and eval-retrieval share: their config, threads, device and split check.
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <string>

#include "common/cli.h"
#include "instret/eval/eval_encoders.h"

namespace instret {

struct EvalToolStart {
  EvalToolConfig config;  // --config / --set onto EvalToolConfig's defaults
  torch::Device device;
};

// Reads the tool's config (its baseline of kind `baseline`, mfcc when none is asked for), sets
// LibTorch's intra-op threads (when `threads` > 0), resolves `device`, and checks that `data` has
// `split` (require_split).
EvalToolStart start_eval_tool(const CommonOptions& options, const std::string& baseline, int threads,
                              const std::string& device, const std::filesystem::path& data, const std::string& split);

}  // namespace instret
