// A clean stop of training on SIGINT / SIGTERM: while a StopSignals lives, the first signal only
// asks the loop to stop after the current step (stop_requested), a second one ends the process.
#pragma once

namespace instret {

// Installs the handlers (and clears an earlier request); the previous handlers come back when it is
// destroyed.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  // The signal received (0 when none).
  int received() const;

 private:
  void (*previous_int_)(int) = nullptr;
  void (*previous_term_)(int) = nullptr;
};

// True once SIGINT or SIGTERM arrived while a StopSignals lives (during train()): long work inside a
// task (validation) checks it and throws Interrupted, so a stop never waits for a whole validation.
bool stop_requested();

}  // namespace instret
