#include "instret/retrieval/query.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <sstream>

#include "instret/audio/io.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/inference/checkpoint.h"
#include "instret/inference/multi_encoder.h"

namespace fs = std::filesystem;

namespace instret {

std::vector<double> query_window_starts(double duration_s, double window_s, double hop_s) {
  if (hop_s <= 0 || window_s <= 0) throw UsageError("window and hop must be positive seconds");
  std::vector<double> starts{0.0};
  for (int k = 1;; ++k) {
    const double previous_end = (k - 1) * hop_s + window_s;
    if (previous_end >= duration_s - 1e-9) break;
    starts.push_back(k * hop_s);
  }
  return starts;
}

std::vector<std::pair<int64_t, double>> window_scores(const SearchResult& found, int64_t m,
                                                      const std::vector<bool>& voting) {
  if (!voting.empty() && int64_t(voting.size()) != m)
    throw UsageError("window_scores: " + std::to_string(voting.size()) + " voting flags for " + std::to_string(m) +
                     " slots");
  std::map<int64_t, double> best;
  for (int64_t s = 0; s < m; ++s) {
    if (!voting.empty() && !voting[size_t(s)]) continue;
    for (int64_t j = 0; j < found.k; ++j) {
      const int64_t id = found.ids[size_t(s * found.k + j)];
      if (id < 0) continue;
      const double v = found.scores[size_t(s * found.k + j)];
      auto it = best.find(id);
      if (it == best.end() || v > it->second) best[id] = v;
    }
  }
  std::vector<std::pair<int64_t, double>> out(best.begin(), best.end());
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::vector<bool> voting_slots(const std::vector<double>& existence, int64_t m) {
  if (existence.empty()) return std::vector<bool>(size_t(m), true);
  if (int64_t(existence.size()) != m)
    throw UsageError("voting_slots: " + std::to_string(existence.size()) + " existence values for " +
                     std::to_string(m) + " slots");
  std::vector<bool> voting(static_cast<size_t>(m), false);
  bool any = false;
  for (int64_t s = 0; s < m; ++s) {
    voting[size_t(s)] = existence[size_t(s)] >= 0.5;
    any = any || voting[size_t(s)];
  }
  if (!any) voting[size_t(std::max_element(existence.begin(), existence.end()) - existence.begin())] = true;
  return voting;
}

std::vector<int64_t> window_set(const SearchResult& found, int64_t m, SetRule rule, double threshold,
                                const std::vector<bool>& voting) {
  const auto scores = window_scores(found, m, voting);
  std::vector<int64_t> set;
  if (rule == SetRule::argmax) {
    for (int64_t s = 0; s < m; ++s) {
      if (!voting.empty() && !voting[size_t(s)]) continue;
      const int64_t id = found.ids[size_t(s * found.k)];  // each slot's nearest entry
      if (id >= 0 && std::find(set.begin(), set.end(), id) == set.end()) set.push_back(id);
    }
    // Best first, by the window scores.
    std::vector<int64_t> ordered;
    for (const auto& [id, v] : scores)
      if (std::find(set.begin(), set.end(), id) != set.end()) ordered.push_back(id);
    return ordered;
  }
  for (const auto& [id, v] : scores)
    if (v >= threshold) set.push_back(id);
  if (set.empty() && !scores.empty()) set.push_back(scores.front().first);
  return set;
}

QueryResult run_query(const fs::path& file, MultiEncoder& encoder, const VectorSearch& search,
                      const QueryOptions& options) {
  if (options.top_k < 1 || options.candidates < 1 || options.batch < 1)
    throw UsageError("top-k, candidates and batch must be positive");
  const std::vector<float> audio = read_audio(file, kSampleRate);
  QueryResult result;
  result.file = file.string();
  result.duration_s = double(audio.size()) / kSampleRate;
  const double window_s = 5.0;
  const int64_t samples = std::llround(window_s * kSampleRate);
  const std::vector<double> starts = query_window_starts(result.duration_s, window_s, options.hop_s);
  const int64_t m = encoder.n_outputs();
  const int64_t k = std::min(options.candidates, search.size());
  std::map<int64_t, RankedInstrument> ranked;
  using Clock = std::chrono::steady_clock;
  double forward_s = 0, search_s = 0;
  for (size_t first = 0; first < starts.size(); first += size_t(options.batch)) {
    const size_t n = std::min(starts.size() - first, size_t(options.batch));
    torch::Tensor batch = torch::empty({int64_t(n), samples}, torch::kFloat32);
    for (size_t w = 0; w < n; ++w) {
      const std::vector<float> x = excerpt(audio, std::llround(starts[first + w] * kSampleRate), samples);
      std::copy(x.begin(), x.end(), batch[int64_t(w)].data_ptr<float>());
    }
    auto t0 = Clock::now();
    const MultiOutput all = encoder.embed_all(batch);
    const torch::Tensor out = all.embeddings.to(torch::kCPU, torch::kFloat32).contiguous();
    const torch::Tensor probabilities =
        all.existence.defined() ? torch::sigmoid(all.existence).to(torch::kCPU, torch::kFloat64).contiguous()
                                : torch::Tensor();
    forward_s += std::chrono::duration<double>(Clock::now() - t0).count();
    for (size_t w = 0; w < n; ++w) {
      t0 = Clock::now();
      const SearchResult found = search.search(out[int64_t(w)].data_ptr<float>(), m, k);
      search_s += std::chrono::duration<double>(Clock::now() - t0).count();
      WindowResult wr;
      wr.start_s = starts[first + w];
      wr.end_s = wr.start_s + window_s;
      if (probabilities.defined()) {
        const double* p = probabilities[int64_t(w)].data_ptr<double>();
        wr.existence.assign(p, p + m);
      }
      // Every slot votes unless the set or mask head says which exist (and the existence rule is on).
      const std::vector<bool> voting =
          options.existence && !wr.existence.empty() ? voting_slots(wr.existence, m) : std::vector<bool>();
      wr.set = window_set(found, m, options.rule, options.threshold, voting);
      const auto scores = window_scores(found, m);
      const auto voted = voting.empty() ? scores : window_scores(found, m, voting);
      std::map<int64_t, double> score_of(voted.begin(), voted.end());
      const int64_t index = int64_t(result.windows.size());
      for (int64_t id : wr.set) wr.scores.push_back(score_of[id]);
      for (const auto& [id, v] : scores) {
        const auto [it, inserted] = ranked.try_emplace(id, RankedInstrument{id, v, {}});
        if (!inserted) it->second.score = std::max(it->second.score, v);
      }
      for (int64_t id : wr.set) ranked[id].windows.push_back(index);
      result.windows.push_back(std::move(wr));
    }
  }
  spdlog::info("{}: {:.1f} s, {} windows; encoder {:.1f} ms/window, search {:.2f} ms/window", file.string(),
               result.duration_s, starts.size(), 1e3 * forward_s / double(starts.size()),
               1e3 * search_s / double(starts.size()));
  for (auto& [id, r] : ranked) result.ranking.push_back(r);
  std::stable_sort(result.ranking.begin(), result.ranking.end(),
                   [](const RankedInstrument& a, const RankedInstrument& b) { return a.score > b.score; });
  if (int64_t(result.ranking.size()) > options.top_k) result.ranking.resize(size_t(options.top_k));
  return result;
}

Json query_result_json(const QueryResult& result, const Library& library) {
  Json windows = Json::array();
  for (const auto& w : result.windows) {
    Json set = Json::array();
    for (size_t i = 0; i < w.set.size(); ++i)
      set.push_back({{"name", library.instruments[size_t(w.set[i])].name}, {"score", w.scores[i]}});
    Json window = {{"start_s", w.start_s}, {"end_s", w.end_s}, {"instruments", std::move(set)}};
    if (!w.existence.empty()) window["existence"] = w.existence;
    windows.push_back(std::move(window));
  }
  Json ranking = Json::array();
  for (size_t i = 0; i < result.ranking.size(); ++i) {
    const auto& r = result.ranking[i];
    const auto& inst = library.instruments[size_t(r.instrument)];
    ranking.push_back({{"rank", i + 1},
                       {"instrument", inst.name},
                       {"family", inst.family},
                       {"score", r.score},
                       {"source", inst.source},
                       {"windows", r.windows}});
  }
  return {{"file", result.file},
          {"duration_s", result.duration_s},
          {"windows", std::move(windows)},
          {"ranking", std::move(ranking)}};
}

namespace {

std::string fixed(double v, int digits) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(digits);
  o << v;
  return o.str();
}

std::string pad(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

// Window indices as runs: 0-5,7,9-12 ("-" for none).
std::string window_runs(const std::vector<int64_t>& windows) {
  std::string out;
  for (size_t i = 0; i < windows.size();) {
    size_t j = i;
    while (j + 1 < windows.size() && windows[j + 1] == windows[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(windows[i]);
    if (j > i) out += "-" + std::to_string(windows[j]);
    i = j + 1;
  }
  return out.empty() ? "-" : out;
}

}  // namespace

std::string query_result_table(const QueryResult& result, const Library& library) {
  std::ostringstream out;
  out << result.file << " (" << fixed(result.duration_s, 1) << " s, " << result.windows.size() << " window"
      << (result.windows.size() == 1 ? "" : "s") << ")\n";
  for (size_t i = 0; i < result.windows.size(); ++i) {
    const auto& w = result.windows[i];
    out << "  window " << i << "  " << fixed(w.start_s, 1) << "-" << fixed(w.end_s, 1) << " s:";
    for (size_t j = 0; j < w.set.size(); ++j)
      out << (j ? ", " : " ") << library.instruments[size_t(w.set[j])].name << " (" << fixed(w.scores[j], 3) << ")";
    out << "\n";
    if (!w.existence.empty()) {
      out << "    slot existence:";
      for (double p : w.existence) out << " " << fixed(p, 2);
      out << "\n";
    }
  }
  size_t name_w = 10, family_w = 6, windows_w = 7;
  std::vector<std::string> windows;
  for (const auto& r : result.ranking) {
    name_w = std::max(name_w, library.instruments[size_t(r.instrument)].name.size());
    family_w = std::max(family_w, library.instruments[size_t(r.instrument)].family.size());
    windows.push_back(window_runs(r.windows));
    windows_w = std::max(windows_w, windows.back().size());
  }
  out << "  " << pad("rank", 5) << pad("instrument", name_w + 2) << pad("family", family_w + 2) << pad("score", 8)
      << pad("windows", windows_w + 2) << "source\n";
  for (size_t i = 0; i < result.ranking.size(); ++i) {
    const auto& r = result.ranking[i];
    const auto& inst = library.instruments[size_t(r.instrument)];
    out << "  " << pad(std::to_string(i + 1), 5) << pad(inst.name, name_w + 2) << pad(inst.family, family_w + 2)
        << pad(fixed(r.score, 3), 8) << pad(windows[i], windows_w + 2) << inst.source << "\n";
  }
  return out.str();
}

void check_library_encoder(const Library& library, const fs::path& library_path, const MultiEncoder& encoder) {
  if (library.dim != encoder.dim())
    throw FormatError("library " + library_path.string() + " holds " + std::to_string(library.dim) +
                      "-d embeddings, the multi encoder " + encoder.path().string() + " outputs " +
                      std::to_string(encoder.dim()) + "-d ones: they were made for different encoders");
  const Json run = read_checkpoint_info(encoder.path()).run_config;
  std::string single;
  if (run.is_object() && run.contains("single_encoder") && run["single_encoder"].is_string())
    single = run["single_encoder"].get<std::string>();
  if (single.empty()) {
    spdlog::warn(
        "{} does not record its single encoder (imported weights?): cannot check that library {} (encoder {}) "
        "matches it",
        encoder.path().string(), library_path.string(), library.encoder_hash);
    return;
  }
  std::error_code ec;
  if (!fs::is_regular_file(single, ec)) {
    spdlog::warn(
        "{} was trained against single encoder {}, which is no longer there: cannot check that library {} "
        "(encoder {}) matches it",
        encoder.path().string(), single, library_path.string(), library.encoder_hash);
    return;
  }
  const std::string hash = file_hash(single);
  if (hash != library.encoder_hash)
    throw FormatError("library " + library_path.string() + " was indexed with single encoder " + library.encoder_hash +
                      " (" + library.encoder_checkpoint + "), but " + encoder.path().string() +
                      " was trained against " + single + " (" + hash + "): re-index with that checkpoint");
}

}  // namespace instret
