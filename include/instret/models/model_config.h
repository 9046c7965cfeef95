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

// Which network: "han_cnn" (single-instrument encoder, classifier over n_classes),
// "small" (Han CNN trunk + Linear(emb_dim, n_outputs*emb_dim)) or
// "large" (ConvNeXt + LayerNorm + Linear(dims.back(), n_outputs*emb_dim)).
struct ModelConfig {
  std::string kind = "han_cnn";
  int64_t n_classes = 953;  // han_cnn only: number of training instruments
  int64_t n_outputs = 9;    // multi encoders: M output embeddings
  int64_t emb_dim = 1024;   // embedding width D (Han CNN penultimate layer and multi outputs)
  HanCnnConfig han;
  ConvNextConfig convnext;

  bool is_multi() const { return kind != "han_cnn"; }
  // Throws UsageError naming the offending key.
  void validate() const;
};

Json to_json(const HanCnnConfig& c);
Json to_json(const ConvNextConfig& c);
Json to_json(const ModelConfig& c);

// Reads a config; keys missing from `j` keep their defaults, unknown keys and wrong types are
// UsageErrors (`source` names where the JSON came from). The result is validated.
ModelConfig model_config_from_json(const Json& j, const std::string& source = "model config");

}  // namespace instret
