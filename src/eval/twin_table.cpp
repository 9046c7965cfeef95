#include "instret/eval/twin_table.h"

#include <unordered_map>

namespace instret {

TwinTable twin_table(const std::vector<DatasetInstrument>& instruments) {
  TwinTable t;
  bool any = false;
  for (const auto& inst : instruments) any = any || !inst.twin_group.empty();
  if (!any) return t;
  std::unordered_map<std::string, int64_t> index;
  for (const auto& inst : instruments) {
    const std::string& name = inst.twin_group.empty() ? inst.id : inst.twin_group;
    const auto [it, added] = index.emplace(name, int64_t(t.names.size()));
    if (added) t.names.push_back(name);
    t.group_of.push_back(it->second);
  }
  return t;
}

std::vector<std::vector<std::string>> TwinTable::shared_groups(const std::vector<DatasetInstrument>& instruments) const {
  std::vector<std::vector<std::string>> members(names.size());
  for (size_t k = 0; k < group_of.size() && k < instruments.size(); ++k)
    members[size_t(group_of[k])].push_back(instruments[k].id);
  std::vector<std::vector<std::string>> out;
  for (auto& m : members)
    if (m.size() > 1) out.push_back(std::move(m));
  return out;
}

}  // namespace instret
