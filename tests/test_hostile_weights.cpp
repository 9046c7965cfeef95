// Hostile .pth and checkpoint files (issue 11, items 11-16): CRC-32 checks, decompression bombs,
// non-regular inputs, duplicate keys as torch.load, one FormatError for every unreadable checkpoint,
// import-weights refusing to overwrite its input and syncing its output.
// Expected values come from scripts/golden/make_hostile_pth_golden.py (torch.load, zipfile.testzip).
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>

#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/core/zip.h"
#include "instret/models/encoders.h"
#include "instret/models/torch_state_dict.h"
#include "instret/inference/checkpoint.h"
#include "instret/inference/single_encoder.h"
#include "instret/inference/multi_encoder.h"
#include "test_support.h"

using namespace instret;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(INSTRET_TEST_DATA_DIR) + "/models/";
const std::string kHostile = kData + "hostile/";
const std::string kBin = INSTRET_BIN_DIR;
// The tiny Han CNN of tests/data/models/ref_han_cnn.pt (param_counts.json's tiny_config).
const std::string kTinyHan = " --set model.n_classes=5 --set model.emb_dim=16 --set model.han.channels=[4,8,8,16]";

fs::path scratch() { return test::scratch_dir("hostile_weights"); }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void spit(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

// Minimal zip writer: each record stored (method 0) or deflated (method 8), with `declared` sizes
// that may lie (SIZE_MAX: the true size).
struct ZipRecord {
  std::string name, data;
  bool deflate = false;
  uint64_t declared = UINT64_MAX;
};

void put16(std::string& s, uint32_t v) { s += char(v & 0xff), s += char((v >> 8) & 0xff); }
void put32(std::string& s, uint32_t v) { put16(s, v & 0xffff), put16(s, v >> 16); }

std::string deflate_raw(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = in.size();
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = out.size();
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string make_zip(const std::vector<ZipRecord>& records) {
  std::string file, cd;
  for (const auto& r : records) {
    const std::string body = r.deflate ? deflate_raw(r.data) : r.data;
    const uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(r.data.data()), r.data.size());
    const uint32_t size = uint32_t(r.declared == UINT64_MAX ? r.data.size() : r.declared);
    const uint32_t offset = file.size();
    auto header = [&](std::string& s, bool central) {
      put32(s, central ? 0x02014b50 : 0x04034b50);
      if (central) put16(s, 20);
      put16(s, 20), put16(s, 0), put16(s, r.deflate ? 8 : 0), put16(s, 0), put16(s, 0x21);
      put32(s, crc), put32(s, body.size()), put32(s, size), put16(s, r.name.size()), put16(s, 0);
      if (central) put16(s, 0), put16(s, 0), put16(s, 0), put32(s, 0), put32(s, offset);
      s += r.name;
    };
    header(file, false);
    file += body;
    header(cd, true);
  }
  const uint32_t cd_offset = file.size();
  file += cd;
  put32(file, 0x06054b50), put16(file, 0), put16(file, 0), put16(file, records.size()), put16(file, records.size());
  put32(file, cd.size()), put32(file, cd_offset), put16(file, 0);
  return file;
}

std::string pickle_string(const std::string& s) { return "\x8c" + std::string(1, char(s.size())) + s; }
std::string pickle_long(int64_t v) {
  std::string out = "\x8a\x08";
  for (int k = 0; k < 8; ++k) out += char((uint64_t(v) >> (8 * k)) & 0xff);
  return out;
}
// {"w": a 1-D float tensor of `numel` elements over storage "0"}
std::string one_tensor_pickle(int64_t numel) {
  std::string p = "\x80\x02}" + pickle_string("w");
  p += "ctorch._utils\n_rebuild_tensor_v2\n(";
  p += "(" + pickle_string("storage") + "ctorch\nFloatStorage\n" + pickle_string("0") + pickle_string("cpu") +
       pickle_long(numel) + "tQ";
  p += pickle_long(0) + pickle_long(numel) + "\x85" + pickle_long(1) + "\x85\x89tRs.";
  return p;
}

long max_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

ModelConfig tiny() {
  ModelConfig c;
  c.kind = "small";
  c.n_outputs = 3;
  c.emb_dim = 16;
  c.han.channels = {4, 8, 8, 16};
  return c;
}

// Rewrites a LibTorch archive through PyTorch's own zip writer (fresh, correct CRCs), changing the
// records for which `edit` returns true.
void rewrite_archive(const fs::path& src, const fs::path& dst,
                     const std::function<bool(const std::string&, std::string&)>& edit) {
  caffe2::serialize::PyTorchStreamReader reader(src.string());
  caffe2::serialize::PyTorchStreamWriter writer(dst.string());
  for (const auto& name : reader.getAllRecords()) {
    if (name == ".data/version" || name == "version") {
      // The writer adds its own version record at the end.
      continue;
    }
    auto [ptr, size] = reader.getRecord(name);
    std::string bytes(static_cast<const char*>(ptr.get()), size);
    edit(name, bytes);
    writer.writeRecord(name, bytes.data(), bytes.size());
  }
  writer.writeEndOfFile();
}

}  // namespace

// Item 14: torch.load keeps the first position and the last value of a key set twice.
TEST(HostileWeights, DuplicateKeysReadAsTorchLoad) {
  const Json ref = read_json_file(kHostile + "expected.json")["dup_key.pt"];
  const auto sd = read_torch_state_dict(kHostile + "dup_key.pt");
  ASSERT_EQ(sd.size(), ref["keys"].size());
  for (size_t i = 0; i < sd.size(); ++i) {
    EXPECT_EQ(sd[i].first, ref["keys"][i].get<std::string>());
    const auto want = torch::tensor(ref["values"][sd[i].first].get<std::vector<float>>());
    EXPECT_TRUE(torch::equal(sd[i].second, want)) << sd[i].first << sd[i].second;
  }
}

// Item 12: a record whose CRC-32 does not match is refused (zipfile.testzip() names it; torch.load
// reads it silently); the same flip with a recomputed CRC is a valid file, read as torch.load does.
TEST(HostileWeights, CrcMismatchesAreRefused) {
  const Json ref = read_json_file(kHostile + "expected.json");
  for (const std::string name : {"crc_bad_tensor.pt", "crc_bad_pickle.pt"}) {
    const auto msg = test::error_of<FormatError>([&] { read_torch_state_dict(kHostile + name); });
    EXPECT_NE(msg.find(kHostile + name + ": "), std::string::npos) << msg;
    EXPECT_NE(msg.find("'" + ref[name]["bad_record"].get<std::string>() + "' fails its CRC-32 check"),
              std::string::npos)
        << msg;
  }
  for (const std::string name : {"crc_fixed.pt", "base.pt"}) {
    const auto sd = read_torch_state_dict(kHostile + name);
    ASSERT_EQ(sd.size(), ref[name]["keys"].size()) << name;
    for (const auto& [key, t] : sd)
      EXPECT_TRUE(torch::equal(t, torch::tensor(ref[name]["values"][key].get<std::vector<float>>()))) << name << key;
  }
}

TEST(HostileWeights, CheckpointCrcMismatchIsRefused) {
  const auto c = tiny();
  MultiEncoderNet m(c);
  {
    torch::NoGradGuard g;
    m->named_parameters()["cnn.linear2.0.bias"].fill_(1234.5f);
  }
  const auto path = scratch() / "crc.ckpt";
  save_checkpoint(path, *m, c, nullptr, 1);
  std::string bytes = slurp(path);
  float v = 1234.5f;
  const auto at = bytes.find(std::string(reinterpret_cast<const char*>(&v), 4));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] ^= 0x10;  // 1234.5 -> another finite float: without a CRC check this loads silently
  const auto bad = scratch() / "crc_bad.ckpt";
  spit(bad, bytes);
  MultiEncoderNet other(c);
  const auto msg = test::error_of<FormatError>([&] { load_checkpoint(bad, *other, c); });
  EXPECT_NE(msg.find("checkpoint " + bad.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("fails its CRC-32 check"), std::string::npos) << msg;
  EXPECT_NE(test::error_of<FormatError>([&] { read_checkpoint_info(bad); }).find("CRC-32"), std::string::npos);
}

// Item 15: LibTorch's TorchScript reader throws torch::jit::ErrorReport (message starting with a
// newline), std::runtime_error or std::out_of_range for some corruptions with valid CRCs: each must
// come out as one FormatError line naming the file.
TEST(HostileWeights, EveryUnreadableCheckpointIsOneFormatErrorLine) {
  const auto c = tiny();
  MultiEncoderNet m(c);
  const auto good = scratch() / "good.ckpt";
  save_checkpoint(good, *m, c, nullptr, 1);
  int n_cases = 0;
  auto check = [&](const fs::path& bad) {
    ++n_cases;
    MultiEncoderNet other(c);
    for (int which = 0; which < 2; ++which) {
      std::string msg = "(no exception)";
      try {
        if (which == 0)
          load_checkpoint(bad, *other, c);
        else
          read_checkpoint_info(bad);
      } catch (const FormatError& e) {
        msg = e.what();
      } catch (const std::exception& e) {
        msg = std::string("(not a FormatError: ") + typeid(e).name() + ") " + e.what();
      }
      EXPECT_EQ(msg.rfind("checkpoint " + bad.string(), 0), 0u) << bad << ": " << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << bad << ": " << msg;
      EXPECT_GT(msg.size(), ("checkpoint " + bad.string() + ": ").size() + 5) << msg;
    }
  };
  // TorchScript source of the archive's module garbled (CRC recomputed): the script parser's ErrorReport.
  const auto code = scratch() / "code.ckpt";
  bool edited = false;
  rewrite_archive(good, code, [&](const std::string& name, std::string& bytes) {
    if (name.rfind("code/", 0) != 0 || name.size() < 3 || name.substr(name.size() - 3) != ".py") return false;
    bytes = "\ndef forward(self:\n  @@@ ( ]\n";
    edited = true;
    return true;
  });
  ASSERT_TRUE(edited) << "no code/*.py record in a checkpoint";
  check(code);
  // Pickles cut short or garbled, with valid CRCs.
  for (int variant = 0; variant < 3; ++variant) {
    const auto p = scratch() / ("pkl" + std::to_string(variant) + ".ckpt");
    rewrite_archive(good, p, [&](const std::string& name, std::string& bytes) {
      if (name != "data.pkl") return false;
      if (variant == 0) bytes.resize(bytes.size() / 2);
      if (variant == 1) bytes = std::string("\x80\x02j\xff\xff\x00\x00.", 8);  // LONG_BINGET of a missing memo entry
      if (variant == 2) bytes = "\x80\x02}q\x00.";         // an empty dict: no entries at all
      return true;
    });
    check(p);
  }
  // Flipping every 97th byte with the CRC left as it is, and truncations.
  const std::string bytes = slurp(good);
  for (size_t cut : {size_t(10), bytes.size() / 2, bytes.size() - 10}) {
    const auto p = scratch() / ("cut" + std::to_string(cut) + ".ckpt");
    spit(p, bytes.substr(0, cut));
    check(p);
  }
  EXPECT_GE(n_cases, 7);
}

// Item 13: FIFOs and devices are refused without reading (a FIFO used to hang, /dev/zero to grow
// until allocation failed; /dev/null stands for the devices here, harmless to the old code).
TEST(HostileWeights, NonRegularInputsAreRefused) {
  const auto fifo = scratch() / "fifo.pth";
  fs::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto attempt = std::async(std::launch::async, [&] {
    std::string out;
    for (auto f : std::vector<std::function<void()>>{[&] { read_torch_state_dict(fifo); },
                                                     [&] { read_torch_state_dict("/dev/null"); },
                                                     [&] { read_checkpoint_info(fifo); }})
      out += test::error_of<IoError>(f) + "\n";
    return out;
  });
  if (attempt.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    std::ofstream unblock(fifo);  // let a blocked reader go on
    FAIL() << "reading a FIFO blocks";
  }
  const auto msgs = attempt.get();
  EXPECT_NE(msgs.find(fifo.string() + ": not a regular file"), std::string::npos) << msgs;
  EXPECT_NE(msgs.find("/dev/null: not a regular file"), std::string::npos) << msgs;
  EXPECT_NE(msgs.find("checkpoint " + fifo.string() + ": not a regular file"), std::string::npos) << msgs;
  // The tool exits 1 at once.
  const auto r = test::run_command("timeout 20 " + kBin + "/import-weights -i " + fifo.string() + " -o " +
                                   (scratch() / "x.ckpt").string() + " 2>&1");
  EXPECT_EQ(r.code, 1) << r.output;
}

// Item 11: records that declare (or inflate to) far more than the file and the pickle can use.
TEST(HostileWeights, DecompressionBombsAreRefusedWithoutTheMemory) {
  const long rss_before = max_rss_kb();
  // A valid deflated file reads (torch.load reads deflated records too).
  const std::string pickle = one_tensor_pickle(4);
  const float vals[4] = {1.5f, -2.f, 3.f, 0.25f};
  const std::string storage(reinterpret_cast<const char*>(vals), sizeof vals);
  const auto ok = scratch() / "deflated.pth";
  spit(ok, make_zip({{"archive/data.pkl", pickle, true}, {"archive/data/0", storage, true}}));
  const auto sd = read_torch_state_dict(ok);
  ASSERT_EQ(sd.size(), 1u);
  EXPECT_TRUE(torch::equal(sd[0].second, torch::tensor({1.5f, -2.f, 3.f, 0.25f})));

  // 16 MiB of zeros in ~16 KB, declared honestly as the pickle: more than 8x the file.
  const std::string zeros(16 << 20, '\0');
  const auto declared = scratch() / "declared_bomb.pth";
  spit(declared, make_zip({{"archive/data.pkl", zeros, true}}));
  EXPECT_NE(test::error_of<FormatError>([&] { read_torch_state_dict(declared); }).find("decompression bomb"),
            std::string::npos);
  // The same zeros declared as 100 bytes: inflation stops at the declared size.
  const auto lying = scratch() / "lying_bomb.pth";
  spit(lying, make_zip({{"archive/data.pkl", zeros, true, 100}}));
  EXPECT_NE(test::error_of<FormatError>([&] { read_torch_state_dict(lying); }).find("inflates beyond its declared 100 bytes"),
            std::string::npos);
  // A tensor record that inflates to 1 GiB for a pickle asking for it: refused before allocation.
  const auto tensor_bomb = scratch() / "tensor_bomb.pth";
  spit(tensor_bomb, make_zip({{"archive/data.pkl", one_tensor_pickle(int64_t(1) << 28)},
                              {"archive/data/0", std::string(1 << 20, '\0'), true, uint64_t(1) << 30}}));
  EXPECT_NE(test::error_of<FormatError>([&] { read_torch_state_dict(tensor_bomb); }).find("decompression bomb"),
            std::string::npos);
  // A record declared larger than the tensor the pickle builds is refused before it is read.
  const auto mismatch = scratch() / "mismatch.pth";
  spit(mismatch, make_zip({{"archive/data.pkl", one_tensor_pickle(4)}, {"archive/data/0", storage + storage}}));
  EXPECT_NE(test::error_of<FormatError>([&] { read_torch_state_dict(mismatch); }).find("has 32 bytes, expected 16"),
            std::string::npos);
  // A record whose bytes contain another record (an overlap bomb reads the same bytes many times).
  {
    std::string z = make_zip({{"archive/data.pkl", pickle}, {"archive/x", "abc"}});
    const size_t cd = z.find("PK\x01\x02");
    const size_t x_local = z.find("PK\x03\x04", 4);
    const uint32_t covering = uint32_t(x_local + 30 + 9 + 3 - (30 + 16));  // data.pkl's data up to x's end
    for (int k = 0; k < 4; ++k) z[cd + 20 + k] = z[cd + 24 + k] = char((covering >> (8 * k)) & 0xff);
    const auto p = scratch() / "overlap.pth";
    spit(p, z);
    const auto msg = test::error_of<FormatError>([&] { read_torch_state_dict(p); });
    EXPECT_NE(msg.find("overlaps another record"), std::string::npos) << msg;
  }
  // None of it cost the memory it claimed (zeros and its compressed copy take 32 MiB).
  EXPECT_LT(max_rss_kb() - rss_before, 200 * 1024);
}

// Item 16: -o equal to -i is a usage error that leaves the input alone.
TEST(HostileWeights, ImportWeightsRefusesToOverwriteItsInput) {
  const auto in = scratch() / "ref.pt";
  fs::copy_file(kData + "ref_han_cnn.pt", in, fs::copy_options::overwrite_existing);
  const std::string before = slurp(in);
  const auto r = test::run_command(kBin + "/import-weights -i " + in.string() + " -o " +
                                   (scratch() / "." / "ref.pt").string() + " --set model.kind=han_cnn" + kTinyHan +
                                   " 2>&1");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("is the input file"), std::string::npos) << r.output;
  EXPECT_EQ(slurp(in), before);
}

// Item 16: the temporary output is fsynced before it is renamed into place, then its folder.
TEST(HostileWeights, AtomicWritesSyncBeforeAndAfterTheRename) {
  if (test::run_command("command -v strace >/dev/null && strace -o /dev/null true && echo yes").output != "yes\n")
    GTEST_SKIP() << "strace cannot run here";
  const auto log = scratch() / "strace.log";
  const auto out = scratch() / "synced.ckpt";
  const auto r = test::run_command("strace -f -o " + log.string() + " -e trace=fsync,fdatasync,rename,renameat,renameat2 " +
                                   kBin + "/import-weights -i " + kData + "ref_han_cnn.pt -o " + out.string() +
                                   " --set model.kind=han_cnn" + kTinyHan + " 2>&1");
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream in(log);
  std::string line;
  std::vector<std::string> calls;
  while (std::getline(in, line)) {
    for (const char* call : {"fsync(", "fdatasync(", "rename("}) {
      const auto at = line.find(call);
      if (at != std::string::npos && line.find("= 0", at) != std::string::npos) calls.push_back(call);
    }
    if (line.find("renameat") != std::string::npos && line.find("= 0") != std::string::npos) calls.push_back("rename(");
  }
  std::string seq;
  for (const auto& c : calls) seq += c == "rename(" ? "R" : "S";
  EXPECT_NE(seq.find("SRS"), std::string::npos) << seq;
}

// Seeded fuzz of a checkpoint: truncations, bit flips with the CRC left as it was, and bit flips
// inside records with CRCs recomputed (through PyTorch's writer). Every file loads, or fails with
// one FormatError line naming it; nothing else escapes and memory stays bounded.
TEST(HostileWeights, SeededCheckpointFuzzGivesOnlyFormatErrors) {
  const auto c = tiny();
  MultiEncoderNet m(c);
  torch::optim::Adam opt(m->parameters());
  const auto good = scratch() / "fuzz_base.ckpt";
  save_checkpoint(good, *m, c, &opt, 3, Json{{"seed", 1}});
  const std::string bytes = slurp(good);
  std::mt19937_64 rng(20261125);
  const long rss_before = max_rss_kb();
  int loaded = 0, refused = 0;
  for (int k = 0; k < 150; ++k) {
    const auto p = scratch() / ("fuzz" + std::to_string(k) + ".ckpt");
    const int kind = k % 3;
    if (kind == 0) {
      spit(p, bytes.substr(0, rng() % bytes.size()));
    } else if (kind == 1) {
      std::string b = bytes;
      for (int f = 0, nf = 1 + int(rng() % 8); f < nf; ++f) b[rng() % b.size()] ^= char(1 << (rng() % 8));
      spit(p, b);
    } else {
      const uint64_t pick = rng();
      rewrite_archive(good, p, [&](const std::string&, std::string& body) {
        if (body.empty() || rng() % 4) return false;
        body[pick % body.size()] ^= char(1 << (pick % 8));
        return true;
      });
    }
    MultiEncoderNet other(c);
    torch::optim::Adam other_opt(other->parameters());
    try {
      load_checkpoint(p, *other, c, &other_opt);
      ++loaded;
    } catch (const FormatError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("checkpoint " + p.string(), 0), 0u) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
      ++refused;
    } catch (const std::exception& e) {
      ADD_FAILURE() << p << ": not a FormatError: " << typeid(e).name() << " " << e.what();
    }
    fs::remove(p);
  }
  EXPECT_EQ(loaded + refused, 150);
  EXPECT_GT(refused, 90);
  EXPECT_LT(max_rss_kb() - rss_before, 200 * 1024);
}

// Issue 23, defect 1: a tensor record shorter than the storage its pickle declares, with a CRC that
// matches the short record (PyTorch's writer recomputes it). LibTorch's reader would read past the
// record: 4 of 144 bytes loaded garbage silently, 0 bytes crashed the process (embed --single).
TEST(HostileWeights, ShortCheckpointRecordWithItsOwnCrcIsRefused) {
  ModelConfig c;
  c.kind = "han_cnn";
  c.n_classes = 5;
  c.emb_dim = 16;
  c.han.channels = {4, 8, 8, 16};
  HanCnn m(c.han, c.emb_dim, c.n_classes);
  {
    torch::NoGradGuard g;
    m->named_parameters()["linear2.0.bias"].fill_(1234.5f);
  }
  const auto good = scratch() / "short_base.ckpt";
  save_checkpoint(good, *m, c, nullptr, 1);
  const float v = 1234.5f;
  const std::string pattern(reinterpret_cast<const char*>(&v), 4);
  for (size_t keep : {size_t(0), size_t(4), size_t(16)}) {
    SCOPED_TRACE(keep);
    const auto bad = scratch() / ("short" + std::to_string(keep) + ".ckpt");
    size_t before = 0;
    rewrite_archive(good, bad, [&](const std::string&, std::string& body) {
      if (body.find(pattern + pattern) == std::string::npos) return false;
      before = body.size();
      body.resize(keep);
      return true;
    });
    ASSERT_GT(before, keep);
    HanCnn other(c.han, c.emb_dim, c.n_classes);
    const auto msg = test::error_of<FormatError>([&] { load_checkpoint(bad, *other, c); });
    EXPECT_EQ(msg.rfind("checkpoint " + bad.string() + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find("holds " + std::to_string(keep) + " bytes, its storage declares " + std::to_string(before)),
              std::string::npos)
        << msg;
    EXPECT_NE(test::error_of<FormatError>([&] { read_checkpoint_info(bad); }).find("short record"), std::string::npos);
    // The tool: one error line, exit 1, no crash.
    const auto r = test::run_command(kBin + "/embed -q --single " + bad.string() + " " + kData + "../audio/city_blues_5s.wav -o " +
                                     (scratch() / "e.npy").string() + " 2>&1");
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
  // The same file with its tensor records deflated (valid, CRCs right): LibTorch would inflate them
  // out of sight of the check above, so a deflated tensor record is refused.
  const ZipFile zip(good);
  std::vector<ZipRecord> records;
  for (const auto& e : zip.entries()) records.push_back({e.name, zip.read(e), e.name.find("/data/") != std::string::npos});
  const auto deflated = scratch() / "deflated.ckpt";
  spit(deflated, make_zip(records));
  HanCnn other(c.han, c.emb_dim, c.n_classes);
  const auto msg = test::error_of<FormatError>([&] { load_checkpoint(deflated, *other, c); });
  EXPECT_NE(msg.find("' is deflated (LibTorch stores tensor records)"), std::string::npos) << msg;
}

// Issue 23, defect 1 for import-weights: the .pth reader checks each record against its storage
// before reading it (short records with a matching CRC are refused, not read past).
TEST(HostileWeights, ShortPthRecordWithItsOwnCrcIsRefused) {
  const float vals[4] = {1.5f, -2.f, 3.f, 0.25f};
  const std::string storage(reinterpret_cast<const char*>(vals), sizeof vals);
  for (size_t keep : {size_t(0), size_t(4)}) {
    const auto p = scratch() / ("short" + std::to_string(keep) + ".pth");
    spit(p, make_zip({{"archive/data.pkl", one_tensor_pickle(4)}, {"archive/data/0", storage.substr(0, keep)}}));
    const auto msg = test::error_of<FormatError>([&] { read_torch_state_dict(p); });
    EXPECT_NE(msg.find("has " + std::to_string(keep) + " bytes, expected 16"), std::string::npos) << msg;
  }
}

// Issue 23, defect 3: a deflated record is read whole at every size, in particular where inflate has
// taken all the input but still holds output back for want of room (6,291,459- and 65,537-byte
// records of zeros were refused as "truncated" while Python's zipfile and torch.load read them).
TEST(HostileWeights, DeflatedRecordsOfEverySizeAroundTheReadBuffersAreRead) {
  std::vector<size_t> sizes{6291459, 6292459};
  for (size_t k : {1, 2, 17, 96})
    for (int d = -3; d <= 3; ++d) sizes.push_back(k * 65536 + size_t(d));
  std::mt19937 rng(23);
  int refused = 0, cases = 0;
  for (size_t n : sizes) {
    for (int pattern = 0; pattern < 3; ++pattern) {
      std::string data(n, '\0');
      for (size_t i = 0; i < n; ++i)
        data[i] = pattern == 0 ? 0 : pattern == 1 ? "pickle"[i % 6] : (i % 1000 < 3 ? char(rng()) : 0);
      // A stored record of random bytes keeps the file above the bomb limit's 1/8 of the records.
      std::string pad(n / 8, '\0');
      for (char& ch : pad) ch = char(rng());
      const auto p = scratch() / "deflated_size.pth";
      spit(p, make_zip({{"archive/data/0", pad}, {"archive/data.pkl", data, true}}));
      ++cases;
      try {
        const ZipFile zip(p);
        if (zip.read(*zip.find("archive/data.pkl")) != data) ADD_FAILURE() << n << " bytes read differently";
      } catch (const FormatError& e) {
        if (++refused <= 5) ADD_FAILURE() << "pattern " << pattern << ", " << n << " bytes: " << e.what();
      }
    }
  }
  EXPECT_EQ(refused, 0) << "of " << cases;
}

// Issue 23, defect 4: a checkpoint path that is a FIFO or a device is refused at once by the frozen
// encoders (they hash the file before reading it: the hash used to block on a FIFO and read
// /dev/zero for ever), and by the tools: embed --single / --mel.
TEST(HostileWeights, NonRegularCheckpointAndAudioPathsAreRefusedAtOnce) {
  const auto fifo = scratch() / "fifo.pt";
  fs::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto attempt = std::async(std::launch::async, [&] {
    std::string out;
    for (const fs::path& p : {fifo, fs::path("/dev/zero")}) {
      out += test::error_of<IoError>([&] { SingleEncoder e(p, torch::kCPU); }) + "\n";
      out += test::error_of<IoError>([&] { MultiEncoder e(p, torch::kCPU); }) + "\n";
    }
    return out;
  });
  if (attempt.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    std::ofstream unblock(fifo);  // let a blocked reader go on
    FAIL() << "loading a FIFO checkpoint blocks";
  }
  const auto msgs = attempt.get();
  EXPECT_EQ(std::count(msgs.begin(), msgs.end(), '\n'), 4) << msgs;
  for (const std::string p : {fifo.string(), std::string("/dev/zero")})
    EXPECT_NE(msgs.find("checkpoint " + p + ": not a regular file"), std::string::npos) << msgs;
  const std::string wav = kData + "../audio/city_blues_5s.wav";
  const std::string out = (scratch() / "e.npy").string();
  for (const std::string& args : std::vector<std::string>{"--single " + fifo.string() + " " + wav,
                                                          "--single /dev/zero " + wav, "--mel " + fifo.string(),
                                                          "--mel /dev/zero"}) {
    const auto r = test::run_command("timeout 20 " + kBin + "/embed -q " + args + " -o " + out + " 2>&1");
    EXPECT_EQ(r.code, 1) << args << ": " << r.output;
    EXPECT_NE(r.output.find("not a regular file"), std::string::npos) << args << ": " << r.output;
  }
}

// Issue 23, defect 5: each pickle byte could make an object of ~200 bytes (a 1 MB .pth peaked at
// 1.2 GB; a bound of a quarter of the bytes in objects still left ~40 bytes per byte). The
// interpreter charges what it allocates against 32 MiB plus the file's size, and import-weights' peak
// memory on a pickle-only bomb stays within that above a real file's.
TEST(HostileWeights, PickleMemoryIsBoundedByItsSize) {
  // 4 million NONE opcodes: 4 million objects before the check.
  const std::string nones = "\x80\x02" + std::string(4000000, 'N') + ".";
  const auto bomb = scratch() / "nones.pth";
  spit(bomb, make_zip({{"archive/data.pkl", nones}}));
  const std::string needs = "the pickle needs more than " + std::to_string(32 + fs::file_size(bomb) / (1 << 20)) +
                            " MiB to interpret, more than a state_dict in a " +
                            std::to_string(fs::file_size(bomb)) + "-byte file can";
  const auto msg = test::error_of<FormatError>([&] { read_torch_state_dict(bomb); });
  EXPECT_NE(msg.find(needs), std::string::npos) << msg;
  // 2 million memo entries of one object (MEMOIZE, one byte each), and 3 million references to one
  // memoized object on the stack (BINGET, two bytes each): neither makes new objects.
  const std::string memo = "\x80\x02N" + std::string(2000000, '\x94') + ".";
  std::string gets = "\x80\x02N\x94";
  for (int i = 0; i < 3000000; ++i) gets += std::string("h\0", 2);
  for (const auto& [name, pickle] : {std::pair{"memo.pth", memo}, std::pair{"gets.pth", gets + "."}}) {
    const auto memo_bomb = scratch() / name;
    spit(memo_bomb, make_zip({{"archive/data.pkl", pickle}}));
    EXPECT_NE(test::error_of<FormatError>([&] { read_torch_state_dict(memo_bomb); }).find("the pickle needs more than"),
              std::string::npos)
        << name;
  }
  // Views are charged by their dimensions, and more than 64 are refused: a memoized size tuple of N
  // ones, reused by every REDUCE, cost 16 N uncharged bytes per 14 pickle bytes (20,000 views of 64
  // dimensions were charged about 18 MB of the 33 MiB budget; now about 75 MB).
  auto views = [](int dims, int count) {
    std::string p = "\x80\x02}" + pickle_string("w") + "](";  // {"w": [storage, size, fn, views...]}
    p += "(" + pickle_string("storage") + "ctorch\nFloatStorage\n" + pickle_string("0") + pickle_string("cpu") +
         pickle_long(1) + "tQq\x01";  // memo 1: the storage
    p += "(";
    for (int d = 0; d < dims; ++d) p += "K\x01";
    p += "tq\x02";                                         // memo 2: the size tuple, also the strides
    p += "ctorch._utils\n_rebuild_tensor_v2\nq\x03";      // memo 3: the function
    const std::string view("h\x03(h\x01K\x00h\x02h\x02\x89tR", 14);  // one view
    for (int i = 0; i < count; ++i) p += view;
    return p + "es.";
  };
  const auto deep = scratch() / "deep_view.pth";
  spit(deep, make_zip({{"archive/data.pkl", views(65, 1)}, {"archive/data/0", std::string(4, '\0')}}));
  const auto deep_msg = test::error_of<FormatError>([&] { read_torch_state_dict(deep); });
  EXPECT_NE(deep_msg.find("more than 64 dimensions"), std::string::npos) << deep_msg;
  const auto many = scratch() / "many_views.pth";
  spit(many, make_zip({{"archive/data.pkl", views(64, 20000)}, {"archive/data/0", std::string(4, '\0')}}));
  const auto many_msg = test::error_of<FormatError>([&] { read_torch_state_dict(many); });
  EXPECT_NE(many_msg.find("the pickle needs more than"), std::string::npos) << many_msg;
  // A storage key is a short name (torch.save numbers them), not 64 KB hashed on every reference.
  std::string long_key = one_tensor_pickle(1);
  long_key.replace(long_key.find(pickle_string("0")), pickle_string("0").size(), pickle_string(std::string(100, '7')));
  const auto keyed = scratch() / "long_key.pth";
  spit(keyed, make_zip({{"archive/data.pkl", long_key}, {"archive/data/" + std::string(100, '7'), std::string(4, '\0')}}));
  const auto keyed_msg = test::error_of<FormatError>([&] { read_torch_state_dict(keyed); });
  EXPECT_NE(keyed_msg.find("storage key is not a short string"), std::string::npos) << keyed_msg;
  // A list that holds itself is refused (not a state_dict) and its cycle freed with the interpreter.
  const auto cycle = scratch() / "cycle.pth";
  spit(cycle, make_zip({{"archive/data.pkl", std::string("\x80\x02]q\x00h\x00" "a.", 9)}}));
  const auto cycle_msg = test::error_of<FormatError>([&] { read_torch_state_dict(cycle); });
  EXPECT_NE(cycle_msg.find("not a dict of named tensors"), std::string::npos) << cycle_msg;
  // The tool's peak memory on the 4 MB bomb, against a real file's (LibTorch's own share).
  auto peak_kib = [&](const fs::path& in) {
    const auto r = test::run_command("/usr/bin/time -f 'rss %M' " + kBin + "/import-weights -q -i " + in.string() +
                                     " -o " + (scratch() / "peak.ckpt").string() + " --set model.kind=han_cnn" +
                                     kTinyHan + " 2>&1");
    const auto at = r.output.rfind("rss ");
    return at == std::string::npos ? -1L : std::stol(r.output.substr(at + 4));
  };
  const long base = peak_kib(kData + "ref_han_cnn.pt"), hostile = peak_kib(bomb);
  ASSERT_GT(base, 0);
  ASSERT_GT(hostile, 0);
  // The budget (36 MiB) plus the 4 MB pickle and the stack's spare capacity: under 64 MiB above the
  // base. A bound of 1 M objects took ~170 MiB; no bound, ~700 MiB.
  EXPECT_LT(hostile - base, 64 * 1024) << "base " << base << " KiB, hostile " << hostile << " KiB";
}
