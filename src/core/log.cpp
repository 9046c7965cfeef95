#include "instret/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string_view>

#include "instret/core/printable.h"

namespace instret {

namespace {

// %* in the pattern: the message with every control character escaped (core/printable.h), so that a
// file name holding a newline and "[critical] ..." cannot write a second, forged line, nor an
// escape sequence reach the terminal, whatever the message quotes.
class PrintablePayload : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const std::string text = printable(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<PrintablePayload>(); }
};

}  // namespace

std::unique_ptr<spdlog::formatter> printable_formatter(const std::string& pattern) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<PrintablePayload>('*').set_pattern(pattern);
  return formatter;
}

void setup_logging(bool verbose, bool quiet) {
  static bool installed = false;
  if (!installed) {
    auto logger = spdlog::stderr_color_mt("instret");
    logger->set_formatter(printable_formatter("[%H:%M:%S.%e] [%^%l%$] %*"));
    spdlog::set_default_logger(logger);
    installed = true;
  }
  spdlog::set_level(verbose ? spdlog::level::debug : quiet ? spdlog::level::warn : spdlog::level::info);
}

Progress::Progress(std::string label, int64_t total, double interval_s)
    : label_(std::move(label)), total_(total), interval_s_(interval_s),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

void Progress::advance(int64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  done_ += n;
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_).count() >= interval_s_) {
    last_ = now;
    report(false);
  }
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!finished_) report(true);
  finished_ = true;
}

int64_t Progress::done() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_;
}

void Progress::report(bool final) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  if (final) {
    spdlog::info("{}: {} done in {:.1f} s ({:.1f}/s)", label_, done_, elapsed, rate);
  } else if (total_ > 0) {
    const double eta = rate > 0 ? (total_ - done_) / rate : 0.0;
    spdlog::info("{}: {}/{} ({:.1f}%) {:.1f}/s ETA {:.0f} s", label_, done_, total_, 100.0 * done_ / total_, rate, eta);
  } else {
    spdlog::info("{}: {} ({:.1f}/s)", label_, done_, rate);
  }
}

}  // namespace instret
