// The similarity of two instruments' fingerprints, which render-nlakh's duplicate and twin checks
// decide on (instrument_dedupe.h). A fingerprint is an instrument's rendering of C3, C4 and C5 at
// velocity 100 (one note per third of a second, 1 s in all, 16 kHz), scaled to unit norm.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "instret/audio/io.h"
#include "instret/core/config.h"

namespace instret {

// The largest lag searched between two fingerprints: 5 ms.
constexpr int kDedupeMaxLag = kSampleRate / 200;

// The fingerprint's windows of a fingerprint of n samples, one per note (C3 at 0 s, C4 at 0.33 s, C5 at 0.66 s).
std::vector<std::pair<int64_t, int64_t>> fingerprint_windows(int64_t n);

// A pair of instruments whose fingerprints are near copies: `earlier` < `later` (indices into the
// fingerprint list); `similarity` = sum over the fingerprint's three note windows of |r_n|, r_n the
// largest-magnitude cross-correlation of the window over lags of at most max_lag samples (`lags`:
// where, in samples, `later` is behind `earlier`; `window_r`: the r_n with their signs).
struct SimilarPair {
  size_t earlier, later;
  double similarity;
  std::vector<double> window_r;
  std::vector<int> lags;
};

// All pairs of fingerprints of one family (family[i] of print i; empty prints take no part) that are
// the same sound up to a small time offset or an inverted phase, note by note: similarity >=
// threshold (at most 1 by Cauchy-Schwarz, 1 for identical prints). Each note is aligned on its own,
// since one global lag cannot align notes of different pitch whose waveforms are offset (FluidR3's
// and sf_GMbank's "Sine Wave": zero-lag correlation -0.2, best global lag 0.77). Exact in double
// precision; only pairs whose windows' zero-padded magnitude spectra give a bound of at least the
// threshold are searched (sum_n sum_k w_k |U_n(k)| |V_n(k)| >= sum_n |r_n| at every lag). Sorted by
// (later, earlier). All prints must have the same length.
std::vector<SimilarPair> similar_pairs(const std::vector<std::vector<float>>& prints,
                                       const std::vector<std::string>& family, double threshold, int max_lag);

// Adds a pair's "correlation", "note_correlations" (4 decimals) and "lags_ms" (0.1 ms) to `j`.
void add_similarity(Json& j, const SimilarPair& p);

}  // namespace instret
