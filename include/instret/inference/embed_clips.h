// Runs a network over many clips read from disk: reading on loader threads, batches on the device.
// Used for validation, for the single encoder's target cache and for library indexing.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>

namespace instret {

// Fills `out` with the `samples` samples of clip `index` (called from loader threads).
using ReadClip = std::function<void(int64_t index, float* out)>;
// Maps a CPU audio batch (B, samples) to per-clip outputs (B, ...) on any device.
using ClipForward = std::function<torch::Tensor(const torch::Tensor& audio)>;

// The outputs of `forward` for clips 0..n-1, stacked on the CPU as float32 (n, ...), in order,
// `batch` clips at a time, with progress logging under `label`. Gradients are off. When `cancelled`
// is given and returns true between batches, throws Interrupted.
torch::Tensor embed_clips(int64_t n, int64_t samples, const ReadClip& read, const ClipForward& forward, int64_t batch,
                          int workers, const std::string& label, const std::function<bool()>& cancelled = {});

}  // namespace instret
