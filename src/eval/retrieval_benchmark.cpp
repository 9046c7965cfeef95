#include "instret/eval/retrieval_benchmark.h"

#include <torch/torch.h>

#include <algorithm>

#include "instret/core/error.h"
#include "instret/eval/instrument_library.h"

namespace instret {
namespace fs = std::filesystem;

RetrievalBenchmark RetrievalBenchmark::open(const fs::path& data, const std::string& split,
                                            const RetrievalBenchmarkOptions& options) {
  NlakhSingle singles = NlakhSingle::open(data, split);
  NlakhMulti mixtures = NlakhMulti::open(data, split);
  return RetrievalBenchmark(std::move(singles), std::move(mixtures), options);
}

RetrievalBenchmark::RetrievalBenchmark(NlakhSingle singles, NlakhMulti mixtures, const RetrievalBenchmarkOptions& options)
    : singles_(std::move(singles)), mixtures_(std::move(mixtures)), options_(options) {
  library_clips_ = instret::library_clips(singles_.clips_by_instrument(), options_.library_clips);
  int64_t n = int64_t(mixtures_.items().size());
  if (options_.max_mixtures > 0) n = std::min(n, options_.max_mixtures);
  for (int64_t i = 0; i < n; ++i) {
    LabelSet t;
    for (const MultiStem& s : mixtures_.items()[size_t(i)].stems) t.push_back(s.instrument);
    truth_.push_back(t);
  }
  families_ = family_table(singles_.instruments());
  // Twin groups (render-nlakh twins.policy group): the twin-aware metrics, only when the dataset has them.
  twins_ = twin_table(singles_.instruments());
}

torch::Tensor RetrievalBenchmark::library(const torch::Tensor& clip_embeddings) const {
  std::vector<int64_t> row_instrument;
  for (const auto& p : library_clips_) row_instrument.push_back(p.second);
  return instrument_library(clip_embeddings, row_instrument, n_labels());
}

torch::Tensor RetrievalBenchmark::embed_library(const ClipForward& forward, int64_t batch, int workers) const {
  return library(embed_clips(
      int64_t(library_clips_.size()), singles_.clip_samples(),
      [&](int64_t i, float* out) { singles_.read(library_clips_[size_t(i)].first, out); }, forward, batch, workers,
      "library clips"));
}

MixtureOutputs RetrievalBenchmark::embed_mixtures(const MixtureForward& forward, int64_t batch, int workers,
                                                  const std::string& label,
                                                  const std::function<bool()>& cancelled) const {
  // One row per mixture for embed_clips: the M x D embeddings, then the M existence probabilities.
  int64_t m = 0, d = 0;
  bool existence = false;
  const torch::Tensor rows = embed_clips(
      n_items(), mixtures_.clip_samples(), [&](int64_t i, float* out) { mixtures_.read_mix(i, out); },
      [&](const torch::Tensor& audio) {
        const MultiOutput out = forward(audio);
        m = out.embeddings.size(1);
        d = out.embeddings.size(2);
        existence = out.existence.defined();
        const torch::Tensor e = out.embeddings.to(torch::kFloat32).flatten(1);
        return existence ? torch::cat({e, torch::sigmoid(out.existence.to(torch::kFloat32))}, 1) : e;
      },
      batch, workers, label, cancelled);
  MixtureOutputs outputs;
  outputs.embeddings = rows.narrow(1, 0, m * d).reshape({-1, m, d});
  if (existence) {
    const torch::Tensor p = rows.narrow(1, m * d, m).to(torch::kFloat64).contiguous();
    outputs.existence.assign(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
  }
  return outputs;
}

RetrievalRun RetrievalBenchmark::evaluate(const MixtureOutputs& outputs, const torch::Tensor& library) const {
  const std::vector<double>& existence = outputs.existence;
  const torch::Tensor sims = slot_library_cosines(outputs.embeddings, library);
  const std::vector<double> flat(sims.data_ptr<double>(), sims.data_ptr<double>() + sims.numel());
  const LabelGroups groups{families_.group_of, int64_t(families_.names.size())};
  const LabelGroups twin_groups{twins_.group_of, int64_t(twins_.names.size())};
  const int64_t m = outputs.embeddings.size(1);
  RetrievalRun run;
  run.existence = existence;
  run.evaluation = evaluate_retrieval(flat, m, n_labels(), truth_, groups, options_.chance, twin_groups, existence);
  if (!existence.empty()) {
    ChanceSettings no_chance;  // the chance levels do not depend on the rules: computed once, above
    no_chance.repeats = 0;
    run.all_slots = evaluate_retrieval(flat, m, n_labels(), truth_, groups, no_chance, twin_groups);
  }
  run.slots = slot_diagnostics(outputs.embeddings, sims);
  return run;
}

namespace {

// The existence metrics beside the paper's rules, on both metrics() and report().
void add_existence(Json& j, const RetrievalRun& run) {
  if (run.existence.empty()) return;
  j["all_slots_f1_macro"] = run.all_slots.f1.macro;
  j["all_slots_map_macro"] = run.all_slots.map.macro;
  double mean_p = 0;
  for (double p : run.existence) mean_p += p / double(run.existence.size());
  j["existence_mean"] = mean_p;
}

}  // namespace

Json RetrievalBenchmark::metrics(const RetrievalRun& run) {
  const RetrievalEvaluation& r = run.evaluation;
  Json j = retrieval_metrics_json(r);
  double set_size = 0, true_size = 0;
  for (int64_t i = 0; i < r.n_items; ++i) {
    set_size += double(r.predicted[size_t(i)].size()) / double(r.n_items);
    true_size += double(r.truth[size_t(i)].size()) / double(r.n_items);
  }
  j["set_size"] = set_size;
  j["true_set_size"] = true_size;
  j["slot_collapse"] = run.slots.collapse;
  j["slot_pairwise_cosine"] = run.slots.pairwise_cosine;
  j["hub_top1_share"] = run.slots.hub_top1_share;
  j["hub_skewness"] = run.slots.hub_skewness;
  add_existence(j, run);
  return j;
}

Json RetrievalBenchmark::report(const RetrievalRun& run, const torch::Tensor& library) const {
  Json j = {{"library_clips", options_.library_clips}};
  j.update(retrieval_evaluation_json(run.evaluation, options_.chance));
  j["counts"]["instruments_without_clips"] = library.norm(2, 1).eq(0).sum().item<int64_t>();
  j["slots"] = {{"collapse", run.slots.collapse},
                {"collapse_per_slot", run.slots.collapse_per_slot},
                {"pairwise_cosine", run.slots.pairwise_cosine},
                {"hub_top1_share", run.slots.hub_top1_share},
                {"hub_skewness", run.slots.hub_skewness}};
  j["families"] = families_.names;
  if (!twins_.group_of.empty()) j["twin_groups"] = twins_.shared_groups(singles_.instruments());
  add_existence(j, run);
  return j;
}

std::string RetrievalBenchmark::dump_jsonl(const RetrievalRun& run) const {
  std::vector<std::string> mixes, ids;
  for (int64_t i = 0; i < n_items(); ++i) mixes.push_back(mixtures_.items()[size_t(i)].mix.string());
  for (const auto& inst : singles_.instruments()) ids.push_back(inst.id);
  return retrieval_dump_jsonl(run.evaluation, mixes, ids, families_.names, families_.group_of, twins_.group_of);
}

}  // namespace instret
