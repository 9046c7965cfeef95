#include "instret/train/multi_task.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "instret/core/device.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/core/hash.h"
#include "instret/core/precision.h"
#include "instret/data/sampling.h"
#include "instret/eval/retrieval_benchmark.h"
#include "instret/loss/existence_loss.h"
#include "instret/loss/matched_contrastive_loss.h"
#include "instret/models/memory_format.h"
#include "instret/train/stop_signals.h"
#include "instret/inference/cached_embeddings.h"
#include "instret/train/warm_start.h"

namespace instret {
namespace fs = std::filesystem;

namespace {

// Identifies a clip list by its manifest's bytes.
std::string manifest_key(const std::string& root, const std::string& name) {
  return file_hash(fs::path(root) / (name + ".jsonl"));
}

}  // namespace

MultiTask::MultiTask(const TrainConfig& config, const torch::Device& device, Distributed& dist)
    : config_(config), device_(device), bf16_(resolve_precision(config.bf16, device).bf16), rank_(dist.rank()),
      world_(dist.world_size()),
      random_(config.data.kind == "random"), on_the_fly_(config.multi_task.targets == "on_the_fly"),
      reduction_(pit_reduction_from_string(config.multi_task.loss_reduction)) {
  const std::string& root = config.data.root;
  if (root.empty()) throw UsageError("no dataset given (--data DIR, a render-nlakh output folder)");
  if (config.batch_size % world_ != 0)
    throw UsageError("batch_size " + std::to_string(config.batch_size) + " is not divisible by WORLD_SIZE " +
                     std::to_string(world_));
  mix_.min_tracks = config.data.min_tracks;
  mix_.max_tracks = config.data.max_tracks;
  if (random_) single_train_ = std::make_unique<NlakhSingle>(NlakhSingle::open(root, "train"));
  else multi_train_ = std::make_unique<NlakhMulti>(NlakhMulti::open(root, "train"));
  // The valid split's retrieval benchmark, as eval-retrieval's (no chance levels).
  RetrievalBenchmarkOptions bench;
  bench.library_clips = config.valid.library_clips;
  bench.max_mixtures = config.valid.max_mixtures;
  bench.chance.repeats = 0;
  valid_ = std::make_unique<RetrievalBenchmark>(RetrievalBenchmark::open(root, "valid", bench));
  // A batch holds its mixtures' audio, and with targets on the fly each stem's too.
  PrefetchLoader::check_memory(double(config.batch_size / world_) * double(valid_->instruments().clip_samples()) *
                                   sizeof(float) * (1.0 + (on_the_fly_ ? double(config.model.n_outputs) : 0.0)),
                               config.data.workers, config.data.prefetch);
  for (const NlakhMulti* m : std::initializer_list<const NlakhMulti*>{multi_train_.get(), &valid_->mixtures()}) {
    if (!m) continue;
    for (const MultiItem& item : m->items())
      if (int64_t(item.stems.size()) > config.model.n_outputs)
        throw UsageError(root + ": a mixture has " + std::to_string(item.stems.size()) + " stems, more than model.n_outputs (" +
                         std::to_string(config.model.n_outputs) + ")");
  }
  if (!random_) {
    for (const MultiItem& item : multi_train_->items())
      for (const MultiStem& stem : item.stems) stem_instrument_.push_back(stem.instrument);
    const int64_t n = int64_t(multi_train_->items().size());
    if (config.batch_size > n || config.data.mixes_per_epoch > n)
      throw UsageError(root + " has " + std::to_string(n) + " train mixtures: batch_size and data.mixes_per_epoch "
                       "cannot exceed that with data.kind nlakh (mixtures would repeat)");
  }

  encoder_ = std::make_unique<SingleEncoder>(config.multi_task.single_encoder, device_, bf16_);
  if (encoder_->dim() != config.model.emb_dim)
    throw UsageError("the single encoder " + config.multi_task.single_encoder + " gives " + std::to_string(encoder_->dim()) +
                     "-d embeddings, model.emb_dim is " + std::to_string(config.model.emb_dim));
  check_warm_start(config.multi_task.warm_start, config.model, *encoder_, config.mel);  // before the target caches
  const fs::path cache_dir = config.multi_task.targets_dir.empty() ? fs::path(root) / "targets" : fs::path(config.multi_task.targets_dir);
  const int workers = std::max(1, config.data.workers);
  const int64_t batch = config.valid.batch_size;
  auto single_cache = [&](const NlakhSingle& d, const std::string& name) {
    return cached_embeddings(*encoder_, cache_dir, name, manifest_key(root, name), int64_t(d.clips().size()),
                             d.clip_samples(), [&](int64_t i, float* out) { d.read(i, out); }, batch, workers);
  };
  auto stem_cache = [&](const NlakhMulti& d, const std::string& name) {
    std::vector<std::pair<int64_t, int64_t>> rows;
    for (int64_t i = 0; i < int64_t(d.items().size()); ++i)
      for (int64_t k = 0; k < int64_t(d.items()[size_t(i)].stems.size()); ++k) rows.emplace_back(i, k);
    return cached_embeddings(*encoder_, cache_dir, name, manifest_key(root, name), d.n_stems(), d.clip_samples(),
                             [&](int64_t r, float* out) { d.read_stem(rows[size_t(r)].first, rows[size_t(r)].second, out); },
                             batch, workers);
  };
  torch::Tensor valid_clips;
  std::exception_ptr error;
  auto build_or_read = [&] {
    try {
      if (!on_the_fly_) train_targets_ = (random_ ? single_cache(*single_train_, "single_train")
                                                  : stem_cache(*multi_train_, "multi_train")).to(device_);
      valid_targets_ = stem_cache(valid_->mixtures(), "multi_valid");
      valid_clips = single_cache(valid_->instruments(), "single_valid");
    } catch (...) {
      error = std::current_exception();
    }
  };
  // Rank 0 computes and stores the caches while the other ranks wait; then they read them. Every
  // rank learns whether either part failed, so none is left waiting.
  if (dist.is_main()) build_or_read();
  dist.agree(error, "building the target caches");
  if (!dist.is_main()) build_or_read();
  dist.agree(error, "reading the target caches");

  // The library from the cached embeddings of its clips (the same clips and means as eval-retrieval's).
  std::vector<int64_t> lib_rows;
  for (const auto& clip : valid_->library_clips()) lib_rows.push_back(clip.first);
  library_ = valid_->library(valid_clips.index_select(0, torch::tensor(lib_rows, torch::kInt64)));

  model_ = MultiEncoderNet(config.model);
  warm_start(*model_, config.multi_task.warm_start, *encoder_, config.mel);
  model_->to(device_);
  if (config.channels_last) to_channels_last(*model_);
  frontend_ = LogMel(config.mel);
  frontend_->to(device_);
  spdlog::info("train-multi ({} data{}): {} train {}, {} valid mixtures, {} valid instruments in the library",
               random_ ? "random-mix" : "Nlakh-multi", on_the_fly_ ? ", targets on the fly" : "",
               random_ ? single_train_->clips().size() : multi_train_->items().size(),
               random_ ? "single clips" : "mixtures", valid_->n_items(), valid_->n_labels());
}

int64_t MultiTask::steps_per_epoch() const {
  int64_t per_epoch = config_.data.mixes_per_epoch;
  if (per_epoch == 0) per_epoch = random_ ? 10000 : int64_t(multi_train_->items().size());
  return std::max<int64_t>(1, per_epoch / config_.batch_size);
}

Batch MultiTask::make_batch(int64_t step) const {
  const int64_t spe = steps_per_epoch();
  const int64_t epoch = step / spe, k = step % spe;
  const int64_t share = config_.batch_size / world_;
  const int64_t first = k * config_.batch_size + rank_ * share;
  if (random_) {
    std::vector<std::vector<int64_t>> recipes;
    for (int64_t i = 0; i < share; ++i)
      recipes.push_back(random_mix_recipe(*single_train_, mix_, config_.seed, epoch, k, first - k * config_.batch_size + i));
    return random_mix_batch(*single_train_, recipes, on_the_fly_, step);
  }
  const auto order = epoch_permutation(int64_t(multi_train_->items().size()), config_.seed, epoch);
  std::vector<int64_t> items;
  for (int64_t i = 0; i < share; ++i) items.push_back(order[size_t((first + i) % int64_t(order.size()))]);
  return multi_batch(*multi_train_, items, on_the_fly_, step);
}

Batch MultiTask::synthetic_batch(int64_t step) const {
  auto [b, rng] = synthetic_audio_batch(step, config_.batch_size / world_, valid_->instruments().clip_samples(), config_.seed);
  const int64_t rows = on_the_fly_ ? 0 : train_targets_.size(0);
  b.target_offsets.push_back(0);
  for (int64_t i = 0; i < b.size; ++i) {
    const int64_t n = config_.data.min_tracks + int64_t(rng.below(uint64_t(config_.data.max_tracks - config_.data.min_tracks + 1)));
    for (int64_t j = 0; j < n; ++j) b.target_rows.push_back(rows > 0 ? int64_t(rng.below(uint64_t(rows))) : 0);
    b.target_offsets.push_back(int64_t(b.target_rows.size()));
  }
  if (on_the_fly_) {
    b.stems.resize(b.target_rows.size() * size_t(b.samples));
    for (float& v : b.stems) v = float(rng.uniform() * 2 - 1) * 0.5f;
  }
  return b;
}

MultiOutput MultiTask::forward_audio(const torch::Tensor& audio) {
  torch::Tensor mel;
  {
    torch::NoGradGuard no_grad;
    mel = frontend_->forward(to_device(audio, device_));
  }
  return model_->forward_all(mel);
}

std::pair<torch::Tensor, torch::Tensor> MultiTask::targets(const Batch& batch, const torch::Tensor& table,
                                                           bool from_stems) {
  const int64_t b = batch.size;
  std::vector<int64_t> counts(static_cast<size_t>(b));
  int64_t max_count = 1;
  for (int64_t i = 0; i < b; ++i) {
    counts[size_t(i)] = batch.target_offsets[size_t(i + 1)] - batch.target_offsets[size_t(i)];
    max_count = std::max(max_count, counts[size_t(i)]);
  }
  torch::Tensor rows;
  if (from_stems) {
    const torch::Tensor stems = torch::from_blob(const_cast<float*>(batch.stems.data()),
                                                 {int64_t(batch.target_rows.size()), batch.samples}, torch::kFloat32);
    rows = encoder_->embed(stems);
  } else {
    rows = table.index_select(0, torch::tensor(batch.target_rows, torch::kInt64).to(table.device()));
  }
  // Scatter the rows into a (B, max_count, D) block; padding stays zero and is ignored by the loss.
  std::vector<int64_t> slot;
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < counts[size_t(i)]; ++j) slot.push_back(i * max_count + j);
  torch::Tensor padded = torch::zeros({b * max_count, rows.size(1)}, rows.options());
  padded.index_copy_(0, torch::tensor(slot, torch::kInt64).to(rows.device()), rows);
  return {padded.view({b, max_count, rows.size(1)}).to(device_), torch::tensor(counts, torch::kInt64)};
}

torch::Tensor MultiTask::loss(const Batch& batch) {
  model_->train();
  const torch::Tensor audio =
      torch::from_blob(const_cast<float*>(batch.audio.data()), {batch.size, batch.samples}, torch::kFloat32);
  const MultiOutput out = forward_audio(audio);
  const torch::Tensor outputs = out.embeddings.to(torch::kFloat32);
  const auto [targets, counts] = this->targets(batch, train_targets_, on_the_fly_);
  PitLoss pit = pit_cosine_loss(outputs, targets, counts, reduction_);
  if (out.existence.defined() && config_.multi_task.existence_weight > 0)
    pit.loss = pit.loss + config_.multi_task.existence_weight * existence_loss(out.existence, pit.assignments);
  if (config_.multi_task.contrastive_weight == 0) return pit.loss;
  // Each target's instrument: target rows are single clips (random mixing) or stems (Nlakh-multi).
  std::vector<int64_t> labels;
  labels.reserve(batch.target_rows.size());
  for (int64_t row : batch.target_rows)
    labels.push_back(random_ ? single_train_->clips()[size_t(row)].instrument : stem_instrument_[size_t(row)]);
  const std::vector<int64_t> n(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + counts.numel());
  return pit.loss + config_.multi_task.contrastive_weight * matched_contrastive_loss(outputs, targets, n, pit.assignments, labels,
                                                                         config_.multi_task.contrastive_temperature);
}

Json MultiTask::validate() {
  model_->eval();
  torch::NoGradGuard no_grad;
  const MixtureOutputs outputs = valid_->embed_mixtures(
      [&](const torch::Tensor& audio) {
        Autocast autocast(bf16_, device_);
        return forward_audio(audio);
      },
      config_.valid.batch_size, std::max(1, config_.data.workers), "valid mixtures", stop_requested);
  // Loss against the cached targets of the valid stems, in chunks.
  double loss_sum = 0;
  const int64_t n = outputs.embeddings.size(0);
  for (int64_t start = 0; start < n; start += 256) {
    const int64_t count = std::min<int64_t>(256, n - start);
    Batch b;
    b.size = count;
    b.target_offsets.push_back(0);
    for (int64_t i = 0; i < count; ++i) {
      const MultiItem& item = valid_->mixtures().items()[size_t(start + i)];
      for (int64_t k = 0; k < int64_t(item.stems.size()); ++k) b.target_rows.push_back(item.first_stem + k);
      b.target_offsets.push_back(int64_t(b.target_rows.size()));
    }
    const auto [targets, counts] = this->targets(b, valid_targets_, false);
    loss_sum += pit_cosine_loss(outputs.embeddings.narrow(0, start, count), targets.cpu(), counts, reduction_)
                    .loss.item<double>() *
                double(count);
  }
  // Retrieval by eval-retrieval's benchmark (with the set or mask head, the existence rules and the paper's
  // all-slots rules beside them); no chance levels here.
  Json metrics = {{"loss", loss_sum / double(n)}};
  metrics.update(RetrievalBenchmark::metrics(valid_->evaluate(outputs, library_)));
  model_->train();
  return metrics;
}

}  // namespace instret
