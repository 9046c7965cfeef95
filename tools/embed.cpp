// embed: features or embeddings of audio files as one .npy array. Modes: --mel (log-mel
// (N, n_mels, frames)), --single CKPT (single-encoder embeddings (N, D)), --multi CKPT (multi-encoder
// output embeddings (N, M, D)). Each file gives one clip: clip_seconds from --offset, zero-padded.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "instret/audio/features.h"
#include "instret/audio/io.h"
#include "common/cli.h"
#include "instret/core/device.h"
#include "instret/core/precision.h"
#include "instret/core/error.h"
#include "instret/core/npy.h"
#include "instret/inference/embed_clips.h"
#include "instret/inference/single_encoder.h"
#include "instret/inference/multi_encoder.h"

int main(int argc, char** argv) {
  using namespace instret;
  CLI::App app{
      "Features or embeddings of audio files (first clip_seconds from --offset, zero-padded) as one .npy array",
      "embed"};
  CommonOptions common;
  add_common_flags(app, common);
  bool mel_mode = false;
  std::string single, multi;
  std::vector<std::string> files;
  std::string output;
  double offset = 0.0;
  std::string device = "cpu", bf16 = "auto";
  int64_t batch = 32;
  int workers = 2;
  auto* o_mel = app.add_flag("--mel", mel_mode, "Write log-mel features (N, n_mels, frames), float32");
  auto* o_single = app.add_option("--single", single, "Write single-encoder embeddings (N, D) of this checkpoint");
  auto* o_multi =
      app.add_option("--multi", multi, "Write multi-encoder output embeddings (N, M, D) of this checkpoint");
  o_mel->excludes(o_single)->excludes(o_multi);
  o_single->excludes(o_multi);
  app.add_option("files", files, "Audio files (any format libsndfile reads)")->required();
  app.add_option("-o,--output", output, "Output .npy file")->required();
  app.add_option("--offset", offset, "Start of the clip in each file, seconds")->check(CLI::NonNegativeNumber);
  app.add_option("--device", device, "auto, cpu, cuda or cuda:N");
  add_bf16_flag(app, bf16);
  app.add_option("--batch", batch, "Clips per batch")->check(CLI::PositiveNumber);
  app.add_option("-j,--workers", workers, "Decoding threads")->check(CLI::Range(1, 64));
  return run_tool(app, argc, argv, common, [&] {
    const std::vector<std::filesystem::path> paths(files.begin(), files.end());
    if (!mel_mode && single.empty() && multi.empty())
      throw UsageError("choose a mode: --mel, --single CKPT or --multi CKPT");
    if (!mel_mode && (!common.config_file.empty() || !common.overrides.empty()))
      throw UsageError("--config/--set apply to --mel; the model modes take their settings from the checkpoint");
    for (const auto& p : paths)
      if (!std::filesystem::exists(p)) throw IoError("cannot read " + p.string() + ": no such file");
    const torch::Device dev = resolve_device(device);
    // Every mode decodes on `workers` loader threads while the previous batch is computed.
    const ClipFeatureConfig features =
        mel_mode ? tool_config(Json(ClipFeatureConfig()), common).get<ClipFeatureConfig>() : ClipFeatureConfig();
    const double clip_seconds = features.clip_seconds;
    const int rate = features.mel.sample_rate;
    const int64_t samples = features.clip_samples();
    const ReadClip read = [&](int64_t i, float* out) {
      const std::vector<float> clip = read_clip(paths[size_t(i)], offset, clip_seconds, rate);
      std::copy(clip.begin(), clip.end(), out);
    };
    if (mel_mode) {
      LogMel frontend(features.mel);
      frontend->to(dev);
      const torch::Tensor mel = embed_clips(
          int64_t(paths.size()), samples, read, [&](const torch::Tensor& a) { return frontend->forward(a.to(dev)); },
          batch, workers, "log-mel");
      write_npy(output, mel);
      spdlog::info("wrote {} log-mel clips of {} x {} to {}", mel.size(0), mel.size(1), mel.size(2), output);
      return;
    }
    torch::Tensor emb;
    const Precision precision = inference_precision(bf16, dev);
    if (!single.empty()) {
      SingleEncoder encoder(single, dev, precision.bf16);
      log_precision(precision, dev);
      emb = embed_clips(
          int64_t(paths.size()), samples, read, [&](const torch::Tensor& a) { return encoder.embed(a); }, batch,
          workers, "embed");
    } else {
      MultiEncoder encoder(multi, dev, precision.bf16);
      log_precision(precision, dev);
      emb = embed_clips(
          int64_t(paths.size()), samples, read, [&](const torch::Tensor& a) { return encoder.embed(a); }, batch,
          workers, "embed");
    }
    write_npy(output, emb);
    std::string shape;
    for (int64_t d = 1; d < emb.dim(); ++d) shape += (d > 1 ? " x " : "") + std::to_string(emb.size(d));
    spdlog::info("wrote {} embeddings of {} to {}", emb.size(0), shape, output);
  });
}
