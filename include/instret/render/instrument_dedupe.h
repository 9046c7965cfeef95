// render-nlakh's decisions on its instruments from their fingerprints' similar pairs
// (fingerprint_similarity.h): which are dropped as duplicates or silent, which pairs across splits leak,
// and which instruments of one split are twins. Pure functions over the pairs, in run order (train,
// valid, test, then by id): no bank, no rendering, no logging.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "instret/render/fingerprint_similarity.h"

namespace instret {

// An instrument that plays a sample (by name) that an instrument of an earlier split plays.
struct SampleLeak {
  size_t later = 0, earlier = 0;     // instruments, in run order; `earlier` is of an earlier split
  std::vector<std::string> samples;  // the names they share (sorted)
};

// For each instrument in run order (split[i], its sample names samples[i], sorted), whether it
// plays a sample that an instrument of an earlier split plays; `earlier` is the first such
// instrument in run order. With `drop`, instruments found leaking do not count as their split's for
// the later ones (they are dropped); without, they do (every pair of a kept dataset is found).
// Instruments with no sample names (NSynth) never leak.
std::vector<SampleLeak> sample_leaks(const std::vector<std::string>& split,
                                     const std::vector<std::vector<std::string>>& samples, bool drop);

struct DuplicateDecision {
  std::vector<size_t> kept;      // instruments that stay, in run order
  std::vector<char> is_kept;     // per instrument
  std::vector<std::pair<size_t, const SimilarPair*>> duplicates;  // dropped, with the pair to the kept one it copies
  std::vector<size_t> silent;    // dropped for a silent fingerprint
  std::vector<const SimilarPair*> leaks;       // pairs across two splits at or above the duplicate threshold
  std::vector<const SimilarPair*> near_leaks;  // pairs across two splits in [twin threshold, duplicate threshold)
};

// `pairs`: similar_pairs at the lower of the two thresholds (0 = that check off); split[i] and
// silent[i] per instrument. With the duplicate check on, an instrument is dropped when it is similar
// at or above `dedupe_threshold` to an earlier instrument that is kept (splits come in run order:
// the later split's side of a leak goes), and a silent one is dropped; with it off, every instrument stays.
// near_leaks are listed only when both checks are on.
DuplicateDecision decide_duplicates(const std::vector<SimilarPair>& pairs, const std::vector<std::string>& split,
                                    const std::vector<char>& silent, double dedupe_threshold, double twin_threshold);

struct TwinDecision {
  std::map<std::string, std::vector<const SimilarPair*>> pairs;  // per split: the twin pairs, in pair order
  std::map<std::string, std::vector<std::vector<size_t>>> groups;  // per split: groups of two or more, members in run order
  std::vector<std::pair<size_t, size_t>> dropped;  // policy drop: (instrument, its group's first member)
  std::map<size_t, size_t> group_of;               // policy group: instrument -> its group's first member
  std::vector<size_t> stay;                        // the instruments that stay, in run order
};

// Twins: two instruments of one split, both kept by the duplicate check, whose fingerprints are
// similar at or above `twin_threshold` (lower than the duplicate threshold: the same samples under
// other envelopes, filters or tuning, which a listener, or an encoder, cannot tell apart). A twin
// group is a connected component of these pairs, named by its first member in run order. Policy
// "keep": all stay; "drop": only the first member of each group stays; "group": all stay, each with
// its group (itself when it has no twin).
TwinDecision decide_twins(const std::vector<SimilarPair>& pairs, const std::vector<std::string>& split,
                          const DuplicateDecision& duplicates, double twin_threshold, const std::string& policy);

}  // namespace instret
