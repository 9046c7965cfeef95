// embed: features of audio files as one .npy array. Mode --mel: log-mel (N, n_mels, frames).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "instret/audio/features.h"
#include "instret/core/cli.h"
#include "instret/core/error.h"
#include "instret/core/npy.h"

int main(int argc, char** argv) {
  using namespace instret;
  CLI::App app{"Features of audio files (first clip_seconds from --offset, zero-padded) as one .npy array", "embed"};
  CommonOptions common;
  add_common_flags(app, common);
  bool mel_mode = false;
  std::vector<std::string> files;
  std::string output;
  double offset = 0.0;
  std::string device = "cpu";
  int64_t batch = 32;
  app.add_flag("--mel", mel_mode, "Write log-mel features (N, n_mels, frames), float32");
  app.add_option("files", files, "Audio files (any format libsndfile reads)")->required();
  app.add_option("-o,--output", output, "Output .npy file")->required();
  app.add_option("--offset", offset, "Start of the clip in each file, seconds")->check(CLI::NonNegativeNumber);
  app.add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--batch", batch, "Clips per batch")->check(CLI::PositiveNumber);
  return run_tool(app, argc, argv, common, [&] {
    if (!mel_mode) throw UsageError("choose a mode: --mel");
    const Json config = tool_config(Json(ClipFeatureConfig()), common);
    const ClipFeatureConfig features = config.get<ClipFeatureConfig>();
    const std::vector<std::filesystem::path> paths(files.begin(), files.end());
    const torch::Tensor mel = log_mel_files(paths, features, offset, torch::Device(device), batch);
    write_npy(output, mel);
    spdlog::info("wrote {} log-mel clips of {} x {} to {}", mel.size(0), mel.size(1), mel.size(2), output);
  });
}
