#include "instret/eval/eer_benchmark.h"

#include <torch/torch.h>

#include <algorithm>

#include "instret/core/error.h"
#include "instret/eval/eer.h"

namespace instret {
namespace fs = std::filesystem;

EerBenchmark EerBenchmark::open(const fs::path& data, const std::string& split, const EerBenchmarkOptions& options) {
  return EerBenchmark(NlakhSingle::open(data, split), options);
}

EerBenchmark::EerBenchmark(NlakhSingle dataset, const EerBenchmarkOptions& options)
    : dataset_(std::move(dataset)), options_(options) {
  check_eer_protocol(options_.protocol);  // before any clip is embedded
  check_eer_seeds(options_.seeds);
  const int64_t cap = options_.clips_per_instrument;
  for (size_t k = 0; k < dataset_.clips_by_instrument().size(); ++k) {
    const auto& list = dataset_.clips_by_instrument()[k];
    without_clips_ += list.empty();
    const size_t n = cap > 0 ? std::min(list.size(), size_t(cap)) : list.size();
    for (size_t i = 0; i < n; ++i) {
      clips_.push_back(list[i]);
      clip_instrument_.push_back(int64_t(k));
    }
  }
}

int64_t EerBenchmark::enrollable_instruments() const {
  std::vector<int64_t> per_instrument(dataset_.instruments().size());
  for (int64_t k : clip_instrument_) ++per_instrument[size_t(k)];
  const int64_t need = int64_t{options_.protocol.enroll} + options_.protocol.targets;
  return std::count_if(per_instrument.begin(), per_instrument.end(), [&](int64_t n) { return n >= need; });
}

torch::Tensor EerBenchmark::embed(const ClipForward& forward, int64_t batch, int workers, const std::string& label,
                                  const std::function<bool()>& cancelled) const {
  return embed_clips(
      int64_t(clips_.size()), dataset_.clip_samples(),
      [&](int64_t i, float* out) { dataset_.read(clips_[size_t(i)], out); }, forward, batch, workers, label, cancelled);
}

EerEvaluation EerBenchmark::evaluate(const torch::Tensor& embeddings) const {
  const torch::Tensor emb = embeddings.to(torch::kFloat32).contiguous();
  if (emb.dim() != 2 || emb.size(0) != int64_t(clips_.size()))
    throw UsageError("EER benchmark: embeddings of shape " + std::to_string(emb.dim()) + "-d for " +
                     std::to_string(clips_.size()) + " clips");
  const std::vector<float> flat(emb.data_ptr<float>(), emb.data_ptr<float>() + emb.numel());
  return evaluate_eer(flat, emb.size(1), clip_instrument_, options_.protocol, options_.seeds);
}

Json EerBenchmark::metrics(const EerEvaluation& result) {
  return {{"eer", result.pooled.mean},
          {"eer_per_instrument", result.per_instrument_mean.mean},
          {"eer_rocch", result.rocch.mean}};
}

std::vector<std::string> EerBenchmark::instrument_ids() const {
  std::vector<std::string> ids;
  for (const auto& inst : dataset_.instruments()) ids.push_back(inst.id);
  return ids;
}

Json EerBenchmark::report(const EerEvaluation& result) const {
  Json report = eer_evaluation_json(result, instrument_ids());
  report["counts"]["instruments_in_split"] = dataset_.instruments().size();
  report["counts"]["instruments_without_clips"] = without_clips_;
  report["clips_per_instrument_cap"] = options_.clips_per_instrument;
  return report;
}

std::string EerBenchmark::trials_csv(const EerEvaluation& result) const {
  return eer_trials_csv(result, instrument_ids());
}

}  // namespace instret
