// Training data: Nlakh-single / Nlakh-multi datasets over a hand-made fake dataset (exact values,
// every error case), stable sampling, random mixing, the batch makers, and the prefetching loader
// (same batches for any worker count, order, early stop, errors, prefetch bound); one end-to-end
// check over render_nlakh() output.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "instret/audio/io.h"
#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/data/nlakh_dataset.h"
#include "instret/data/prefetch_loader.h"
#include "instret/data/random_mix.h"
#include "instret/data/sampling.h"
#ifndef INSTRET_DATA_STANDALONE
#include "instret/render/nlakh.h"
#endif
#include "test_support.h"

using namespace instret;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kSamples = 800;

// The constant value of fake clip `k`: an exact multiple of 1/32768, so it survives 16-bit WAV.
float clip_value(int k) { return float(256 * (k + 1)) / 32768.0f; }

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

void write_constant_wav(const fs::path& path, float value) {
  fs::create_directories(path.parent_path());
  write_wav16(path, std::vector<float>(size_t(kSamples), value));
}

// A fake rendered dataset: train instruments a, b, c, d (d has no clip) and valid v1, v2 listed
// interleaved in instruments.json; `train_clips` single clips per train instrument a..c (clip k has
// the constant value clip_value(k)), one valid clip, and two train mixtures.
fs::path make_fake(const std::string& tag, int train_instruments_with_clips = 3, int clips_each = 2) {
  const fs::path root = test::scratch_dir("data_" + tag, true);
  Json instruments = Json::array();
  auto add = [&](const std::string& id, const std::string& split) {
    instruments.push_back({{"id", id},
                           {"name", "name " + id},
                           {"family", "guitar"},
                           {"source", "fake.sf2"},
                           {"file", "fake.sf2"},
                           {"bank", 0},
                           {"program", 24},
                           {"split", split}});
  };
  add("v1", "valid");
  std::vector<std::string> train_ids;
  for (int i = 0; i < train_instruments_with_clips; ++i) {
    train_ids.push_back("t" + std::to_string(i));
    add(train_ids.back(), "train");
    if (i == 0) add("v2", "valid");
  }
  add("silent", "train");  // no clips
  write_json_file(root / "instruments.json", instruments);
  write_json_file(root / "summary.json", Json{{"clip_samples", kSamples}, {"sample_rate", 16000}});
  std::string single;
  int k = 0;
  for (int c = 0; c < clips_each; ++c)
    for (const std::string& id : train_ids) {
      const std::string path = "single/train/" + id + "/" + std::to_string(c) + ".wav";
      write_constant_wav(root / path, clip_value(k++));
      single += Json{{"path", path}, {"instrument", id}, {"family", "guitar"}, {"midi", "x.mid"},
                     {"track", 0},   {"program", 24},    {"start", 0.0},       {"notes", 5}}
                    .dump() +
                "\n";
    }
  write_text(root / "single_train.jsonl", single);
  write_constant_wav(root / "single/valid/v2/0.wav", 0.5f);
  write_text(root / "single_valid.jsonl", Json{{"path", "single/valid/v2/0.wav"}, {"instrument", "v2"}}.dump() + "\n");
  // Mixture 0: stems t1, t0; mixture 1: stems t0, silent, t1 (a stem may be an instrument without single clips).
  std::string multi;
  const std::vector<std::vector<std::string>> mixes = {{"t1", "t0"}, {"t0", "silent", "t1"}};
  for (size_t j = 0; j < mixes.size(); ++j) {
    const std::string dir = "multi/train/" + std::to_string(j);
    Json stems = Json::array();
    for (size_t s = 0; s < mixes[j].size(); ++s) {
      const std::string path = dir + "/stem_" + std::to_string(s) + ".wav";
      write_constant_wav(root / path, float(100 * (j + 1) + s) / 32768.0f);
      stems.push_back({{"path", path}, {"instrument", mixes[j][s]}, {"family", "guitar"}});
    }
    write_constant_wav(root / dir / "mix.wav", float(j + 1) / 4.0f);
    multi += Json{{"path", dir + "/mix.wav"}, {"midi", "x.mid"}, {"start", 0.0}, {"stems", stems}}.dump() + "\n";
  }
  write_text(root / "multi_train.jsonl", multi);
  write_text(root / "multi_valid.jsonl", "");
  return root;
}

template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

#define EXPECT_ERROR(Type, statement, fragment)                                       \
  do {                                                                                \
    const std::string message_ = error_message([&] { statement; });                   \
    EXPECT_NE(message_.find(fragment), std::string::npos) << "message: " << message_; \
    EXPECT_THROW(statement, Type);                                                    \
  } while (0)

std::vector<std::string> ids(const std::vector<DatasetInstrument>& list) {
  std::vector<std::string> out;
  for (const auto& i : list) out.push_back(i.id);
  return out;
}

// Aborts the test binary if a guarded block hangs (a deadlock must fail, not stall CI).
class Watchdog {
 public:
  explicit Watchdog(int seconds) {
    thread_ = std::thread([this, seconds] {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!cv_.wait_for(lock, std::chrono::seconds(seconds), [this] { return done_; })) {
        std::fprintf(stderr, "watchdog: test hung for %d s\n", seconds);
        std::_Exit(3);
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Polls `condition` for up to 10 s (the machine may be loaded): true once it holds.
template <typename F>
bool eventually(F&& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace

TEST(NlakhDataset, OpensSingleSplitWithTheInstrumentRule) {
  const fs::path root = make_fake("open");
  const NlakhSingle data = NlakhSingle::open(root, "train");
  // Every train entry of instruments.json in file order, also "silent" which has no clip.
  EXPECT_EQ(ids(data.instruments()), (std::vector<std::string>{"t0", "t1", "t2", "silent"}));
  EXPECT_EQ(data.instruments()[0].name, "name t0");
  EXPECT_EQ(data.instruments()[0].family, "guitar");
  EXPECT_EQ(data.clip_samples(), kSamples);
  ASSERT_EQ(data.clips().size(), 6u);
  EXPECT_EQ(data.clips_by_instrument(), (std::vector<std::vector<int64_t>>{{0, 3}, {1, 4}, {2, 5}, {}}));
  EXPECT_EQ(data.instruments_with_clips(), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_TRUE(data.clips()[4].path.is_absolute());
  EXPECT_EQ(data.clips()[4].instrument, 1);
  std::vector<float> audio(size_t(kSamples), -9.0f);
  for (int k = 0; k < 6; ++k) {
    data.read(k, audio.data());
    EXPECT_EQ(audio.front(), clip_value(k));
    EXPECT_EQ(audio.back(), clip_value(k));
  }
  EXPECT_THROW(data.read(6, audio.data()), UsageError);

  const NlakhSingle valid = NlakhSingle::open(root, "valid");
  EXPECT_EQ(ids(valid.instruments()), (std::vector<std::string>{"v1", "v2"}));
  EXPECT_EQ(valid.clips_by_instrument(), (std::vector<std::vector<int64_t>>{{}, {0}}));
}

TEST(NlakhDataset, SingleAndMultiAgreeOnIndicesAndFirstStem) {
  const fs::path root = make_fake("multi");
  const NlakhSingle single = NlakhSingle::open(root, "train");
  const NlakhMulti multi = NlakhMulti::open(root, "train");
  EXPECT_EQ(ids(multi.instruments()), ids(single.instruments()));
  EXPECT_EQ(split_instruments(root, "train").size(), 4u);
  ASSERT_EQ(multi.items().size(), 2u);
  EXPECT_EQ(multi.n_stems(), 5);
  EXPECT_EQ(multi.items()[0].first_stem, 0);
  EXPECT_EQ(multi.items()[1].first_stem, 2);
  EXPECT_EQ(multi.items()[0].stems[0].instrument, 1);  // t1
  EXPECT_EQ(multi.items()[0].stems[1].instrument, 0);  // t0
  EXPECT_EQ(multi.items()[1].stems[1].instrument, 3);  // silent: a stem, no single clip
  std::vector<float> audio(static_cast<size_t>(kSamples));
  multi.read_mix(1, audio.data());
  EXPECT_EQ(audio[7], 0.5f);
  multi.read_stem(1, 2, audio.data());
  EXPECT_EQ(audio[7], 202.0f / 32768.0f);
  EXPECT_THROW(multi.read_stem(1, 3, audio.data()), UsageError);
  // The valid multi manifest is empty: an empty split is an error.
  EXPECT_ERROR(FormatError, NlakhMulti::open(root, "valid"), "has no mixtures");
}

TEST(NlakhDataset, ErrorsNameTheFileAndTheProblem) {
  EXPECT_ERROR(IoError, NlakhSingle::open("/nonexistent/nlakh", "train"), "/nonexistent/nlakh does not exist");
  {
    const fs::path root = make_fake("err_noinst");
    fs::remove(root / "instruments.json");
    EXPECT_ERROR(IoError, NlakhSingle::open(root, "train"),
                 "is not a rendered Nlakh dataset (no instruments.json): render it with render-nlakh");
    EXPECT_ERROR(IoError, NlakhMulti::open(root, "train"), "(no instruments.json)");
  }
  {
    const fs::path root = make_fake("err_nosummary");
    fs::remove(root / "summary.json");
    EXPECT_ERROR(IoError, NlakhSingle::open(root, "train"), "(no summary.json)");
    fs::remove(root / "single_train.jsonl");
    EXPECT_ERROR(IoError, NlakhSingle::open(root, "train"), "(no single_train.jsonl)");
  }
  {
    const fs::path root = make_fake("err_unknown");
    std::ofstream(root / "single_train.jsonl", std::ios::app)
        << Json{{"path", "single/train/t0/0.wav"}, {"instrument", "nope"}}.dump() << "\n";
    EXPECT_ERROR(FormatError, NlakhSingle::open(root, "train"),
                 (root / "single_train.jsonl").string() + ":7: instrument 'nope' is not a train instrument");
    // A valid instrument named in the train manifest is unknown there too.
    std::ofstream(root / "single_valid.jsonl", std::ios::app)
        << "{\"path\": \"single/train/t0/0.wav\", \"instrument\": \"t0\"}\n";
    EXPECT_ERROR(FormatError, NlakhSingle::open(root, "valid"),
                 "single_valid.jsonl:2: instrument 't0' is not a valid instrument");
  }
  {
    const fs::path root = make_fake("err_json");
    std::ofstream(root / "multi_train.jsonl", std::ios::app) << "{not json\n";
    EXPECT_ERROR(FormatError, NlakhMulti::open(root, "train"), "multi_train.jsonl:3: invalid JSON");
  }
  {
    const fs::path root = make_fake("err_deleted");
    fs::remove(root / "single/train/t2/1.wav");
    EXPECT_ERROR(IoError, NlakhSingle::open(root, "train"),
                 "half-rendered or damaged dataset: " + (root / "single/train/t2/1.wav").string() +
                     " is missing (rerun render-nlakh on it)");
    fs::remove(root / "multi/train/1/stem_2.wav");
    EXPECT_ERROR(IoError, NlakhMulti::open(root, "train"), "multi/train/1/stem_2.wav is missing");
  }
  {
    const fs::path root = make_fake("err_truncated");
    const fs::path victim = root / "single/train/t1/1.wav";
    fs::resize_file(victim, fs::file_size(victim) - 100);
    EXPECT_ERROR(FormatError, NlakhSingle::open(root, "train"),
                 "half-rendered or damaged dataset: " + victim.string() + " has");
    // The first file is checked by its header: a short first clip is caught too.
    const fs::path first = root / "single/train/t0/0.wav";
    write_wav16(first, std::vector<float>(size_t(kSamples / 2), 0.1f));
    EXPECT_ERROR(FormatError, NlakhSingle::open(root, "train"), first.string() + " holds 400 frames");
  }
  {
    const fs::path root = make_fake("err_empty");
    write_text(root / "single_valid.jsonl", "\n");
    EXPECT_ERROR(FormatError, NlakhSingle::open(root, "valid"), "the valid split has no single clips");
  }
  {
    const fs::path root = make_fake("err_format");
    // Right size for the open-time check, wrong format for read(): a stereo 8 kHz file of the same bytes.
    const fs::path victim = root / "single/train/t0/1.wav";
    const NlakhSingle data = NlakhSingle::open(root, "train");
    write_wav16(victim, std::vector<float>(size_t(kSamples), 0.1f), 8000);
    std::vector<float> audio(static_cast<size_t>(kSamples));
    EXPECT_ERROR(FormatError, data.read(3, audio.data()), victim.string() + ": expected a 16-bit mono WAV at 16000 Hz");
  }
}

TEST(NlakhDataset, ClipReaderMatchesLibsndfileOnWavVariants) {
  const fs::path dir = test::scratch_dir("data_wav", true);
  std::vector<float> values(static_cast<size_t>(kSamples));
  for (size_t i = 0; i < values.size(); ++i) values[i] = float(int(i * 7919 % 65536) - 32768) / 32768.0f;
  write_wav16(dir / "plain.wav", values);
  std::vector<float> audio(static_cast<size_t>(kSamples));
  read_clip_wav(dir / "plain.wav", kSamples, audio.data());
  EXPECT_EQ(audio, values);
  EXPECT_EQ(audio, read_audio(dir / "plain.wav"));
  // The same samples behind an odd-length LIST chunk (padded): still read exactly.
  const std::string plain = read_file(dir / "plain.wav");
  const size_t data_at = plain.find("data");
  ASSERT_NE(data_at, std::string::npos);
  std::string with_list = plain.substr(0, data_at) + std::string("LIST\x03\0\0\0abc\0", 12) + plain.substr(data_at);
  const uint32_t riff = uint32_t(with_list.size() - 8);
  for (int k = 0; k < 4; ++k) with_list[size_t(4 + k)] = char((riff >> (8 * k)) & 0xff);
  write_text(dir / "list.wav", with_list);
  std::fill(audio.begin(), audio.end(), 9.0f);
  read_clip_wav(dir / "list.wav", kSamples, audio.data());
  EXPECT_EQ(audio, values);
  // Other lengths and formats go through libsndfile, which names the problem.
  EXPECT_ERROR(FormatError, read_clip_wav(dir / "plain.wav", kSamples + 1, audio.data()),
               "plain.wav: expected a 16-bit mono WAV at 16000 Hz of 801 samples, found 800 frames");
  write_wav16(dir / "rate.wav", values, 22050);
  EXPECT_ERROR(FormatError, read_clip_wav(dir / "rate.wav", kSamples, audio.data()), "found 800 frames at 22050 Hz");
  EXPECT_ERROR(IoError, read_clip_wav(dir / "absent.wav", kSamples, audio.data()), "absent.wav: cannot open audio");
  write_text(dir / "junk.wav", std::string(2000, 'x'));
  EXPECT_THROW(read_clip_wav(dir / "junk.wav", kSamples, audio.data()), Error);
}

TEST(Sampling, StableRngIsPinnedAndBounded) {
  StableRng rng(42);
  // SplitMix64 from state 42: these values are the contract (identical on every platform).
  EXPECT_EQ(rng.next(), 0xbdd732262feb6e95ull);
  EXPECT_EQ(rng.next(), 0x28efe333b266f103ull);
  EXPECT_EQ(rng.next(), 0x47526757130f9f52ull);
  EXPECT_EQ(stream_seed(1, {2, 3}), stream_seed(1, {2, 3}));
  EXPECT_NE(stream_seed(1, {2, 3}), stream_seed(1, {3, 2}));
  EXPECT_NE(stream_seed(1, {2}), stream_seed(1, {2, 0}));
  EXPECT_NE(stream_seed(1, {2, 3}), stream_seed(2, {2, 3}));
  StableRng r(7);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const uint64_t v = r.below(7);
    ASSERT_LT(v, 7u);
    ++counts[v];
  }
  for (int c : counts) EXPECT_NEAR(c, 1000, 150);
  EXPECT_EQ(r.below(1), 0u);
  EXPECT_LT(r.below(~0ull), ~0ull);
  EXPECT_THROW(r.below(0), UsageError);
  double lo = 1, hi = 0;
  for (int i = 0; i < 10000; ++i) {
    const double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }
  EXPECT_LT(lo, 0.01);
  EXPECT_GT(hi, 0.99);
}

TEST(Sampling, EpochPermutation) {
  const auto p0 = epoch_permutation(100, 5, 0);
  const auto p1 = epoch_permutation(100, 5, 1);
  EXPECT_EQ(p0, epoch_permutation(100, 5, 0));
  EXPECT_NE(p0, p1);
  EXPECT_NE(p0, epoch_permutation(100, 6, 0));
  for (const auto& p : {p0, p1}) {
    std::vector<int64_t> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < 100; ++i) EXPECT_EQ(sorted[size_t(i)], i);
  }
  EXPECT_TRUE(epoch_permutation(0, 5, 0).empty());
  EXPECT_EQ(epoch_permutation(1, 5, 0), std::vector<int64_t>{0});
  EXPECT_THROW(epoch_permutation(-1, 5, 0), UsageError);
}

TEST(RandomMix, RecipesFollowThePaper) {
  const fs::path root = make_fake("recipes", 20, 3);
  const NlakhSingle data = NlakhSingle::open(root, "train");
  const RandomMixConfig config;
  std::map<size_t, int> histogram;
  const int draws = 8000;
  for (int item = 0; item < draws; ++item) {
    const auto recipe = random_mix_recipe(data, config, 3, 0, item / 64, item % 64);
    ASSERT_GE(recipe.size(), 2u);
    ASSERT_LE(recipe.size(), 9u);
    ++histogram[recipe.size()];
    std::set<int64_t> instruments;
    for (int64_t clip : recipe) {
      ASSERT_GE(clip, 0);
      ASSERT_LT(clip, int64_t(data.clips().size()));
      instruments.insert(data.clips()[size_t(clip)].instrument);
    }
    EXPECT_EQ(instruments.size(), recipe.size()) << "instruments repeat in item " << item;
  }
  EXPECT_EQ(histogram.size(), 8u);
  for (const auto& [n, count] : histogram) EXPECT_NEAR(count, draws / 8, draws / 8 * 0.15) << "n = " << n;
  // Pure function of (seed, epoch, step, item).
  EXPECT_EQ(random_mix_recipe(data, config, 3, 1, 2, 3), random_mix_recipe(data, config, 3, 1, 2, 3));
  int differ = 0;
  for (int item = 0; item < 20; ++item)
    differ += random_mix_recipe(data, config, 3, 1, 2, item) != random_mix_recipe(data, config, 3, 2, 2, item);
  EXPECT_GE(differ, 15);
  const auto batch = random_mix_recipes(data, config, 3, 1, 2, 4);
  ASSERT_EQ(batch.size(), 4u);
  EXPECT_EQ(batch[3], random_mix_recipe(data, config, 3, 1, 2, 3));
  EXPECT_THROW(random_mix_recipe(data, RandomMixConfig{3, 2}, 3, 0, 0, 0), UsageError);
  EXPECT_THROW(random_mix_recipe(data, RandomMixConfig{0, 2}, 3, 0, 0, 0), UsageError);
}

TEST(RandomMix, ClampsToTheInstrumentsWithClips) {
  const fs::path root = make_fake("clamp");  // 3 instruments with clips (+1 without)
  const NlakhSingle data = NlakhSingle::open(root, "train");
  std::set<size_t> sizes;
  for (int item = 0; item < 200; ++item) {
    const auto recipe = random_mix_recipe(data, RandomMixConfig{}, 1, 0, 0, item);
    sizes.insert(recipe.size());
    for (int64_t clip : recipe) EXPECT_NE(data.clips()[size_t(clip)].instrument, 3);
  }
  EXPECT_EQ(sizes, (std::set<size_t>{2, 3}));
  for (int item = 0; item < 20; ++item)
    EXPECT_EQ(random_mix_recipe(data, RandomMixConfig{5, 9}, 1, 0, 0, item).size(), 3u);
}

TEST(RandomMix, MixDownNormalisesByThePeak) {
  const std::vector<float> a = {0.25f, -0.5f, 0.0f, 0.125f};
  const std::vector<float> b = {0.25f, -0.5f, 0.0f, -0.125f};
  std::vector<float> out(4, 9.0f);
  mix_down({a.data(), b.data()}, 4, out.data());
  EXPECT_EQ(out, (std::vector<float>{0.5f, -1.0f, 0.0f, 0.0f}));
  const std::vector<float> c = {0.1f, 0.2f, -0.05f, 0.0f};
  mix_down({c.data()}, 4, out.data());
  EXPECT_EQ(out[1], 1.0f);
  EXPECT_FLOAT_EQ(out[0], 0.5f);
  EXPECT_FLOAT_EQ(out[2], -0.25f);
  const std::vector<float> z(4, 0.0f);
  mix_down({z.data(), z.data()}, 4, out.data());
  EXPECT_EQ(out, z);
  const std::vector<float> neg = {-0.5f, 0.5f, 0.0f, 0.0f};  // cancels to silence
  const std::vector<float> pos = {0.5f, -0.5f, 0.0f, 0.0f};
  mix_down({neg.data(), pos.data()}, 4, out.data());
  EXPECT_EQ(out, z);
  mix_down({}, 4, out.data());
  EXPECT_EQ(out, z);
}

TEST(BatchMakers, RandomMixSingleAndMultiBatches) {
  const fs::path root = make_fake("makers");
  const NlakhSingle single = NlakhSingle::open(root, "train");
  // Clips 0 and 4 have values 1/128 and 5/128: the mix is (1 + 5) / 6 = 1 everywhere.
  const Batch mix = random_mix_batch(single, {{0, 4}, {5}}, true, 17);
  EXPECT_EQ(mix.step, 17);
  EXPECT_EQ(mix.size, 2);
  EXPECT_EQ(mix.samples, kSamples);
  ASSERT_EQ(mix.audio.size(), size_t(2 * kSamples));
  EXPECT_EQ(mix.audio[0], 1.0f);
  EXPECT_EQ(mix.audio[size_t(kSamples) + 3], 1.0f);
  EXPECT_EQ(mix.target_rows, (std::vector<int64_t>{0, 4, 5}));
  EXPECT_EQ(mix.target_offsets, (std::vector<int64_t>{0, 2, 3}));
  ASSERT_EQ(mix.stems.size(), size_t(3 * kSamples));
  EXPECT_EQ(mix.stems[0], clip_value(0));
  EXPECT_EQ(mix.stems[size_t(kSamples)], clip_value(4));
  EXPECT_EQ(mix.stems[size_t(2 * kSamples) + 5], clip_value(5));
  const Batch no_stems = random_mix_batch(single, {{0, 4}, {5}}, false, 17);
  EXPECT_EQ(no_stems.audio, mix.audio);
  EXPECT_TRUE(no_stems.stems.empty());

  const Batch s = single_batch(single, {2, 1}, {2, 1}, 3);
  EXPECT_EQ(s.size, 2);
  EXPECT_EQ(s.labels, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(s.audio[0], clip_value(2));
  EXPECT_EQ(s.audio[size_t(kSamples)], clip_value(1));
  EXPECT_THROW(single_batch(single, {2, 1}, {2}, 3), UsageError);

  const NlakhMulti multi = NlakhMulti::open(root, "train");
  const Batch m = multi_batch(multi, {1, 0}, true, 4);
  EXPECT_EQ(m.size, 2);
  EXPECT_EQ(m.target_rows, (std::vector<int64_t>{2, 3, 4, 0, 1}));
  EXPECT_EQ(m.target_offsets, (std::vector<int64_t>{0, 3, 5}));
  EXPECT_EQ(m.audio[0], 0.5f);
  EXPECT_EQ(m.audio[size_t(kSamples)], 0.25f);
  ASSERT_EQ(m.stems.size(), size_t(5 * kSamples));
  EXPECT_EQ(m.stems[size_t(2 * kSamples)], 202.0f / 32768.0f);
  EXPECT_EQ(m.stems[size_t(4 * kSamples)], 101.0f / 32768.0f);
  EXPECT_TRUE(multi_batch(multi, {1, 0}, false, 4).stems.empty());
  // Recycled buffers (larger and holding other samples) give the same batches.
  const Batch s_again = single_batch(single, {2, 1}, {2, 1}, 3);
  recycle_batch(Batch(m));
  recycle_batch(Batch(mix));
  EXPECT_EQ(single_batch(single, {2, 1}, {2, 1}, 3).audio, s_again.audio);
  const Batch m_again = multi_batch(multi, {1, 0}, true, 4);
  EXPECT_EQ(m_again.audio, m.audio);
  EXPECT_EQ(m_again.stems, m.stems);
  recycle_batch(Batch(m));
  EXPECT_EQ(random_mix_batch(single, {{0, 4}, {5}}, true, 17).stems, mix.stems);
}

TEST(PrefetchLoader, SameBatchesInOrderForAnyWorkerCount) {
  Watchdog watchdog(60);
  const fs::path root = make_fake("loader", 12, 2);
  const NlakhSingle data = NlakhSingle::open(root, "train");
  const BatchMaker make = [&](int64_t step) {
    return random_mix_batch(data, random_mix_recipes(data, RandomMixConfig{}, 9, 0, step, 5), true, step);
  };
  std::vector<Batch> reference;
  for (int64_t step = 3; step < 23; ++step) reference.push_back(make(step));
  for (int workers : {0, 1, 2, 4}) {
    PrefetchLoader loader(make, 3, 23, workers, 3);
    for (size_t i = 0; i < reference.size(); ++i) {
      std::optional<Batch> b = loader.next();
      ASSERT_TRUE(b.has_value()) << "workers " << workers;
      EXPECT_EQ(b->step, int64_t(3 + i));
      EXPECT_EQ(b->audio, reference[i].audio) << "workers " << workers << " step " << b->step;
      EXPECT_EQ(b->stems, reference[i].stems);
      EXPECT_EQ(b->target_rows, reference[i].target_rows);
      EXPECT_EQ(b->target_offsets, reference[i].target_offsets);
      // Reused buffers hold older batches' samples: the makers must overwrite every one.
      recycle_batch(std::move(*b));
    }
    EXPECT_FALSE(loader.next().has_value());
    EXPECT_FALSE(loader.next().has_value());
    EXPECT_GE(loader.wait_seconds(), 0.0);
  }
  PrefetchLoader empty(make, 5, 5, 2, 2);
  EXPECT_FALSE(empty.next().has_value());
  EXPECT_THROW(PrefetchLoader(make, 0, 1, -1, 2), UsageError);
  EXPECT_THROW(PrefetchLoader(make, 0, 1, 1, 0), UsageError);
  EXPECT_THROW(PrefetchLoader(make, 2, 1, 1, 1), UsageError);
}

TEST(PrefetchLoader, StopsPromptlyWhenTheConsumerStopsEarly) {
  Watchdog watchdog(30);
  std::atomic<int> made{0};
  const BatchMaker make = [&](int64_t step) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ++made;
    Batch b;
    b.step = step;
    return b;
  };
  for (int workers : {1, 2, 4}) {
    made = 0;
    const auto start = std::chrono::steady_clock::now();
    {
      PrefetchLoader loader(make, 0, 1000000, workers, 2);
      ASSERT_TRUE(loader.next().has_value());
      // Let the workers fill the queue and block on the prefetch bound.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 2.0) << "workers " << workers;
    EXPECT_LE(made.load(), 1 + 2) << "workers " << workers;
  }
  // Destroyed while every worker is inside a slow maker: joins once those batches are done.
  PrefetchLoader loader(make, 0, 1000000, 4, 8);
}

TEST(PrefetchLoader, RethrowsAMakersErrorInStepOrder) {
  Watchdog watchdog(30);
  const BatchMaker make = [](int64_t step) {
    if (step == 7) throw FormatError("fake.wav: broken at step 7");
    std::this_thread::sleep_for(std::chrono::milliseconds(step % 3));
    Batch b;
    b.step = step;
    return b;
  };
  for (int workers : {0, 1, 2, 4}) {
    PrefetchLoader loader(make, 2, 20, workers, 3);
    for (int64_t step = 2; step < 7; ++step) {
      const auto b = loader.next();
      ASSERT_TRUE(b.has_value());
      EXPECT_EQ(b->step, step);
    }
    EXPECT_ERROR(FormatError, loader.next(), "fake.wav: broken at step 7");
    EXPECT_THROW(loader.next(), FormatError);  // and stays failed
  }
}

TEST(PrefetchLoader, RespectsThePrefetchBound) {
  Watchdog watchdog(30);
  for (int prefetch : {1, 3}) {
    for (int workers : {1, 2, 4}) {
      std::atomic<int64_t> started{0};
      const BatchMaker make = [&](int64_t step) {
        ++started;
        Batch b;
        b.step = step;
        return b;
      };
      PrefetchLoader loader(make, 0, 40, workers, prefetch);
      // The workers fill the queue up to the bound and no further, while the consumer is slow.
      EXPECT_TRUE(eventually([&] { return started.load() == prefetch; }));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      EXPECT_EQ(started.load(), prefetch);
      for (int64_t taken = 1; taken <= 10; ++taken) {
        ASSERT_TRUE(loader.next().has_value());
        EXPECT_LE(started.load(), taken + prefetch) << "workers " << workers << " prefetch " << prefetch;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        EXPECT_LE(started.load(), taken + prefetch) << "workers " << workers << " prefetch " << prefetch;
      }
      EXPECT_TRUE(eventually([&] { return started.load() == 10 + prefetch; }));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      EXPECT_EQ(started.load(), 10 + prefetch);
    }
  }
}

#ifndef INSTRET_DATA_STANDALONE
TEST(NlakhDataset, EndToEndOverRenderedTinyDataset) {
  const fs::path out = test::scratch_dir("data_e2e", true) / "nlakh";
  Json config = load_config(nlakh_default_config(), std::string(INSTRET_SOURCE_DIR) + "/configs/nlakh_tiny.json", {});
  config["output"] = out.string();
  config["threads"] = 2;
  render_nlakh(config);
  for (const char* split : {"train", "valid"}) {
    const NlakhSingle single = NlakhSingle::open(out, split);
    const NlakhMulti multi = NlakhMulti::open(out, split);
    EXPECT_EQ(ids(single.instruments()), ids(multi.instruments()));
    EXPECT_EQ(single.clip_samples(), 80000);
    int64_t rows = 0;
    for (const MultiItem& item : multi.items()) {
      EXPECT_EQ(item.first_stem, rows);
      rows += int64_t(item.stems.size());
      EXPECT_GE(item.stems.size(), 2u);
    }
    EXPECT_EQ(rows, multi.n_stems());
    // Against the general reader.
    std::vector<float> audio(size_t(single.clip_samples()));
    single.read(0, audio.data());
    EXPECT_EQ(audio, read_audio(single.clips()[0].path));
    multi.read_stem(0, 1, audio.data());
    EXPECT_EQ(audio, read_audio(multi.items()[0].stems[1].path));
    // A mixture of the renderer = its stems summed and peak-normalised, up to 16-bit rounding.
    const Batch m = multi_batch(multi, {0}, true, 0);
    std::vector<const float*> stems;
    for (size_t k = 0; k < multi.items()[0].stems.size(); ++k) stems.push_back(m.stems.data() + k * size_t(m.samples));
    std::vector<float> mixed(size_t(m.samples));
    mix_down(stems, m.samples, mixed.data());
    double peak = 0;
    for (float v : m.audio) peak = std::max(peak, double(std::fabs(v)));
    for (size_t i = 0; i < mixed.size(); i += 97) EXPECT_NEAR(mixed[i] * peak, m.audio[i], 1e-3);
    PrefetchLoader loader(
        [&](int64_t step) {
          return random_mix_batch(single, random_mix_recipes(single, RandomMixConfig{}, 1, 0, step, 4), false, step);
        },
        0, 3, 2, 2);
    int batches = 0;
    while (auto b = loader.next()) {
      EXPECT_EQ(b->audio.size(), size_t(4 * 80000));
      ++batches;
    }
    EXPECT_EQ(batches, 3);
  }
}
#endif
