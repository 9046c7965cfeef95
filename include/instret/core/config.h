// JSON configuration: defaults merged with a user file and `--set key.path=value` overrides.
// Every key a user gives must exist in the defaults, so a typo is an error, never ignored.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "instret/core/error.h"

namespace instret {

using Json = nlohmann::json;

// Parses a JSON file; throws IoError / FormatError naming the file.
Json read_json_file(const std::filesystem::path& path);

// Writes `value` pretty-printed (2 spaces) to `path` atomically.
void write_json_file(const std::filesystem::path& path, const Json& value);

// Returns `defaults` with `user` merged in. Rules: objects merge key by key and an unknown key is
// a UsageError naming `source` and the dotted key path; a default of null or of an empty object
// accepts any value; otherwise the user value must have the default's JSON type (any number for
// a number); arrays are replaced whole.
Json merge_config(const Json& defaults, const Json& user, const std::string& source);

// Applies one "a.b.c=value" override in place, checked like merge_config. `value` is parsed as
// JSON when it is valid JSON (numbers, true/false, null, arrays, objects, quoted strings) and taken
// as a plain string otherwise.
void apply_override(Json& config, const Json& defaults, const std::string& assignment);

// defaults <- optional config file <- overrides, in that order.
Json load_config(const Json& defaults, const std::string& config_file,
                 const std::vector<std::string>& overrides);

// Reads `key` of `config` as T, with a UsageError naming the key when the type is wrong.
template <typename T>
T config_get(const Json& config, const std::string& key) {
  const Json* node = &config;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object() || !node->contains(part)) throw UsageError("config has no key '" + key + "'");
    node = &(*node)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  try {
    return node->get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw UsageError("config key '" + key + "': " + e.what());
  }
}

}  // namespace instret
