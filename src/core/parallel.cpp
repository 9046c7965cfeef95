#include "instret/core/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
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
  const int count = std::max(1, threads);
  std::vector<std::thread> pool;
  for (int t = 1; t < count; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace instret
