// Configuration of the encoders (Han CNN single encoder, Small / Large multi-instrument encoders),
// with JSON conversion so a tool's defaults and a checkpoint's header come from the same struct.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "instret/core/config.h"

namespace instret {

// The Han et al. (2016) CNN trunk: four double-conv blocks of `channels` filters.
struct HanCnnConfig {
  std::vector<int64_t> channels{32, 64, 128, 256};
  double leaky_slope = 0.33;
  double dropout2d = 0.25;  // after blocks 1-3
  double dropout = 0.5;     // after the embedding
};

// A ConvNeXt backbone (Liu et al. 2022, timm layout). Tiny = depths 3,3,9,3 dims 96..768;
// Small (the default, the paper's Large encoder) = depths 3,3,27,3 dims 96,192,384,768;
// Base = depths 3,3,27,3 dims 128,256,512,1024.
struct ConvNextConfig {
  std::vector<int64_t> depths{3, 3, 27, 3};
  std::vector<int64_t> dims{96, 192, 384, 768};
  double drop_path = 0.5;     // stochastic depth, rising linearly from 0 to this over the blocks
  double layer_scale = 1e-6;  // initial layer-scale gamma; <= 0 disables layer scale
};

// The set-prediction head of a multi encoder (model.head "set", models/set_head.h): n_outputs learned
// queries that attend over the trunk's time-frequency map before any pooling, through `layers`
// transformer decoder layers of width `dim` (`heads` attention heads, a feed-forward of `ffn`),
// without dropout; each query gives one embedding and one existence logit.
struct SetHeadConfig {
  int64_t dim = 256;
  int64_t heads = 4;
  int64_t layers = 2;
  int64_t ffn = 512;
};

// The mask head of the Small multi encoder (model.head "mask", models/mask_head.h): a convolutional
// network of `hidden` channels that splits the trunk's map after block 2 among the output slots.
struct MaskHeadConfig {
  int64_t hidden = 64;
};

// Which network: "han_cnn" (single-instrument encoder, classifier over n_classes),
// "small" (Han CNN trunk) or "large" (ConvNeXt trunk). A multi encoder's head: "linear" (the
// paper's: the pooled trunk output -> Linear(.., n_outputs*emb_dim); Small: the Han CNN's linear2,
// Large: ConvNeXt's LayerNorm + Linear), "set" (SetHeadConfig, with an existence score per slot) or,
// Small only, "mask" (MaskHeadConfig: each slot is the single encoder's embedding of a masked map).
struct ModelConfig {
  std::string kind = "han_cnn";
  int64_t n_classes = 953;  // han_cnn only: number of training instruments
  int64_t n_outputs = 9;    // multi encoders: M output embeddings
  int64_t emb_dim = 1024;   // embedding width D (Han CNN penultimate layer and multi outputs)
  std::string head = "linear";  // multi encoders: "linear" (the paper's), "set" or "mask" (Small only)
  HanCnnConfig han;
  ConvNextConfig convnext;
  SetHeadConfig set;
  MaskHeadConfig mask;

  bool is_multi() const { return kind != "han_cnn"; }
  // A multi encoder with the set or mask head: it also gives an existence logit per output slot.
  bool has_existence() const { return is_multi() && head != "linear"; }
  // Throws UsageError naming the offending key.
  void validate() const;
};

Json to_json(const HanCnnConfig& c);
Json to_json(const ConvNextConfig& c);
Json to_json(const SetHeadConfig& c);
Json to_json(const MaskHeadConfig& c);
Json to_json(const ModelConfig& c);

// Reads a config; keys missing from `j` keep their defaults, unknown keys and wrong types are
// UsageErrors (`source` names where the JSON came from). The result is validated.
ModelConfig model_config_from_json(const Json& j, const std::string& source = "model config");

}  // namespace instret
