#include "instret/eval/retrieval_evaluation.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "instret/core/error.h"

namespace instret {

RetrievalEvaluation evaluate_retrieval(const std::vector<double>& sims, int64_t m, int64_t n_labels,
                                       const std::vector<LabelSet>& truth, const LabelGroups& groups,
                                       const ChanceSettings& chance, const LabelGroups& twins,
                                       const std::vector<double>& existence) {
  if (m < 1 || n_labels < 1)
    throw UsageError("retrieval evaluation: need m >= 1 and n_labels >= 1, got " + std::to_string(m) + " and " +
                     std::to_string(n_labels));
  if (truth.empty()) throw UsageError("retrieval evaluation: no mixtures");
  const int64_t per_item = m * n_labels;
  if (int64_t(sims.size()) != int64_t(truth.size()) * per_item)
    throw UsageError("retrieval evaluation: " + std::to_string(sims.size()) + " similarities but " +
                     std::to_string(truth.size()) + " items x " + std::to_string(m) + " slots x " +
                     std::to_string(n_labels) + " labels");
  if (groups.n_groups < 1 || int64_t(groups.group_of.size()) != n_labels)
    throw UsageError("retrieval evaluation: the family table has " + std::to_string(groups.group_of.size()) +
                     " entries for " + std::to_string(n_labels) + " labels");
  if (!twins.group_of.empty() && (twins.n_groups < 1 || int64_t(twins.group_of.size()) != n_labels))
    throw UsageError("retrieval evaluation: the twin table has " + std::to_string(twins.group_of.size()) +
                     " entries in " + std::to_string(twins.n_groups) + " groups for " + std::to_string(n_labels) +
                     " labels");
  if (!existence.empty() && int64_t(existence.size()) != int64_t(truth.size()) * m)
    throw UsageError("retrieval evaluation: " + std::to_string(existence.size()) + " existence values for " +
                     std::to_string(truth.size()) + " items x " + std::to_string(m) + " slots");
  RetrievalEvaluation e;
  e.n_items = int64_t(truth.size());
  e.m = m;
  e.n_labels = n_labels;
  e.n_groups = groups.n_groups;
  for (const LabelSet& t : truth) {
    LabelSet u = t;
    std::sort(u.begin(), u.end());
    u.erase(std::unique(u.begin(), u.end()), u.end());
    e.truth.push_back(std::move(u));
  }
  for (int64_t i = 0; i < e.n_items; ++i) {
    const std::vector<double> item(sims.begin() + i * per_item, sims.begin() + (i + 1) * per_item);
    std::vector<double> best;
    if (existence.empty()) {
      e.predicted.push_back(predict_set_argmax(item, m, n_labels));
      best = max_over_slots(item, m, n_labels);
    } else {
      const std::vector<double> p(existence.begin() + i * m, existence.begin() + (i + 1) * m);
      e.predicted.push_back(predict_set_existing(item, p, m, n_labels));
      best = existence_weighted_max(item, p, m, n_labels);
    }
    e.scores.insert(e.scores.end(), best.begin(), best.end());
  }
  e.truth_groups = map_labels(e.truth, groups.group_of, groups.n_groups);
  e.predicted_groups = map_labels(e.predicted, groups.group_of, groups.n_groups);
  e.f1 = f1_scores(e.truth, e.predicted, n_labels);
  e.family_f1 = f1_scores(e.truth_groups, e.predicted_groups, groups.n_groups);
  e.map = map_scores(e.scores, e.truth, n_labels);
  if (chance.repeats > 0) {
    e.chance_true_size = chance_level(e.truth, n_labels, chance.repeats, chance.seed, groups);
    const int64_t hi = std::min(chance.max_size, n_labels), lo = std::min(chance.min_size, hi);
    e.chance_uniform_size = chance_level_uniform_size(e.truth, n_labels, lo, hi, chance.repeats, chance.seed, groups);
  }
  if (!twins.group_of.empty()) {
    e.n_twin_groups = twins.n_groups;
    e.truth_twins = map_labels(e.truth, twins.group_of, twins.n_groups);
    e.predicted_twins = map_labels(e.predicted, twins.group_of, twins.n_groups);
    e.twin_scores = max_over_groups(e.scores, n_labels, twins.group_of, twins.n_groups);
    e.twin_f1 = f1_scores(e.truth_twins, e.predicted_twins, twins.n_groups);
    e.twin_map = map_scores(e.twin_scores, e.truth_twins, twins.n_groups);
    if (chance.repeats > 0) {
      // The same random sets as above (same seed; the group mapping draws nothing), mapped to twin groups.
      e.chance_true_size_twin_f1 = chance_level(e.truth, n_labels, chance.repeats, chance.seed, twins).family_f1;
      const int64_t hi = std::min(chance.max_size, n_labels), lo = std::min(chance.min_size, hi);
      e.chance_uniform_size_twin_f1 =
          chance_level_uniform_size(e.truth, n_labels, lo, hi, chance.repeats, chance.seed, twins).family_f1;
    }
  }
  return e;
}

namespace {

Json six(const AveragedScore& f1, const AveragedScore& family_f1, const AveragedScore& map) {
  return {{"f1_macro", f1.macro},
          {"f1_weighted", f1.weighted},
          {"family_f1_macro", family_f1.macro},
          {"family_f1_weighted", family_f1.weighted},
          {"map_macro", map.macro},
          {"map_weighted", map.weighted}};
}

std::string row(const std::string& name, const AveragedScore& fam, const AveragedScore& f1, const AveragedScore* map) {
  char buf[256];
  if (map)
    std::snprintf(buf, sizeof buf, "| %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", fam.macro, fam.weighted, f1.macro,
                  f1.weighted, map->macro, map->weighted);
  else
    std::snprintf(buf, sizeof buf, "| %.3f | %.3f | %.3f | %.3f | - | - |\n", fam.macro, fam.weighted, f1.macro,
                  f1.weighted);
  std::string n = name;
  std::replace(n.begin(), n.end(), '|', '/');
  return "| " + n + " " + buf;
}

}  // namespace

Json retrieval_metrics_json(const RetrievalEvaluation& e) {
  Json j = six(e.f1, e.family_f1, e.map);
  if (e.n_twin_groups > 0) {
    j["twin_f1_macro"] = e.twin_f1.macro;
    j["twin_f1_weighted"] = e.twin_f1.weighted;
    j["twin_map_macro"] = e.twin_map.macro;
    j["twin_map_weighted"] = e.twin_map.weighted;
  }
  return j;
}

Json retrieval_evaluation_json(const RetrievalEvaluation& e, const ChanceSettings& chance) {
  Json j = retrieval_metrics_json(e);
  Json uniform = six(e.chance_uniform_size.f1, e.chance_uniform_size.family_f1, e.chance_uniform_size.map);
  uniform["min_size"] = std::min(chance.min_size, std::min(chance.max_size, e.n_labels));
  uniform["max_size"] = std::min(chance.max_size, e.n_labels);
  j["chance"] = {{"true_size", six(e.chance_true_size.f1, e.chance_true_size.family_f1, e.chance_true_size.map)},
                 {"uniform_size", uniform},
                 {"repeats", chance.repeats},
                 {"seed", chance.seed}};
  j["counts"] = {{"mixtures", e.n_items}, {"slots", e.m}, {"instruments", e.n_labels}, {"families", e.n_groups}};
  if (e.n_twin_groups > 0) {
    j["counts"]["twin_groups"] = e.n_twin_groups;
    for (const auto& [key, f1] : {std::make_pair("true_size", e.chance_true_size_twin_f1),
                                  std::make_pair("uniform_size", e.chance_uniform_size_twin_f1)}) {
      j["chance"][key]["twin_f1_macro"] = f1.macro;
      j["chance"][key]["twin_f1_weighted"] = f1.weighted;
    }
  }
  return j;
}

std::string retrieval_markdown(const RetrievalEvaluation& e, const std::string& model_name) {
  std::string out =
      "| Model | Family F1 macro | Family F1 weighted | Instrument F1 macro | Instrument F1 weighted | mAP macro | mAP "
      "weighted |\n|---|---|---|---|---|---|---|\n";
  out += row("Chance (uniform size, reference)", e.chance_uniform_size.family_f1, e.chance_uniform_size.f1, nullptr);
  out += row("Chance (true size)", e.chance_true_size.family_f1, e.chance_true_size.f1, &e.chance_true_size.map);
  out += row(model_name, e.family_f1, e.f1, &e.map);
  if (e.n_twin_groups > 0) {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "\nTwin-aware (a retrieved twin of the true instrument counts; %lld twin groups of %lld instruments): "
                  "instrument F1 macro %.3f, weighted %.3f; mAP macro %.3f, weighted %.3f (chance, true size: F1 "
                  "macro %.3f, weighted %.3f)\n",
                  static_cast<long long>(e.n_twin_groups), static_cast<long long>(e.n_labels), e.twin_f1.macro,
                  e.twin_f1.weighted, e.twin_map.macro, e.twin_map.weighted, e.chance_true_size_twin_f1.macro,
                  e.chance_true_size_twin_f1.weighted);
    out += buf;
  }
  return out;
}

std::string retrieval_dump_jsonl(const RetrievalEvaluation& e, const std::vector<std::string>& mixes,
                                 const std::vector<std::string>& label_ids, const std::vector<std::string>& group_names,
                                 const std::vector<int64_t>& group_of, const std::vector<int64_t>& twin_of) {
  if (int64_t(mixes.size()) != e.n_items || int64_t(label_ids.size()) != e.n_labels)
    throw UsageError("retrieval dump: " + std::to_string(mixes.size()) + " mixture names and " +
                     std::to_string(label_ids.size()) + " label ids for " + std::to_string(e.n_items) + " items and " +
                     std::to_string(e.n_labels) + " labels");
  Json head = {{"labels", label_ids}, {"families", group_names}, {"family_of", group_of}, {"m", e.m}};
  if (!twin_of.empty()) head["twin_of"] = twin_of;
  std::string out = head.dump() + "\n";
  for (int64_t i = 0; i < e.n_items; ++i) {
    const std::vector<double> scores(e.scores.begin() + i * e.n_labels, e.scores.begin() + (i + 1) * e.n_labels);
    out += Json({{"item", i},
                 {"mix", mixes[size_t(i)]},
                 {"truth", e.truth[size_t(i)]},
                 {"predicted", e.predicted[size_t(i)]},
                 {"truth_families", e.truth_groups[size_t(i)]},
                 {"predicted_families", e.predicted_groups[size_t(i)]},
                 {"scores", scores}})
               .dump() +
           "\n";
  }
  return out;
}

}  // namespace instret
