#include "instret/train/train_config.h"

#include <cmath>
#include <limits>

#include "instret/core/config_checks.h"
#include "instret/eval/eer.h"

namespace instret {

namespace {

// The JSON of a bf16 mode, as the config reads it: "auto", true or false.
Json bf16_mode_json(Bf16Mode mode) {
  if (mode == Bf16Mode::kAuto) return "auto";
  return mode == Bf16Mode::kOn;
}

}  // namespace

Json to_json(const OptimConfig& o) {
  return {{"lr", o.lr},
          {"betas", {o.beta1, o.beta2}},
          {"weight_decay", o.weight_decay},
          {"warmup_steps", o.warmup_steps},
          {"schedule", o.schedule},
          {"min_lr", o.min_lr},
          {"grad_clip", o.grad_clip}};
}

Json to_json(const DataConfig& d) {
  return {{"root", d.root},
          {"kind", d.kind},
          {"heldout_fraction", d.heldout_fraction},
          {"mixes_per_epoch", d.mixes_per_epoch},
          {"min_tracks", d.min_tracks},
          {"max_tracks", d.max_tracks},
          {"workers", d.workers},
          {"prefetch", d.prefetch}};
}

Json to_json(const ValidConfig& v) {
  return {{"every", v.every},
          {"eer_seeds", v.eer_seeds},
          {"enroll", v.enroll},
          {"targets", v.targets},
          {"non_targets", v.non_targets},
          {"library_clips", v.library_clips},
          {"clips_per_instrument", v.clips_per_instrument},
          {"max_mixtures", v.max_mixtures},
          {"batch_size", v.batch_size}};
}

Json to_json(const TrainConfig& c) {
  Json mel;
  to_json(mel, c.mel);
  Json config = {{"model", to_json(c.model)},
                 {"mel", mel},
                 {"optim", to_json(c.optim)},
                 {"data", to_json(c.data)},
                 {"valid", to_json(c.valid)},
                 {"batch_size", c.batch_size},
                 {"steps", c.steps},
                 {"seed", c.seed},
                 {"log_every", c.log_every},
                 {"checkpoint_every", c.checkpoint_every},
                 {"threads", c.threads},
                 {"device", c.device},
                 {"bf16", bf16_mode_json(c.bf16)},
                 {"channels_last", c.channels_last},
                 {"deterministic", c.deterministic}};
  config.update(c.model.is_multi() ? to_json(c.multi_task) : to_json(c.single_task));
  return config;
}

Json train_default_config(bool multi) {
  // The structs hold the defaults; only what differs between the two tools is set here.
  TrainConfig c;
  c.model.kind = multi ? "large" : "han_cnn";
  c.data.kind = multi ? "random" : "single";
  c.batch_size = multi ? 128 : 32;
  return to_json(c);
}

namespace {

// One seed of a list (config_get checks single integer keys the same way).
uint64_t get_seed(const Json& value, const std::string& key) {
  if (!value.is_number_integer() || (!value.is_number_unsigned() && value.get<int64_t>() < 0))
    throw UsageError("config key '" + key + "': a seed must be an integer >= 0, got " + value.dump());
  return value.get<uint64_t>();
}

}  // namespace

TrainConfig train_config_from_json(const Json& j, bool multi) {
  TrainConfig c;
  c.json = j;
  c.model = model_config_from_json(j.at("model"), "model");
  try {
    from_json(j.at("mel"), c.mel);
  } catch (const UsageError& e) {
    throw UsageError(std::string("config key 'mel': ") + e.what());
  }

  auto& o = c.optim;
  o.lr = config_get<double>(j, "optim.lr");
  const auto betas = config_get<std::vector<double>>(j, "optim.betas");
  config_require(betas.size() == 2, "optim.betas", "needs two values");
  o.beta1 = betas[0];
  o.beta2 = betas[1];
  o.weight_decay = config_get<double>(j, "optim.weight_decay");
  o.warmup_steps = config_get<int64_t>(j, "optim.warmup_steps");
  o.schedule = config_get<std::string>(j, "optim.schedule");
  o.min_lr = config_get<double>(j, "optim.min_lr");
  o.grad_clip = config_get<double>(j, "optim.grad_clip");
  config_require(o.lr > 0 && std::isfinite(o.lr), "optim.lr", "must be a positive number");
  config_require(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, "optim.betas", "must lie in [0, 1)");
  config_require(o.weight_decay >= 0, "optim.weight_decay", "must be >= 0");
  config_require(o.warmup_steps >= 0, "optim.warmup_steps", "must be >= 0");
  config_require(config_one_of(o.schedule, {"constant", "cosine"}), "optim.schedule", "must be \"constant\" or \"cosine\"");
  config_require(o.min_lr >= 0 && o.min_lr <= o.lr, "optim.min_lr", "must lie in [0, lr]");

  auto& d = c.data;
  d.root = config_get<std::string>(j, "data.root");
  d.kind = config_get<std::string>(j, "data.kind");
  d.heldout_fraction = config_get<double>(j, "data.heldout_fraction");
  d.mixes_per_epoch = config_get<int64_t>(j, "data.mixes_per_epoch");
  d.min_tracks = config_get<int>(j, "data.min_tracks");
  d.max_tracks = config_get<int>(j, "data.max_tracks");
  d.workers = config_get<int>(j, "data.workers");
  d.prefetch = config_get<int>(j, "data.prefetch");
  config_require(d.heldout_fraction >= 0 && d.heldout_fraction < 1, "data.heldout_fraction", "must lie in [0, 1)");
  config_require(d.mixes_per_epoch >= 0, "data.mixes_per_epoch", "must be >= 0");
  config_require(d.min_tracks >= 1 && d.min_tracks <= d.max_tracks, "data.min_tracks", "must lie in [1, max_tracks]");
  config_require(d.workers >= 0 && d.workers <= 256, "data.workers", "must lie in [0, 256]");
  config_require(d.prefetch >= 1 && d.prefetch <= 1024, "data.prefetch", "must lie in [1, 1024]");

  auto& v = c.valid;
  v.every = config_get<int64_t>(j, "valid.every");
  const Json seeds = config_get<Json>(j, "valid.eer_seeds");
  config_require(seeds.is_array(), "valid.eer_seeds", "must be a list of seeds");
  v.eer_seeds.clear();
  for (const Json& s : seeds) v.eer_seeds.push_back(get_seed(s, "valid.eer_seeds"));
  v.enroll = config_get<int>(j, "valid.enroll");
  v.targets = config_get<int>(j, "valid.targets");
  v.non_targets = config_get<int>(j, "valid.non_targets");
  v.library_clips = config_get<int>(j, "valid.library_clips");
  v.clips_per_instrument = config_get<int64_t>(j, "valid.clips_per_instrument");
  v.max_mixtures = config_get<int64_t>(j, "valid.max_mixtures");
  v.batch_size = config_get<int64_t>(j, "valid.batch_size");
  config_require(v.every >= 0, "valid.every", "must be >= 0");
  config_require(!v.eer_seeds.empty() && v.eer_seeds.size() <= kMaxEerSeeds, "valid.eer_seeds",
                 "needs 1 to " + std::to_string(kMaxEerSeeds) + " seeds");
  for (const auto& [key, value] : {std::pair{"valid.enroll", v.enroll}, {"valid.targets", v.targets},
                                   {"valid.non_targets", v.non_targets}})
    config_require(value >= 1 && value <= kMaxEerCount, key, "must lie in [1, " + std::to_string(kMaxEerCount) + "]");
  config_require(v.library_clips >= 1, "valid.library_clips", "must be >= 1");
  config_require(v.clips_per_instrument >= 0, "valid.clips_per_instrument", "must be >= 0");
  config_require(v.max_mixtures >= 0, "valid.max_mixtures", "must be >= 0");
  config_require(v.batch_size >= 1 && v.batch_size <= 1000000, "valid.batch_size", "must lie in [1, 1000000]");

  c.batch_size = config_get<int64_t>(j, "batch_size");
  c.steps = config_get<int64_t>(j, "steps");
  c.seed = config_get<uint64_t>(j, "seed");
  c.log_every = config_get<int64_t>(j, "log_every");
  c.checkpoint_every = config_get<int64_t>(j, "checkpoint_every");
  c.threads = config_get<int>(j, "threads");
  c.device = config_get<std::string>(j, "device");
  c.bf16 = bf16_mode_from_json(j.at("bf16"), "bf16");
  c.channels_last = config_get<bool>(j, "channels_last");
  c.deterministic = config_get<bool>(j, "deterministic");
  config_require(c.batch_size >= 1 && c.batch_size <= 1000000, "batch_size", "must lie in [1, 1000000]");
  config_require(c.steps >= 1, "steps", "must be >= 1");
  config_require(c.log_every >= 1, "log_every", "must be >= 1");
  config_require(c.checkpoint_every >= 0, "checkpoint_every", "must be >= 0");
  config_require(c.threads >= 0, "threads", "must be >= 0");

  // The tool's own section, which also checks that the shared sections suit its task.
  if (multi) c.multi_task = multi_task_config_from_json(j, c);
  else c.single_task = single_task_config_from_json(j, c);
  return c;
}

}  // namespace instret
