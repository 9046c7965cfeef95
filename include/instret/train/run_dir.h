// A training run's folder: config.json (the config after overrides), train.log, metrics.jsonl (one
// JSON line per logging interval and per validation) and checkpoints/{last,best,step_<N>}.pt.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "instret/core/config.h"

namespace instret {

class RunDir {
 public:
  // A new run: creates `root` and writes config.json. A folder that holds a run (checkpoints/last.pt)
  // is refused (UsageError: continue it with --continue or pick another); one where a start failed
  // before its first checkpoint is reused (its metrics.jsonl is dropped); an unwritable one is an
  // IoError. `write` false (distributed ranks other than 0) checks and writes nothing.
  static RunDir create(const std::filesystem::path& root, const Json& config, bool write = true);
  // The checks of create() and the folder itself, without config.json: run it before slow set-up
  // so that a bad --run fails at once.
  static void prepare(const std::filesystem::path& root, bool write = true);
  // An existing run to continue: needs config.json and checkpoints/last.pt (UsageError otherwise).
  // metrics.jsonl lines past `step` (written after the last checkpoint by a run that was killed)
  // are dropped when the continued run starts (truncate_metrics).
  static RunDir open(const std::filesystem::path& root);

  const std::filesystem::path& root() const { return root_; }
  // checkpoints/<name>.pt
  std::filesystem::path checkpoint(const std::string& name) const;
  // The saved config.json.
  Json saved_config() const;
  // Rewrites config.json (e.g. a continued run with new overrides).
  void save_config(const Json& config) const;
  // Keeps only the metrics lines whose step is <= `step` (atomically).
  void truncate_metrics(int64_t step) const;
  // Appends one line to metrics.jsonl and flushes it.
  void append_metrics(const Json& line);
  // Adds train.log (appending) to the default logger's sinks.
  void attach_log() const;

 private:
  explicit RunDir(std::filesystem::path root) : root_(std::move(root)) {}
  std::filesystem::path root_;
  std::ofstream metrics_;
};

}  // namespace instret
