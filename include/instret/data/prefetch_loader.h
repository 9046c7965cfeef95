// Threaded prefetching loader for training batches (plain buffers, no torch: workers never touch
// tensors) and the ready-made batch makers over Nlakh-single, random mixes and Nlakh-multi.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "instret/data/nlakh_dataset.h"

namespace instret {

// One training batch made on a worker thread.
struct Batch {
  int64_t step = 0;                     // global step it belongs to
  int64_t size = 0;                     // items
  int64_t samples = 0;                  // per item
  std::vector<float> audio;             // size * samples: the model inputs (clips or mixtures)
  std::vector<int64_t> labels;          // single encoder: class of each item
  std::vector<int64_t> target_rows;     // multi encoder: rows of the target cache, all items concatenated
  std::vector<int64_t> target_offsets;  // size + 1 offsets into target_rows
  // Optional (on-the-fly targets): target_rows.size() * samples of stem audio, in the order of target_rows.
  std::vector<float> stems;
};

// Makes the batch of one step; must be a pure function of step, callable from several threads at once.
using BatchMaker = std::function<Batch(int64_t step)>;

// Makes batches first_step .. end_step-1 on `workers` threads, at most `prefetch` batches ahead of
// the consumer (made, being made or waiting, not yet handed out), and hands them out in step order
// whatever the thread count. A maker's exception at step k is rethrown by the next() that would
// return step k (every earlier batch is handed out first; no step after k is started once it
// happened), and by every later next(). The destructor stops the workers (each finishes the batch
// it is making, none starts another) and joins them, also when the consumer stops early.
// workers = 0 makes each batch synchronously inside next() (debugging, benchmark baseline).
// UsageError for workers < 0, prefetch < 1 or end_step < first_step.
class PrefetchLoader {
 public:
  // UsageError when the batches a loader holds at once (up to `prefetch` ready, plus one in the
  // making per worker and the one in use), `batch_bytes` each, would take more than half of this
  // machine's memory: say so before any is made.
  static void check_memory(double batch_bytes, int workers, int prefetch);

  PrefetchLoader(BatchMaker make, int64_t first_step, int64_t end_step, int workers, int prefetch);
  ~PrefetchLoader();
  PrefetchLoader(const PrefetchLoader&) = delete;
  PrefetchLoader& operator=(const PrefetchLoader&) = delete;
  // The batch of the next step; nullopt after end_step - 1.
  std::optional<Batch> next();
  // Total time next() spent waiting for a batch (with workers = 0: making it).
  double wait_seconds() const;

 private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };
  void work();

  BatchMaker make_;
  int64_t end_step_;
  int64_t prefetch_;
  int64_t next_out_;    // step the consumer gets next
  int64_t next_claim_;  // step the next idle worker makes
  bool stopping_ = false;
  bool failed_ = false;
  std::exception_ptr error_;  // the failure handed out (kept for later next() calls)
  std::map<int64_t, Slot> done_;
  double wait_seconds_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable work_cv_;   // workers: room to claim a step, or stop
  std::condition_variable ready_cv_;  // consumer: a batch or error arrived
  std::vector<std::thread> threads_;
};

// Hands a consumed batch's float buffers (audio, stems) back for reuse by the batch makers below,
// in any thread (optional; call it once the batch has been copied into tensors). A batch of 128
// five-second mixtures is 41 MB, above glibc's largest mmap threshold, so each fresh buffer costs
// ~10,000 page faults and its zeroing: about a third of the loader's CPU time (docs/benchmarks.md).
// The pool keeps at most 16 buffers; the rest are freed.
void recycle_batch(Batch&& batch);

// Single-encoder batch: audio = the clips, labels as given (same length as clips).
Batch single_batch(const NlakhSingle& data, const std::vector<int64_t>& clips, const std::vector<int64_t>& labels,
                   int64_t step);
// Random mixes: recipes[i] = clip indices of mixture i (mixed with mix_down); target_rows = those clip
// indices (the target cache of Nlakh-single is indexed by clip); with_stems copies each clip's
// audio into `stems` too.
Batch random_mix_batch(const NlakhSingle& data, const std::vector<std::vector<int64_t>>& recipes, bool with_stems,
                       int64_t step);
// Nlakh-multi items: audio = the mixes; target_rows = first_stem + k for each stem (the cache of
// Nlakh-multi is indexed by flat stem row); with_stems reads the stems into `stems`.
Batch multi_batch(const NlakhMulti& data, const std::vector<int64_t>& items, bool with_stems, int64_t step);

}  // namespace instret
