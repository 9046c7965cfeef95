#include "instret/core/zip.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>

#include "instret/core/error.h"
#include "instret/core/fs.h"

namespace instret {

namespace {

constexpr size_t kChunk = 1 << 16;

uint16_t le16(const unsigned char* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t le32(const unsigned char* p) { return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24); }
uint64_t le64(const unsigned char* p) { return uint64_t(le32(p)) | (uint64_t(le32(p + 4)) << 32); }

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

// A name as it can be printed on one line: bytes outside printable ASCII become \xNN.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace

uint32_t crc32_update(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const Bytef*>(data);
  while (n) {
    const uInt k = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = static_cast<uint32_t>(::crc32(crc, p, k));
    p += k;
    n -= k;
  }
  return crc;
}

ZipFile::ZipFile(const std::filesystem::path& path) {
  {
    // A FIFO or device is refused before a byte is read (core/fs.h).
    RegularFile file(path);
    file_size_ = file.size();
    fd_ = file.release();
  }
  try {
    unsigned char magic[4];
    if (file_size_ < 4) throw FormatError("not a zip archive (" + std::to_string(file_size_) + " bytes)");
    pread_exact(0, magic, 4);
    if (le32(magic) != 0x04034b50) throw FormatError("not a zip archive (no PK local header at the start)");
    if (file_size_ < 22) throw FormatError("truncated zip archive (no end of central directory)");

    // End of central directory: the last 22 bytes plus a comment of up to 65535.
    const uint64_t tail_len = std::min<uint64_t>(file_size_, 22 + 65535);
    std::vector<unsigned char> tail(tail_len);
    pread_exact(file_size_ - tail_len, tail.data(), tail_len);
    int64_t eocd = -1;
    for (int64_t i = int64_t(tail_len) - 22; i >= 0; --i)
      if (le32(&tail[i]) == 0x06054b50 && uint64_t(i) + 22 + le16(&tail[i + 20]) == tail_len) {
        eocd = i;
        break;
      }
    if (eocd < 0) throw FormatError("truncated zip archive (no end of central directory)");
    const unsigned char* e = &tail[eocd];
    if (le16(e + 4) != 0 || le16(e + 6) != 0) throw FormatError("multi-disk zip archives are not supported");
    uint64_t n_entries = le16(e + 10), cd_size = le32(e + 12), cd_offset = le32(e + 16);
    const uint64_t eocd_pos = file_size_ - tail_len + uint64_t(eocd);
    if (n_entries == 0xffff || cd_size == 0xffffffffu || cd_offset == 0xffffffffu) {
      // Zip64: the locator sits just before the end record and points at the zip64 end record.
      unsigned char loc[20], z[56];
      if (eocd_pos < 20) throw FormatError("broken zip64 end of central directory");
      pread_exact(eocd_pos - 20, loc, 20);
      if (le32(loc) != 0x07064b50) throw FormatError("broken zip64 end of central directory");
      const uint64_t z_pos = le64(loc + 8);
      if (z_pos > eocd_pos || eocd_pos - z_pos < 56) throw FormatError("broken zip64 end of central directory");
      pread_exact(z_pos, z, 56);
      if (le32(z) != 0x06064b50) throw FormatError("broken zip64 end of central directory");
      n_entries = le64(z + 32);
      cd_size = le64(z + 40);
      cd_offset = le64(z + 48);
    }
    if (cd_offset > file_size_ || cd_size > file_size_ - cd_offset || n_entries > cd_size / 46)
      throw FormatError("zip central directory lies outside the file");
    std::vector<unsigned char> cd(cd_size);
    pread_exact(cd_offset, cd.data(), cd_size);

    struct Span {
      uint64_t begin, end;
      size_t index;
    };
    std::vector<Span> spans;
    std::map<std::string, size_t> lower_names;
    uint64_t total_size = 0;
    size_t p = 0;
    for (uint64_t k = 0; k < n_entries; ++k) {
      if (cd_size - p < 46 || le32(&cd[p]) != 0x02014b50) throw FormatError("broken zip central directory");
      const unsigned char* c = &cd[p];
      ZipEntry entry;
      const uint16_t flags = le16(c + 8);
      entry.method = le16(c + 10);
      entry.crc = le32(c + 16);
      entry.compressed_size = le32(c + 20);
      entry.size = le32(c + 24);
      const size_t name_len = le16(c + 28), extra_len = le16(c + 30), comment_len = le16(c + 32);
      uint64_t local = le32(c + 42);
      if (cd_size - p - 46 < name_len + extra_len + comment_len) throw FormatError("broken zip central directory");
      entry.name.assign(reinterpret_cast<const char*>(c + 46), name_len);
      // Zip64 extra field: the 64-bit values of the fields that are all ones, in this order.
      for (size_t x = 0; x + 4 <= extra_len;) {
        const unsigned char* f = c + 46 + name_len + x;
        const size_t len = le16(f + 2);
        if (x + 4 + len > extra_len) break;
        if (le16(f) == 0x0001) {
          size_t q = 4;
          auto take = [&](uint64_t& v) {
            if (v != 0xffffffffu) return;
            if (q + 8 > 4 + len) throw FormatError("broken zip64 extra field of '" + printable(entry.name) + "'");
            v = le64(f + q);
            q += 8;
          };
          take(entry.size);
          take(entry.compressed_size);
          take(local);
        }
        x += 4 + len;
      }
      p += 46 + name_len + extra_len + comment_len;
      const std::string shown = "zip record '" + printable(entry.name) + "'";
      if (flags & 1) throw FormatError(shown + " is encrypted");
      if (entry.method != 0 && entry.method != 8)
        throw FormatError(shown + " uses compression method " + std::to_string(entry.method) +
                          " (only stored and deflate are read)");
      if (entry.method == 0 && entry.compressed_size != entry.size)
        throw FormatError(shown + " is stored but declares " + std::to_string(entry.size) + " bytes in " +
                          std::to_string(entry.compressed_size));
      // The local header: its name must agree; its extra field (alignment padding) can differ.
      unsigned char lh[30];
      if (local > file_size_ || file_size_ - local < 30) throw FormatError(shown + " lies outside the file");
      pread_exact(local, lh, 30);
      if (le32(lh) != 0x04034b50) throw FormatError(shown + " has no local header");
      const uint64_t l_name = le16(lh + 26), l_extra = le16(lh + 28);
      entry.data_offset = local + 30 + l_name + l_extra;
      if (l_name != name_len) throw FormatError(shown + ": its local header names another record");
      if (entry.data_offset > file_size_ || entry.compressed_size > file_size_ - entry.data_offset)
        throw FormatError(shown + " lies outside the file (truncated?)");
      std::string l_name_bytes(l_name, '\0');
      pread_exact(local + 30, l_name_bytes.data(), l_name);
      if (l_name_bytes != entry.name) throw FormatError(shown + ": local header names another record");
      std::string lower = entry.name;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
      if (!lower_names.emplace(lower, entries_.size()).second) throw FormatError(shown + " appears twice");
      if (__builtin_add_overflow(total_size, entry.size, &total_size)) total_size = UINT64_MAX;
      spans.push_back({local, entry.data_offset + entry.compressed_size, entries_.size()});
      entries_.push_back(std::move(entry));
    }
    // Records may not share bytes (overlapping records inflate one payload many times), nor overlap
    // the central directory.
    spans.push_back({cd_offset, cd_offset + cd_size, SIZE_MAX});
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
    for (size_t k = 1; k < spans.size(); ++k)
      if (spans[k].begin < spans[k - 1].end) {
        const size_t i = spans[k].index != SIZE_MAX ? spans[k].index : spans[k - 1].index;
        throw FormatError("zip record '" + printable(entries_.at(i).name) + "' overlaps another record");
      }
    const uint64_t limit = file_size_ * 8 + (1u << 20);
    if (total_size > limit)
      throw FormatError("zip records declare " + std::to_string(total_size) + " bytes in all, more than 8x the " +
                        std::to_string(file_size_) + "-byte file (a decompression bomb?)");
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

ZipFile::~ZipFile() {
  if (fd_ >= 0) ::close(fd_);
}

const ZipEntry* ZipFile::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

void ZipFile::pread_exact(uint64_t offset, void* dst, size_t n) const {
  if (offset > file_size_ || n > file_size_ - offset) throw FormatError("zip archive truncated");
  auto* out = static_cast<char*>(dst);
  while (n) {
    const ssize_t got = ::pread(fd_, out, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) throw FormatError(got == 0 ? "zip archive truncated while reading" : std::string("read failed: ") + std::strerror(errno));
    out += got;
    offset += uint64_t(got);
    n -= size_t(got);
  }
}

void ZipFile::stream(const ZipEntry& e, const std::function<void(const char*, size_t)>& sink) const {
  const std::string shown = "zip record '" + printable(e.name) + "'";
  std::vector<char> in(kChunk);
  uint32_t crc = 0;
  uint64_t produced = 0;
  if (e.method == 0) {
    for (uint64_t done = 0; done < e.size;) {
      const size_t n = size_t(std::min<uint64_t>(kChunk, e.size - done));
      pread_exact(e.data_offset + done, in.data(), n);
      crc = crc32_update(crc, in.data(), n);
      sink(in.data(), n);
      done += n;
    }
    produced = e.size;
  } else {
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw FormatError(shown + ": cannot start inflating");
    std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
    std::vector<char> out(kChunk);
    uint64_t consumed = 0;
    int rc = Z_OK;
    // Set when inflate filled all the room it had: it may hold output back though it has all the
    // input, so it is called again before the input can be judged to end too early.
    bool output_pending = false;
    while (rc != Z_STREAM_END) {
      if (z.avail_in == 0 && !output_pending) {
        if (consumed == e.compressed_size) throw FormatError(shown + " is truncated (its deflate stream does not end)");
        const size_t n = size_t(std::min<uint64_t>(kChunk, e.compressed_size - consumed));
        pread_exact(e.data_offset + consumed, in.data(), n);
        consumed += n;
        z.next_in = reinterpret_cast<Bytef*>(in.data());
        z.avail_in = uInt(n);
      }
      // Never inflate past the declared size: one byte of room beyond it detects a longer stream.
      const uint64_t room = std::min<uint64_t>(kChunk, e.size - produced + 1);
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = uInt(room);
      rc = inflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && !(rc == Z_BUF_ERROR && z.avail_in == 0))
        throw FormatError(shown + " holds a broken deflate stream");
      const size_t n = size_t(room - z.avail_out);
      output_pending = z.avail_out == 0;
      if (produced + n > e.size)
        throw FormatError(shown + " inflates beyond its declared " + std::to_string(e.size) + " bytes");
      crc = crc32_update(crc, out.data(), n);
      if (n) sink(out.data(), n);
      produced += n;
    }
  }
  if (produced != e.size)
    throw FormatError(shown + " inflates to " + std::to_string(produced) + " bytes, declares " + std::to_string(e.size));
  if (crc != e.crc)
    throw FormatError(shown + " fails its CRC-32 check (stored " + hex32(e.crc) + ", computed " + hex32(crc) +
                      "): the file is corrupted");
}

void ZipFile::read(const ZipEntry& e, void* dst) const {
  auto* out = static_cast<char*>(dst);
  uint64_t done = 0;
  stream(e, [&](const char* p, size_t n) {
    std::memcpy(out + done, p, n);  // stream() never exceeds e.size
    done += n;
  });
}

std::string ZipFile::read(const ZipEntry& e) const {
  std::string s(size_t(e.size), '\0');
  read(e, s.data());
  return s;
}

void ZipFile::verify_all() const {
  for (const auto& e : entries_) stream(e, [](const char*, size_t) {});
}

}  // namespace instret
