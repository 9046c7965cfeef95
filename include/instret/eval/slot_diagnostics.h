// What explains a multi encoder's retrieval beyond its score: whether its output slots depend on the
// mixture or sit near fixed prototypes, how alike one mixture's slots are, and whether a few library
// entries (hubs) take most of the top-1 picks.
#pragma once
#include <torch/types.h>

#include <vector>

namespace instret {

struct SlotDiagnostics {
  // Per slot: the mean over mixtures of the cosine between the slot's output and that slot's mean
  // direction over all mixtures (1 = the same output for every input: a prototype).
  std::vector<double> collapse_per_slot;
  double collapse = 0;          // their mean
  double pairwise_cosine = 0;   // mean cosine between two different slots of one mixture
  double hub_top1_share = 0;    // the largest share of all top-1 picks that one library entry gets
  double hub_skewness = 0;      // skewness of the top-1 pick counts over the library entries that have
                                // clips (k-occurrence, k = 1)
};

// `outputs` (N, M, D) slot embeddings; `cosines` (N, M, L) their cosines to the library
// (slot_library_cosines). UsageError on inconsistent shapes or N < 1.
SlotDiagnostics slot_diagnostics(const torch::Tensor& outputs, const torch::Tensor& cosines);

}  // namespace instret
