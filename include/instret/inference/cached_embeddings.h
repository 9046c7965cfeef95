// The on-disk cache of the single encoder's embeddings of a dataset's clips (train-multi's targets),
// keyed by the checkpoint's content, the precision and the clip list.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "instret/inference/embed_clips.h"
#include "instret/inference/single_encoder.h"

namespace instret {

// Embeddings (n, dim) float32 on the CPU of clips 0..n-1: read from `<dir>/<encoder hash>/<name>.npy`
// (`<encoder hash>-bf16/` for an encoder running in bf16)
// when that file exists with a matching `<name>.json` (same list key and shape), else computed with
// `read` and stored there atomically (when the folder is not writable, a warning and no cache).
// `list_key` identifies the clip list (e.g. a hash of the manifest), so a re-rendered dataset never
// reuses stale targets.
torch::Tensor cached_embeddings(SingleEncoder& encoder, const std::filesystem::path& dir, const std::string& name,
                                const std::string& list_key, int64_t n, int64_t samples, const ReadClip& read,
                                int64_t batch, int workers);

}  // namespace instret
