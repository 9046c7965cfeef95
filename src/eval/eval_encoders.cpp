#include "instret/eval/eval_encoders.h"

#include <set>

#include "instret/core/error.h"
#include "instret/inference/single_encoder.h"
#include "instret/inference/multi_encoder.h"

namespace instret {
namespace fs = std::filesystem;

namespace {

Json baseline_json(const MelStatsConfig& c) {
  Json j = {{"kind", "baseline"}, {"baseline", c.kind}};
  if (c.kind == "mfcc") j["n_mfcc"] = c.n_mfcc;
  return j;
}

}  // namespace

ClipEmbedder ClipEmbedder::single(const fs::path& checkpoint, const torch::Device& device, bool bf16) {
  ClipEmbedder e;
  e.encoder_ = std::make_shared<SingleEncoder>(checkpoint, device, bf16);
  return e;
}

ClipEmbedder ClipEmbedder::baseline(const MelStatsConfig& config, const torch::Device& device) {
  ClipEmbedder e;
  e.baseline_ = std::make_shared<MelStatsEmbedder>(config, device);
  return e;
}

torch::Tensor ClipEmbedder::embed(const torch::Tensor& audio) {
  return encoder_ ? encoder_->embed(audio) : baseline_->embed(audio);
}

int64_t ClipEmbedder::dim() const { return encoder_ ? encoder_->dim() : baseline_->dim(); }

Json ClipEmbedder::describe() const {
  if (!encoder_) return baseline_json(baseline_->config());
  return {{"kind", "single"},
          {"checkpoint", encoder_->path().string()},
          {"hash", encoder_->hash()},
          {"bf16", encoder_->bf16()}};
}

MixtureEmbedder MixtureEmbedder::multi(const fs::path& checkpoint, const torch::Device& device, bool bf16) {
  MixtureEmbedder e;
  e.encoder_ = std::make_shared<MultiEncoder>(checkpoint, device, bf16);
  return e;
}

MixtureEmbedder MixtureEmbedder::baseline(const MelStatsConfig& config, const torch::Device& device) {
  MixtureEmbedder e;
  e.baseline_ = std::make_shared<MelStatsEmbedder>(config, device);
  return e;
}

MultiOutput MixtureEmbedder::embed(const torch::Tensor& audio) {
  if (encoder_) return encoder_->embed_all(audio);
  return {baseline_->embed(audio).unsqueeze(1), {}};
}

int64_t MixtureEmbedder::dim() const { return encoder_ ? encoder_->dim() : baseline_->dim(); }

int64_t MixtureEmbedder::n_outputs() const { return encoder_ ? encoder_->n_outputs() : 1; }

Json MixtureEmbedder::describe() const {
  if (!encoder_) return baseline_json(baseline_->config());
  return {{"kind", "multi"},
          {"model", encoder_->config().kind},
          {"checkpoint", encoder_->path().string()},
          {"hash", encoder_->hash()},
          {"bf16", encoder_->bf16()}};
}

std::string MixtureEmbedder::name() const {
  if (!encoder_) return "baseline " + baseline_->config().kind;
  return encoder_->config().kind + " (" + encoder_->path().string() + ")";
}

void require_split(const fs::path& root, const std::string& split) {
  const fs::path path = root / "instruments.json";
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return;
  const Json list = read_json_file(path);
  if (!list.is_array()) throw FormatError(path.string() + ": not a JSON array of instruments");
  std::set<std::string> splits;
  for (const Json& e : list)
    if (e.is_object() && e.contains("split") && e["split"].is_string()) splits.insert(e["split"].get<std::string>());
  if (splits.count(split)) return;
  std::string names;
  for (const auto& s : splits) names += (names.empty() ? "" : ", ") + s;
  throw UsageError("unknown split '" + split + "': " + path.string() + " has the splits " +
                   (names.empty() ? "(none)" : names));
}

Json EvalToolConfig::defaults() {
  const EvalToolConfig c;
  return {{"batch_size", c.batch_size},
          {"workers", c.workers},
          {"baseline", {{"n_mfcc", c.baseline.n_mfcc}, {"mel", c.baseline.mel}}}};
}

EvalToolConfig EvalToolConfig::from_json(const Json& config, const std::string& baseline_kind) {
  EvalToolConfig c;
  c.batch_size = config_get<int64_t>(config, "batch_size");
  c.workers = config_get<int>(config, "workers");
  if (c.batch_size < 1 || c.workers < 0) throw UsageError("batch_size must be >= 1 and workers >= 0");
  c.baseline.kind = baseline_kind;
  c.baseline.n_mfcc = config_get<int>(config, "baseline.n_mfcc");
  instret::from_json(config["baseline"]["mel"], c.baseline.mel);
  return c;
}

}  // namespace instret
