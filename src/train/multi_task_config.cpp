#include "instret/train/multi_task_config.h"

#include <cmath>

#include "instret/core/config_checks.h"
#include "instret/train/train_config.h"
#include "instret/train/warm_start.h"

namespace instret {

void MultiTaskConfig::validate(const TrainConfig& config) const {
  config_require(config.model.is_multi(), "model.kind",
                 "train-multi trains \"small\" or \"large\", not \"" + config.model.kind + "\"");
  config_require(config_one_of(config.data.kind, {"nlakh", "random"}), "data.kind", "must be \"nlakh\" or \"random\"");
  config_require(config.data.max_tracks <= config.model.n_outputs, "data.max_tracks",
                 "must not exceed model.n_outputs (" + std::to_string(config.model.n_outputs) + ")");
  config_require(config_one_of(loss_reduction, {"mean", "sum"}), "loss_reduction", "must be \"mean\" or \"sum\"");
  config_require(contrastive_weight >= 0 && std::isfinite(contrastive_weight), "contrastive.weight", "must be >= 0");
  config_require(existence_weight >= 0 && std::isfinite(existence_weight), "existence.weight", "must be >= 0");
  config_require(contrastive_temperature > 0 && std::isfinite(contrastive_temperature), "contrastive.temperature",
                 "must be > 0");
  config_require(config_one_of(targets, {"cache", "on_the_fly"}), "targets", "must be \"cache\" or \"on_the_fly\"");
  validate_warm_start(warm_start, config.model);
}

Json to_json(const MultiTaskConfig& c) {
  return {{"single_encoder", c.single_encoder},
          {"loss_reduction", c.loss_reduction},
          {"contrastive", {{"weight", c.contrastive_weight}, {"temperature", c.contrastive_temperature}}},
          {"existence", {{"weight", c.existence_weight}}},
          {"targets", c.targets},
          {"targets_dir", c.targets_dir},
          {"warm_start", c.warm_start}};
}

MultiTaskConfig multi_task_config_from_json(const Json& j, const TrainConfig& config) {
  MultiTaskConfig c;
  c.single_encoder = config_get<std::string>(j, "single_encoder");
  c.loss_reduction = config_get<std::string>(j, "loss_reduction");
  c.contrastive_weight = config_get<double>(j, "contrastive.weight");
  c.contrastive_temperature = config_get<double>(j, "contrastive.temperature");
  c.existence_weight = config_get<double>(j, "existence.weight");
  c.targets = config_get<std::string>(j, "targets");
  c.targets_dir = config_get<std::string>(j, "targets_dir");
  c.warm_start = config_get<std::string>(j, "warm_start");
  c.validate(config);
  return c;
}

}  // namespace instret
