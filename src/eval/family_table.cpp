#include "instret/eval/family_table.h"

#include <map>
#include <utility>

#include "instret/midi/family.h"

namespace instret {

FamilyTable family_table(const std::vector<DatasetInstrument>& instruments) {
  // Sort key: (NSynth index, or kNumFamilies for other names; name).
  std::map<std::pair<int, std::string>, int> order;
  for (const auto& inst : instruments) {
    const int f = family_index(inst.family);
    order.emplace(std::make_pair(f < 0 ? kNumFamilies : f, inst.family), 0);
  }
  FamilyTable t;
  std::map<std::string, int64_t> index;
  for (const auto& kv : order) {
    index[kv.first.second] = int64_t(t.names.size());
    t.names.push_back(kv.first.second);
  }
  for (const auto& inst : instruments) t.group_of.push_back(index.at(inst.family));
  return t;
}

}  // namespace instret
