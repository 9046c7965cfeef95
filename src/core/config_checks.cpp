#include "instret/core/config_checks.h"

#include <algorithm>

#include "instret/core/error.h"

namespace instret {

void config_require(bool ok, const std::string& key, const std::string& what) {
  if (!ok) throw UsageError("config key '" + key + "': " + what);
}

bool config_one_of(const std::string& value, std::initializer_list<const char*> allowed) {
  return std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return value == a; });
}

}  // namespace instret
