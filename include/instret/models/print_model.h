// The shared `--print-model` behaviour of the training tools: build the configured model and print
// its layer summary and exact parameter count.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "instret/models/model_config.h"

namespace instret {

// Writes model_summary() of make_model(config) to `out`, headed by the model kind and config JSON.
void print_model(const ModelConfig& config, std::ostream& out);

// The `model` section of a tool config as a ModelConfig; `allowed` lists the kinds the tool trains
// ("han_cnn" for train-single, "small"/"large" for train-multi), anything else is a UsageError.
ModelConfig tool_model_config(const Json& config, const std::vector<std::string>& allowed);

}  // namespace instret
