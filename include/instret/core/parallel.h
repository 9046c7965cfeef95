// A small worker pool for independent jobs whose results are merged in index order afterwards,
// so outputs never depend on the number of threads.
#pragma once
#include <cstddef>
#include <functional>

#include "instret/core/log.h"

namespace instret {

// Runs body(i, worker) for every i in [0, n) on `threads` threads (at least 1; `worker` is the
// thread's number in [0, threads), for per-thread scratch buffers), handing out indices in
// increasing order. After the first exception no further index is started; once every thread has
// joined, that exception is rethrown. `progress`, when given, advances once per finished index.
void parallel_for(size_t n, int threads, const std::function<void(size_t i, int worker)>& body,
                  Progress* progress = nullptr);

}  // namespace instret
