// retrieve: build an instrument library with the single encoder (`retrieve index`) and find the
// instruments of mixture audio in it with the multi encoder (`retrieve query`). docs/retrieval.md.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "instret/core/cli.h"
#include "instret/core/device.h"
#include "instret/core/precision.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/retrieval/indexing.h"
#include "instret/retrieval/library.h"
#include "instret/retrieval/query.h"
#include "instret/retrieval/search.h"
#include "instret/retrieval/search_cache.h"
#include "instret/inference/single_encoder.h"
#include "instret/inference/multi_encoder.h"

namespace fs = std::filesystem;
using namespace instret;

int main(int argc, char** argv) {
  CLI::App app{"Instrument libraries and retrieval from mixture audio", "retrieve"};
  CommonOptions common;
  add_common_flags(app, common, false);
  app.require_subcommand(1);
  app.fallthrough();  // -v / -q also after the subcommand

  // retrieve index
  CLI::App* index = app.add_subcommand("index", "Embed instruments with a single encoder into a library file");
  std::string single, output, folder, nlakh, split = "valid", soundfont, device = "auto", prebuild = "exact", bf16 = "auto";
  std::vector<int> programs;
  bool add = false;
  int workers = 2;
  int64_t batch = 16;
  index->add_option("--single", single, "Single-encoder checkpoint (train-single)")->required();
  index->add_option("-o,--output", output, "Library file to write")->required();
  index->add_flag("--add", add, "Extend the library in --output (same encoder) instead of replacing it");
  auto* o_folder =
      index->add_option("--folder", folder, "Folder of audio files: one subfolder or file-name prefix per instrument");
  auto* o_nlakh = index->add_option("--nlakh", nlakh, "Rendered Nlakh dataset (render-nlakh output)");
  index->add_option("--split", split, "Nlakh split for --nlakh")->check(CLI::IsMember({"train", "valid", "test"}));
  auto* o_sf =
      index->add_option("--soundfont", soundfont, "SoundFont (.sf2/.sf3): every melodic preset, fixed phrases");
  index->add_option("--programs", programs, "Only these SoundFont preset numbers")->needs(o_sf);
  o_folder->excludes(o_nlakh)->excludes(o_sf);
  o_nlakh->excludes(o_sf);
  index->add_option("--device", device, "auto, cpu, cuda or cuda:N");
  add_bf16_flag(*index, bf16);
  index->add_option("-j,--workers", workers, "Decoding / rendering threads")->check(CLI::Range(1, 64));
  index->add_option("--batch", batch, "Clips per forward")->check(CLI::PositiveNumber);
  index->add_option("--index", prebuild, "Also build and store this approximate index beside the library (hnsw or ivf)")
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
  query->add_flag("--json", json, "JSON on stdout instead of the table");
  query->add_option("--device", qdevice, "auto, cpu, cuda or cuda:N");
  add_bf16_flag(*query, bf16);

  return run_tool(app, argc, argv, common, [&] {
    if (index->parsed()) {
      const int sources = int(!folder.empty()) + int(!nlakh.empty()) + int(!soundfont.empty());
      if (sources != 1) throw UsageError("choose one source: --folder DIR, --nlakh DIR or --soundfont SF2");
      const torch::Device dev = resolve_device(device);
      const Precision precision = inference_precision(bf16, dev);
      SingleEncoder encoder(single, dev, precision.bf16);
      log_precision(precision, dev);
      Library library;
      if (add && fs::exists(output)) {
        library = load_library(output);
        if (library.encoder_hash != encoder.hash())
          throw FormatError("library " + output + " was made with encoder " + library.encoder_hash + " (" +
                            library.encoder_checkpoint + "), not " + encoder.hash() + " (" + single +
                            "): --add needs the same single encoder");
        spdlog::info("{}: {} instruments, {} clips", output, library.instruments.size(), library.clips.size());
      }
      IndexPlan plan = !folder.empty()  ? plan_folder(folder, library.clip_seconds)
                       : !nlakh.empty() ? plan_nlakh(nlakh, split)
                                        : plan_soundfont(soundfont, programs, library.clip_seconds);
      const IndexStats stats = index_into(library, encoder, plan, batch, workers);
      save_library(output, library);
      spdlog::info("wrote {}: {} instruments, {} clips ({} embedded now, {} already there, {} bad files skipped)",
                   output, library.instruments.size(), library.clips.size(), stats.embedded, stats.kept,
                   stats.bad_files);
      if (stats.bad_files > 0)
        spdlog::warn("{} bad audio files were skipped (see the warnings above)", stats.bad_files);
      if (prebuild != "exact") {
        const torch::Tensor means = torch::from_blob(library.means.data(), {int64_t(library.instruments.size()), library.dim},
                                                     torch::kFloat32);
        const auto search =
            open_search(parse_search_kind(prebuild), means, SearchOptions{}, output, fast_file_hash(output));
        spdlog::info("stored {} beside it: {}", search_index_path(output, parse_search_kind(prebuild)).string(),
                     search->describe());
      }
      return;
    }
    if (rule == "threshold" && query->count("--threshold") == 0)
      throw UsageError("--rule threshold needs --threshold T (a cosine, e.g. 0.5)");
    if (rule == "argmax" && query->count("--threshold") > 0) throw UsageError("--threshold goes with --rule threshold");
    qo.rule = rule == "threshold" ? SetRule::threshold : SetRule::argmax;
    for (const auto& f : files)
      if (!fs::exists(f)) throw IoError("cannot read " + f + ": no such file");
    // The stored FAISS index is keyed by the bytes the library was read from: hashed before and
    // after reading, so a library replaced meanwhile is refused rather than paired with a stale index.
    const std::string library_hash = index_kind == "exact" ? std::string() : fast_file_hash(library_path);
    const Library library = load_library(library_path);
    if (index_kind != "exact" && fast_file_hash(library_path) != library_hash)
      throw IoError("library " + library_path + " changed while it was read (is retrieve index writing it?): try again");
    if (library.instruments.empty()) throw FormatError("library " + library_path + " holds no instrument");
    const torch::Device qdev = resolve_device(qdevice);
    const Precision precision = inference_precision(bf16, qdev);
    MultiEncoder encoder(multi, qdev, precision.bf16);
    log_precision(precision, qdev);
    check_library_encoder(library, library_path, encoder);
    const auto t0 = std::chrono::steady_clock::now();
    const torch::Tensor means = torch::from_blob(const_cast<float*>(library.means.data()),
                                                 {int64_t(library.instruments.size()), library.dim}, torch::kFloat32);
    bool reused = false;
    const auto search = open_search(parse_search_kind(index_kind), means, so, library_path, library_hash, &reused);
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
                        {"search", search->describe()},
                        {"results", all}}
                       .dump(2)
                << "\n";
  });
}
