#include "instret/core/parallel.h"

#include "instret/core/error.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace instret {

void parallel_for(size_t n, int threads, const std::function<void(size_t, int)>& body, Progress* progress) {
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&](int worker) {
    for (size_t i; !stop && (i = next++) < n;) {
      try {
        body(i, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        stop = true;
      }
      if (progress) progress->advance();
    }
  };
  // No more threads than items; a thread the system cannot start stops the others and is reported
  // (an exception escaping here with joinable threads would end the process).
  const int count = int(std::min<size_t>(size_t(std::max(1, threads)), std::max<size_t>(n, 1)));
  std::vector<std::thread> pool;
  try {
    for (int t = 1; t < count; ++t) pool.emplace_back(work, t);
  } catch (const std::system_error& e) {
    stop = true;
    for (auto& t : pool) t.join();
    throw IoError("cannot start " + std::to_string(count) + " worker threads: " + e.what());
  }
  work(0);
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace instret
