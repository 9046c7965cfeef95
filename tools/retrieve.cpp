// retrieve: build an instrument library with the single encoder (`retrieve index`) and find the
// instruments of mixture audio in it with the multi encoder (`retrieve query`). docs/retrieval.md.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "common/cli.h"
#include "instret/core/device.h"
#include "instret/core/precision.h"
#include "instret/core/error.h"
#include "instret/retrieval/indexing.h"
#include "instret/retrieval/query.h"
#include "instret/retrieval/search.h"
#include "instret/retrieval/search_cache.h"
#include "instret/inference/single_encoder.h"
#include "instret/inference/multi_encoder.h"

namespace fs = std::filesystem;
using namespace instret;

namespace {

// The keys retrieve takes with --config / --set: the tuning of both subcommands. A flag given on the
// command line wins over its key.
Json retrieve_defaults() {
  const IndexOptions index;
  const QueryOptions query;
  const SearchOptions search;
  return {{"index", {{"batch", index.batch}, {"workers", index.workers}}},
          {"query",
           {{"top_k", query.top_k},
            {"hop_s", query.hop_s},
            {"candidates", query.candidates},
            {"batch", query.batch},
            {"existence", query.existence}}},
          {"search",
           {{"hnsw_m", search.hnsw_m},
            {"hnsw_ef_construction", search.hnsw_ef_construction},
            {"hnsw_ef_search", search.hnsw_ef_search},
            {"ivf_lists", search.ivf_lists},
            {"ivf_nprobe", search.ivf_nprobe},
            {"ivf_train_max", search.ivf_train_max}}}};
}

// The FAISS build options of the config (query time: --nprobe and --ef-search win over theirs).
SearchOptions search_options(const Json& config) {
  SearchOptions so;
  so.hnsw_m = config_get<int>(config, "search.hnsw_m");
  so.hnsw_ef_construction = config_get<int>(config, "search.hnsw_ef_construction");
  so.hnsw_ef_search = config_get<int>(config, "search.hnsw_ef_search");
  so.ivf_lists = config_get<int>(config, "search.ivf_lists");
  so.ivf_nprobe = config_get<int>(config, "search.ivf_nprobe");
  so.ivf_train_max = config_get<int>(config, "search.ivf_train_max");
  if (so.hnsw_m < 2 || so.hnsw_ef_construction < 1 || so.hnsw_ef_search < 1 || so.ivf_lists < 0 ||
      so.ivf_nprobe < 1 || so.ivf_train_max < 1)
    throw UsageError("search: hnsw_m must be >= 2, ivf_lists >= 0, the other keys >= 1");
  return so;
}

// `target` = config[key] unless `flag` was given; UsageError naming the key when the value is below `min`.
template <typename T>
void take(T& target, const Json& config, const std::string& key, const CLI::App& app, const std::string& flag, T min) {
  if (app.count(flag) == 0) target = config_get<T>(config, key);
  if (target < min) throw UsageError(key + " must be >= " + std::to_string(min));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Instrument libraries and retrieval from mixture audio", "retrieve"};
  CommonOptions common;
  add_common_flags(app, common);
  app.require_subcommand(1);
  app.fallthrough();  // -v / -q also after the subcommand

  // retrieve index
  CLI::App* index = app.add_subcommand("index", "Embed instruments with a single encoder into a library file");
  std::string single, output, device = "auto", bf16 = "auto";
  IndexSource source;
  IndexOptions io;
  index->add_option("--single", single, "Single-encoder checkpoint (train-single)")->required();
  index->add_option("-o,--output", output, "Library file to write")->required();
  index->add_flag("--add", io.add, "Extend the library in --output (same encoder) instead of replacing it");
  auto* o_folder =
      index->add_option("--folder", source.folder, "Folder of audio files: one subfolder or file-name prefix per instrument");
  auto* o_nlakh = index->add_option("--nlakh", source.nlakh, "Rendered Nlakh dataset (render-nlakh output)");
  index->add_option("--split", source.split, "Nlakh split for --nlakh")->check(CLI::IsMember({"train", "valid", "test"}));
  auto* o_sf =
      index->add_option("--soundfont", source.soundfont, "SoundFont (.sf2/.sf3): every melodic preset, fixed phrases");
  index->add_option("--programs", source.programs, "Only these SoundFont preset numbers")->needs(o_sf);
  o_folder->excludes(o_nlakh)->excludes(o_sf);
  o_nlakh->excludes(o_sf);
  index->add_option("--device", device, "auto, cpu, cuda or cuda:N");
  add_bf16_flag(*index, bf16);
  index->add_option("-j,--workers", io.workers, "Decoding / rendering threads")->check(CLI::Range(1, 64));
  index->add_option("--batch", io.batch, "Clips per forward")->check(CLI::PositiveNumber);
  index->add_option("--index", io.prebuild, "Also build and store this approximate index beside the library (hnsw or ivf)")
      ->check(CLI::IsMember({"exact", "hnsw", "ivf"}));

  // retrieve query
  CLI::App* query = app.add_subcommand("query", "Find the instruments of mixture audio files in a library");
  std::string multi, library_path, rule = "argmax", index_kind = "exact", qdevice = "auto";
  std::vector<std::string> files;
  QueryOptions qo;
  SearchOptions so;
  bool json = false;
  query->add_option("--multi", multi, "Multi-encoder checkpoint (train-multi or import-weights)")->required();
  query->add_option("--library", library_path, "Library file (retrieve index)")->required();
  query->add_option("files", files, "Mixture audio files (any format, rate, channel count, length)")->required();
  query->add_option("--top-k", qo.top_k, "Rows of the overall ranking")->check(CLI::PositiveNumber);
  query->add_option("--hop", qo.hop_s, "Seconds between 5 s windows")->check(CLI::PositiveNumber);
  query->add_option("--rule", rule, "Set rule per window: argmax (per output slot, the paper's) or threshold")
      ->check(CLI::IsMember({"argmax", "threshold"}));
  query->add_option("--threshold", qo.threshold, "Cosine for --rule threshold");
  query->add_option("--candidates", qo.candidates, "Nearest library entries searched per output vector")
      ->check(CLI::PositiveNumber);
  query->add_option("--index", index_kind, "Search: exact (default), hnsw or ivf (FAISS, approximate)")
      ->check(CLI::IsMember({"exact", "hnsw", "ivf"}));
  query->add_option("--nprobe", so.ivf_nprobe, "IVF cells visited per vector")->check(CLI::PositiveNumber);
  query->add_option("--ef-search", so.hnsw_ef_search, "HNSW beam width")->check(CLI::PositiveNumber);
  query->add_flag("!--no-existence", qo.existence,
                  "Set or mask head: every slot votes in a window's set (the paper's rule), not only the slots that exist");
  query->add_flag("--json", json, "JSON on stdout instead of the table");
  query->add_option("--device", qdevice, "auto, cpu, cuda or cuda:N");
  add_bf16_flag(*query, bf16);

  return run_tool(app, argc, argv, common, [&] {
    const Json config = tool_config(retrieve_defaults(), common);
    if (index->parsed()) {
      source.validate();
      take(io.batch, config, "index.batch", *index, "--batch", int64_t(1));
      take(io.workers, config, "index.workers", *index, "--workers", 1);
      io.search = search_options(config);
      const torch::Device dev = resolve_device(device);
      const Precision precision = inference_precision(bf16, dev);
      SingleEncoder encoder(single, dev, precision.bf16);
      log_precision(precision, dev);
      build_library_file(output, encoder, source, io);
      return;
    }
    take(qo.top_k, config, "query.top_k", *query, "--top-k", int64_t(1));
    if (query->count("--hop") == 0) qo.hop_s = config_get<double>(config, "query.hop_s");
    if (!(qo.hop_s > 0)) throw UsageError("query.hop_s must be > 0");
    take(qo.candidates, config, "query.candidates", *query, "--candidates", int64_t(1));
    if (query->count("--no-existence") == 0) qo.existence = config_get<bool>(config, "query.existence");
    qo.batch = config_get<int64_t>(config, "query.batch");
    if (qo.batch < 1) throw UsageError("query.batch must be >= 1");
    const SearchOptions configured = search_options(config);
    if (query->count("--nprobe") == 0) so.ivf_nprobe = configured.ivf_nprobe;
    if (query->count("--ef-search") == 0) so.hnsw_ef_search = configured.hnsw_ef_search;
    so.hnsw_m = configured.hnsw_m;
    so.hnsw_ef_construction = configured.hnsw_ef_construction;
    so.ivf_lists = configured.ivf_lists;
    so.ivf_train_max = configured.ivf_train_max;
    if (rule == "threshold" && query->count("--threshold") == 0)
      throw UsageError("--rule threshold needs --threshold T (a cosine, e.g. 0.5)");
    if (rule == "argmax" && query->count("--threshold") > 0) throw UsageError("--threshold goes with --rule threshold");
    qo.rule = rule == "threshold" ? SetRule::threshold : SetRule::argmax;
    for (const auto& f : files)
      if (!fs::exists(f)) throw IoError("cannot read " + f + ": no such file");
    // The stored FAISS index is keyed by the bytes the library was read from.
    const CheckedLibrary checked = load_library_checked(library_path, index_kind != "exact");
    const Library& library = checked.library;
    const torch::Device qdev = resolve_device(qdevice);
    const Precision precision = inference_precision(bf16, qdev);
    MultiEncoder encoder(multi, qdev, precision.bf16);
    log_precision(precision, qdev);
    check_library_encoder(library, library_path, encoder);
    const auto t0 = std::chrono::steady_clock::now();
    bool reused = false;
    const auto search =
        open_library_search(library, parse_search_kind(index_kind), so, library_path, checked.hash, &reused);
    spdlog::info("search: {} {} in {:.2f} s", search->describe(), reused ? "read" : "built",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    Json all = Json::array();
    for (const auto& f : files) {
      const QueryResult result = run_query(f, encoder, *search, qo);
      if (json)
        all.push_back(query_result_json(result, library));
      else
        std::cout << query_result_table(result, library) << std::flush;
    }
    if (json)
      std::cout << Json{{"library", library_path},
                        {"encoder", library.encoder_hash},
                        {"rule", rule},
                        {"existence", qo.existence},
                        {"search", search->describe()},
                        {"results", all}}
                       .dump(2)
                << "\n";
  });
}
