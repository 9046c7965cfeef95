// Logging set-up (spdlog to stderr, so stdout stays machine-readable) and a progress reporter.
#pragma once
#include <spdlog/formatter.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace instret {

// Level: debug when verbose, warn when quiet, info otherwise.
void setup_logging(bool verbose, bool quiet);

// A log formatter of `pattern` in which %* is the message with every control character escaped
// (core/printable.h): every sink of the toolkit (stderr, a run's train.log) uses one, so that a
// file name cannot forge a log line.
std::unique_ptr<spdlog::formatter> printable_formatter(const std::string& pattern);

// Thread-safe progress line with rate and ETA, logged at most every `interval_s` seconds and once
// at the end.
class Progress {
 public:
  Progress(std::string label, int64_t total, double interval_s = 2.0);
  void advance(int64_t n = 1);
  void finish();
  int64_t done() const;

 private:
  void report(bool final);
  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  double interval_s_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
  mutable std::mutex mutex_;
};

}  // namespace instret
