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
  const int64_t n_out = set_head ? 0 : config_.n_outputs * config_.emb_dim;
  if (config_.kind == "small")
    cnn = register_module("cnn", HanCnn(config_.han, config_.emb_dim, n_out));
  else
    convnext = register_module("convnext", ConvNext(config_.convnext, n_out));
  if (set_head) {
    const int64_t in_dim = cnn ? config_.emb_dim : config_.convnext.dims.back();
    set = register_module("set", SetHead(in_dim, config_.emb_dim, config_.n_outputs, config_.set));
  }
}

MultiOutput MultiEncoderNetImpl::forward_all(const torch::Tensor& logmel) {
  if (set) {
    SetHeadOutput out = set->forward(cnn ? cnn->local_embeddings(logmel) : convnext->features(convnext_input(logmel)));
    return {out.embeddings, out.existence};
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
