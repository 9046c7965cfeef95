#include "instret/train/run_dir.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "instret/core/error.h"
#include "instret/core/log.h"
#include "instret/core/fs.h"

namespace instret {
namespace fs = std::filesystem;

void RunDir::prepare(const fs::path& root, bool write) {
  if (root.empty()) throw UsageError("no run folder given (--run DIR)");
  if (!write) return;
  if (fs::exists(root / "checkpoints" / "last.pt"))
    throw UsageError(root.string() + " already holds a training run: continue it with --continue " + root.string() +
                     ", or choose another --run folder");
  if (fs::exists(root) && !fs::is_directory(root)) throw IoError(root.string() + ": exists and is not a folder");
  std::error_code ec;
  fs::create_directories(root / "checkpoints", ec);
  if (ec) throw IoError(root.string() + ": cannot create the run folder: " + ec.message());
  try {
    write_file_atomically(root / ".writable", "");
    fs::remove(root / ".writable", ec);
  } catch (const IoError& e) {
    throw IoError(root.string() + ": the run folder is not writable");
  }
}

RunDir RunDir::create(const fs::path& root, const Json& config, bool write) {
  prepare(root, write);
  RunDir run(root);
  if (!write) return run;
  // A start that failed before its first checkpoint leaves nothing worth keeping but its log.
  std::error_code ec;
  fs::remove(root / "metrics.jsonl", ec);
  run.save_config(config);
  return run;
}

RunDir RunDir::open(const fs::path& root) {
  RunDir run(root);
  if (!fs::is_directory(root)) throw UsageError("--continue " + root.string() + ": no such run folder");
  if (!fs::exists(root / "config.json"))
    throw UsageError("--continue " + root.string() + ": not a training run (no config.json)");
  if (!fs::exists(run.checkpoint("last")))
    throw UsageError("--continue " + root.string() + ": the run has no checkpoint yet (checkpoints/last.pt); start it again");
  return run;
}

fs::path RunDir::checkpoint(const std::string& name) const { return root_ / "checkpoints" / (name + ".pt"); }

Json RunDir::saved_config() const { return read_json_file(root_ / "config.json"); }

void RunDir::save_config(const Json& config) const {
  try {
    write_json_file(root_ / "config.json", config);
  } catch (const IoError& e) {
    throw IoError(root_.string() + ": the run folder is not writable (" + e.what() + ")");
  }
}

void RunDir::truncate_metrics(int64_t step) const {
  const fs::path path = root_ / "metrics.jsonl";
  if (!fs::exists(path)) return;
  std::istringstream in(read_file(path));
  std::string line, kept;
  while (std::getline(in, line)) {
    const Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("step") || !j["step"].is_number_integer()) continue;
    if (j["step"].get<int64_t>() <= step) kept += line + "\n";
  }
  write_file_atomically(path, kept);
}

void RunDir::append_metrics(const Json& line) {
  if (!metrics_.is_open()) {
    metrics_.open(root_ / "metrics.jsonl", std::ios::app);
    if (!metrics_) throw IoError((root_ / "metrics.jsonl").string() + ": cannot open for writing");
  }
  metrics_ << line.dump() << "\n";
  metrics_.flush();
  if (!metrics_) throw IoError((root_ / "metrics.jsonl").string() + ": write failed (disk full?)");
}

void RunDir::attach_log() const {
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>((root_ / "train.log").string(), false);
    sink->set_formatter(printable_formatter("[%Y-%m-%d %H:%M:%S.%e] [%l] %*"));
    spdlog::default_logger()->sinks().push_back(sink);
  } catch (const spdlog::spdlog_ex& e) {
    throw IoError((root_ / "train.log").string() + ": cannot open the log: " + e.what());
  }
}

}  // namespace instret
