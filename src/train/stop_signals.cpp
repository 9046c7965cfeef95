#include "instret/train/stop_signals.h"

#include <atomic>
#include <csignal>

namespace instret {

namespace {

std::atomic<int> g_stop_signal{0};
extern "C" void on_stop_signal(int signal) {
  if (g_stop_signal.exchange(signal) != 0) {
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
}

}  // namespace

StopSignals::StopSignals() {
  g_stop_signal.store(0);
  previous_int_ = std::signal(SIGINT, on_stop_signal);
  previous_term_ = std::signal(SIGTERM, on_stop_signal);
}

StopSignals::~StopSignals() {
  std::signal(SIGINT, previous_int_);
  std::signal(SIGTERM, previous_term_);
}

int StopSignals::received() const { return g_stop_signal.load(); }

bool stop_requested() { return g_stop_signal.load() != 0; }

}  // namespace instret
