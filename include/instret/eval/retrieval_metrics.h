// Multi-instrument retrieval metrics of the paper's Table 2 (F1 and mAP, macro and weighted,
// instrument and family level, chance level), matching scikit-learn as the reference code calls it.
#pragma once
#include <cstdint>
#include <vector>

namespace instret {

using LabelSet = std::vector<int64_t>;  // label indices in [0, n_labels); order and duplicates ignored

struct AveragedScore {
  double macro;     // unweighted mean over the labels 0..n_labels-1
  double weighted;  // mean weighted by each label's support (number of items where it is true)
};

// sklearn.metrics.f1_score(Y_true, Y_pred, average='macro' / 'weighted') on the n_items x n_labels
// indicator matrices of the sets, as evaluation/eval_multi_inst_enc.py calls it: every column of the
// matrix is a label (all library instruments / all families, present or not), default
// zero_division ("warn" = 0). Per label F1 = 2 tp / (2 tp + fp + fn), 0 when tp + fp + fn = 0 (a label
// never true and never predicted counts as 0 in the macro mean). Weighted: labels with zero support
// weigh 0; 0 when no label has support. Throws UsageError when the two lists differ in length,
// n_labels < 1, or a label is outside [0, n_labels).
AveragedScore f1_scores(const std::vector<LabelSet>& truth, const std::vector<LabelSet>& predicted, int64_t n_labels);

// sklearn.metrics.average_precision_score(truth, scores) for one label: with the distinct scores in
// decreasing order as thresholds, AP = sum_k (R_k - R_{k-1}) P_k (R_0 = 0), no interpolation; tied
// scores form one threshold. A label with no positive gets 0 (scikit-learn 1.9.1, pinned, sets recall to 1
// everywhere). truth: 1 = positive, 0 = negative. Throws UsageError on size mismatch, truth not
// 0/1, non-finite scores, or an empty list.
double average_precision(const std::vector<double>& scores, const std::vector<int>& truth);

// sklearn.metrics.average_precision_score(Y_true, Y_score, average='macro' / 'weighted') with Y_score
// the row-major n_items x n_labels `scores` and Y_true the indicator matrix of `truth` (one set per
// item). Labels with no positive have AP 0: they lower the macro mean and weigh 0 in the weighted
// one; weighted is 0 when no label has support (as scikit-learn 1.9, the pinned version).
// Throws UsageError on inconsistent sizes or labels outside [0, n_labels).
AveragedScore map_scores(const std::vector<double>& scores, const std::vector<LabelSet>& truth, int64_t n_labels);

// The paper's set rule (reference: argmin of 1 - cosine per output slot): for each of the m slots
// the label of highest similarity (the first on ties), the union, increasing. sims is row-major
// m x n_labels. Throws UsageError on inconsistent sizes, m < 1 or n_labels < 1.
LabelSet predict_set_argmax(const std::vector<double>& sims, int64_t m, int64_t n_labels);

// Every label whose max over the m slots is >= threshold; when none is, the single label of highest
// max (first on ties). Increasing. Same errors as predict_set_argmax.
LabelSet predict_set_threshold(const std::vector<double>& sims, int64_t m, int64_t n_labels, double threshold);

// The mAP instrument score (reference: np.max over the 9 slots of the cosines): per label, the max
// over the m slots. Returns n_labels values. Same errors as predict_set_argmax.
std::vector<double> max_over_slots(const std::vector<double>& sims, int64_t m, int64_t n_labels);

// The set and mask heads' rules (existence: the m slots' probabilities that they hold an instrument).
// predict_set_existing: the argmax label of every slot whose existence is >= threshold (of the most
// probable slot when none is, so a set is never empty), the union, increasing.
// existence_weighted_max: per label, the max over the slots of existence[s] * sims[s, label].
// UsageError on sizes as predict_set_argmax, or existence.size() != m.
LabelSet predict_set_existing(const std::vector<double>& sims, const std::vector<double>& existence, int64_t m,
                              int64_t n_labels, double threshold = 0.5);
std::vector<double> existence_weighted_max(const std::vector<double>& sims, const std::vector<double>& existence,
                                           int64_t m, int64_t n_labels);

// Maps each set through label -> group (e.g. instrument -> family); result increasing, deduplicated.
// Throws UsageError when a label is outside [0, group_of.size()) or a group outside [0, n_groups).
std::vector<LabelSet> map_labels(const std::vector<LabelSet>& sets, const std::vector<int64_t>& group_of,
                                 int64_t n_groups);

// The mAP score of each group (e.g. twin group) per item: the max of its members' scores. scores is
// row-major n_items x n_labels (e.g. max_over_slots per item); returns n_items x n_groups, row-major;
// a group without members scores -2 (below any cosine). Throws UsageError when scores is not a
// multiple of n_labels, group_of has not n_labels entries or maps outside [0, n_groups).
std::vector<double> max_over_groups(const std::vector<double>& scores, int64_t n_labels,
                                    const std::vector<int64_t>& group_of, int64_t n_groups);

struct ChanceLevel {
  AveragedScore f1;
  AveragedScore map;
  AveragedScore family_f1;  // F1 of the random sets mapped through LabelGroups; 0 when none was given
};

// An optional label -> group table (e.g. instrument -> family) for the chance level's group-level F1.
struct LabelGroups {
  std::vector<int64_t> group_of;  // empty: no grouping
  int64_t n_groups = 0;
};

// Chance level, averaged over `repeats` draws from StableRng(seed). Each repeat: for every item in
// order, a uniformly random set of as many distinct labels as its true set has
// (StableRng::sample_without_replacement(n_labels, size)); then an n_items x n_labels matrix of
// uniform [0, 1) scores, row-major. f1 = f1_scores of the random sets, map = map_scores of the
// random scores, family_f1 = f1_scores of the true and random sets mapped through `groups` (when
// given; it draws nothing more), each averaged over repeats. Throws UsageError if repeats < 1 or a
// label is invalid.
ChanceLevel chance_level(const std::vector<LabelSet>& truth, int64_t n_labels, int repeats, uint64_t seed,
                         const LabelGroups& groups = {});

// The reference code's own random baseline ("F1 Score (random)" in eval_multi_inst_enc.py, the
// paper's "Chance" row): every item's set has a size uniform in [min_size, max_size] (the reference
// uses random.randint(2, 9)), whatever its true size; otherwise as chance_level (same draw order,
// the size drawn first per item). Throws UsageError unless 0 <= min_size <= max_size <= n_labels.
ChanceLevel chance_level_uniform_size(const std::vector<LabelSet>& truth, int64_t n_labels, int64_t min_size,
                                      int64_t max_size, int repeats, uint64_t seed, const LabelGroups& groups = {});

}  // namespace instret
