// The multi-encoder retrieval benchmark of one split (the paper's Table 2), used by eval-retrieval
// and by train-multi's validation so that both build the same library, truth sets, families and
// twin groups and report the same keys and numbers: the split's instruments and mixtures, the
// library clips, the cosines of the output slots to the library, evaluate_retrieval (with the set
// head's existence rules when the model has them), the slot diagnostics, the metrics and the report.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "instret/core/config.h"
#include "instret/data/nlakh_dataset.h"
#include "instret/eval/family_table.h"
#include "instret/eval/retrieval_evaluation.h"
#include "instret/eval/slot_diagnostics.h"
#include "instret/eval/twin_table.h"
#include "instret/inference/embed_clips.h"
#include "instret/models/encoders.h"

namespace instret {

struct RetrievalBenchmarkOptions {
  int64_t library_clips = 1;  // library embedding = mean of each instrument's first K clips (the paper: 1)
  int64_t max_mixtures = 0;   // the split's first N mixtures only (0 = all)
  ChanceSettings chance;      // repeats = 0: no chance levels (validation)
};

// A multi encoder's outputs for a batch of mixture audio: embeddings (B, M, D) and, with the set
// head, existence logits (B, M) (undefined otherwise), on any device, in any float type.
using MixtureForward = std::function<MultiOutput(const torch::Tensor& audio)>;

// The outputs for the benchmark's mixtures, on the CPU.
struct MixtureOutputs {
  torch::Tensor embeddings;        // (n_items, M, D) float32
  std::vector<double> existence;   // n_items x M slot probabilities (sigmoid of the logits); empty without the set or mask head
};

// One evaluation of a model's outputs.
struct RetrievalRun {
  RetrievalEvaluation evaluation;   // the model's rules: the paper's, or the existence rules when given
  RetrievalEvaluation all_slots;    // with existence only: the paper's rules (every slot votes, plain max)
  SlotDiagnostics slots;
  std::vector<double> existence;    // n_items x m slot probabilities (empty without the set or mask head)
};

class RetrievalBenchmark {
 public:
  // The instruments (NlakhSingle) and mixtures (NlakhMulti) of `split` under `options`.
  // UsageError when library_clips < 1.
  static RetrievalBenchmark open(const std::filesystem::path& data, const std::string& split,
                                 const RetrievalBenchmarkOptions& options);

  const NlakhSingle& instruments() const { return singles_; }
  const NlakhMulti& mixtures() const { return mixtures_; }
  const RetrievalBenchmarkOptions& options() const { return options_; }
  int64_t n_labels() const { return int64_t(singles_.instruments().size()); }
  // The mixtures evaluated: 0..n_items()-1 of mixtures().items().
  int64_t n_items() const { return int64_t(truth_.size()); }
  // The clips that make the library: (clip index, instrument) pairs, instrument by instrument.
  const std::vector<std::pair<int64_t, int64_t>>& library_clips() const { return library_clips_; }
  const FamilyTable& families() const { return families_; }
  const TwinTable& twins() const { return twins_; }

  // The library (n_labels(), D) from the embeddings (R, D) of library_clips(), in that order.
  torch::Tensor library(const torch::Tensor& clip_embeddings) const;
  // The library from the outputs of `forward` for library_clips() (embed_clips).
  torch::Tensor embed_library(const ClipForward& forward, int64_t batch, int workers) const;
  // The outputs of `forward` for mixtures 0..n_items()-1 (embed_clips).
  MixtureOutputs embed_mixtures(const MixtureForward& forward, int64_t batch, int workers, const std::string& label,
                                const std::function<bool()>& cancelled = {}) const;

  // Evaluates the output slots against `library`; with existence probabilities (the set or mask head) the
  // sets and mAP scores follow the existence rules and the paper's rules are the all-slots variant.
  RetrievalRun evaluate(const MixtureOutputs& outputs, const torch::Tensor& library) const;

  // What training logs after each validation: retrieval_metrics_json (with the twin-aware metrics on
  // a render with twin groups), set_size and true_set_size (mean predicted and true set sizes),
  // slot_collapse, slot_pairwise_cosine, hub_top1_share, hub_skewness; with existence also
  // all_slots_f1_macro, all_slots_map_macro and existence_mean.
  static Json metrics(const RetrievalRun& run);
  // eval-retrieval's report without its tool, encoder, data and split keys: library_clips,
  // retrieval_evaluation_json, counts.instruments_without_clips (of `library`), "slots", "families",
  // "twin_groups" (with twin groups), and with existence all_slots_f1_macro, all_slots_map_macro and
  // existence_mean as metrics() has them.
  Json report(const RetrievalRun& run, const torch::Tensor& library) const;
  // retrieval_dump_jsonl with the split's mixture names, instrument ids, families and twin groups.
  std::string dump_jsonl(const RetrievalRun& run) const;

 private:
  RetrievalBenchmark(NlakhSingle singles, NlakhMulti mixtures, const RetrievalBenchmarkOptions& options);

  NlakhSingle singles_;
  NlakhMulti mixtures_;
  RetrievalBenchmarkOptions options_;
  std::vector<std::pair<int64_t, int64_t>> library_clips_;
  std::vector<LabelSet> truth_;
  FamilyTable families_;
  TwinTable twins_;
};

}  // namespace instret
