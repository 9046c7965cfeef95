#include "instret/data/prefetch_loader.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "instret/core/error.h"
#include "instret/core/memory.h"
#include "instret/data/random_mix.h"

namespace instret {

namespace {
using Clock = std::chrono::steady_clock;

// Float buffers of consumed batches, for reuse (see recycle_batch).
class BufferPool {
 public:
  static BufferPool& instance() {
    static BufferPool pool;
    return pool;
  }
  // A buffer of n floats (contents unspecified): the pooled one of the smallest capacity >= n, else a new one.
  std::vector<float> take(size_t n) {
    std::vector<float> out;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      size_t best = buffers_.size();
      for (size_t i = 0; i < buffers_.size(); ++i)
        if (buffers_[i].capacity() >= n &&
            (best == buffers_.size() || buffers_[i].capacity() < buffers_[best].capacity()))
          best = i;
      if (best != buffers_.size()) {
        out = std::move(buffers_[best]);
        buffers_.erase(buffers_.begin() + std::ptrdiff_t(best));
      }
    }
    out.resize(n);
    return out;
  }
  void give(std::vector<float>&& buffer) {
    if (buffer.capacity() == 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (buffers_.size() < kMaxBuffers) buffers_.push_back(std::move(buffer));
  }

 private:
  static constexpr size_t kMaxBuffers = 16;
  std::mutex mutex_;
  std::vector<std::vector<float>> buffers_;
};
}  // namespace

void recycle_batch(Batch&& batch) {
  BufferPool::instance().give(std::move(batch.audio));
  BufferPool::instance().give(std::move(batch.stems));
}

void PrefetchLoader::check_memory(double batch_bytes, int workers, int prefetch) {
  const uint64_t memory = physical_memory_bytes();
  const double held = batch_bytes * double(int64_t(prefetch) + std::max(workers, 0) + 1);
  const double mib = double(1 << 20);
  if (memory > 0 && held > double(memory / 2))
    throw UsageError("a batch of " + std::to_string(int64_t(batch_bytes / mib)) + " MiB with data.prefetch " +
                     std::to_string(prefetch) + " and data.workers " + std::to_string(workers) + " holds about " +
                     std::to_string(int64_t(held / mib)) + " MiB in the loader, more than half of this machine's " +
                     std::to_string(memory >> 20) + " MiB: lower batch_size, data.prefetch or data.workers");
}

PrefetchLoader::PrefetchLoader(BatchMaker make, int64_t first_step, int64_t end_step, int workers, int prefetch)
    : make_(std::move(make)), end_step_(end_step), prefetch_(prefetch), next_out_(first_step), next_claim_(first_step) {
  if (!make_) throw UsageError("PrefetchLoader: no batch maker");
  if (workers < 0) throw UsageError("PrefetchLoader: workers must be >= 0, got " + std::to_string(workers));
  if (prefetch < 1) throw UsageError("PrefetchLoader: prefetch must be >= 1, got " + std::to_string(prefetch));
  if (end_step < first_step)
    throw UsageError("PrefetchLoader: end_step " + std::to_string(end_step) + " < first_step " +
                     std::to_string(first_step));
  threads_.reserve(size_t(workers));
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
}

PrefetchLoader::~PrefetchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void PrefetchLoader::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_cv_.wait(lock, [this] {
      return stopping_ || failed_ || next_claim_ >= end_step_ || next_claim_ < next_out_ + prefetch_;
    });
    if (stopping_ || failed_ || next_claim_ >= end_step_) return;
    const int64_t step = next_claim_++;
    lock.unlock();
    Slot slot;
    try {
      slot.batch = make_(step);
    } catch (...) {
      slot.error = std::current_exception();
    }
    lock.lock();
    if (slot.error) failed_ = true;
    done_[step] = std::move(slot);
    ready_cv_.notify_all();
    if (failed_) work_cv_.notify_all();
  }
}

std::optional<Batch> PrefetchLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (error_) std::rethrow_exception(error_);
  if (next_out_ >= end_step_) return std::nullopt;
  const int64_t step = next_out_;
  const auto start = Clock::now();
  if (threads_.empty()) {
    lock.unlock();
    std::optional<Batch> batch;
    std::exception_ptr error;
    try {
      batch = make_(step);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    wait_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
    if (error) {
      error_ = error;
      std::rethrow_exception(error_);
    }
    ++next_out_;
    return batch;
  }
  ready_cv_.wait(lock, [&] { return done_.count(step) > 0; });
  wait_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
  auto it = done_.find(step);
  Slot slot = std::move(it->second);
  done_.erase(it);
  if (slot.error) {
    error_ = slot.error;
    std::rethrow_exception(error_);
  }
  ++next_out_;
  lock.unlock();
  work_cv_.notify_all();
  return std::move(slot.batch);
}

double PrefetchLoader::wait_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return wait_seconds_;
}

Batch single_batch(const NlakhSingle& data, const std::vector<int64_t>& clips, const std::vector<int64_t>& labels,
                   int64_t step) {
  if (labels.size() != clips.size())
    throw UsageError("single_batch: " + std::to_string(clips.size()) + " clips but " + std::to_string(labels.size()) +
                     " labels");
  Batch batch;
  batch.step = step;
  batch.size = int64_t(clips.size());
  batch.samples = data.clip_samples();
  batch.audio = BufferPool::instance().take(size_t(batch.size * batch.samples));
  for (size_t i = 0; i < clips.size(); ++i) data.read(clips[i], batch.audio.data() + i * size_t(batch.samples));
  batch.labels = labels;
  return batch;
}

Batch random_mix_batch(const NlakhSingle& data, const std::vector<std::vector<int64_t>>& recipes, bool with_stems,
                       int64_t step) {
  Batch batch;
  batch.step = step;
  batch.size = int64_t(recipes.size());
  batch.samples = data.clip_samples();
  const size_t samples = size_t(batch.samples);
  batch.audio = BufferPool::instance().take(recipes.size() * samples);
  batch.target_offsets.push_back(0);
  for (const auto& recipe : recipes) {
    batch.target_rows.insert(batch.target_rows.end(), recipe.begin(), recipe.end());
    batch.target_offsets.push_back(int64_t(batch.target_rows.size()));
  }
  if (with_stems) batch.stems = BufferPool::instance().take(batch.target_rows.size() * samples);
  // Without stems the clips of one mixture go through a per-thread scratch buffer.
  thread_local std::vector<float> scratch;
  std::vector<const float*> clips;
  for (size_t i = 0; i < recipes.size(); ++i) {
    const auto& recipe = recipes[i];
    float* base;
    if (with_stems) {
      base = batch.stems.data() + size_t(batch.target_offsets[i]) * samples;
    } else {
      scratch.resize(recipe.size() * samples);
      base = scratch.data();
    }
    clips.clear();
    for (size_t k = 0; k < recipe.size(); ++k) {
      data.read(recipe[k], base + k * samples);
      clips.push_back(base + k * samples);
    }
    mix_down(clips, batch.samples, batch.audio.data() + i * samples);
  }
  return batch;
}

Batch multi_batch(const NlakhMulti& data, const std::vector<int64_t>& items, bool with_stems, int64_t step) {
  Batch batch;
  batch.step = step;
  batch.size = int64_t(items.size());
  batch.samples = data.clip_samples();
  const size_t samples = size_t(batch.samples);
  batch.audio = BufferPool::instance().take(items.size() * samples);
  batch.target_offsets.push_back(0);
  for (size_t i = 0; i < items.size(); ++i) {
    data.read_mix(items[i], batch.audio.data() + i * samples);
    const MultiItem& item = data.items()[size_t(items[i])];
    for (size_t k = 0; k < item.stems.size(); ++k) batch.target_rows.push_back(item.first_stem + int64_t(k));
    batch.target_offsets.push_back(int64_t(batch.target_rows.size()));
  }
  if (with_stems) {
    batch.stems = BufferPool::instance().take(batch.target_rows.size() * samples);
    size_t row = 0;
    for (int64_t index : items)
      for (size_t k = 0; k < data.items()[size_t(index)].stems.size(); ++k, ++row)
        data.read_stem(index, int64_t(k), batch.stems.data() + row * samples);
  }
  return batch;
}

}  // namespace instret
