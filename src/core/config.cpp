#include "instret/core/config.h"

#include "instret/core/error.h"
#include "instret/core/fs.h"

namespace instret {
namespace {

bool same_kind(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) return true;
  return a.type() == b.type();
}

void merge_into(Json& target, const Json& user, const std::string& path, const std::string& source) {
  if (target.is_null() || (target.is_object() && target.empty())) {
    target = user;
    return;
  }
  // A key whose default is "auto" (bf16, device) takes true and false from a JSON file as the strings
  // "true" and "false", as --set gives them: the value stays a string, which the key's reader checks.
  if (target.is_string() && target.get<std::string>() == "auto" && user.is_boolean()) {
    target = user.get<bool>() ? "true" : "false";
    return;
  }
  if (!same_kind(target, user))
    throw UsageError(source + ": config key '" + path + "' must be " + target.type_name() + ", got " +
                     user.type_name() + " (" + user.dump() + ")");
  if (!target.is_object()) {
    // Keep integers integral where the default is an integer and the user wrote e.g. 3.0.
    if (target.is_number_integer() && user.is_number_float()) {
      const double v = user.get<double>();
      if (v != static_cast<double>(static_cast<int64_t>(v)))
        throw UsageError(source + ": config key '" + path + "' must be an integer, got " + user.dump());
      target = static_cast<int64_t>(v);
    } else {
      target = user;
    }
    return;
  }
  for (const auto& [key, value] : user.items()) {
    const std::string child = path.empty() ? key : path + "." + key;
    if (!target.contains(key)) throw UsageError(source + ": unknown config key '" + child + "'");
    merge_into(target[key], value, child, source);
  }
}

}  // namespace

Json read_json_file(const std::filesystem::path& path) {
  const std::string text = read_file(path);
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    throw FormatError(path.string() + ": invalid JSON: " + e.what());
  }
}

void write_json_file(const std::filesystem::path& path, const Json& value) {
  write_file_atomically(path, value.dump(2) + "\n");
}

Json merge_config(const Json& defaults, const Json& user, const std::string& source) {
  Json out = defaults;
  if (!user.is_object()) throw UsageError(source + ": a config must be a JSON object");
  merge_into(out, user, "", source);
  return out;
}

void apply_override(Json& config, const Json& defaults, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError("--set '" + assignment + "': expected key.path=value");
  const std::string key = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  Json value;
  try {
    value = Json::parse(text);
  } catch (const Json::parse_error&) {
    value = text;
  }
  // A string default takes the text verbatim, so --set name=123 stays the string "123".
  const Json* def = &defaults;
  Json nested = value;
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const auto& p : parts) {
    if (def && def->is_object() && def->contains(p)) def = &(*def)[p];
    else def = nullptr;
  }
  if (def && def->is_string() && !value.is_string()) nested = text;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) nested = Json{{*it, nested}};
  merge_into(config, nested, "", "--set " + key);
}

Json load_config(const Json& defaults, const std::string& config_file,
                 const std::vector<std::string>& overrides) {
  Json config = defaults;
  if (!config_file.empty()) config = merge_config(defaults, read_json_file(config_file), config_file);
  for (const auto& o : overrides) apply_override(config, defaults, o);
  return config;
}

}  // namespace instret
