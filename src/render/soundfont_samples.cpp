#include "instret/render/soundfont_samples.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>

#include "instret/core/error.h"
#include "instret/core/fs.h"

namespace instret {
namespace fs = std::filesystem;
namespace {

constexpr uint16_t kGenInstrument = 41, kGenSampleId = 53;  // SoundFont 2.04, 8.1.2
constexpr uint64_t kMaxPdtaBytes = uint64_t(64) << 20;     // header tables, not audio (GeneralUser GS: 0.4 MiB)
constexpr int kMaxTopChunks = 64;                           // a SoundFont has 3 (INFO, sdta, pdta)

uint32_t u32(const unsigned char* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
uint16_t u16(const unsigned char* p) { return uint16_t(p[0] | p[1] << 8); }

// A 20-byte name field as UTF-8: up to its first NUL, trailing spaces removed, each byte read as
// Latin-1 (the spec asks for ASCII; real files hold Latin-1 names such as "Fl\xfbte").
std::string record_name(const unsigned char* p) {
  size_t n = 0;
  while (n < 20 && p[n] != 0) ++n;
  while (n > 0 && p[n - 1] == ' ') --n;
  std::string name;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] < 0x80) {
      name.push_back(char(p[i]));
    } else {
      name.push_back(char(0xC0 | (p[i] >> 6)));
      name.push_back(char(0x80 | (p[i] & 0x3F)));
    }
  }
  return name;
}

}  // namespace

std::map<std::pair<int, int>, std::vector<std::string>> soundfont_preset_samples(const fs::path& path) {
  RegularFile file(path);
  const std::string where = path.string() + ": ";
  auto bad = [&](const std::string& what) { return FormatError(where + "not a readable SoundFont (" + what + ")"); };
  auto read_at = [&](uint64_t offset, size_t n) {
    std::string bytes(n, '\0');
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::pread(file.fd(), bytes.data() + got, n - got, off_t(offset + got));
      if (r < 0) throw IoError(where + "read error");
      if (r == 0) throw bad("the file ends inside a chunk");
      got += size_t(r);
    }
    return bytes;
  };
  const uint64_t size = file.size();
  if (size < 12) throw bad("shorter than a RIFF header");
  const std::string head = read_at(0, 12);
  if (head.compare(0, 4, "RIFF") != 0 || head.compare(8, 4, "sfbk") != 0) throw bad("no RIFF sfbk header");
  // The top-level chunks: find LIST pdta.
  std::string pdta;
  int chunks = 0;
  for (uint64_t pos = 12; pos + 8 <= size;) {
    if (++chunks > kMaxTopChunks) throw bad("more than " + std::to_string(kMaxTopChunks) + " top-level chunks");
    const std::string h = read_at(pos, 8);
    const uint64_t len = u32(reinterpret_cast<const unsigned char*>(h.data()) + 4);
    if (h.compare(0, 4, "LIST") == 0 && len >= 4 && pos + 12 <= size && read_at(pos + 8, 4) == "pdta") {
      // The last chunk: a declared size past the end of the file (FluidSynth does not check it) is
      // read up to the end.
      const uint64_t have = std::min<uint64_t>(len, size - pos - 8);
      if (have > kMaxPdtaBytes) throw bad("a pdta chunk of " + std::to_string(len) + " bytes");
      pdta = read_at(pos + 12, size_t(have - 4));
      break;
    }
    if (pos + 8 + len > size) throw bad("chunk '" + h.substr(0, 4) + "' runs past the end of the file");
    // RIFF pads odd chunks to an even size, but some writers (MuseScore's .sf3) do not.
    pos += 8 + len;
    if ((len & 1) && pos + 4 <= size && read_at(pos, 4) != "LIST") ++pos;
  }
  if (pdta.empty()) throw bad("no pdta chunk");
  std::map<std::string, std::pair<const unsigned char*, size_t>> tables;  // id -> (records, count)
  const auto* base = reinterpret_cast<const unsigned char*>(pdta.data());
  const std::map<std::string, size_t> record_size = {{"phdr", 38}, {"pbag", 4}, {"pmod", 10}, {"pgen", 4},
                                                     {"inst", 22}, {"ibag", 4}, {"imod", 10}, {"igen", 4},
                                                     {"shdr", 46}};
  for (size_t pos = 0; pos + 8 <= pdta.size();) {
    const std::string id = pdta.substr(pos, 4);
    const size_t len = u32(base + pos + 4);
    if (len > pdta.size() - pos - 8) throw bad("pdta sub-chunk '" + id + "' runs past its chunk");
    if (const auto it = record_size.find(id); it != record_size.end()) {
      // Every table used below ends with a terminal record; pmod and imod are not used (may be empty).
      if (len % it->second != 0 || (len == 0 && id != "pmod" && id != "imod"))
        throw bad("pdta '" + id + "' of " + std::to_string(len) + " bytes");
      tables[id] = {base + pos + 8, len / it->second};
    }
    pos += 8 + len;
    if ((len & 1) && pos + 4 <= pdta.size() && !record_size.count(pdta.substr(pos, 4))) ++pos;
  }
  for (const char* id : {"phdr", "pbag", "pgen", "inst", "ibag", "igen", "shdr"})
    if (!tables.count(id)) throw bad(std::string("no pdta '") + id + "'");
  const auto [phdr, n_presets] = tables["phdr"];
  const auto [pbag, n_pbag] = tables["pbag"];
  const auto [pgen, n_pgen] = tables["pgen"];
  const auto [inst, n_inst] = tables["inst"];
  const auto [ibag, n_ibag] = tables["ibag"];
  const auto [igen, n_igen] = tables["igen"];
  const auto [shdr, n_shdr] = tables["shdr"];
  // Header tables index their zones, and zones their generators, in increasing order (the spec
  // requires it, FluidSynth refuses files that break it): checked once, so that every loop below
  // walks each table at most once whatever the indices say.
  auto monotonic = [&](const unsigned char* table, size_t stride, size_t offset, size_t n, size_t limit,
                       const char* what) {
    for (size_t r = 0; r < n; ++r) {
      const size_t v = u16(table + r * stride + offset);
      if (v >= limit || (r > 0 && v < u16(table + (r - 1) * stride + offset)))
        throw bad(std::string(what) + " indices out of range or out of order");
    }
  };
  monotonic(phdr, 38, 24, n_presets, n_pbag, "preset zone");
  monotonic(inst, 22, 20, n_inst, n_ibag, "instrument zone");
  monotonic(pbag, 4, 0, n_pbag, n_pgen, "preset generator");
  monotonic(ibag, 4, 0, n_ibag, n_igen, "instrument generator");
  // The zones [first, last) of record r of a header table whose bag index is at `offset`; the last
  // record of every table is its terminal one.
  auto zones = [&](const unsigned char* table, size_t stride, size_t offset, size_t r, size_t n_bags) {
    const size_t first = u16(table + r * stride + offset), last = u16(table + (r + 1) * stride + offset);
    if (first > last || last >= n_bags) throw bad("a header's zones out of range");
    return std::make_pair(first, last);
  };
  auto gens = [&](const unsigned char* bags, size_t b, size_t n_gens) {
    const size_t first = u16(bags + b * 4), last = u16(bags + (b + 1) * 4);
    if (first > last || last > n_gens) throw bad("a zone's generators out of range");
    return std::make_pair(first, last);
  };
  // Each instrument's samples once (a preset zone may name any instrument, many zones the same one).
  std::vector<std::vector<size_t>> inst_samples(n_inst);
  std::vector<char> inst_read(n_inst, 0);
  auto samples_of = [&](size_t i) -> const std::vector<size_t>& {
    if (i + 1 >= n_inst) throw bad("a preset zone names instrument " + std::to_string(i) + " of " + std::to_string(n_inst - 1));
    if (!inst_read[i]) {
      const auto [ib0, ib1] = zones(inst, 22, 20, i, n_ibag);
      for (size_t c = ib0; c < ib1; ++c) {
        const auto [h0, h1] = gens(ibag, c, n_igen);
        for (size_t h = h0; h < h1; ++h) {
          if (u16(igen + h * 4) != kGenSampleId) continue;
          const size_t s = u16(igen + h * 4 + 2);
          if (s + 1 >= n_shdr) throw bad("an instrument zone names sample " + std::to_string(s) + " of " + std::to_string(n_shdr - 1));
          inst_samples[i].push_back(s);
          break;  // a zone's sampleID is its last generator: FluidSynth ignores any after it
        }
      }
      inst_read[i] = 1;
    }
    return inst_samples[i];
  };
  std::map<std::pair<int, int>, std::vector<std::string>> out;
  for (size_t p = 0; p + 1 < n_presets; ++p) {
    std::set<size_t> instruments;
    const auto [pb0, pb1] = zones(phdr, 38, 24, p, n_pbag);
    for (size_t b = pb0; b < pb1; ++b) {
      const auto [g0, g1] = gens(pbag, b, n_pgen);
      for (size_t g = g0; g < g1; ++g)
        if (u16(pgen + g * 4) == kGenInstrument) {
          instruments.insert(u16(pgen + g * 4 + 2));
          break;  // a zone's instrument is its last generator: FluidSynth ignores any after it
        }
    }
    std::set<std::string> names;
    for (size_t i : instruments)
      for (size_t s : samples_of(i))
        if (std::string name = record_name(shdr + s * 46); !name.empty()) names.insert(std::move(name));
    auto& list = out[{int(u16(phdr + p * 38 + 22)), int(u16(phdr + p * 38 + 20))}];
    list.insert(list.end(), names.begin(), names.end());
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
  }
  return out;
}

}  // namespace instret
