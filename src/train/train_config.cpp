#include "instret/train/train_config.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "instret/train/warm_start.h"

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

Json to_json(const TrainConfig& c, bool multi) {
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
  if (!multi) {
    config["family_smoothing"] = c.family_smoothing;
  } else {
    config["single_encoder"] = c.single_encoder;
    config["loss_reduction"] = c.loss_reduction;
    config["contrastive"] = {{"weight", c.contrastive_weight}, {"temperature", c.contrastive_temperature}};
    config["existence"] = {{"weight", c.existence_weight}};
    config["targets"] = c.targets;
    config["targets_dir"] = c.targets_dir;
    config["warm_start"] = c.warm_start;
  }
  return config;
}

Json train_default_config(bool multi) {
  // The structs hold the defaults; only what differs between the two tools is set here.
  TrainConfig c;
  c.model.kind = multi ? "large" : "han_cnn";
  c.data.kind = multi ? "random" : "single";
  c.batch_size = multi ? 128 : 32;
  return to_json(c, multi);
}

namespace {

void require(bool ok, const std::string& key, const std::string& what) {
  if (!ok) throw UsageError("config key '" + key + "': " + what);
}

// One seed of a list (config_get checks single integer keys the same way).
uint64_t get_seed(const Json& value, const std::string& key) {
  if (!value.is_number_integer() || (!value.is_number_unsigned() && value.get<int64_t>() < 0))
    throw UsageError("config key '" + key + "': a seed must be an integer >= 0, got " + value.dump());
  return value.get<uint64_t>();
}

bool one_of(const std::string& v, std::initializer_list<const char*> allowed) {
  return std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return v == a; });
}

}  // namespace

TrainConfig train_config_from_json(const Json& j, bool multi) {
  TrainConfig c;
  c.json = j;
  c.model = model_config_from_json(j.at("model"), "model");
  if (multi) require(c.model.is_multi(), "model.kind", "train-multi trains \"small\" or \"large\", not \"" + c.model.kind + "\"");
  else require(!c.model.is_multi(), "model.kind", "train-single trains \"han_cnn\", not \"" + c.model.kind + "\"");
  try {
    from_json(j.at("mel"), c.mel);
  } catch (const UsageError& e) {
    throw UsageError(std::string("config key 'mel': ") + e.what());
  }

  auto& o = c.optim;
  o.lr = config_get<double>(j, "optim.lr");
  const auto betas = config_get<std::vector<double>>(j, "optim.betas");
  require(betas.size() == 2, "optim.betas", "needs two values");
  o.beta1 = betas[0];
  o.beta2 = betas[1];
  o.weight_decay = config_get<double>(j, "optim.weight_decay");
  o.warmup_steps = config_get<int64_t>(j, "optim.warmup_steps");
  o.schedule = config_get<std::string>(j, "optim.schedule");
  o.min_lr = config_get<double>(j, "optim.min_lr");
  o.grad_clip = config_get<double>(j, "optim.grad_clip");
  require(o.lr > 0 && std::isfinite(o.lr), "optim.lr", "must be a positive number");
  require(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, "optim.betas", "must lie in [0, 1)");
  require(o.weight_decay >= 0, "optim.weight_decay", "must be >= 0");
  require(o.warmup_steps >= 0, "optim.warmup_steps", "must be >= 0");
  require(one_of(o.schedule, {"constant", "cosine"}), "optim.schedule", "must be \"constant\" or \"cosine\"");
  require(o.min_lr >= 0 && o.min_lr <= o.lr, "optim.min_lr", "must lie in [0, lr]");

  auto& d = c.data;
  d.root = config_get<std::string>(j, "data.root");
  d.kind = config_get<std::string>(j, "data.kind");
  d.heldout_fraction = config_get<double>(j, "data.heldout_fraction");
  d.mixes_per_epoch = config_get<int64_t>(j, "data.mixes_per_epoch");
  d.min_tracks = config_get<int>(j, "data.min_tracks");
  d.max_tracks = config_get<int>(j, "data.max_tracks");
  d.workers = config_get<int>(j, "data.workers");
  d.prefetch = config_get<int>(j, "data.prefetch");
  if (multi) require(one_of(d.kind, {"nlakh", "random"}), "data.kind", "must be \"nlakh\" or \"random\"");
  else require(d.kind == "single", "data.kind", "train-single reads \"single\"");
  require(d.heldout_fraction >= 0 && d.heldout_fraction < 1, "data.heldout_fraction", "must lie in [0, 1)");
  require(d.mixes_per_epoch >= 0, "data.mixes_per_epoch", "must be >= 0");
  require(d.min_tracks >= 1 && d.min_tracks <= d.max_tracks, "data.min_tracks", "must lie in [1, max_tracks]");
  require(d.max_tracks <= c.model.n_outputs || !multi, "data.max_tracks",
          "must not exceed model.n_outputs (" + std::to_string(c.model.n_outputs) + ")");
  require(d.workers >= 0 && d.workers <= 256, "data.workers", "must lie in [0, 256]");
  require(d.prefetch >= 1 && d.prefetch <= 1024, "data.prefetch", "must lie in [1, 1024]");

  auto& v = c.valid;
  v.every = config_get<int64_t>(j, "valid.every");
  const Json seeds = config_get<Json>(j, "valid.eer_seeds");
  require(seeds.is_array(), "valid.eer_seeds", "must be a list of seeds");
  v.eer_seeds.clear();
  for (const Json& s : seeds) v.eer_seeds.push_back(get_seed(s, "valid.eer_seeds"));
  v.enroll = config_get<int>(j, "valid.enroll");
  v.targets = config_get<int>(j, "valid.targets");
  v.non_targets = config_get<int>(j, "valid.non_targets");
  v.library_clips = config_get<int>(j, "valid.library_clips");
  v.clips_per_instrument = config_get<int64_t>(j, "valid.clips_per_instrument");
  v.max_mixtures = config_get<int64_t>(j, "valid.max_mixtures");
  v.batch_size = config_get<int64_t>(j, "valid.batch_size");
  require(v.every >= 0, "valid.every", "must be >= 0");
  require(!v.eer_seeds.empty(), "valid.eer_seeds", "needs at least one seed");
  require(v.enroll >= 1 && v.targets >= 1 && v.non_targets >= 1, "valid.enroll", "enroll, targets, non_targets must be >= 1");
  require(v.library_clips >= 1, "valid.library_clips", "must be >= 1");
  require(v.clips_per_instrument >= 0, "valid.clips_per_instrument", "must be >= 0");
  require(v.max_mixtures >= 0, "valid.max_mixtures", "must be >= 0");
  require(v.batch_size >= 1, "valid.batch_size", "must be >= 1");

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
  require(c.batch_size >= 1, "batch_size", "must be >= 1");
  require(c.steps >= 1, "steps", "must be >= 1");
  require(c.log_every >= 1, "log_every", "must be >= 1");
  require(c.checkpoint_every >= 0, "checkpoint_every", "must be >= 0");
  require(c.threads >= 0, "threads", "must be >= 0");

  if (!multi) {
    c.family_smoothing = config_get<double>(j, "family_smoothing");
    require(c.family_smoothing >= 0 && c.family_smoothing <= 1, "family_smoothing", "must be in [0, 1]");
  } else {
    c.single_encoder = config_get<std::string>(j, "single_encoder");
    c.loss_reduction = config_get<std::string>(j, "loss_reduction");
    c.targets = config_get<std::string>(j, "targets");
    c.targets_dir = config_get<std::string>(j, "targets_dir");
    c.contrastive_weight = config_get<double>(j, "contrastive.weight");
    c.contrastive_temperature = config_get<double>(j, "contrastive.temperature");
    c.existence_weight = config_get<double>(j, "existence.weight");
    c.warm_start = config_get<std::string>(j, "warm_start");
    require(one_of(c.loss_reduction, {"mean", "sum"}), "loss_reduction", "must be \"mean\" or \"sum\"");
    require(c.contrastive_weight >= 0 && std::isfinite(c.contrastive_weight), "contrastive.weight", "must be >= 0");
    require(c.existence_weight >= 0 && std::isfinite(c.existence_weight), "existence.weight", "must be >= 0");
    require(c.contrastive_temperature > 0 && std::isfinite(c.contrastive_temperature), "contrastive.temperature",
            "must be > 0");
    require(one_of(c.targets, {"cache", "on_the_fly"}), "targets", "must be \"cache\" or \"on_the_fly\"");
    validate_warm_start(c.warm_start, c.model);
  }
  return c;
}

}  // namespace instret
