#include "instret/train/single_task_config.h"

#include "instret/core/config_checks.h"
#include "instret/train/train_config.h"

namespace instret {

void SingleTaskConfig::validate(const TrainConfig& config) const {
  config_require(!config.model.is_multi(), "model.kind", "train-single trains \"han_cnn\", not \"" + config.model.kind + "\"");
  config_require(config.data.kind == "single", "data.kind", "train-single reads \"single\"");
  config_require(family_smoothing >= 0 && family_smoothing <= 1, "family_smoothing", "must be in [0, 1]");
}

Json to_json(const SingleTaskConfig& c) { return {{"family_smoothing", c.family_smoothing}}; }

SingleTaskConfig single_task_config_from_json(const Json& j, const TrainConfig& config) {
  SingleTaskConfig c;
  c.family_smoothing = config_get<double>(j, "family_smoothing");
  c.validate(config);
  return c;
}

}  // namespace instret
