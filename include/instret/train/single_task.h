// train-single: the Han CNN classifier over the train instruments of an Nlakh dataset, validated by
// accuracy on held-out clips of the train instruments and by the EER on the valid split's unseen
// instruments.
#pragma once
#include <memory>

#include "instret/audio/mel.h"
#include "instret/data/nlakh_dataset.h"
#include "instret/eval/eer_benchmark.h"
#include "instret/models/han_cnn.h"
#include "instret/train/distributed.h"
#include "instret/train/trainer.h"

namespace instret {

class SingleTask : public TrainTask {
 public:
  // Opens the dataset of config.data.root and builds the classifier over its train instruments:
  // model_config().n_classes is their number, and run_config() records it (a continued run on a
  // dataset with another instrument count then fails when its checkpoint is loaded: the
  // classifier's shape differs). The config itself is left as given. The model is built here, so
  // seed the generator before.
  SingleTask(const TrainConfig& config, const torch::Device& device, const Distributed& dist);

  torch::nn::Module& model() override { return *model_; }
  const ModelConfig& model_config() const override { return model_config_; }
  const Json& run_config() const override { return run_config_; }
  int64_t steps_per_epoch() const override;
  Batch make_batch(int64_t step) const override;
  Batch synthetic_batch(int64_t step) const override;
  torch::Tensor loss(const Batch& batch) override;
  Json validate() override;
  std::pair<std::string, bool> best_metric() const override { return {"eer", false}; }

  const std::vector<int64_t>& train_clips() const { return train_clips_; }
  const std::vector<int64_t>& heldout_clips() const { return heldout_clips_; }

 private:
  torch::Tensor logmel(const Batch& batch);

  const TrainConfig& config_;
  ModelConfig model_config_;  // config_.model with n_classes from the data
  Json run_config_;           // config_.json with that model.n_classes
  torch::Device device_;
  bool bf16_;  // bf16 autocast of validation's forward passes
  int rank_, world_;
  std::unique_ptr<NlakhSingle> train_;
  std::unique_ptr<EerBenchmark> valid_;              // the valid split's EER benchmark (as eval-eer's)
  std::vector<int64_t> train_clips_, heldout_clips_;  // indices into train_->clips()
  torch::Tensor smoothed_targets_;  // (classes, classes) with family_smoothing > 0, else undefined
  LogMel frontend_{nullptr};
  HanCnn model_{nullptr};
};

// The clips of each instrument split into (train, held out): per instrument a seeded permutation,
// round(n * fraction) held out (at least 1 when fraction > 0 and the instrument has >= 2 clips).
std::pair<std::vector<int64_t>, std::vector<int64_t>> split_heldout(const NlakhSingle& data, double fraction,
                                                                    uint64_t seed);

}  // namespace instret
