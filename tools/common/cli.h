// The shared shape of every command-line tool: common flags, logging set-up, and the mapping of
// errors to one log line and an exit code (2 = usage, 1 = failure).
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "instret/core/config.h"

namespace instret {

struct CommonOptions {
  bool verbose = false;
  bool quiet = false;
  std::string config_file;           // --config FILE
  std::vector<std::string> overrides;  // --set key.path=value (repeatable)
};

// Adds --verbose/--quiet and --config/--set.
void add_common_flags(CLI::App& app, CommonOptions& options);

// Adds --bf16 auto|true|false (default "auto") to a tool or subcommand that runs an encoder
// (instret/core/precision.h: inference_precision resolves it).
void add_bf16_flag(CLI::App& app, std::string& value);

// Parses argv, sets up logging, runs `body` and returns the process exit code. Errors are
// printed as one line: UsageError and flag errors exit 2, every other failure exits 1.
int run_tool(CLI::App& app, int argc, char** argv, const CommonOptions& options,
             const std::function<void()>& body);

// The tool's config: `defaults` merged with --config and --set.
Json tool_config(const Json& defaults, const CommonOptions& options);

}  // namespace instret
