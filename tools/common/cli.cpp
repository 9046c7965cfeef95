#include "common/cli.h"

#include <spdlog/spdlog.h>

#include "instret/core/error.h"
#include "instret/core/log.h"

namespace instret {

void add_common_flags(CLI::App& app, CommonOptions& options) {
  app.add_flag("-v,--verbose", options.verbose, "Log debug detail");
  app.add_flag("-q,--quiet", options.quiet, "Log warnings and errors only");
  app.add_option("-c,--config", options.config_file, "JSON config file (merged onto the defaults)")
      ->check(CLI::ExistingFile);
  app.add_option("--set", options.overrides, "Override a config key: key.path=value (repeatable)");
}

void add_bf16_flag(CLI::App& app, std::string& value) {
  app.add_option("--bf16", value,
                 "bf16 autocast of the encoder: auto (on for CUDA and for CPUs with AVX512-BF16 or AMX), true, false")
      ->check(CLI::IsMember({"auto", "true", "false"}));
}

int run_tool(CLI::App& app, int argc, char** argv, const CommonOptions& options,
             const std::function<void()>& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    setup_logging(false, false);
    spdlog::error("{}: {}", app.get_name(), e.what());
    return 2;
  }
  setup_logging(options.verbose, options.quiet);
  try {
    body();
    return 0;
  } catch (const UsageError& e) {
    spdlog::error("{}: {}", app.get_name(), one_line(e.what()));
    return 2;
  } catch (const std::exception& e) {
    // c10::Error carries a multi-line backtrace, torch::jit::ErrorReport starts with a newline.
    spdlog::error("{}: {}", app.get_name(), one_line(e.what()));
    return 1;
  }
}

Json tool_config(const Json& defaults, const CommonOptions& options) {
  return load_config(defaults, options.config_file, options.overrides);
}

}  // namespace instret
