// The additive-margin cosine classifier (CosFace / AM-softmax: Wang et al. 2018) for the
// single-instrument encoder (train-single's `classifier.kind` "cosine"). The paper's classifier is a
// linear layer on the embedding, so its cross-entropy rewards length and bias as well as direction;
// retrieval and the EER compare embeddings by cosine alone. Here the logit of class j is
// scale * cos(embedding, w_j), less `margin` on the clip's own class, so the loss asks for what
// retrieval uses: each clip at a cosine above every other class's by at least the margin.
#pragma once
#include <torch/types.h>

namespace instret {

// embedding (B, D), weight (C, D) (the classifier layer's weight; its bias is not used), labels (B)
// int64 or undefined. Returns (B, C) float32 logits scale * (cos(embedding_b, weight_c) - margin *
// [c == labels_b]); with labels undefined, no margin (the logits for accuracy and held-out loss).
// Computed without autocast in float32; a zero row gets cosine 0. UsageError on inconsistent shapes
// or a scale <= 0.
torch::Tensor cosine_margin_logits(const torch::Tensor& embedding, const torch::Tensor& weight,
                                   const torch::Tensor& labels, double scale, double margin);

}  // namespace instret
