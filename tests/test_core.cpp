// Unit tests of the core conventions: .npy files, configs with overrides, atomic output.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <filesystem>
#include <fstream>

#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/core/log.h"
#include "instret/core/npy.h"
#include "instret/core/parallel.h"
#include "instret/core/printable.h"
#include "instret/core/temp_files.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace instret;

namespace {
fs::path scratch(const std::string& name) {
  return test::scratch_dir("core") / name;
}
}  // namespace

TEST(Npy, HeaderMatchesNumpyLayout) {
  const std::string b = npy_bytes(torch::zeros({2, 3}, torch::kFloat32));
  ASSERT_EQ(b.substr(1, 5), "NUMPY");
  const size_t header_len = static_cast<unsigned char>(b[8]) | (static_cast<unsigned char>(b[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  const std::string header = b.substr(10, header_len);
  EXPECT_NE(header.find("'descr': '<f4'"), std::string::npos);
  EXPECT_NE(header.find("'shape': (2, 3)"), std::string::npos);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(b.size(), 10 + header_len + 2 * 3 * 4);
}

TEST(Npy, OneDimensionalShapeHasTrailingComma) {
  const std::string b = npy_bytes(torch::arange(5, torch::kInt64));
  EXPECT_NE(b.find("'shape': (5,)"), std::string::npos);
  EXPECT_NE(b.find("'descr': '<i8'"), std::string::npos);
}

TEST(Npy, RoundTripsEveryDtype) {
  for (auto type : {torch::kFloat32, torch::kFloat64, torch::kInt64, torch::kInt32, torch::kUInt8}) {
    torch::Tensor t = (torch::rand({3, 4, 5}) * 100).to(type);
    const fs::path p = scratch("rt.npy");
    write_npy(p, t);
    torch::Tensor back = read_npy(p);
    EXPECT_EQ(back.scalar_type(), type);
    EXPECT_TRUE(torch::equal(back, t));
  }
}

TEST(Npy, ScalarAndEmpty) {
  EXPECT_TRUE(torch::equal(npy_parse(npy_bytes(torch::tensor(3.5)), "x"), torch::tensor(3.5)));
  EXPECT_EQ(npy_parse(npy_bytes(torch::zeros({0, 4})), "x").sizes(), torch::IntArrayRef({0, 4}));
}

TEST(Npy, RejectsCorruptFiles) {
  std::string b = npy_bytes(torch::ones({4}));
  EXPECT_THROW(npy_parse("garbage", "g"), FormatError);
  EXPECT_THROW(npy_parse(b.substr(0, b.size() - 1), "short"), FormatError);
  EXPECT_THROW(read_npy(scratch("missing.npy")), IoError);
}

TEST(Config, MergesAndRejectsUnknownKeys) {
  const Json defaults = {{"model", {{"kind", "small"}, {"dim", 1024}}}, {"lr", 1e-3}, {"extra", Json::object()}};
  Json user = {{"model", {{"dim", 512}}}, {"extra", {{"anything", 1}}}};
  Json merged = merge_config(defaults, user, "u.json");
  EXPECT_EQ(merged["model"]["dim"], 512);
  EXPECT_EQ(merged["model"]["kind"], "small");
  EXPECT_EQ(merged["extra"]["anything"], 1);
  try {
    merge_config(defaults, {{"model", {{"dmi", 3}}}}, "u.json");
    FAIL() << "unknown key accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("model.dmi"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("u.json"), std::string::npos);
  }
  EXPECT_THROW(merge_config(defaults, {{"lr", "fast"}}, "u"), UsageError);
  EXPECT_THROW(merge_config(defaults, {{"model", {{"dim", 2.5}}}}, "u"), UsageError);
}

TEST(Config, OverridesParseJsonOrText) {
  const Json defaults = {{"model", {{"kind", "small"}, {"dim", 1024}}}, {"lr", 1e-3}, {"flag", false}};
  Json c = defaults;
  apply_override(c, defaults, "model.dim=256");
  apply_override(c, defaults, "model.kind=123");
  apply_override(c, defaults, "lr=0.5");
  apply_override(c, defaults, "flag=true");
  EXPECT_EQ(c["model"]["dim"], 256);
  EXPECT_EQ(c["model"]["kind"], "123");
  EXPECT_DOUBLE_EQ(c["lr"].get<double>(), 0.5);
  EXPECT_EQ(c["flag"], true);
  EXPECT_THROW(apply_override(c, defaults, "model.size=3"), UsageError);
  EXPECT_THROW(apply_override(c, defaults, "noequals"), UsageError);
  EXPECT_THROW(apply_override(c, defaults, "flag=maybe"), UsageError);
  EXPECT_EQ(config_get<int>(c, "model.dim"), 256);
  EXPECT_THROW(config_get<int>(c, "model.nope"), UsageError);
}

TEST(Fs, FailedAtomicWriteKeepsOldContent) {
  const fs::path p = scratch("keep.txt");
  write_file_atomically(p, "old");
  EXPECT_THROW(write_atomically(p, [](const fs::path& tmp) {
                 write_file_atomically(tmp, "partial");
                 throw IoError("simulated failure");
               }),
               IoError);
  EXPECT_EQ(read_file(p), "old");
  for (const auto& e : fs::directory_iterator(p.parent_path()))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << e.path();
}

// A temporary whose pid is dead on this host may still be written by a process on another host
// that shares the folder: write_atomically holds a lock on it, and a locked temporary is kept.
TEST(Fs, StaleTemporariesAreThoseOfDeadUnlockedWriters) {
  const fs::path dir = test::scratch_dir("core_temps", true);
  const std::string dead = test::run_command("sh -c 'echo $$'").output;
  ASSERT_FALSE(dead.empty());
  const fs::path unlocked = dir / ("a.wav.tmp." + std::to_string(std::stol(dead)) + ".0");
  const fs::path locked = dir / ("b.wav.tmp." + std::to_string(std::stol(dead)) + ".1");
  std::ofstream(unlocked) << "left by a killed writer";
  std::ofstream(locked) << "being written on another host";
  const int fd = ::open(locked.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  // flock locks belong to an open file: a second open of the same file in this process conflicts
  // like another process's would.
  EXPECT_EQ(remove_stale_temporaries(dir), 1u);
  EXPECT_FALSE(fs::exists(unlocked));
  EXPECT_TRUE(fs::exists(locked));
  ::close(fd);
  EXPECT_EQ(remove_stale_temporaries(dir), 1u);
  EXPECT_FALSE(fs::exists(locked));

  // While write_atomically fills its temporary, the temporary is locked.
  bool was_locked = false;
  write_atomically(dir / "c.bin", [&](const fs::path& tmp) {
    std::ofstream(tmp) << "bytes";
    const int probe = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(probe, 0);
    was_locked = ::flock(probe, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(probe);
  });
  EXPECT_TRUE(was_locked);
  EXPECT_EQ(read_file(dir / "c.bin"), "bytes");

  // Temporaries of a killed process whose pid this process now has: their names are skipped, and
  // they are left as they are.
  for (int n = 0; n < 200; ++n)
    std::ofstream(dir / ("d.bin.tmp." + std::to_string(::getpid()) + "." + std::to_string(n))) << "old";
  write_file_atomically(dir / "d.bin", "new");
  EXPECT_EQ(read_file(dir / "d.bin"), "new");
  EXPECT_EQ(read_file(dir / ("d.bin.tmp." + std::to_string(::getpid()) + ".199")), "old");
}

TEST(Fs, FileHashesSeeEveryByteAndTheLength) {
  const fs::path dir = scratch("hashes");
  fs::create_directories(dir);
  std::string bytes(3 * (1 << 20) + 5, '\0');  // more than one read block, not a whole number of words
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = char((i * 2654435761u) >> 13);
  const auto write = [&](const std::string& name, const std::string& b) {
    write_file_atomically(dir / name, b);
    return dir / name;
  };
  const auto a = write("a", bytes), same = write("same", bytes);
  std::string flipped = bytes, longer = bytes + std::string(1, '\0'), shorter = bytes.substr(0, bytes.size() - 1);
  flipped[bytes.size() / 2] ^= 1;
  EXPECT_EQ(fast_file_hash(a), fast_file_hash(same));
  EXPECT_EQ(file_hash(a), file_hash(same));
  for (const auto& other : {write("flipped", flipped), write("longer", longer), write("shorter", shorter)}) {
    EXPECT_NE(fast_file_hash(a), fast_file_hash(other)) << other;
    EXPECT_NE(file_hash(a), file_hash(other)) << other;
  }
  // file_hash's values are stored in libraries and target caches: they must never change. FNV-1a's
  // prime with this project's offset basis 1469598103934665603 (not the standard 14695981039346656037):
  // python3 -c "h=1469598103934665603
  // for c in b'abc': h=((h^c)*1099511628211)%2**64
  // print('%016x'%h)"
  EXPECT_EQ(file_hash(write("abc", "abc")), "e16801510db89efd");
  EXPECT_THROW(fast_file_hash(dir / "absent"), IoError);
}

// Issue 23, defect 4: every reader of a path refuses a FIFO or a device before reading a byte (a
// FIFO without a writer used to block file_hash and read_file for ever, /dev/zero to read on until
// memory ran out), with an IoError naming it.
TEST(Fs, NonRegularFilesAreRefusedBeforeAnyRead) {
  const fs::path fifo = scratch("fifo.json");
  fs::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto attempt = std::async(std::launch::async, [&] {
    std::vector<std::string> msgs;
    for (const fs::path& p : {fifo, fs::path("/dev/zero"), fs::path("/dev/null")}) {
      msgs.push_back(test::error_of<IoError>([&] { file_hash(p); }));
      msgs.push_back(test::error_of<IoError>([&] { fast_file_hash(p); }));
      msgs.push_back(test::error_of<IoError>([&] { read_file(p); }));
      msgs.push_back(test::error_of<IoError>([&] { read_json_file(p); }));
      msgs.push_back(test::error_of<IoError>([&] { RegularFile f(p); }));
    }
    msgs.push_back(test::error_of<IoError>([&] { read_file(fifo.parent_path()); }));
    return msgs;
  });
  if (attempt.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    std::ofstream unblock(fifo);  // let a blocked reader go on
    FAIL() << "reading a FIFO blocks";
  }
  const auto msgs = attempt.get();
  ASSERT_EQ(msgs.size(), 16u);
  for (size_t i = 0; i < 15; ++i)
    EXPECT_NE(msgs[i].find(": not a regular file (a FIFO, device or socket)"), std::string::npos) << msgs[i];
  EXPECT_NE(msgs[15].find(": is a folder, not a file"), std::string::npos) << msgs[15];
  // A regular file through a link still reads.
  write_file_atomically(scratch("target.txt"), "text");
  fs::remove(scratch("link.txt"));
  fs::create_symlink(scratch("target.txt"), scratch("link.txt"));
  EXPECT_EQ(read_file(scratch("link.txt")), "text");
}

// Issue 23, defect 8: names from disk are printed as quoted, escaped strings; control characters
// never reach the output, UTF-8 text does.
TEST(Printable, EscapesControlsAndQuotesPaths) {
  EXPECT_EQ(printable("a\nb\x1b[31mc\x7f"), "a\\x0ab\\x1b[31mc\\x7f");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x99\xaa"), "caf\xc3\xa9 \xe2\x99\xaa");  // UTF-8 kept
  EXPECT_EQ(printable("\xc2\x9b" "2J"), "\\xc2\\x9b2J");     // U+009B, a CSI: escaped
  EXPECT_EQ(printable("\xff\xc3"), "\\xff\\xc3");        // not UTF-8
  EXPECT_EQ(quote_path("/tmp/it's\\x\n[critical].mid"), "'/tmp/it\\'s\\\\x\\x0a[critical].mid'");
}

TEST(Parallel, RunsEveryIndexOnceWithWorkerIds) {
  for (int threads : {1, 2, 5}) {
    std::vector<std::atomic<int>> hits(1000);
    std::atomic<int> bad_worker{0};
    Progress progress("test", 1000, 1e9);
    parallel_for(
        hits.size(), threads,
        [&](size_t i, int worker) {
          if (worker < 0 || worker >= threads) ++bad_worker;
          ++hits[i];
        },
        &progress);
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    EXPECT_EQ(bad_worker.load(), 0);
    EXPECT_EQ(progress.done(), 1000);
  }
}

// Issue 23, defect 2: a thread count far above the work (render-nlakh -j 100000 on 3 items) starts no
// more threads than items (it used to start them all, or end the process when the system refused).
TEST(Parallel, NoMoreThreadsThanItems) {
  std::atomic<int> max_worker{-1};
  std::vector<std::atomic<int>> hits(3);
  parallel_for(3, 1000000, [&](size_t i, int worker) {
    ++hits[i];
    for (int m = max_worker.load(); worker > m && !max_worker.compare_exchange_weak(m, worker);) {
    }
  });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  EXPECT_LT(max_worker.load(), 3);
}

TEST(Parallel, FirstErrorStopsAndIsRethrown) {
  std::atomic<int> started{0};
  try {
    parallel_for(100000, 2, [&](size_t i, int) {
      ++started;
      if (i == 10) throw FormatError("job 10 failed");
    });
    FAIL() << "no exception";
  } catch (const FormatError& e) {
    EXPECT_STREQ(e.what(), "job 10 failed");
  }
  EXPECT_LT(started.load(), 100000);
  EXPECT_NO_THROW(parallel_for(0, 2, [](size_t, int) { throw Error("never called"); }));
}

// Issue 11 item 6: integers are range-checked at full width before narrowing, never wrapped.
TEST(Config, IntegersAreRangeCheckedNotWrapped) {
  const Json c = Json::parse(R"({"big": 4294967356, "neg": -1, "whole": 2.0, "half": 1.5, "max64": 9223372036854775807,
                                 "huge": 1e300, "text": "3"})");
  EXPECT_THROW(config_get<int>(c, "big"), UsageError);  // 2^32 + 60, not 60
  EXPECT_EQ(config_get<int64_t>(c, "big"), 4294967356LL);
  EXPECT_THROW(config_get<uint64_t>(c, "neg"), UsageError);  // not 2^64 - 1
  EXPECT_EQ(config_get<int>(c, "neg"), -1);
  EXPECT_EQ(config_get<int>(c, "whole"), 2);
  EXPECT_THROW(config_get<int>(c, "half"), UsageError);
  EXPECT_EQ(config_get<int64_t>(c, "max64"), std::numeric_limits<int64_t>::max());
  EXPECT_THROW(config_get<int>(c, "max64"), UsageError);
  EXPECT_THROW(config_get<int64_t>(c, "huge"), UsageError);
  EXPECT_THROW(config_get<int>(c, "text"), UsageError);
  EXPECT_DOUBLE_EQ(config_get<double>(c, "half"), 1.5);
}
