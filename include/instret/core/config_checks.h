// The checks of a config section's validate(), beside the range-checked getters of
// instret/core/config.h: a UsageError that names the key.
#pragma once
#include <initializer_list>
#include <string>

namespace instret {

// UsageError "config key '<key>': <what>" unless `ok`.
void config_require(bool ok, const std::string& key, const std::string& what);

// Whether `value` is one of `allowed`.
bool config_one_of(const std::string& value, std::initializer_list<const char*> allowed);

}  // namespace instret
