// train-multi: the multi-instrument encoder (Small or Large) trained with the PIT cosine loss against
// the frozen single encoder's embeddings of the stems, on Nlakh-multi mixtures or on random mixes of
// Nlakh-single clips; validated by the loss and the instrument-level F1 on Nlakh-multi valid, with
// the valid instruments as the library.
#pragma once
#include <memory>

#include "instret/audio/mel.h"
#include "instret/data/nlakh_dataset.h"
#include "instret/data/random_mix.h"
#include "instret/eval/retrieval_benchmark.h"
#include "instret/loss/pit_cosine_loss.h"
#include "instret/models/encoders.h"
#include "instret/train/distributed.h"
#include "instret/inference/single_encoder.h"
#include "instret/train/trainer.h"

namespace instret {

class MultiTask : public TrainTask {
 public:
  // Opens the data, loads the single encoder and its targets (cache or on the fly), builds the
  // model (seed the generator before). Rank 0 fills the target cache while the others wait.
  MultiTask(const TrainConfig& config, const torch::Device& device, Distributed& dist);

  torch::nn::Module& model() override { return *model_; }
  const ModelConfig& model_config() const override { return config_.model; }
  const Json& run_config() const override { return config_.json; }
  int64_t steps_per_epoch() const override;
  Batch make_batch(int64_t step) const override;
  Batch synthetic_batch(int64_t step) const override;
  torch::Tensor loss(const Batch& batch) override;
  Json validate() override;
  std::pair<std::string, bool> best_metric() const override { return {"f1_macro", true}; }

 private:
  // Targets (B, max count, D) on the device and counts (B) of a batch: rows of `table`, or the single
  // encoder's embeddings of the batch's stems when `from_stems`.
  std::pair<torch::Tensor, torch::Tensor> targets(const Batch& batch, const torch::Tensor& table, bool from_stems);
  MultiOutput forward_audio(const torch::Tensor& audio);

  const TrainConfig& config_;
  torch::Device device_;
  bool bf16_;  // bf16 autocast of validation's and the targets' forward passes
  int rank_, world_;
  bool random_;
  const bool on_the_fly_;
  PitReduction reduction_;
  RandomMixConfig mix_;
  std::unique_ptr<NlakhSingle> single_train_;
  std::unique_ptr<NlakhMulti> multi_train_;
  std::unique_ptr<RetrievalBenchmark> valid_;  // the valid split's retrieval benchmark (as eval-retrieval's)
  std::unique_ptr<SingleEncoder> encoder_;
  torch::Tensor train_targets_;  // (rows, D) on the device: per single clip (random) or per stem (nlakh)
  torch::Tensor valid_targets_;  // (valid stems, D) on the CPU
  torch::Tensor library_;        // (valid instruments, D) normalised; zero rows for instruments without clips
  std::vector<int64_t> stem_instrument_;  // Nlakh-multi train: instrument of each flat stem row
  LogMel frontend_{nullptr};
  MultiEncoderNet model_{nullptr};
};

}  // namespace instret
