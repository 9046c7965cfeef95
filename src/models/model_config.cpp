#include "instret/models/model_config.h"

namespace instret {

namespace {
void check(bool ok, const std::string& message) {
  if (!ok) throw UsageError("model config: " + message);
}
}  // namespace

void ModelConfig::validate() const {
  check(kind == "han_cnn" || kind == "small" || kind == "large",
        "model.kind must be \"han_cnn\", \"small\" or \"large\", got \"" + kind + "\"");
  check(n_classes > 0, "model.n_classes must be positive");
  check(n_outputs > 0, "model.n_outputs must be positive");
  check(emb_dim > 0, "model.emb_dim must be positive");
  check(han.channels.size() == 4, "model.han.channels must list 4 widths");
  for (auto c : han.channels) check(c > 0, "model.han.channels must be positive");
  check(han.leaky_slope >= 0, "model.han.leaky_slope must be >= 0");
  check(han.dropout >= 0 && han.dropout < 1, "model.han.dropout must be in [0, 1)");
  check(han.dropout2d >= 0 && han.dropout2d < 1, "model.han.dropout2d must be in [0, 1)");
  check(convnext.depths.size() == 4, "model.convnext.depths must list 4 stage depths");
  check(convnext.dims.size() == 4, "model.convnext.dims must list 4 stage widths");
  for (auto d : convnext.depths) check(d > 0, "model.convnext.depths must be positive");
  for (auto d : convnext.dims) check(d > 0, "model.convnext.dims must be positive");
  check(convnext.drop_path >= 0 && convnext.drop_path < 1, "model.convnext.drop_path must be in [0, 1)");
  check(head == "linear" || head == "set" || head == "mask",
        "model.head must be \"linear\", \"set\" or \"mask\", got \"" + head + "\"");
  check(head == "linear" || is_multi(), "model.head \"" + head + "\" needs a multi encoder (model.kind \"small\" or \"large\")");
  check(head != "mask" || kind == "small", "model.head \"mask\" needs model.kind \"small\" (it masks the Han CNN trunk's map)");
  check(set.dim > 0 && set.dim <= 4096, "model.set.dim must be in [1, 4096]");
  check(set.heads > 0 && set.dim % set.heads == 0, "model.set.heads must be positive and divide model.set.dim");
  check(set.layers > 0 && set.layers <= 16, "model.set.layers must be in [1, 16]");
  check(set.ffn > 0 && set.ffn <= 16384, "model.set.ffn must be in [1, 16384]");
  check(mask.hidden > 0 && mask.hidden <= 4096, "model.mask.hidden must be in [1, 4096]");
}

Json to_json(const HanCnnConfig& c) {
  return Json{{"channels", c.channels}, {"leaky_slope", c.leaky_slope}, {"dropout2d", c.dropout2d},
              {"dropout", c.dropout}};
}

Json to_json(const ConvNextConfig& c) {
  return Json{{"depths", c.depths}, {"dims", c.dims}, {"drop_path", c.drop_path},
              {"layer_scale", c.layer_scale}};
}

Json to_json(const SetHeadConfig& c) {
  return Json{{"dim", c.dim}, {"heads", c.heads}, {"layers", c.layers}, {"ffn", c.ffn}};
}

Json to_json(const MaskHeadConfig& c) { return Json{{"hidden", c.hidden}}; }

Json to_json(const ModelConfig& c) {
  return Json{{"kind", c.kind},          {"n_classes", c.n_classes}, {"n_outputs", c.n_outputs},
              {"emb_dim", c.emb_dim},    {"head", c.head},           {"han", to_json(c.han)},
              {"convnext", to_json(c.convnext)}, {"set", to_json(c.set)},
              {"mask", to_json(c.mask)}};
}

ModelConfig model_config_from_json(const Json& j, const std::string& source) {
  const Json merged = merge_config(to_json(ModelConfig{}), j, source);
  ModelConfig c;
  c.kind = config_get<std::string>(merged, "kind");
  c.n_classes = config_get<int64_t>(merged, "n_classes");
  c.n_outputs = config_get<int64_t>(merged, "n_outputs");
  c.emb_dim = config_get<int64_t>(merged, "emb_dim");
  c.han.channels = config_get<std::vector<int64_t>>(merged, "han.channels");
  c.han.leaky_slope = config_get<double>(merged, "han.leaky_slope");
  c.han.dropout2d = config_get<double>(merged, "han.dropout2d");
  c.han.dropout = config_get<double>(merged, "han.dropout");
  c.convnext.depths = config_get<std::vector<int64_t>>(merged, "convnext.depths");
  c.convnext.dims = config_get<std::vector<int64_t>>(merged, "convnext.dims");
  c.convnext.drop_path = config_get<double>(merged, "convnext.drop_path");
  c.convnext.layer_scale = config_get<double>(merged, "convnext.layer_scale");
  c.head = config_get<std::string>(merged, "head");
  c.set.dim = config_get<int64_t>(merged, "set.dim");
  c.set.heads = config_get<int64_t>(merged, "set.heads");
  c.set.layers = config_get<int64_t>(merged, "set.layers");
  c.set.ffn = config_get<int64_t>(merged, "set.ffn");
  c.mask.hidden = config_get<int64_t>(merged, "mask.hidden");
  c.validate();
  return c;
}

}  // namespace instret
