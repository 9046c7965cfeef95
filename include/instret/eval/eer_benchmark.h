// The single-encoder EER benchmark of one split, used by eval-eer and by train-single's validation so
// that both select the same clips and report the same numbers: the split's clips (each instrument's
// first N when capped), the paper's trial protocol over seeds (eer_evaluation.h), the metrics.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "instret/core/config.h"
#include "instret/data/nlakh_dataset.h"
#include "instret/eval/eer_evaluation.h"
#include "instret/inference/embed_clips.h"

namespace instret {

struct EerBenchmarkOptions {
  int64_t clips_per_instrument = 0;  // each instrument's first N clips only (0 = all)
  EerProtocol protocol;
  std::vector<uint64_t> seeds{0, 1, 2, 3, 4};
};

class EerBenchmark {
 public:
  // The clips of `split` (NlakhSingle::open) under `options`.
  static EerBenchmark open(const std::filesystem::path& data, const std::string& split,
                           const EerBenchmarkOptions& options);

  const NlakhSingle& dataset() const { return dataset_; }
  const EerBenchmarkOptions& options() const { return options_; }
  // The clips evaluated (indices into dataset().clips()), instrument by instrument, and their instruments.
  const std::vector<int64_t>& clips() const { return clips_; }
  const std::vector<int64_t>& clip_instrument() const { return clip_instrument_; }
  // Instruments of the split that have no clip at all.
  int64_t instruments_without_clips() const { return without_clips_; }
  // Instruments with at least protocol.enroll + protocol.targets of the selected clips (the EER needs 2).
  int64_t enrollable_instruments() const;

  // The outputs of `forward` for clips() (embed_clips: rows in clips() order, float32 on the CPU).
  torch::Tensor embed(const ClipForward& forward, int64_t batch, int workers, const std::string& label,
                      const std::function<bool()>& cancelled = {}) const;
  // The protocol over the seeds on the (clips().size(), dim) embeddings of clips() (evaluate_eer:
  // UsageError when there is no seed or too few enrollable instruments).
  EerEvaluation evaluate(const torch::Tensor& embeddings) const;

  // What training logs after each validation: eer (pooled), eer_per_instrument, eer_rocch, each the
  // mean over the seeds (the "mean" of eer_pooled, eer_mean_per_instrument, eer_rocch in report()).
  static Json metrics(const EerEvaluation& result);
  // eer_evaluation_json with the split's counts (instruments_in_split, instruments_without_clips)
  // and clips_per_instrument_cap: eval-eer's report without its tool, encoder, data and split keys.
  Json report(const EerEvaluation& result) const;
  // eer_trials_csv with the split's instrument ids.
  std::string trials_csv(const EerEvaluation& result) const;

 private:
  EerBenchmark(NlakhSingle dataset, const EerBenchmarkOptions& options);
  std::vector<std::string> instrument_ids() const;

  NlakhSingle dataset_;
  EerBenchmarkOptions options_;
  std::vector<int64_t> clips_, clip_instrument_;
  int64_t without_clips_ = 0;
};

}  // namespace instret
