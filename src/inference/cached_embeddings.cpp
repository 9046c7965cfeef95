#include "instret/inference/cached_embeddings.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/core/npy.h"

namespace instret {
namespace fs = std::filesystem;

torch::Tensor cached_embeddings(SingleEncoder& encoder, const fs::path& dir, const std::string& name,
                                const std::string& list_key, int64_t n, int64_t samples, const ReadClip& read,
                                int64_t batch, int workers) {
  // bf16 embeddings differ from float32 ones in the third digit: a cache of their own.
  const fs::path folder = dir / (encoder.hash() + (encoder.bf16() ? "-bf16" : ""));
  const fs::path npy = folder / (name + ".npy");
  const fs::path meta = folder / (name + ".json");
  const Json expected = {{"encoder", encoder.path().string()}, {"encoder_hash", encoder.hash()},
                         {"list", list_key},                   {"rows", n},
                         {"dim", encoder.dim()}};
  if (fs::exists(npy) && fs::exists(meta)) {
    try {
      const Json stored = read_json_file(meta);
      const torch::Tensor t = read_npy(npy);
      if (stored.value("list", "") == list_key && t.dim() == 2 && t.size(0) == n && t.size(1) == encoder.dim() &&
          t.scalar_type() == torch::kFloat32) {
        spdlog::info("targets {}: {} embeddings from the cache {}", name, n, npy.string());
        return t;
      }
      spdlog::info("targets {}: the cache {} is for another clip list; recomputing", name, npy.string());
    } catch (const Error& e) {
      spdlog::warn("targets {}: unreadable cache ({}); recomputing", name, e.what());
    }
  }
  const torch::Tensor emb = embed_clips(
      n, samples, read, [&](const torch::Tensor& audio) { return encoder.embed(audio); }, batch, workers,
      "targets " + name);
  try {
    write_npy(npy, emb);
    write_json_file(meta, expected);
  } catch (const IoError& e) {
    spdlog::warn("targets {}: cannot store the cache in {} ({}); continuing without it", name, folder.string(),
                 e.what());
  }
  return emb;
}

}  // namespace instret
