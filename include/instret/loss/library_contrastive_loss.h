// A set-level retrieval term for the multi-instrument encoder, beside the PIT cosine loss: each
// mixture is scored against a library of the training instruments by the retrieval rule itself
// (an instrument's score is its best cosine over the outputs, eval-retrieval's mAP score), and
// every instrument present must outrank all absent ones (a softmax over the present one and the
// absent ones, averaged over the present). The PIT cosine loss rewards outputs near the mean of
// what might be present; under uncertainty that mean is a prototype that ranks nothing. This term
// rewards what mAP and F1 reward: the present instruments above the others.
#pragma once
#include <torch/types.h>

#include <vector>

namespace instret {

// outputs (B, M, D); library (L, D), one row per instrument (rows need not be unit length; a row
// whose `usable` entry is false is never a positive nor a negative, e.g. an instrument without
// training clips); present: per item the distinct library rows of its instruments (at least one,
// each usable). With s[b, l] = max_m cos(outputs[b, m], library[l]) / temperature, returns the mean
// over every (b, p in present[b]) of softplus(logsumexp_{a absent from b} s[b, a] - s[b, p]) (=
// -log of p's softmax share among p and the absent), a scalar computed without autocast in at least
// float32; an item with no usable absent instrument contributes 0 per present instrument.
// UsageError on inconsistent shapes, rows out of range, repeated or unusable present rows.
torch::Tensor library_contrastive_loss(const torch::Tensor& outputs, const torch::Tensor& library,
                                       const std::vector<bool>& usable,
                                       const std::vector<std::vector<int64_t>>& present, double temperature);

// The library of library_contrastive_loss from per-clip embeddings: row l is the mean of the unit
// rows of `embeddings` (N, D) whose label is l, renormalised; labels in [0, n_labels). `usable[l]`
// is set to whether label l has a row. UsageError when labels.size() != N or a label is out of range.
torch::Tensor label_means(const torch::Tensor& embeddings, const std::vector<int64_t>& labels, int64_t n_labels,
                          std::vector<bool>& usable);

}  // namespace instret
