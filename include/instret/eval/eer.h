// Equal error rate (EER) of verification trials, and the paper's trial protocol for evaluating
// single-instrument embeddings on unseen instruments (enrollment vs comparison clips).
#pragma once
#include <cstdint>
#include <vector>

namespace instret {

// One scored verification trial: a comparison clip against the enrollment of `instrument`.
struct EerTrial {
  double score;        // higher = more likely the enrolled instrument (cosine similarity)
  bool target;         // true when the clip is of the enrolled instrument
  int64_t instrument;  // index of the enrolled instrument
};

// EER exactly as the reference code computes it (Single_Instrument_Encoder/evaluation.py and
// evaluation/eval_single_inst_enc.py, EER.compute_eer): fpr, tpr = sklearn.metrics.roc_curve(labels,
// scores) with its default drop_intermediate=True (tied scores form one threshold; points collinear
// with both neighbours dropped; (0, 0) prepended); fnr = 1 - tpr; i = the first index of the minimum
// of |fpr - fnr|; EER = (fpr[i] + fnr[i]) / 2. No interpolation, so with few trials the value can
// lie between the two error rates of the nearest ROC point. labels: 1 = target, 0 = non-target.
// Throws UsageError on size mismatch, labels other than 0/1, non-finite scores, or when there is
// no target or no non-target trial.
double eer_pooled(const std::vector<double>& scores, const std::vector<int>& labels);

// EER of the ROC convex hull (ROCCH-EER, as the BOSARIS toolkit's rocch2eer and pyllr define it):
// the miss / false-alarm rates on the lower-left convex hull of the ROC points (ties grouped, with
// the end points (pfa, pmiss) = (0, 1) and (1, 0)), linearly interpolated where the hull crosses
// pfa = pmiss. 0 for perfectly separated scores; at most 0.5 (the hull contains the chord from
// (0, 1) to (1, 0)), so inverted or constant scores give 0.5. Same checks and errors as eer_pooled.
double eer_rocch(const std::vector<double>& scores, const std::vector<int>& labels);

struct EerResult {
  double pooled;               // eer_pooled over all trials (what the reference code reports)
  double per_instrument_mean;  // mean over instruments of eer_pooled of their own trials (the paper's wording)
  double rocch;                // eer_rocch over all trials
  int64_t n_trials;
};

// EERs of a trial set. Instruments whose trials lack a target or a non-target are left out of
// per_instrument_mean (NaN when none has both). Throws as eer_pooled does for the pooled set.
EerResult eer_of_trials(const std::vector<EerTrial>& trials);

struct EerProtocol {
  int enroll = 5;        // clips averaged into the enrollment embedding
  int targets = 20;      // target trials per instrument
  int non_targets = 20;  // non-target trials per instrument
};

// Bounds on what a protocol may ask, so that a mistyped count cannot take the machine's memory
// (each trial takes 24 bytes) or hours: each count at most this, and at most kMaxEerSeeds repetitions.
constexpr int kMaxEerCount = 100000;
constexpr size_t kMaxEerSeeds = 1000;

// UsageError naming the count when one is < 1 or > kMaxEerCount, or when `seeds` is empty or holds
// more than kMaxEerSeeds.
void check_eer_protocol(const EerProtocol& protocol);
void check_eer_seeds(const std::vector<uint64_t>& seeds);

// The paper's protocol (section 4.1) as the reference code draws it, with one deliberate change.
// Instruments are visited in increasing index order; every draw comes from one StableRng(seed).
// For each instrument with at least enroll + targets clips: enroll + targets distinct clips of it
// are drawn without replacement; the first `enroll` are averaged (raw embeddings, as the reference
// does) into the enrollment; the other `targets` give the target trials (the change: the reference
// draws enrollment and target clips independently, so they may overlap). Then `non_targets` times:
// an instrument uniform among all other instruments having clips (with replacement, as the
// reference's random.randrange loop) and a clip uniform among its clips. Score = cosine(enrollment,
// clip); the reference uses -(1 - cosine), which orders trials the same way. Trials come out per
// instrument, targets first. Instruments with too few clips are skipped (see eer_skipped_instruments)
// but their clips still serve as non-targets. `embeddings` is row-major n_clips x dim;
// clip_instrument[i] >= 0 is the instrument of clip i. Throws UsageError on inconsistent sizes,
// protocol counts out of check_eer_protocol's bounds, or fewer than 2 qualifying instruments.
std::vector<EerTrial> make_eer_trials(const std::vector<float>& embeddings, int64_t dim,
                                      const std::vector<int64_t>& clip_instrument, const EerProtocol& protocol,
                                      uint64_t seed);

// The instruments (increasing) that make_eer_trials skips: present in clip_instrument but with fewer
// than protocol.enroll + protocol.targets clips.
std::vector<int64_t> eer_skipped_instruments(const std::vector<int64_t>& clip_instrument,
                                             const EerProtocol& protocol);

}  // namespace instret
