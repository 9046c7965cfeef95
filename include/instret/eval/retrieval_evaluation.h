// The multi-encoder retrieval evaluation as a whole (the paper's Table 2): from each mixture's
// cosines between its M output embeddings and the instrument library, the predicted sets, the
// instrument and family F1, the mAP and both chance levels; the JSON report, the markdown rows in
// the paper's layout and the per-mixture dump. Used by eval-retrieval and train-multi's validation.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "instret/core/config.h"
#include "instret/eval/retrieval_metrics.h"

namespace instret {

struct ChanceSettings {
  int repeats = 100;      // random draws averaged
  uint64_t seed = 0;
  int64_t min_size = 2;   // the reference's random.randint(2, 9) set sizes (clamped to the label count)
  int64_t max_size = 9;
};

struct RetrievalEvaluation {
  int64_t n_items = 0, m = 0, n_labels = 0, n_groups = 0;
  std::vector<LabelSet> truth, predicted;                 // instrument sets (predict_set_argmax or _existing per item)
  std::vector<LabelSet> truth_groups, predicted_groups;   // the same mapped to families
  std::vector<double> scores;                             // n_items x n_labels: (weighted) max over the slots (mAP score)
  AveragedScore f1, family_f1, map;
  ChanceLevel chance_true_size;     // chance_level: random sets of each mixture's true size
  ChanceLevel chance_uniform_size;  // chance_level_uniform_size: the reference's (and the paper's) "Chance" row
  // Twin-aware variants (render-nlakh twins.policy group; n_twin_groups = 0 when no twin table was
  // given): truth, predictions and mAP scores mapped to twin groups, so that predicting any member of
  // the true instrument's group counts as correct. A group's mAP score is the max of its members'.
  int64_t n_twin_groups = 0;
  std::vector<LabelSet> truth_twins, predicted_twins;
  std::vector<double> twin_scores;  // n_items x n_twin_groups
  AveragedScore twin_f1, twin_map;
  AveragedScore chance_true_size_twin_f1, chance_uniform_size_twin_f1;  // the chance sets mapped to twin groups
};

// sims: row-major n_items x m x n_labels cosines (slot s of item i against library entry l; entries
// that must never be picked, e.g. an instrument without a library embedding, should hold -2).
// groups: instrument -> family (required: n_groups >= 1). twins: instrument -> twin group (optional:
// empty = no twin-aware metrics). With chance.repeats = 0 the chance levels are not computed (left 0).
// existence: optional n_items x m slot probabilities (the set or mask head's); when given, the sets are
// predict_set_existing and the mAP scores existence_weighted_max instead of the paper's rules.
// Throws UsageError on inconsistent sizes or labels.
RetrievalEvaluation evaluate_retrieval(const std::vector<double>& sims, int64_t m, int64_t n_labels,
                                       const std::vector<LabelSet>& truth, const LabelGroups& groups,
                                       const ChanceSettings& chance, const LabelGroups& twins = {},
                                       const std::vector<double>& existence = {});

// The metrics themselves: f1_macro, f1_weighted, family_f1_macro, family_f1_weighted, map_macro,
// map_weighted and, with twin groups, twin_f1_macro, twin_f1_weighted, twin_map_macro, twin_map_weighted.
Json retrieval_metrics_json(const RetrievalEvaluation& e);

// The metric part of the report: retrieval_metrics_json, "chance" {"true_size": {...},
// "uniform_size": {..., "min_size", "max_size"}, "repeats", "seed"} with its six keys each (chance mAP
// from uniform random scores; with twin groups twin_f1_* too) and "counts" (mixtures, slots,
// instruments, families, and twin_groups with twin groups).
Json retrieval_evaluation_json(const RetrievalEvaluation& e, const ChanceSettings& chance);

// The paper's Table 2 layout as markdown: a header (Model | Family F1 macro | weighted | Instrument F1
// macro | weighted | mAP macro | weighted), the row of `model_name`, and the two chance rows, three
// decimals; with twin groups, a line of the twin-aware instrument F1 and mAP below the table.
std::string retrieval_markdown(const RetrievalEvaluation& e, const std::string& model_name);

// One JSON line per mixture: {"item", "mix", "truth", "predicted", "truth_families",
// "predicted_families", "scores"} (label indices; scores = the n_labels mAP scores), after a first
// line {"labels": ids, "families": names, "family_of": indices, "m": M} (plus "twin_of": the twin
// group of each label, when `twin_of` is given). `mixes[i]` names item i.
std::string retrieval_dump_jsonl(const RetrievalEvaluation& e, const std::vector<std::string>& mixes,
                                 const std::vector<std::string>& label_ids, const std::vector<std::string>& group_names,
                                 const std::vector<int64_t>& group_of, const std::vector<int64_t>& twin_of = {});

}  // namespace instret
