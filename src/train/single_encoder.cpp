#include "instret/train/single_encoder.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <fstream>

#include "instret/core/config.h"
#include "instret/core/device.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/core/npy.h"
#include "instret/core/precision.h"
#include "instret/models/memory_format.h"
#include "instret/train/checkpoint.h"

namespace instret {
namespace fs = std::filesystem;


namespace {

// Loads the weights, moves model and frontend to the device, freezes the model in eval mode; returns
// the checkpoint's content hash, `hash_before` (taken before anything was read from the file). A
// file replaced meanwhile (a training run writing `best.pt`) would pair these weights with another
// file's hash, and so with another file's cached targets or library: refused.
std::string freeze(const fs::path& checkpoint, const std::string& hash_before, torch::nn::Module& model,
                   const ModelConfig& config, LogMelImpl& frontend, const torch::Device& device, bool bf16) {
  load_checkpoint(checkpoint, model, config);
  if (file_hash(checkpoint) != hash_before)
    throw IoError("checkpoint " + checkpoint.string() + " changed while it was read (is a run writing it?): try again");
  model.to(device);
  // oneDNN's and cuDNN's bf16 convolutions want channels-last (values unchanged).
  if (bf16) to_channels_last(model);
  model.eval();
  for (auto& p : model.parameters()) p.requires_grad_(false);
  frontend.to(device);
  return hash_before;
}

// The checkpoint's content hash, taken before anything else is read from it ("" when it does not
// exist: read_checkpoint_info then says so). A FIFO or device is refused here, unread.
std::string hash_first(const fs::path& checkpoint) {
  if (!fs::exists(checkpoint)) return {};
  try {
    return file_hash(checkpoint);
  } catch (const IoError& e) {
    throw IoError("checkpoint " + std::string(e.what()));
  }
}

}  // namespace

MelConfig checkpoint_mel(const Json& run_config, const fs::path& checkpoint) {
  MelConfig mel;
  if (run_config.is_object() && run_config.contains("mel")) {
    try {
      from_json(run_config["mel"], mel);
    } catch (const UsageError& e) {
      throw FormatError("checkpoint " + checkpoint.string() + ": bad mel settings: " + e.what());
    }
  }
  return mel;
}

SingleEncoder::SingleEncoder(const fs::path& checkpoint, const torch::Device& device, bool bf16)
    : path_(checkpoint), device_(device), bf16_(bf16) {
  if (checkpoint.empty()) throw UsageError("no single-encoder checkpoint given (--single CKPT)");
  const std::string hash = hash_first(checkpoint);
  const CheckpointInfo info = read_checkpoint_info(checkpoint);
  if (info.model.is_multi())
    throw FormatError("checkpoint " + checkpoint.string() + " is a '" + info.model.kind +
                      "' multi encoder; a single encoder (han_cnn, from train-single) is needed here");
  config_ = info.model;
  mel_ = checkpoint_mel(info.run_config, checkpoint);
  model_ = HanCnn(config_.han, config_.emb_dim, config_.n_classes);
  frontend_ = LogMel(mel_);
  hash_ = freeze(checkpoint, hash, *model_, config_, *frontend_, device_, bf16_);
}

MultiEncoderRunner::MultiEncoderRunner(const fs::path& checkpoint, const torch::Device& device, bool bf16)
    : path_(checkpoint), device_(device), bf16_(bf16) {
  if (checkpoint.empty()) throw UsageError("no multi-encoder checkpoint given");
  const std::string hash = hash_first(checkpoint);
  const CheckpointInfo info = read_checkpoint_info(checkpoint);
  if (!info.model.is_multi())
    throw FormatError("checkpoint " + checkpoint.string() +
                      " is a 'han_cnn' single encoder; a multi encoder (small or large, from train-multi or "
                      "import-weights) is needed here");
  config_ = info.model;
  mel_ = checkpoint_mel(info.run_config, checkpoint);
  model_ = MultiEncoder(config_);
  frontend_ = LogMel(mel_);
  hash_ = freeze(checkpoint, hash, *model_, config_, *frontend_, device_, bf16_);
}

torch::Tensor MultiEncoderRunner::embed(const torch::Tensor& audio) {
  torch::NoGradGuard no_grad;
  const torch::Tensor mel = frontend_->forward(to_device(audio, device_));
  Autocast autocast(bf16_, device_);
  return model_->forward(mel).to(torch::kFloat32);
}

torch::Tensor SingleEncoder::embed(const torch::Tensor& audio) {
  torch::NoGradGuard no_grad;
  const torch::Tensor mel = frontend_->forward(to_device(audio, device_));
  Autocast autocast(bf16_, device_);
  return model_->embed(mel).to(torch::kFloat32);
}

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
