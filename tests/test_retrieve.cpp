// Retrieval: the library format, index sources (a folder of odd audio files, a Nlakh split, a
// SoundFont), --add, query windows, set rules and output, the encoder check, exact and FAISS search,
// `embed` with models, and the failures the tools must report with one line and exit 1 or 2.
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/index_io.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <sndfile.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "instret/audio/io.h"
#include "instret/core/config.h"
#include "instret/core/fs.h"
#include "instret/core/npy.h"
#include "instret/render/nlakh.h"
#include "instret/data/nlakh_dataset.h"
#include "instret/eval/cosine.h"
#include "instret/retrieval/indexing.h"
#include "instret/retrieval/library.h"
#include "instret/retrieval/query.h"
#include "instret/retrieval/search.h"
#include "instret/retrieval/search_cache.h"
#include "test_support.h"
#include "tiny_nlakh.h"

namespace fs = std::filesystem;
using namespace instret;

namespace {

const fs::path kScratch = test::scratch_dir("retrieve", true);

test::CommandResult tool(const std::string& name, const std::string& args) {
  return test::run_command(std::string(INSTRET_BIN_DIR) + "/" + name + " " + args + " 2>&1");
}

test::CommandResult tool_stdout(const std::string& name, const std::string& args) {
  return test::run_command(std::string(INSTRET_BIN_DIR) + "/" + name + " " + args + " 2>/dev/null");
}

// The lines of a tool's output that report an error.
int error_lines(const std::string& output) {
  int n = 0;
  size_t pos = 0;
  while ((pos = output.find("[error]", pos)) != std::string::npos) ++n, ++pos;
  return n;
}

const fs::path& tiny_data() { return test::tiny_nlakh(kScratch / "nlakh", 3, 4, 4); }

const std::string kTinySingle =
    " --set model.emb_dim=16 --set 'model.han.channels=[4,8,8,8]' --set batch_size=4 --set log_every=1"
    " --set valid.every=1000 --set valid.enroll=1 --set valid.targets=2 --set valid.non_targets=2 -j 1 -q"
    " --set bf16=false";
const std::string kTinyMulti =
    " --set model.kind=large --set model.emb_dim=16 --set 'model.convnext.depths=[1,1,1,1]'"
    " --set 'model.convnext.dims=[8,8,16,16]' --set model.convnext.drop_path=0 --set batch_size=4 --set log_every=1"
    " --set data.kind=random --set data.mixes_per_epoch=8 --set valid.every=1000 -j 1 -q --set bf16=false";

fs::path train_single(const std::string& name, int steps) {
  const fs::path run = kScratch / name;
  const auto r = tool("train-single", "--data " + tiny_data().string() + " --run " + run.string() + kTinySingle +
                                          " --set steps=" + std::to_string(steps));
  EXPECT_EQ(r.code, 0) << r.output;
  return run / "checkpoints" / "last.pt";
}

const fs::path& single_ckpt() {
  static const fs::path p = train_single("single", 2);
  return p;
}
// Another single encoder (other weights, so another hash).
const fs::path& other_single_ckpt() {
  static const fs::path p = train_single("single_other", 3);
  return p;
}

fs::path train_multi(const std::string& name, const fs::path& single, const std::string& extra = "") {
  const fs::path run = kScratch / name;
  const auto r = tool("train-multi", "--data " + tiny_data().string() + " --single " + single.string() + " --run " +
                                         run.string() + kTinyMulti + " --set steps=1" + extra);
  EXPECT_EQ(r.code, 0) << r.output;
  return run / "checkpoints" / "last.pt";
}

const fs::path& multi_ckpt() {
  static const fs::path p = train_multi("multi", single_ckpt());
  return p;
}

// Writes `seconds` of a two-tone signal with libsndfile in any container / rate / channel count.
void write_audio(const fs::path& path, double seconds, int rate, int channels, int format, double f0 = 220.0) {
  fs::create_directories(path.parent_path());
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  const int64_t n = int64_t(seconds * rate);
  std::vector<float> data(size_t(n * channels));
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < channels; ++c)
      data[size_t(i * channels + c)] = float(0.3 * std::sin(2 * M_PI * f0 * double(i) / rate) +
                                             0.2 * std::sin(2 * M_PI * 2.5 * f0 * double(i) / rate + c));
  sf_writef_float(f, data.data(), n);
  sf_close(f);
}

constexpr int kWav = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
constexpr int kFlac = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;

// A folder of three instruments in odd files (see docs/retrieval.md for the rule).
fs::path odd_folder(const std::string& name) {
  const fs::path dir = kScratch / name;
  fs::remove_all(dir);
  write_audio(dir / "violin" / "long.flac", 12.0, 44100, 2, kFlac, 440);  // windows at 0 and 5 s (2 s tail dropped)
  write_audio(dir / "violin" / "take" / "short.wav", 3.0, 22050, 1, kWav, 660);  // one padded window
  write_audio(dir / "flute_01.wav", 2.0, 8000, 1, kWav, 880);
  write_audio(dir / "guitar_acoustic-a.flac", 6.0, 48000, 2, kFlac, 110);
  std::ofstream(dir / "notes.txt") << "not audio";
  return dir;
}

std::string bytes_of(const fs::path& p) { return read_file(p); }

}  // namespace

TEST(RetrieveUnits, WindowRules) {
  EXPECT_EQ(query_window_starts(12.0, 5.0, 2.5), (std::vector<double>{0, 2.5, 5, 7.5}));
  EXPECT_EQ(query_window_starts(3.0, 5.0, 2.5), (std::vector<double>{0}));
  EXPECT_EQ(query_window_starts(5.0, 5.0, 2.5), (std::vector<double>{0}));
  EXPECT_EQ(query_window_starts(10.0, 5.0, 5.0), (std::vector<double>{0, 5}));
  EXPECT_THROW(query_window_starts(10.0, 5.0, 0.0), UsageError);
  EXPECT_EQ(index_window_starts(12.0, 5.0), (std::vector<double>{0, 5}));
  EXPECT_EQ(index_window_starts(13.0, 5.0), (std::vector<double>{0, 5, 10}));
  EXPECT_EQ(index_window_starts(1.0, 5.0), (std::vector<double>{0}));
  EXPECT_EQ(family_from_name("guitar_acoustic"), "guitar");
  EXPECT_EQ(family_from_name("Flute-2"), "flute");
  EXPECT_EQ(family_from_name("violin"), "unknown");
  EXPECT_EQ(family_from_name("synth_lead_3"), "synth_lead");
  EXPECT_EQ(family_from_name("bassoon"), "unknown");
}

// The set head's existence rule for a window, by hand: 3 slots, 2 candidates each.
TEST(RetrieveUnits, ExistenceDecidesWhichSlotsVote) {
  SearchResult found;
  found.k = 2;
  found.ids = {0, 1, /**/ 1, 2, /**/ 2, 0};
  found.scores = {0.9f, 0.5f, /**/ 0.8f, 0.7f, /**/ 0.95f, 0.1f};
  EXPECT_EQ(voting_slots({}, 3), (std::vector<bool>{true, true, true}));
  EXPECT_EQ(voting_slots({0.9, 0.2, 0.6}, 3), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(voting_slots({0.1, 0.3, 0.2}, 3), (std::vector<bool>{false, true, false}));  // none exists: the likeliest
  EXPECT_THROW(voting_slots({0.9, 0.2}, 3), UsageError);
  const std::vector<bool> voting{true, false, true};
  // argmax: each voting slot's nearest entry (slot 1's instrument 1 is left out), best first.
  EXPECT_EQ(window_set(found, 3, SetRule::argmax, 0, voting), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(window_set(found, 3, SetRule::argmax, 0), (std::vector<int64_t>{2, 0, 1}));
  // threshold: instrument 1 reaches 0.75 only through slot 1.
  EXPECT_EQ(window_set(found, 3, SetRule::threshold, 0.75, voting), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(window_set(found, 3, SetRule::threshold, 0.75), (std::vector<int64_t>{2, 0, 1}));
  const auto voted = window_scores(found, 3, {false, true, false});
  ASSERT_EQ(voted.size(), 2u);
  EXPECT_EQ(voted[0].first, 1);
  EXPECT_FLOAT_EQ(float(voted[0].second), 0.8f);
  EXPECT_EQ(voted[1].first, 2);
  EXPECT_THROW(window_scores(found, 3, {true}), UsageError);
}

TEST(RetrieveUnits, LibraryRoundTripAndDamage) {
  Library lib;
  lib.dim = 3;
  lib.encoder_hash = "0123456789abcdef";
  lib.encoder_checkpoint = "x.pt";
  const int64_t a = lib.add_instrument({"a", "flute", "folder:/x"});
  const int64_t b = lib.add_instrument({"b", "unknown", "folder:/x"});
  lib.add_instrument({"empty", "unknown", "folder:/x"});
  const float e1[3] = {1, 0, 0}, e2[3] = {0, 1, 0}, e3[3] = {0, 0, 2};
  lib.add_clip({a, "/x/a1.wav", 0}, e1);
  lib.add_clip({a, "/x/a1.wav", 5}, e2);
  lib.add_clip({b, "/x/b.wav", 0}, e3);
  lib.finish();
  ASSERT_EQ(lib.instruments.size(), 2u);  // the instrument without clips is dropped
  EXPECT_EQ(lib.means, (std::vector<float>{0.5f, 0.5f, 0, 0, 0, 2}));
  EXPECT_TRUE(lib.has_clip("/x/a1.wav@5"));
  const fs::path path = kScratch / "unit.lib";
  save_library(path, lib);
  const Library back = load_library(path);
  EXPECT_EQ(back.encoder_hash, lib.encoder_hash);
  EXPECT_EQ(back.means, lib.means);
  EXPECT_EQ(back.clip_embeddings, lib.clip_embeddings);
  ASSERT_EQ(back.clips.size(), 3u);
  EXPECT_EQ(back.clips[1].start_s, 5.0);
  EXPECT_EQ(back.instruments[1].name, "b");
  // Truncated, not a library, missing.
  const std::string bytes = read_file(path);
  write_file_atomically(kScratch / "cut.lib", bytes.substr(0, bytes.size() - 4));
  EXPECT_THROW(load_library(kScratch / "cut.lib"), FormatError);
  write_file_atomically(kScratch / "text.lib", "hello, I am not a library");
  EXPECT_THROW(load_library(kScratch / "text.lib"), FormatError);
  EXPECT_THROW(load_library(kScratch / "absent.lib"), IoError);
}

TEST(RetrieveSearch, ExactMatchesBruteForceAndFaissRecallIsHigh) {
  torch::manual_seed(3);
  const int64_t n = 3000, d = 32, nq = 40, k = 10;
  const torch::Tensor centres = torch::randn({30, d});
  const torch::Tensor base =
      centres.index_select(0, torch::randint(30, {n}, torch::kLong)) + 0.7 * torch::randn({n, d});
  const torch::Tensor q = (base.narrow(0, 0, nq) + 0.3 * torch::randn({nq, d})).contiguous();
  const auto exact = make_search(SearchKind::exact, base);
  const SearchResult truth = exact->search(q.data_ptr<float>(), nq, k);
  // Exact = brute-force cosine.
  const std::vector<float> bv(base.data_ptr<float>(), base.data_ptr<float>() + n * d);
  const std::vector<float> qv(q.data_ptr<float>(), q.data_ptr<float>() + nq * d);
  const std::vector<double> cos = cosine_matrix(qv, bv, d);
  for (int64_t i = 0; i < nq; ++i) {
    int64_t best = 0;
    for (int64_t j = 1; j < n; ++j)
      if (cos[size_t(i * n + j)] > cos[size_t(i * n + best)]) best = j;
    EXPECT_EQ(truth.ids[size_t(i * k)], best);
    EXPECT_NEAR(truth.scores[size_t(i * k)], cos[size_t(i * n + best)], 1e-5);
  }
  for (SearchKind kind : {SearchKind::hnsw, SearchKind::ivf}) {
    const auto s = make_search(kind, base);
    EXPECT_EQ(s->size(), n);
    const SearchResult found = s->search(q.data_ptr<float>(), nq, k);
    const double recall = recall_at_k(found, truth, k);
    EXPECT_GE(recall, 0.9) << s->describe();
    EXPECT_NEAR(found.scores[0], truth.scores[0], 1e-4) << s->describe();
  }
  // k larger than the library: the missing ranks are -1.
  const auto small = make_search(SearchKind::exact, base.narrow(0, 0, 3));
  const SearchResult r = small->search(q.data_ptr<float>(), 1, 5);
  EXPECT_EQ(r.ids[3], -1);
  EXPECT_THROW(make_search(SearchKind::exact, torch::zeros({0, d})), UsageError);
}

TEST(RetrieveSearch, StoredIndexIsReusedOnlyWhenItsKeyMatches) {
  torch::manual_seed(5);
  const int64_t n = 2000, d = 16, nq = 20, k = 10;
  const torch::Tensor base = torch::randn({n, d});
  const torch::Tensor q = (base.narrow(0, 0, nq) + 0.2 * torch::randn({nq, d})).contiguous();
  const fs::path dir = kScratch / "stored_index";
  fs::create_directories(dir);
  const fs::path lib = dir / "lib.bin";
  write_file_atomically(lib, "library bytes v1");
  for (SearchKind kind : {SearchKind::ivf, SearchKind::hnsw}) {
    SCOPED_TRACE(to_string(kind));
    const fs::path stored = search_index_path(lib, kind);
    // Temporaries of a killed writer (no such pid) go when the index is built; this process's own
    // and another file's stay.
    const fs::path dead(stored.string() + ".tmp.999999999.0"), own(stored.string() + ".tmp." +
                                                                   std::to_string(::getpid()) + ".7");
    const fs::path foreign(lib.string() + ".tmp.999999999.0");
    for (const fs::path& p : {dead, own, foreign}) write_file_atomically(p, "partial");
    bool reused = true;
    const auto built = open_search(kind, base, {}, lib, fast_file_hash(lib), &reused);
    EXPECT_FALSE(reused);
    ASSERT_TRUE(fs::exists(stored));
    EXPECT_FALSE(fs::exists(dead));
    EXPECT_TRUE(fs::exists(own));
    EXPECT_TRUE(fs::exists(foreign));
    for (const fs::path& p : {own, foreign}) fs::remove(p);
    const SearchResult a = built->search(q.data_ptr<float>(), nq, k);
    // Read back: the same answers.
    const auto again = open_search(kind, base, {}, lib, fast_file_hash(lib), &reused);
    EXPECT_TRUE(reused);
    const SearchResult b = again->search(q.data_ptr<float>(), nq, k);
    EXPECT_EQ(a.ids, b.ids);
    EXPECT_EQ(a.scores, b.scores);
    // Query-time options apply to a stored index; build options are part of its key.
    SearchOptions wide;
    wide.ivf_nprobe = 1;
    wide.hnsw_ef_search = 16;
    open_search(kind, base, wide, lib, fast_file_hash(lib), &reused);
    EXPECT_TRUE(reused);
    SearchOptions other;
    other.ivf_lists = 8;
    other.hnsw_m = 8;
    open_search(kind, base, other, lib, fast_file_hash(lib), &reused);
    EXPECT_FALSE(reused);
    open_search(kind, base, {}, lib, fast_file_hash(lib), &reused);  // back to the default build
    EXPECT_FALSE(reused);
    // A damaged index file (its hash no longer matches) is rebuilt, not read.
    {
      std::string bytes = read_file(stored);
      bytes[bytes.size() / 2] ^= 0x5a;
      std::ofstream(stored, std::ios::binary) << bytes;
    }
    const auto repaired = open_search(kind, base, {}, lib, fast_file_hash(lib), &reused);
    EXPECT_FALSE(reused);
    EXPECT_EQ(repaired->search(q.data_ptr<float>(), nq, k).ids, a.ids);
    // Garbage under a matching key: load_search refuses it with FormatError, open_search rebuilds.
    write_file_atomically(stored, "not a faiss index");
    EXPECT_THROW(load_search(kind, stored), FormatError);
    write_file_atomically(fs::path(stored.string() + ".json"), "{not json");
    open_search(kind, base, {}, lib, fast_file_hash(lib), &reused);
    EXPECT_FALSE(reused);
    // Damage that the key's hash does not catch (the hash recomputed, as a collision would give):
    // the structure checks refuse stray ids, so a search never leaves the library.
    for (int trial = 0; trial < 12; ++trial) {
      open_search(kind, base, {}, lib, fast_file_hash(lib), &reused);  // a good index and key again
      std::string bytes = read_file(stored);
      for (int j = 0; j < 8; ++j) bytes[(size_t(trial) * 7919 + size_t(j) * 104729) % bytes.size()] = char(0xff);
      write_file_atomically(stored, bytes);
      Json key_json = Json::parse(read_file(fs::path(stored.string() + ".json")));
      key_json["index_hash"] = fast_file_hash(stored);
      write_file_atomically(fs::path(stored.string() + ".json"), key_json.dump());
      const auto s = open_search(kind, base, {}, lib, fast_file_hash(lib), &reused);
      try {
        const SearchResult r = s->search(q.data_ptr<float>(), nq, k);
        for (int64_t id : r.ids) EXPECT_TRUE(id >= -1 && id < n) << id;
      } catch (const FormatError&) {
      }
    }
    // An index of the other kind is refused by kind.
    const SearchKind other_kind = kind == SearchKind::ivf ? SearchKind::hnsw : SearchKind::ivf;
    EXPECT_THROW(load_search(other_kind, stored), FormatError);
  }
  // A changed library never reuses the old index.
  write_file_atomically(lib, "library bytes v2");
  bool reused = true;
  open_search(SearchKind::ivf, base, {}, lib, fast_file_hash(lib), &reused);
  EXPECT_FALSE(reused);
  EXPECT_THROW(load_search(SearchKind::exact, lib), UsageError);
}

TEST(RetrieveSearch, StoredIndexWithStrayIdsIsRefused) {
  torch::manual_seed(6);
  const int64_t n = 500, d = 8;
  const torch::Tensor base = normalize_rows(torch::randn({n, d}));
  const float* x = base.data_ptr<float>();
  const fs::path dir = kScratch / "stray_ids";
  fs::create_directories(dir);
  {  // IVF: one id pointing past the library.
    faiss::IndexFlatIP quantizer{int(d)};
    faiss::IndexIVFFlat ivf(&quantizer, int(d), 4, faiss::METRIC_INNER_PRODUCT);
    ivf.train(n, x);
    ivf.add(n, x);
    size_t list = 0;
    while (ivf.invlists->list_size(list) == 0) ++list;
    const std::vector<uint8_t> code(ivf.code_size, 0);
    ivf.invlists->update_entry(list, 0, n + 5, code.data());
    faiss::write_index(&ivf, (dir / "ivf.faiss").c_str());
    EXPECT_THROW(load_search(SearchKind::ivf, dir / "ivf.faiss"), FormatError);
  }
  {  // HNSW: one neighbour pointing past the library.
    faiss::IndexHNSWFlat hnsw(int(d), 8, faiss::METRIC_INNER_PRODUCT);
    hnsw.add(n, x);
    hnsw.hnsw.neighbors[0] = faiss::HNSW::storage_idx_t(n + 3);
    faiss::write_index(&hnsw, (dir / "hnsw.faiss").c_str());
    EXPECT_THROW(load_search(SearchKind::hnsw, dir / "hnsw.faiss"), FormatError);
    hnsw.hnsw.neighbors[0] = 0;
    faiss::write_index(&hnsw, (dir / "hnsw.faiss").c_str());
    EXPECT_EQ(load_search(SearchKind::hnsw, dir / "hnsw.faiss")->size(), n);  // the intact graph loads
  }
}

TEST(RetrieveIndex, FolderOfOddFilesAddAndOtherEncoder) {
  const fs::path dir = odd_folder("odd");
  const fs::path lib = kScratch / "odd.lib";
  // float32 on both sides of the comparison with `embed` below, whatever this CPU offers.
  auto r = tool("retrieve", "index --single " + single_ckpt().string() + " --folder " + dir.string() + " -o " +
                                lib.string() + " --device cpu --bf16 false");
  ASSERT_EQ(r.code, 0) << r.output;
  Library l = load_library(lib);
  ASSERT_EQ(l.instruments.size(), 3u);
  EXPECT_EQ(l.instruments[0].name, "flute");
  EXPECT_EQ(l.instruments[0].family, "flute");
  EXPECT_EQ(l.instruments[1].name, "guitar_acoustic");
  EXPECT_EQ(l.instruments[1].family, "guitar");
  EXPECT_EQ(l.instruments[2].name, "violin");
  EXPECT_EQ(l.instruments[2].family, "unknown");
  EXPECT_EQ(l.clips.size(), 5u);  // violin: 2 + 1 windows, flute 1, guitar 1
  EXPECT_EQ(l.clip_counts(), (std::vector<int64_t>{1, 1, 3}));
  EXPECT_EQ(l.encoder_hash, file_hash(single_ckpt()));
  EXPECT_EQ(l.dim, 16);
  // The mean is the mean of the clips.
  for (int64_t d = 0; d < l.dim; ++d) {
    double s = 0;
    for (size_t c = 0; c < l.clips.size(); ++c)
      if (l.clips[c].instrument == 2) s += l.clip_embeddings[c * 16 + size_t(d)];
    EXPECT_NEAR(l.means[2 * 16 + size_t(d)], s / 3, 1e-5);
  }
  // The same embeddings as `embed --single` on the first window of each file.
  r = tool("embed", "--single " + single_ckpt().string() + " " + (dir / "flute_01.wav").string() + " -o " +
                        (kScratch / "flute.npy").string() + " --bf16 false");
  ASSERT_EQ(r.code, 0) << r.output;
  const torch::Tensor e = read_npy(kScratch / "flute.npy");
  ASSERT_EQ(e.sizes(), torch::IntArrayRef({1, 16}));
  for (int64_t d = 0; d < 16; ++d) EXPECT_NEAR(e[0][d].item<float>(), l.clip_embeddings[size_t(d)], 1e-4);

  // --add of the same folder recomputes nothing and changes nothing.
  const std::string before = bytes_of(lib);
  r = tool("retrieve",
           "index --add --single " + single_ckpt().string() + " --folder " + dir.string() + " -o " + lib.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("0 embedded now, 5 already there"), std::string::npos) << r.output;
  EXPECT_EQ(bytes_of(lib), before);
  // A new file: only it is embedded.
  write_audio(dir / "flute_02.flac", 4.0, 16000, 1, kFlac, 990);
  r = tool("retrieve",
           "index --add --single " + single_ckpt().string() + " --folder " + dir.string() + " -o " + lib.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("1 embedded now, 5 already there"), std::string::npos) << r.output;
  l = load_library(lib);
  EXPECT_EQ(l.clip_counts(), (std::vector<int64_t>{2, 1, 3}));
  // Another encoder: refused, naming both hashes; the library is untouched.
  const std::string kept = bytes_of(lib);
  r = tool("retrieve", "index --add --single " + other_single_ckpt().string() + " --folder " + dir.string() + " -o " +
                           lib.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_EQ(error_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find(file_hash(single_ckpt())), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(file_hash(other_single_ckpt())), std::string::npos) << r.output;
  EXPECT_EQ(bytes_of(lib), kept);
}

TEST(RetrieveIndex, BadAudioIsSkippedAndEmptyInputsFail) {
  const fs::path dir = kScratch / "bad";
  fs::remove_all(dir);
  write_audio(dir / "cello" / "ok.wav", 5.0, 16000, 1, kWav);
  fs::create_directories(dir / "cello");
  std::ofstream(dir / "cello" / "zero.wav").close();                     // 0 bytes
  std::ofstream(dir / "cello" / "junk.flac") << std::string(4000, 'x');  // not audio
  std::ofstream(dir / "oboe_1.wav") << "RIFF nonsense";                  // the only file of oboe
  const fs::path lib = kScratch / "bad.lib";
  auto r = tool("retrieve",
                "index --single " + single_ckpt().string() + " --folder " + dir.string() + " -o " + lib.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("3 bad files skipped"), std::string::npos) << r.output;
  const Library l = load_library(lib);
  ASSERT_EQ(l.instruments.size(), 1u);
  EXPECT_EQ(l.instruments[0].name, "cello");

  // Nothing usable: exit 1, one line, and the existing library is not overwritten.
  const std::string before = bytes_of(lib);
  const fs::path junk = kScratch / "junk_only";
  fs::create_directories(junk);
  std::ofstream(junk / "x_1.wav") << "junk";
  r = tool("retrieve",
           "index --single " + single_ckpt().string() + " --folder " + junk.string() + " -o " + lib.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("no instrument left"), std::string::npos) << r.output;
  EXPECT_EQ(error_lines(r.output), 1) << r.output;
  EXPECT_EQ(bytes_of(lib), before);
  const fs::path empty = kScratch / "empty";
  fs::create_directories(empty);
  r = tool("retrieve",
           "index --single " + single_ckpt().string() + " --folder " + empty.string() + " -o " + lib.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("holds no audio file"), std::string::npos) << r.output;
  EXPECT_EQ(bytes_of(lib), before);
  // Usage errors: no source, two sources, a missing folder.
  r = tool("retrieve", "index --single " + single_ckpt().string() + " -o " + lib.string());
  EXPECT_EQ(r.code, 2) << r.output;
  r = tool("retrieve", "index --single " + single_ckpt().string() + " --folder " + dir.string() + " --nlakh " +
                           tiny_data().string() + " -o " + lib.string());
  EXPECT_EQ(r.code, 2) << r.output;
  r = tool("retrieve", "index --single " + single_ckpt().string() + " --folder " + (kScratch / "nope").string() +
                           " -o " + lib.string());
  EXPECT_EQ(r.code, 2) << r.output;
  // A multi-encoder checkpoint is not a single encoder.
  r = tool("retrieve", "index --single " + multi_ckpt().string() + " --folder " + dir.string() + " -o " + lib.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_EQ(error_lines(r.output), 1) << r.output;
  EXPECT_EQ(bytes_of(lib), before);
}

TEST(RetrieveIndex, NlakhAndSoundFontSources) {
  const fs::path lib = kScratch / "nlakh.lib";
  auto r = tool("retrieve", "index --single " + single_ckpt().string() + " --nlakh " + tiny_data().string() +
                                " --split valid -o " + lib.string() + " -j 2");
  ASSERT_EQ(r.code, 0) << r.output;
  const Library l = load_library(lib);
  const auto instruments = split_instruments(tiny_data(), "valid");
  EXPECT_EQ(l.instruments.size(), instruments.size());
  for (const auto& inst : instruments) {
    const int64_t i = l.find(inst.id);
    ASSERT_GE(i, 0) << inst.id;
    EXPECT_EQ(l.instruments[size_t(i)].family, inst.family);
  }
  // SoundFont presets, four phrases each.
  const std::string sf2 = "/usr/share/sounds/sf2/TimGM6mb.sf2";
  if (!fs::exists(sf2)) GTEST_SKIP() << "no " << sf2;
  const fs::path sflib = kScratch / "sf.lib";
  r = tool("retrieve", "index --single " + single_ckpt().string() + " --soundfont " + sf2 + " --programs 0 40 -o " +
                           sflib.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const Library s = load_library(sflib);
  ASSERT_GE(s.instruments.size(), 2u);
  for (int64_t c : s.clip_counts()) EXPECT_EQ(c, 4);
  EXPECT_EQ(s.instruments[0].family, "keyboard");
}

TEST(RetrieveQuery, WindowsRankingTableJsonAndRules) {
  const fs::path lib = kScratch / "q.lib";
  auto r = tool("retrieve", "index --single " + single_ckpt().string() + " --nlakh " + tiny_data().string() +
                                " --split valid -o " + lib.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const Library l = load_library(lib);
  const fs::path twelve = kScratch / "mix12.flac", one = kScratch / "mix1.wav", silence = kScratch / "silence.wav";
  write_audio(twelve, 12.0, 44100, 2, kFlac);
  write_audio(one, 1.0, 22050, 1, kWav);
  write_wav16(silence, std::vector<float>(16000 * 3, 0.f));
  const std::string base = "query --multi " + multi_ckpt().string() + " --library " + lib.string() + " ";
  r = tool_stdout("retrieve",
                  base + twelve.string() + " " + one.string() + " " + silence.string() + " --json --top-k 3");
  ASSERT_EQ(r.code, 0) << r.output;
  const Json j = Json::parse(r.output);
  ASSERT_EQ(j["results"].size(), 3u);
  const Json& first = j["results"][0];
  ASSERT_EQ(first["windows"].size(), 4u);
  for (size_t w = 0; w < 4; ++w) EXPECT_DOUBLE_EQ(first["windows"][w]["start_s"].get<double>(), 2.5 * double(w));
  EXPECT_NEAR(first["duration_s"].get<double>(), 12.0, 1e-3);
  ASSERT_EQ(first["ranking"].size(), 3u);
  // Scores decrease; each ranked instrument's score is its best window score; windows listed are real.
  for (size_t i = 0; i < 3; ++i) {
    const Json& e = first["ranking"][i];
    EXPECT_EQ(e["rank"], i + 1);
    if (i) {
      EXPECT_LE(e["score"].get<double>(), first["ranking"][i - 1]["score"].get<double>());
    }
    for (const auto& w : e["windows"]) {
      bool found = false;
      for (const auto& x : first["windows"][w.get<size_t>()]["instruments"]) found |= x["name"] == e["instrument"];
      EXPECT_TRUE(found);
    }
    EXPECT_GE(l.find(e["instrument"].get<std::string>()), 0);
  }
  // The paper's rule: at most M = 9 instruments per window, at least one.
  for (const auto& w : first["windows"]) {
    EXPECT_GE(w["instruments"].size(), 1u);
    EXPECT_LE(w["instruments"].size(), 9u);
  }
  EXPECT_EQ(j["results"][1]["windows"].size(), 1u);  // 1 s: one zero-padded window
  EXPECT_EQ(j["results"][2]["windows"].size(), 1u);

  // Threshold -1: every instrument in every window; above 1: only the best one.
  r = tool_stdout("retrieve", base + twelve.string() + " --json --rule threshold --threshold -1");
  ASSERT_EQ(r.code, 0) << r.output;
  Json t = Json::parse(r.output);
  for (const auto& w : t["results"][0]["windows"]) EXPECT_EQ(w["instruments"].size(), l.instruments.size());
  r = tool_stdout("retrieve", base + twelve.string() + " --json --rule threshold --threshold 1.5 --hop 5");
  ASSERT_EQ(r.code, 0) << r.output;
  t = Json::parse(r.output);
  ASSERT_EQ(t["results"][0]["windows"].size(), 3u);  // hop 5: 0-5, 5-10, 10-15 s (zero-padded past 12 s)
  for (const auto& w : t["results"][0]["windows"]) EXPECT_EQ(w["instruments"].size(), 1u);
  r = tool("retrieve", base + twelve.string() + " --rule threshold");
  EXPECT_EQ(r.code, 2) << r.output;
  // In the table, an instrument found in every window lists them as one run, then its source.
  r = tool_stdout("retrieve", base + twelve.string() + " --rule threshold --threshold -1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(" 0-3  "), std::string::npos) << r.output;

  // The table.
  r = tool_stdout("retrieve", base + twelve.string() + " --top-k 2");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("rank"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("window 3  7.5-12.5 s"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(first["ranking"][0]["instrument"].get<std::string>()), std::string::npos) << r.output;

  // --set takes a key where its flag is not given; the flag wins; an unknown key is a usage error.
  r = tool_stdout("retrieve", base + twelve.string() + " --json --set query.top_k=2");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(Json::parse(r.output)["results"][0]["ranking"].size(), 2u);
  r = tool_stdout("retrieve", base + twelve.string() + " --json --set query.top_k=2 --top-k 3");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(Json::parse(r.output)["results"][0]["ranking"].size(), 3u);
  EXPECT_EQ(tool("retrieve", base + twelve.string() + " --set query.top_k=0").code, 2);
  EXPECT_EQ(tool("retrieve", base + twelve.string() + " --set query.nonsense=1").code, 2);

  // FAISS indexes give the same top instrument on this tiny library.
  for (const char* kind : {"hnsw", "ivf"}) {
    r = tool_stdout("retrieve", base + twelve.string() + " --json --top-k 3 --index " + kind);
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(Json::parse(r.output)["results"][0]["ranking"][0]["instrument"], first["ranking"][0]["instrument"])
        << kind;
  }
}

// With the set or mask head, every window reports its slots' existence and its set comes from the
// slots that exist; --no-existence (or query.existence=false) lets every slot vote; the linear head
// reports none.
TEST(RetrieveQuery, SetAndMaskHeadsPrintExistenceAndTheirSetsUseIt) {
  const fs::path lib = kScratch / "q_set.lib";
  auto r = tool("retrieve", "index --single " + single_ckpt().string() + " --nlakh " + tiny_data().string() +
                                " --split valid -o " + lib.string());
  ASSERT_EQ(r.code, 0) << r.output;
  for (const auto& [head, flags] : std::vector<std::pair<std::string, std::string>>{
           {"set", " --set model.head=set --set model.set.dim=16 --set model.set.heads=2"
                   " --set model.set.layers=1 --set model.set.ffn=32"},
           {"mask", " --set model.kind=small --set 'model.han.channels=[4,8,8,8]' --set model.head=mask"
                    " --set model.mask.hidden=8"}}) {
  SCOPED_TRACE(head);
  const fs::path set_ckpt = train_multi("multi_" + head, single_ckpt(), flags);
  const fs::path mix = kScratch / "mix_set.wav";
  write_audio(mix, 8.0, 16000, 1, kWav);
  const std::string base = " --library " + lib.string() + " " + mix.string() + " --json";
  r = tool_stdout("retrieve", "query --multi " + set_ckpt.string() + base);
  ASSERT_EQ(r.code, 0) << r.output;
  const Json with = Json::parse(r.output);
  EXPECT_TRUE(with["existence"].get<bool>());
  const Json& windows = with["results"][0]["windows"];
  ASSERT_EQ(windows.size(), 3u);  // 8 s: windows at 0, 2.5 and 5 s
  for (const auto& w : windows) {
    ASSERT_EQ(w["existence"].size(), 9u) << w.dump();
    size_t existing = 0;
    for (const auto& p : w["existence"]) {
      EXPECT_GE(p.get<double>(), 0.0);
      EXPECT_LE(p.get<double>(), 1.0);
      existing += p.get<double>() >= 0.5;
    }
    // At most one instrument per voting slot (the likeliest slot alone when none exists).
    EXPECT_LE(w["instruments"].size(), std::max<size_t>(existing, 1)) << w.dump();
    EXPECT_GE(w["instruments"].size(), 1u);
  }
  r = tool_stdout("retrieve", "query --multi " + set_ckpt.string() + base + " --no-existence");
  ASSERT_EQ(r.code, 0) << r.output;
  const Json without = Json::parse(r.output);
  EXPECT_FALSE(without["existence"].get<bool>());
  // Every slot votes: each window's set holds at least the existing slots' instruments.
  for (size_t w = 0; w < windows.size(); ++w)
    for (const auto& inst : with["results"][0]["windows"][w]["instruments"]) {
      bool found = false;
      for (const auto& other : without["results"][0]["windows"][w]["instruments"]) found |= other["name"] == inst["name"];
      EXPECT_TRUE(found) << inst.dump();
    }
  // The ranking (order and scores) uses every slot under both rules; only the windows each entry is
  // voted into follow the rule.
  auto scores_of = [](Json ranking) {
    for (auto& entry : ranking) entry.erase("windows");
    return ranking;
  };
  EXPECT_EQ(scores_of(with["results"][0]["ranking"]), scores_of(without["results"][0]["ranking"]));
  r = tool_stdout("retrieve", "query --multi " + set_ckpt.string() + base + " --set query.existence=false");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(Json::parse(r.output)["results"], without["results"]);
  // The table prints the slots' existence under each window.
  r = tool_stdout("retrieve", "query --multi " + set_ckpt.string() + " --library " + lib.string() + " " + mix.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("slot existence:"), std::string::npos) << r.output;
  }
  // The paper's linear head has no existence to report.
  const fs::path mix = kScratch / "mix_set.wav";
  const std::string base = " --library " + lib.string() + " " + mix.string() + " --json";
  r = tool_stdout("retrieve", "query --multi " + multi_ckpt().string() + base);
  ASSERT_EQ(r.code, 0) << r.output;
  for (const auto& w : Json::parse(r.output)["results"][0]["windows"]) EXPECT_FALSE(w.contains("existence"));
}

TEST(RetrieveQuery, EncoderChecksAndBadInputs) {
  const fs::path mix = kScratch / "mix5.wav";
  write_audio(mix, 5.0, 16000, 1, kWav);
  // A library of another single encoder than the one the multi encoder was trained against.
  const fs::path other = kScratch / "other.lib";
  auto r = tool("retrieve", "index --single " + other_single_ckpt().string() + " --nlakh " + tiny_data().string() +
                                " -o " + other.string());
  ASSERT_EQ(r.code, 0) << r.output;
  r = tool("retrieve", "query --multi " + multi_ckpt().string() + " --library " + other.string() + " " + mix.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_EQ(error_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find(file_hash(other_single_ckpt())), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(file_hash(single_ckpt())), std::string::npos) << r.output;
  // A multi encoder whose single encoder is gone: a warning, and the query runs.
  const fs::path copy = kScratch / "single_copy.pt";
  fs::copy_file(other_single_ckpt(), copy, fs::copy_options::overwrite_existing);
  const fs::path orphan = train_multi("multi_orphan", copy);
  fs::remove(copy);
  r = tool("retrieve", "query --multi " + orphan.string() + " --library " + other.string() + " " + mix.string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("no longer there"), std::string::npos) << r.output;
  // Missing audio, a non-library file, a single checkpoint as --multi, a missing library.
  const fs::path lib = kScratch / "ok.lib";
  r = tool("retrieve",
           "index --single " + single_ckpt().string() + " --nlakh " + tiny_data().string() + " -o " + lib.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string q = "query --multi " + multi_ckpt().string() + " --library ";
  r = tool("retrieve", q + lib.string() + " " + (kScratch / "missing.wav").string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_EQ(error_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("missing.wav"), std::string::npos) << r.output;
  const fs::path corrupt = kScratch / "corrupt.wav";
  std::ofstream(corrupt) << "RIFF....WAVEjunk";
  r = tool("retrieve", q + lib.string() + " " + corrupt.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_EQ(error_lines(r.output), 1) << r.output;
  r = tool("retrieve", q + mix.string() + " " + mix.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("is not an instret library"), std::string::npos) << r.output;
  EXPECT_EQ(error_lines(r.output), 1) << r.output;
  r = tool("retrieve", "query --multi " + single_ckpt().string() + " --library " + lib.string() + " " + mix.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_EQ(error_lines(r.output), 1) << r.output;
  r = tool("retrieve", q + (kScratch / "nolib.lib").string() + " " + mix.string());
  EXPECT_EQ(r.code, 1) << r.output;
  r = tool("retrieve", "query --library " + lib.string() + " " + mix.string());
  EXPECT_EQ(r.code, 2) << r.output;
  r = tool("retrieve", "");
  EXPECT_EQ(r.code, 2) << r.output;
}

TEST(EmbedModels, SingleAndMultiShapes) {
  const fs::path a = kScratch / "e1.flac", b = kScratch / "e2.wav";
  write_audio(a, 7.0, 44100, 2, kFlac);
  write_audio(b, 1.0, 8000, 1, kWav);
  auto r = tool("embed", "--single " + single_ckpt().string() + " " + a.string() + " " + b.string() + " -o " +
                             (kScratch / "s.npy").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(read_npy(kScratch / "s.npy").sizes(), torch::IntArrayRef({2, 16}));
  r = tool("embed", "--multi " + multi_ckpt().string() + " " + a.string() + " " + b.string() + " -o " +
                        (kScratch / "m.npy").string() + " --device cpu");
  ASSERT_EQ(r.code, 0) << r.output;
  const torch::Tensor m = read_npy(kScratch / "m.npy");
  ASSERT_EQ(m.dim(), 3);
  EXPECT_EQ(m.size(0), 2);
  EXPECT_EQ(m.size(1), 9);
  EXPECT_EQ(m.size(2), 16);
  r = tool("embed", "--single " + single_ckpt().string() + " --multi " + multi_ckpt().string() + " " + a.string() +
                        " -o " + (kScratch / "x.npy").string());
  EXPECT_EQ(r.code, 2) << r.output;
  r = tool("embed", "--multi " + single_ckpt().string() + " " + a.string() + " -o " + (kScratch / "x.npy").string());
  EXPECT_EQ(r.code, 1) << r.output;
  r = tool("embed", "--single " + single_ckpt().string() + " " + (kScratch / "gone.wav").string() + " -o " +
                        (kScratch / "x.npy").string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_FALSE(fs::exists(kScratch / "x.npy"));
}

// Issue 10: retrieve index and query on CUDA give the CPU's library and ranking.
TEST(RetrieveQuery, CudaGivesTheCpuRanking) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const fs::path mix = kScratch / "cuda_mix.wav";
  write_audio(mix, 6.0, 16000, 1, kWav);
  std::vector<Json> rankings;
  std::vector<Library> libraries;
  for (const char* device : {"cpu", "cuda"}) {
    const fs::path lib = kScratch / (std::string("cuda_") + device + ".lib");
    auto r = tool("retrieve", "index --single " + single_ckpt().string() + " --nlakh " + tiny_data().string() +
                                  " --split valid --bf16 false --device " + device + " -o " + lib.string());
    ASSERT_EQ(r.code, 0) << r.output;
    libraries.push_back(load_library(lib));
    r = tool_stdout("retrieve", "query --multi " + multi_ckpt().string() + " --library " + lib.string() + " " +
                                    mix.string() + " --json --top-k 5 --bf16 false --device " + device);
    ASSERT_EQ(r.code, 0) << r.output;
    rankings.push_back(Json::parse(r.output)["results"][0]["ranking"]);
  }
  ASSERT_EQ(libraries[0].clip_embeddings.size(), libraries[1].clip_embeddings.size());
  for (size_t i = 0; i < libraries[0].clip_embeddings.size(); ++i)
    ASSERT_NEAR(libraries[1].clip_embeddings[i], libraries[0].clip_embeddings[i], 1e-2) << i;  // TF32 rounding
  ASSERT_EQ(rankings[0].size(), rankings[1].size());
  for (size_t i = 0; i < rankings[0].size(); ++i)
    EXPECT_NEAR(rankings[1][i]["score"].get<double>(), rankings[0][i]["score"].get<double>(), 1e-2) << i;
}
