// `retrieve query`: a mixture file cut into 5 s windows, the multi encoder's M output vectors per
// window searched in the library, a set of instruments per window (the paper's argmax per output slot
// or a cosine threshold) and one ranking over the file.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "instret/core/config.h"
#include "instret/retrieval/library.h"
#include "instret/retrieval/search.h"

namespace instret {

class MultiEncoder;

// Window starts (seconds) over a file of `duration_s`: 0, hop, 2 hop, ... while the previous window
// ends before the file does (the last window may run past the end and is zero-padded); a file shorter
// than one window gives the single window at 0. UsageError for hop <= 0 or window <= 0.
std::vector<double> query_window_starts(double duration_s, double window_s, double hop_s);

enum class SetRule { argmax, threshold };

struct QueryOptions {
  int64_t top_k = 10;  // rows of the ranking
  double hop_s = 2.5;
  SetRule rule = SetRule::argmax;
  double threshold = 0.5;   // SetRule::threshold: cosine an instrument's best slot must reach
  int64_t candidates = 64;  // nearest library entries searched per output vector
  int64_t batch = 8;        // windows per forward
  // With the set or mask head (model.head "set" or "mask"): a window's set comes from the slots that exist only
  // (existence >= 0.5; the most probable slot when none does); false: every slot votes, the paper's
  // rule. The ranking's scores use every slot either way (the plain max: docs/results.md measured the
  // existence-weighted max rank worse). No effect with the paper's linear head.
  bool existence = true;
};

struct WindowResult {
  double start_s = 0, end_s = 0;
  std::vector<int64_t> set;    // library instruments, best score first
  std::vector<double> scores;  // their scores in this window (max over the voting slots)
  std::vector<double> existence;  // each slot's existence probability (set or mask head, else empty)
};

struct RankedInstrument {
  int64_t instrument = 0;
  double score = 0;              // max over windows of the max over slots
  std::vector<int64_t> windows;  // windows whose set holds it
};

struct QueryResult {
  std::string file;
  double duration_s = 0;
  std::vector<WindowResult> windows;
  std::vector<RankedInstrument> ranking;  // top_k, best first
};

// The cosine scores of every candidate instrument for one window: (instrument, max over the m slots
// of its cosine) for the instruments found among each slot's `candidates` nearest entries, from a
// search result over m query vectors. With exact search and candidates >= library size this is every
// instrument's exact score. A non-empty `voting` keeps the slots whose flag is set only.
std::vector<std::pair<int64_t, double>> window_scores(const SearchResult& found, int64_t m,
                                                      const std::vector<bool>& voting = {});

// The slots that vote in a window's set: those whose existence probability is >= 0.5, or the most
// probable one when none is (eval's predict_set_existing rule); every slot when `existence` is empty.
std::vector<bool> voting_slots(const std::vector<double>& existence, int64_t m);

// The set of a window: SetRule::argmax: each voting slot's nearest instrument, the union; threshold:
// every candidate whose score over the voting slots reaches the threshold, or the best one when none
// does. Best first. `voting` empty: every slot votes.
std::vector<int64_t> window_set(const SearchResult& found, int64_t m, SetRule rule, double threshold,
                                const std::vector<bool>& voting = {});

// Runs the whole query over one file (read_audio: any format/rate/channels).
QueryResult run_query(const std::filesystem::path& file, MultiEncoder& encoder, const VectorSearch& search,
                      const QueryOptions& options);

// JSON of one result: {"file", "duration_s", "windows": [{"start_s", "end_s", "instruments": [{"name",
// "score"}], "existence": [p per slot] (set or mask head only)}], "ranking": [{"rank", "instrument", "family", "score", "source", "windows": [i...]}]}.
Json query_result_json(const QueryResult& result, const Library& library);

// The readable table: per-window sets, then rank / instrument / family / score / windows / source.
std::string query_result_table(const QueryResult& result, const Library& library);

// Checks that `library` was indexed with the single encoder the multi checkpoint was trained against
// (its run config's single_encoder, hashed when the file exists). FormatError naming both when they
// differ; a warning when the checkpoint does not record one or the file is gone. Also FormatError
// when the embedding sizes differ.
void check_library_encoder(const Library& library, const std::filesystem::path& library_path,
                           const MultiEncoder& encoder);

}  // namespace instret
