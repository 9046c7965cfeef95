// The family level of the retrieval evaluation: which family column each instrument of a split maps to.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "instret/data/nlakh_dataset.h"

namespace instret {

// The distinct families of `instruments` in NSynth's family order (names that are not NSynth families
// after them, alphabetically); group_of[k] is instrument k's index in `names`.
struct FamilyTable {
  std::vector<std::string> names;
  std::vector<int64_t> group_of;
};
FamilyTable family_table(const std::vector<DatasetInstrument>& instruments);

}  // namespace instret
