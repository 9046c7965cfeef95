#include "instret/render/instrument_dedupe.h"

#include <algorithm>
#include <map>

#include "instret/core/error.h"

namespace instret {

std::vector<SampleLeak> sample_leaks(const std::vector<std::string>& split,
                                     const std::vector<std::vector<std::string>>& samples, bool drop) {
  if (samples.size() != split.size())
    throw UsageError("sample_leaks: " + std::to_string(samples.size()) + " sample lists for " +
                     std::to_string(split.size()) + " instruments");
  std::map<std::string, size_t> first;  // sample name -> the first instrument that plays it
  std::vector<SampleLeak> leaks;
  for (size_t i = 0; i < split.size(); ++i) {
    SampleLeak leak{i, i, {}};
    for (const std::string& name : samples[i]) {
      const auto it = first.find(name);
      if (it == first.end() || split[it->second] == split[i]) continue;
      if (leak.samples.empty() || it->second < leak.earlier) leak.earlier = it->second;
      leak.samples.push_back(name);
    }
    const bool leaks_here = !leak.samples.empty();
    if (leaks_here) leaks.push_back(std::move(leak));
    if (leaks_here && drop) continue;
    for (const std::string& name : samples[i]) first.emplace(name, i);
  }
  return leaks;
}

DuplicateDecision decide_duplicates(const std::vector<SimilarPair>& pairs, const std::vector<std::string>& split,
                                    const std::vector<char>& silent, double dedupe_threshold, double twin_threshold) {
  if (silent.size() != split.size())
    throw UsageError("decide_duplicates: " + std::to_string(silent.size()) + " silence flags for " +
                     std::to_string(split.size()) + " instruments");
  const bool dedupe = dedupe_threshold > 0.0, twins = twin_threshold > 0.0;
  const size_t n = split.size();
  DuplicateDecision d;
  d.is_kept.assign(n, 0);
  std::vector<std::vector<const SimilarPair*>> earlier(n);
  for (const SimilarPair& p : pairs) {
    if (p.earlier >= n || p.later >= n || p.earlier >= p.later)
      throw UsageError("decide_duplicates: a pair (" + std::to_string(p.earlier) + ", " + std::to_string(p.later) +
                       ") outside the " + std::to_string(n) + " instruments or out of order");
    if (dedupe && p.similarity >= dedupe_threshold) earlier[p.later].push_back(&p);
  }
  for (const SimilarPair& p : pairs) {
    const bool across = split[p.earlier] != split[p.later];
    if (twins && dedupe && p.similarity < dedupe_threshold && across)
      d.near_leaks.push_back(&p);  // similar at the twin level across the splits: not dropped, worth knowing
    else if (dedupe && p.similarity >= dedupe_threshold && across)
      d.leaks.push_back(&p);
  }
  for (size_t i = 0; i < n; ++i) {
    if (silent[i] && dedupe) {
      d.silent.push_back(i);
      continue;
    }
    const SimilarPair* same = nullptr;
    for (const SimilarPair* p : earlier[i])
      if (d.is_kept[p->earlier]) {
        same = p;
        break;
      }
    if (same) {
      d.duplicates.emplace_back(i, same);
    } else {
      d.kept.push_back(i);
      d.is_kept[i] = 1;
    }
  }
  return d;
}

TwinDecision decide_twins(const std::vector<SimilarPair>& pairs, const std::vector<std::string>& split,
                          const DuplicateDecision& duplicates, double twin_threshold, const std::string& policy) {
  if (policy != "keep" && policy != "drop" && policy != "group")
    throw UsageError("twins.policy must be keep, drop or group, not '" + policy + "'");
  const std::vector<char>& is_kept = duplicates.is_kept;
  std::vector<size_t> parent(split.size());
  for (size_t i = 0; i < parent.size(); ++i) parent[i] = i;
  auto root = [&](size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  TwinDecision t;
  for (const SimilarPair& p : pairs) {
    if (p.similarity < twin_threshold || split[p.earlier] != split[p.later] || !is_kept[p.earlier] ||
        !is_kept[p.later])
      continue;
    t.pairs[split[p.earlier]].push_back(&p);
    const size_t ra = root(p.earlier), rb = root(p.later);
    if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);  // the root is the group's first member
  }
  std::map<size_t, std::vector<size_t>> members;  // group root -> members, in run order
  for (size_t i : duplicates.kept) members[root(i)].push_back(i);
  for (size_t i : duplicates.kept) {
    const size_t r = root(i);
    if (members[r].size() > 1 && i == r) t.groups[split[i]].push_back(members[r]);
    if (policy == "drop" && i != r) {
      t.dropped.emplace_back(i, r);
      continue;
    }
    if (policy == "group") t.group_of[i] = r;
    t.stay.push_back(i);
  }
  return t;
}

}  // namespace instret
