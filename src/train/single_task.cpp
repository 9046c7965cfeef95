#include "instret/train/single_task.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cmath>

#include "instret/core/device.h"
#include "instret/core/error.h"
#include "instret/core/hash.h"
#include "instret/core/precision.h"
#include "instret/data/sampling.h"
#include "instret/loss/family_smoothing.h"
#include "instret/models/memory_format.h"
#include "instret/train/stop_signals.h"
#include "instret/inference/embed_clips.h"

namespace instret {

std::pair<std::vector<int64_t>, std::vector<int64_t>> split_heldout(const NlakhSingle& data, double fraction,
                                                                    uint64_t seed) {
  std::vector<int64_t> train, heldout;
  const auto& by_instrument = data.clips_by_instrument();
  for (size_t k = 0; k < by_instrument.size(); ++k) {
    const auto& clips = by_instrument[k];
    const int64_t n = int64_t(clips.size());
    int64_t held = std::llround(double(n) * fraction);
    if (fraction > 0 && n >= 2) held = std::max<int64_t>(held, 1);
    held = std::min(held, n - 1);
    const auto order = epoch_permutation(n, stream_seed(seed, {fnv1a("heldout"), uint64_t(k)}), 0);
    for (int64_t i = 0; i < n; ++i) (i < held ? heldout : train).push_back(clips[size_t(order[size_t(i)])]);
  }
  std::sort(train.begin(), train.end());
  std::sort(heldout.begin(), heldout.end());
  return {train, heldout};
}

SingleTask::SingleTask(const TrainConfig& config, const torch::Device& device, const Distributed& dist)
    : config_(config), model_config_(config.model), run_config_(config.json), device_(device),
      bf16_(resolve_precision(config.bf16, device).bf16), rank_(dist.rank()), world_(dist.world_size()) {
  if (config.data.root.empty()) throw UsageError("no dataset given (--data DIR, a render-nlakh output folder)");
  train_ = std::make_unique<NlakhSingle>(NlakhSingle::open(config.data.root, "train"));
  EerBenchmarkOptions eer;
  eer.clips_per_instrument = config.valid.clips_per_instrument;
  eer.protocol.enroll = config.valid.enroll;
  eer.protocol.targets = config.valid.targets;
  eer.protocol.non_targets = config.valid.non_targets;
  eer.seeds = config.valid.eer_seeds;
  valid_ = std::make_unique<EerBenchmark>(EerBenchmark::open(config.data.root, "valid", eer));
  const int64_t n_classes = int64_t(train_->instruments().size());
  model_config_.n_classes = n_classes;
  run_config_["model"]["n_classes"] = n_classes;
  if (config.single_task.family_smoothing > 0) {
    std::vector<std::string> families;
    for (const auto& instrument : train_->instruments()) families.push_back(instrument.family);
    smoothed_targets_ = family_smoothed_targets(families, config.single_task.family_smoothing).to(device_);
  }
  if (config.batch_size % world_ != 0)
    throw UsageError("batch_size " + std::to_string(config.batch_size) + " is not divisible by WORLD_SIZE " +
                     std::to_string(world_));
  PrefetchLoader::check_memory(double(config.batch_size / world_) * double(train_->clip_samples()) * sizeof(float),
                               config.data.workers, config.data.prefetch);
  std::tie(train_clips_, heldout_clips_) = split_heldout(*train_, config.data.heldout_fraction, config.seed);
  if (int64_t(train_clips_.size()) < config.batch_size)
    throw UsageError("the train split has " + std::to_string(train_clips_.size()) + " training clips, fewer than batch_size " +
                     std::to_string(config.batch_size));
  // The EER protocol needs enroll + targets clips of an instrument: fail now, not at the first validation.
  if (valid_->enrollable_instruments() < 2)
    throw UsageError("the valid split has fewer than 2 instruments with valid.enroll + valid.targets = " +
                     std::to_string(config.valid.enroll + config.valid.targets) +
                     " clips, which the EER needs: render more clips per instrument or "
                     "lower valid.enroll / valid.targets");
  spdlog::info("train-single: {} train instruments, {} training clips, {} held out; {} valid instruments, {} valid clips",
               n_classes, train_clips_.size(), heldout_clips_.size(), valid_->dataset().instruments().size(),
               valid_->clips().size());

  model_ = HanCnn(model_config_.han, model_config_.emb_dim, model_config_.n_classes);
  model_->to(device_);
  if (config.channels_last) to_channels_last(*model_);
  frontend_ = LogMel(config.mel);
  frontend_->to(device_);
  if (config.mel.n_frames(train_->clip_samples()) < 27 || config.mel.n_mels < 27)
    throw UsageError("clips of " + std::to_string(train_->clip_samples()) +
                     " samples are too short for the Han CNN's three 3x3/3 pools");
}

int64_t SingleTask::steps_per_epoch() const {
  return std::max<int64_t>(1, int64_t(train_clips_.size()) / config_.batch_size);
}

Batch SingleTask::make_batch(int64_t step) const {
  const int64_t spe = steps_per_epoch();
  const int64_t epoch = step / spe, k = step % spe;
  const auto order = epoch_permutation(int64_t(train_clips_.size()), config_.seed, epoch);
  const int64_t share = config_.batch_size / world_;
  std::vector<int64_t> clips, labels;
  for (int64_t i = 0; i < share; ++i) {
    const int64_t clip = train_clips_[size_t(order[size_t(k * config_.batch_size + rank_ * share + i)])];
    clips.push_back(clip);
    labels.push_back(train_->clips()[size_t(clip)].instrument);
  }
  return single_batch(*train_, clips, labels, step);
}

Batch SingleTask::synthetic_batch(int64_t step) const {
  auto [b, rng] = synthetic_audio_batch(step, config_.batch_size / world_, train_->clip_samples(), config_.seed);
  for (int64_t i = 0; i < b.size; ++i) b.labels.push_back(int64_t(rng.below(uint64_t(model_config_.n_classes))));
  return b;
}

torch::Tensor SingleTask::logmel(const Batch& batch) {
  torch::NoGradGuard no_grad;
  torch::Tensor audio =
      torch::from_blob(const_cast<float*>(batch.audio.data()), {batch.size, batch.samples}, torch::kFloat32);
  return frontend_->forward(to_device(audio, device_));
}

torch::Tensor SingleTask::loss(const Batch& batch) {
  model_->train();
  const torch::Tensor labels = to_device(torch::tensor(batch.labels, torch::kInt64), device_);
  const torch::Tensor logits = model_->forward(logmel(batch)).logits;
  if (smoothed_targets_.defined()) return smoothed_cross_entropy(logits, labels, smoothed_targets_);
  return torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), labels);
}

Json SingleTask::validate() {
  model_->eval();
  torch::NoGradGuard no_grad;
  Json metrics = Json::object();
  const int64_t samples = train_->clip_samples();
  const int workers = std::max(1, config_.data.workers);
  auto forward = [&](const torch::Tensor& audio) {
    const torch::Tensor mel = frontend_->forward(to_device(audio, device_));
    Autocast autocast(bf16_, device_);
    const HanCnnOutput out = model_->forward(mel);
    return torch::cat({out.logits.to(torch::kFloat32), out.embedding.to(torch::kFloat32)}, 1);
  };
  if (!heldout_clips_.empty()) {
    const torch::Tensor out = embed_clips(
        int64_t(heldout_clips_.size()), samples,
        [&](int64_t i, float* dst) { train_->read(heldout_clips_[size_t(i)], dst); }, forward,
        config_.valid.batch_size, workers, "valid held-out clips", stop_requested);
    const torch::Tensor logits = out.narrow(1, 0, model_config_.n_classes);
    std::vector<int64_t> truth;
    for (int64_t c : heldout_clips_) truth.push_back(train_->clips()[size_t(c)].instrument);
    const torch::Tensor labels = torch::tensor(truth, torch::kInt64);
    metrics["loss"] = torch::nn::functional::cross_entropy(logits, labels).item<double>();
    metrics["accuracy"] = logits.argmax(1).eq(labels).to(torch::kFloat64).mean().item<double>();
  }
  // The same benchmark as eval-eer (instret/eval/eer_benchmark.h), means over the seeds.
  const torch::Tensor out =
      valid_->embed(forward, config_.valid.batch_size, workers, "valid unseen-instrument clips", stop_requested);
  metrics.update(EerBenchmark::metrics(valid_->evaluate(out.narrow(1, model_config_.n_classes, model_config_.emb_dim))));
  model_->train();
  return metrics;
}

}  // namespace instret
