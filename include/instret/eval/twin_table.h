// The twin level of the retrieval evaluation: which twin group (render-nlakh twins.policy group)
// each instrument of a split maps to, for the twin-aware metrics.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "instret/data/nlakh_dataset.h"

namespace instret {

// names[g] = the id of group g's first member (its `twin_group`), groups in order of first
// appearance; group_of[k] is instrument k's group. An instrument without a twin_group is a group of
// its own. Both empty when no instrument of `instruments` has a twin_group (a dataset rendered with
// twins.policy keep or drop, or before twin groups existed): the twin-aware metrics are then skipped.
struct TwinTable {
  std::vector<std::string> names;
  std::vector<int64_t> group_of;
  // The groups of two or more members, as lists of instrument ids (for the report).
  std::vector<std::vector<std::string>> shared_groups(const std::vector<DatasetInstrument>& instruments) const;
};
TwinTable twin_table(const std::vector<DatasetInstrument>& instruments);

}  // namespace instret
