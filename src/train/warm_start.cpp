#include "instret/train/warm_start.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "instret/core/error.h"

namespace instret {

namespace {

// Copies every parameter or buffer of `src` but the classifier (linear2) into the tensor of the same
// name under "cnn." in `dst`; returns how many.
int64_t copy_trunk(torch::OrderedDict<std::string, torch::Tensor> dst,
                   const torch::OrderedDict<std::string, torch::Tensor>& src) {
  int64_t n = 0;
  for (const auto& item : src) {
    if (item.key().rfind("linear2.", 0) == 0) continue;
    torch::Tensor* target = dst.find("cnn." + item.key());
    if (!target || !target->sizes().equals(item.value().sizes()))
      throw UsageError("warm_start: " + item.key() + " of the single encoder has no counterpart in the Small encoder");
    target->copy_(item.value().to(target->device(), target->dtype()));
    ++n;
  }
  return n;
}

}  // namespace

bool is_warm_start(const std::string& mode) { return mode == "single_trunk" || mode == "single"; }

void validate_warm_start(const std::string& mode, const ModelConfig& model) {
  const std::string& model_kind = model.kind;
  if (mode != "none" && !is_warm_start(mode))
    throw UsageError("config key 'warm_start': must be \"none\", \"single_trunk\" or \"single\", got \"" + mode + "\"");
  if (mode != "none" && model_kind != "small")
    throw UsageError("config key 'warm_start': \"" + mode + "\" needs model.kind \"small\" (the single encoder's Han CNN trunk), got \"" +
                     model_kind + "\"");
  if (mode == "single" && model.head != "linear")
    throw UsageError("config key 'warm_start': \"single\" starts the linear head's outputs near the mixture's embedding; "
                     "the " + model.head + " head (model.head \"" + model.head + "\") has no such start: use \"single_trunk\"");
}

void check_warm_start(const std::string& mode, const ModelConfig& config, const SingleEncoder& single,
                      const MelConfig& mel) {
  validate_warm_start(mode, config);
  if (mode == "none") return;
  const auto& a = single.config().han.channels;
  const auto& b = config.han.channels;
  if (a != b || single.config().emb_dim != config.emb_dim)
    throw UsageError("config key 'warm_start': the single encoder " + single.path().string() +
                     " has another trunk (model.han.channels " + Json(a).dump() + ", emb_dim " +
                     std::to_string(single.config().emb_dim) + ") than the model (" + Json(b).dump() + ", " +
                     std::to_string(config.emb_dim) + ")");
  Json single_mel, run_mel;
  to_json(single_mel, single.mel());
  to_json(run_mel, mel);
  if (single_mel != run_mel)
    throw UsageError("config key 'warm_start': the single encoder " + single.path().string() +
                     " was trained on other log-mel settings than this run's mel: " + single_mel.dump() + " vs " +
                     run_mel.dump());
}

void warm_start(MultiEncoderNetImpl& model, const std::string& mode, const SingleEncoder& single, const MelConfig& mel) {
  const ModelConfig& config = model.config();
  check_warm_start(mode, config, single, mel);
  if (mode == "none") return;
  torch::NoGradGuard no_grad;
  const HanCnn& src = single.network();
  const int64_t n = copy_trunk(model.named_parameters(), src->named_parameters()) +
                    copy_trunk(model.named_buffers(), src->named_buffers());
  if (mode == "single") {
    // linear2 maps the embedding e (D) to n_outputs blocks of D: adding the identity to each block
    // makes output k = e + (its random init) e, so every output starts near the mixture's embedding.
    torch::Tensor weight = model.cnn->linear2[0]->as<torch::nn::Linear>()->weight;  // (n_outputs*D, D)
    const int64_t d = config.emb_dim;
    const torch::Tensor eye = torch::eye(d, weight.options());
    for (int64_t k = 0; k < config.n_outputs; ++k) weight.narrow(0, k * d, d).add_(eye);
  }
  spdlog::info("warm start \"{}\": {} tensors of the Small encoder's trunk start from the single encoder {}{}", mode, n,
           single.path().string(), mode == "single" ? "; each output starts near its embedding of the mixture" : "");
}

}  // namespace instret
