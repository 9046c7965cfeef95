#include "instret/models/han_cnn.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>
#include <torch/utils.h>

#include "instret/core/error.h"

namespace instret {

namespace nn = torch::nn;

namespace {
nn::Sequential conv_block(int64_t cin, int64_t cout, const HanCnnConfig& c, bool last) {
  nn::Sequential s(nn::Conv2d(nn::Conv2dOptions(cin, cout, 3).padding(1)), nn::BatchNorm2d(cout),
                   nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(c.leaky_slope)),
                   nn::Conv2d(nn::Conv2dOptions(cout, cout, 3).padding(1)), nn::BatchNorm2d(cout),
                   nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(c.leaky_slope)));
  if (last) {
    s->push_back(nn::AdaptiveMaxPool2d(nn::AdaptiveMaxPool2dOptions(1)));
  } else {
    s->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(3)));
    s->push_back(nn::Dropout2d(nn::Dropout2dOptions(c.dropout2d)));
  }
  return s;
}
}  // namespace

torch::Tensor han_cnn_input(const torch::Tensor& logmel) {
  if (logmel.dim() != 3)
    throw UsageError("Han CNN expects a log-mel batch (B, n_mels, frames), got " + std::to_string(logmel.dim()) +
                     " dimensions");
  return logmel.transpose(1, 2).unsqueeze(1).contiguous();
}

HanCnnImpl::HanCnnImpl(const HanCnnConfig& c, int64_t emb_dim, int64_t n_out) {
  const auto& ch = c.channels;
  conv1 = register_module("conv1", conv_block(1, ch.at(0), c, false));
  conv2 = register_module("conv2", conv_block(ch.at(0), ch.at(1), c, false));
  conv3 = register_module("conv3", conv_block(ch.at(1), ch.at(2), c, false));
  conv4 = register_module("conv4", conv_block(ch.at(2), ch.at(3), c, true));
  linear1 = register_module(
      "linear1", nn::Sequential(nn::Flatten(), nn::Linear(ch.at(3), emb_dim),
                                nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(c.leaky_slope)),
                                nn::Dropout(nn::DropoutOptions(c.dropout))));
  if (n_out > 0) linear2 = register_module("linear2", nn::Sequential(nn::Linear(emb_dim, n_out)));
  torch::NoGradGuard guard;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2d>()) {
      nn::init::xavier_uniform_(conv->weight);
      nn::init::zeros_(conv->bias);
    } else if (auto* lin = m->as<nn::Linear>()) {
      nn::init::xavier_uniform_(lin->weight);
      nn::init::zeros_(lin->bias);
    }
  }
}

torch::Tensor HanCnnImpl::early_map(const torch::Tensor& logmel) {
  return conv2->forward(conv1->forward(han_cnn_input(logmel)));
}

torch::Tensor HanCnnImpl::late_embedding(const torch::Tensor& map) {
  return linear1->forward(conv4->forward(conv3->forward(map)));
}

HanCnnOutput HanCnnImpl::forward(const torch::Tensor& logmel) {
  auto embedding = late_embedding(early_map(logmel));
  return {linear2 ? linear2->forward(embedding) : torch::Tensor(), embedding};
}

torch::Tensor HanCnnImpl::feature_map(const torch::Tensor& logmel) {
  auto x = conv3->forward(early_map(logmel));
  for (auto it = conv4->begin(); it + 1 != conv4->end(); ++it) x = it->forward(x);  // all but the global pool
  return x;
}

torch::Tensor HanCnnImpl::local_embeddings(const torch::Tensor& logmel) {
  const torch::Tensor map = feature_map(logmel);  // (B, C, T', F')
  const int64_t b = map.size(0), t = map.size(2), f = map.size(3);
  const torch::Tensor tokens = map.permute({0, 2, 3, 1}).reshape({b * t * f, map.size(1)});
  const torch::Tensor e = linear1->forward(tokens);  // (B*T'*F', emb_dim)
  return e.view({b, t, f, e.size(1)}).permute({0, 3, 1, 2});
}

torch::Tensor HanCnnImpl::embed(const torch::Tensor& logmel) {
  const auto input = han_cnn_input(logmel);
  const bool was_training = is_training();
  eval();
  torch::NoGradGuard guard;
  torch::Tensor embedding;
  try {
    embedding = late_embedding(conv2->forward(conv1->forward(input)));
  } catch (...) {
    train(was_training);  // e.g. an input too short for the pools: the caller's mode is kept
    throw;
  }
  train(was_training);
  return embedding;
}

}  // namespace instret
