// render-nlakh: render an Nlakh-style dataset (single clips, mixtures with stems) from instrument
// banks and MIDI files, deterministic from the config's seed; sharded and resumable.
#include <iostream>

#include "common/cli.h"
#include "instret/core/error.h"
#include "instret/render/nlakh.h"

int main(int argc, char** argv) {
  CLI::App app{"Render an Nlakh-style dataset (see docs/nlakh.md)"};
  instret::CommonOptions options;
  instret::add_common_flags(app, options);
  std::string output, shard;
  int threads = -1;
  bool manifests_only = false, adopt_inputs = false;
  app.add_option("-o,--output", output, "Dataset folder (else config 'output')");
  app.add_option("--shard", shard, "Render only shard i of n, as i/n (0-based); manifests list what exists");
  app.add_option("-j,--threads", threads, "Worker threads (0 = all cores)");
  app.add_flag("--manifests-only", manifests_only, "Render nothing; rebuild manifests and summary from the records");
  app.add_flag("--adopt-inputs", adopt_inputs,
               "A folder with clips but no config.json or inputs.json: take the current config and inputs as theirs");
  return instret::run_tool(app, argc, argv, options, [&] {
    instret::Json config = instret::tool_config(instret::nlakh_default_config(), options);
    if (!output.empty()) config["output"] = output;
    if (threads >= 0) config["threads"] = threads;
    if (!shard.empty()) {
      // Strict: digits only on both sides, the whole string consumed ("0/2x", "1.5/2", "-0/2" are
      // refused, where std::stoi would read 0/2, 1/2 and 0/2).
      const auto slash = shard.find('/');
      auto number = [&](const std::string& s) {
        if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
          throw instret::UsageError("--shard must be i/n, e.g. 0/4, not '" + shard + "'");
        return std::stoi(s);
      };
      if (slash == std::string::npos) number("");
      config["shard"]["index"] = number(shard.substr(0, slash));
      config["shard"]["count"] = number(shard.substr(slash + 1));
    }
    std::cout << instret::render_nlakh(config, manifests_only, adopt_inputs).dump(2) << std::endl;
  });
}
