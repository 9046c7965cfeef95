// The tiny Nlakh datasets the end-to-end tests train and evaluate on: configs/nlakh_tiny.json with
// fewer clips and mixtures, rendered once per process and folder, and a copy with twin groups.
#pragma once
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "instret/core/config.h"
#include "instret/render/nlakh.h"

namespace instret::test {

// Renders configs/nlakh_tiny.json with `clips_per_instrument` clips per instrument and `multi_train`
// + `multi_valid` mixtures into `out` (2 threads) the first time it is asked for `out`; returns `out`.
inline const std::filesystem::path& tiny_nlakh(const std::filesystem::path& out, int clips_per_instrument,
                                               int multi_train, int multi_valid) {
  static std::mutex mutex;
  static std::map<std::filesystem::path, std::filesystem::path> rendered;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = rendered.find(out);
  if (it != rendered.end()) return it->second;
  Json config = load_config(nlakh_default_config(), std::string(INSTRET_SOURCE_DIR) + "/configs/nlakh_tiny.json",
                            {"single.clips_per_instrument=" + std::to_string(clips_per_instrument),
                             "multi.train=" + std::to_string(multi_train), "multi.valid=" + std::to_string(multi_valid),
                             "threads=2"});
  config["output"] = out.string();
  render_nlakh(config);
  return rendered.emplace(out, out).first->second;
}

// A copy of `data` at `out` (replaced, without its target cache) as render-nlakh twins.policy group
// writes one: every valid instrument is its own twin group but the first two, which are twins.
// Returns the valid instrument ids.
inline std::vector<std::string> twin_grouped_copy(const std::filesystem::path& data, const std::filesystem::path& out) {
  std::filesystem::remove_all(out);
  std::filesystem::copy(data, out, std::filesystem::copy_options::recursive);
  std::filesystem::remove_all(out / "targets");
  Json list = read_json_file(out / "instruments.json");
  std::vector<std::string> valid;
  for (Json& i : list)
    if (i["split"] == "valid") {
      valid.push_back(i["id"].get<std::string>());
      i["twin_group"] = valid.size() == 2 ? valid[0] : valid.back();
    }
  write_json_file(out / "instruments.json", list);
  return valid;
}

}  // namespace instret::test
