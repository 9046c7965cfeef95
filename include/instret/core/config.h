// JSON configuration: defaults merged with a user file and `--set key.path=value` overrides.
// Every key a user gives must exist in the defaults, so a typo is an error, never ignored.
#pragma once
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <type_traits>
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
// a number; a key whose default is "auto" takes true / false as the strings "true" / "false"); arrays
// are replaced whole.
Json merge_config(const Json& defaults, const Json& user, const std::string& source);

// Applies one "a.b.c=value" override in place, checked like merge_config. `value` is parsed as
// JSON when it is valid JSON (numbers, true/false, null, arrays, objects, quoted strings) and taken
// as a plain string otherwise.
void apply_override(Json& config, const Json& defaults, const std::string& assignment);

// defaults <- optional config file <- overrides, in that order.
Json load_config(const Json& defaults, const std::string& config_file,
                 const std::vector<std::string>& overrides);

// Reads `key` of `config` as T, with a UsageError naming the key when the type is wrong; integers
// are range-checked before narrowing (and whole-number floats accepted), never wrapped.
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
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      // Range-checked at full width before narrowing: get<int>() of 2^32+60 would wrap to 60, and
      // get<uint64_t>() of -1 be 2^64-1; a float must be a whole number (2.0, not 1.5).
      constexpr int digits = std::numeric_limits<T>::digits;
      bool ok = false;
      T out{};
      if (node->is_number_unsigned()) {
        const uint64_t v = node->get<uint64_t>();
        ok = v <= uint64_t(std::numeric_limits<T>::max());
        out = T(v);
      } else if (node->is_number_integer()) {
        const int64_t v = node->get<int64_t>();
        ok = v >= 0 ? uint64_t(v) <= uint64_t(std::numeric_limits<T>::max())
                    : std::is_signed_v<T> && v >= int64_t(std::numeric_limits<T>::min());
        out = T(v);
      } else if (node->is_number_float()) {
        const double v = node->get<double>();
        ok = std::trunc(v) == v && v < std::ldexp(1.0, digits) &&
             v >= (std::is_signed_v<T> ? -std::ldexp(1.0, digits) : 0.0);
        if (ok) out = T(v);
      } else {
        return node->get<T>();  // the library's type error, turned into a UsageError below
      }
      if (!ok)
        throw UsageError("config key '" + key + "': " + node->dump() + " is not an integer in " +
                         std::to_string(std::numeric_limits<T>::min()) + ".." +
                         std::to_string(std::numeric_limits<T>::max()));
      return out;
    }
    return node->get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw UsageError("config key '" + key + "': " + e.what());
  }
}

}  // namespace instret
