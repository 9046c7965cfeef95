#include "instret/models/encoders.h"

#include "instret/core/error.h"

namespace instret {

torch::Tensor convnext_input(const torch::Tensor& logmel) {
  if (logmel.dim() != 3)
    throw UsageError("ConvNeXt encoder expects a log-mel batch (B, n_mels, frames), got " +
                     std::to_string(logmel.dim()) + " dimensions");
  return logmel.unsqueeze(1);
}

MultiEncoderNetImpl::MultiEncoderNetImpl(const ModelConfig& config) : config_(config) {
  config_.validate();
  if (!config_.is_multi()) throw UsageError("MultiEncoderNet needs model.kind \"small\" or \"large\"");
  const bool set_head = config_.head == "set";
  const int64_t n_out = config_.head == "linear" ? config_.n_outputs * config_.emb_dim : 0;
  if (config_.kind == "small")
    cnn = register_module("cnn", HanCnn(config_.han, config_.emb_dim, n_out));
  else
    convnext = register_module("convnext", ConvNext(config_.convnext, n_out));
  if (set_head) {
    const int64_t in_dim = cnn ? config_.emb_dim : config_.convnext.dims.back();
    set = register_module("set", SetHead(in_dim, config_.emb_dim, config_.n_outputs, config_.set));
  }
  if (config_.head == "mask")
    mask = register_module("mask", MaskHead(config_.han.channels.at(1), config_.n_outputs, config_.mask, config_.han.leaky_slope));
}

MultiOutput MultiEncoderNetImpl::forward_all(const torch::Tensor& logmel) {
  if (set) {
    SetHeadOutput out = set->forward(cnn ? cnn->local_embeddings(logmel) : convnext->features(convnext_input(logmel)));
    return {out.embeddings, out.existence};
  }
  if (mask) {
    const torch::Tensor map = cnn->early_map(logmel);  // (B, C, H, W)
    const torch::Tensor masks = mask->forward(map);     // (B, M, H, W), float32
    const int64_t b = map.size(0), m = masks.size(1);
    // (B, M, C, H, W) -> (B*M, C, H, W): each slot's copy of the map, times its mask.
    const torch::Tensor slots =
        (map.unsqueeze(1) * masks.unsqueeze(2).to(map.scalar_type())).flatten(0, 1).contiguous(map.suggest_memory_format());
    const torch::Tensor e = cnn->late_embedding(slots);
    return {e.view({b, m, e.size(1)}), mask->existence(masks)};
  }
  torch::Tensor flat = cnn ? cnn->forward(logmel).logits : convnext->forward(convnext_input(logmel));
  return {flat.view({flat.size(0), config_.n_outputs, config_.emb_dim}), torch::Tensor()};
}

torch::Tensor MultiEncoderNetImpl::forward(const torch::Tensor& logmel) { return forward_all(logmel).embeddings; }

std::shared_ptr<torch::nn::Module> make_model(const ModelConfig& config) {
  config.validate();
  if (config.kind == "han_cnn") return HanCnn(config.han, config.emb_dim, config.n_classes).ptr();
  return MultiEncoderNet(config).ptr();
}

std::string backbone_prefix(const ModelConfig& config) {
  if (config.kind == "small") return "cnn.";
  if (config.kind == "large") return "convnext.";
  return "";
}

}  // namespace instret
