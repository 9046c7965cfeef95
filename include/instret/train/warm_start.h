// Warm start of the Small multi-instrument encoder from the frozen single-instrument encoder it is
// trained against (train-multi's `warm_start` key). The Small encoder is the Han CNN with a wider last
// layer: every layer up to its penultimate one (linear1, the single encoder's embedding) has the
// same names and shapes, so the trunk can start as the single encoder and the head learns to split
// the mixture's embedding into one embedding per instrument.
#pragma once
#include <string>

#include "instret/audio/mel.h"
#include "instret/models/encoders.h"
#include "instret/inference/single_encoder.h"

namespace instret {

// The values of the `warm_start` key: "none" (random init, the paper), "single_trunk" (trunk copied,
// head random), "single" (trunk copied, each of the head's n_outputs blocks = identity + its random
// init, so every output starts near the single encoder's embedding of the whole mixture). With the
// set head (model.head "set") the trunk includes linear1, whose per-region outputs are the head's
// tokens; with the mask head ("mask") the trunk is the whole single encoder, split around the masks.
// For both only "single_trunk" applies (neither head has a start near the mixture's embedding).
bool is_warm_start(const std::string& mode);

// UsageError naming the config key unless `mode` is one of those values, "none" for any model.kind
// but "small", and "single" with the set or mask head. The config check of train-multi and check_warm_start
// both use it.
void validate_warm_start(const std::string& mode, const ModelConfig& model);

// validate_warm_start, then UsageError when the single encoder's trunk (model.han.channels, emb_dim) or log-mel settings differ from the model's
// and the run's `mel` (dropout and slope may differ: they hold no weights).
void check_warm_start(const std::string& mode, const ModelConfig& config, const SingleEncoder& single,
                      const MelConfig& mel);

// check_warm_start, then applies `mode` to a freshly built model.
void warm_start(MultiEncoderNetImpl& model, const std::string& mode, const SingleEncoder& single, const MelConfig& mel);

}  // namespace instret
