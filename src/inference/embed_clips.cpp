#include "instret/inference/embed_clips.h"

#include <torch/torch.h>

#include "instret/core/error.h"
#include "instret/core/log.h"
#include "instret/data/prefetch_loader.h"

namespace instret {

torch::Tensor embed_clips(int64_t n, int64_t samples, const ReadClip& read, const ClipForward& forward, int64_t batch,
                          int workers, const std::string& label, const std::function<bool()>& cancelled) {
  if (batch < 1) throw UsageError("batch size must be positive");
  if (n <= 0) throw UsageError(label + ": no clips to process");
  torch::NoGradGuard no_grad;
  const int64_t steps = (n + batch - 1) / batch;
  PrefetchLoader loader(
      [&](int64_t step) {
        Batch b;
        b.step = step;
        b.size = std::min(batch, n - step * batch);
        b.samples = samples;
        b.audio.resize(size_t(b.size * samples));
        for (int64_t i = 0; i < b.size; ++i) read(step * batch + i, b.audio.data() + i * samples);
        return b;
      },
      0, steps, workers, 4);
  torch::Tensor out;
  Progress progress(label, n, 10.0);
  int64_t done = 0;
  while (auto b = loader.next()) {
    if (cancelled && cancelled()) throw Interrupted(label + ": interrupted");
    const torch::Tensor audio = torch::from_blob(b->audio.data(), {b->size, samples}, torch::kFloat32);
    const torch::Tensor y = forward(audio).to(torch::kCPU, torch::kFloat32);
    if (!out.defined()) {
      auto shape = y.sizes().vec();
      shape[0] = n;
      out = torch::empty(shape, torch::kFloat32);
    }
    out.narrow(0, done, b->size).copy_(y);
    done += b->size;
    progress.advance(b->size);
  }
  progress.finish();
  return out;
}

}  // namespace instret
