// A defensive reader of the zip containers that torch.save and LibTorch archives are: every read is
// bounded by the file's size, every record's CRC-32 is verified, nothing is trusted before it is checked.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace instret {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;           // 0 stored, 8 deflated (the only two accepted)
  uint32_t crc = 0;              // CRC-32 of the uncompressed bytes, from the central directory
  uint64_t compressed_size = 0;  // bytes in the file
  uint64_t size = 0;             // bytes once inflated
  uint64_t data_offset = 0;      // where the record's bytes start (after its local header)
};

class ZipFile {
 public:
  // Opens `path` and reads its central directory. Throws IoError (naming the file) when it cannot be
  // opened or is not a regular file (a FIFO, a device: nothing is read from those), FormatError
  // (without the file name, for the caller to add) when the first bytes are not a zip local header,
  // or the directory is malformed: records outside the file or overlapping each other, a stored
  // record whose two sizes differ, a compression method other than stored/deflate, encryption,
  // duplicate names, or records that together inflate to more than 8x the file size plus 1 MiB.
  explicit ZipFile(const std::filesystem::path& path);
  ~ZipFile();
  ZipFile(const ZipFile&) = delete;
  ZipFile& operator=(const ZipFile&) = delete;

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;
  uint64_t file_size() const { return file_size_; }

  // Streams the record's uncompressed bytes to `sink` in chunks, never more than its declared size;
  // throws FormatError when it inflates to more or fewer bytes than declared, or fails its CRC-32.
  void stream(const ZipEntry& e, const std::function<void(const char*, size_t)>& sink) const;
  // Reads the record into `dst`, which has room for exactly e.size bytes (checked as stream()).
  void read(const ZipEntry& e, void* dst) const;
  std::string read(const ZipEntry& e) const;
  // Checks every record (sizes and CRC-32) without keeping any of it.
  void verify_all() const;
  // Reads `n` raw bytes of the file at `offset` (within the file, else FormatError).
  void pread_exact(uint64_t offset, void* dst, size_t n) const;

 private:
  int fd_ = -1;
  uint64_t file_size_ = 0;
  std::vector<ZipEntry> entries_;
};

// CRC-32 (zip / zlib polynomial) of `n` bytes, continuing from `crc` (0 to start).
uint32_t crc32_update(uint32_t crc, const void* data, size_t n);

}  // namespace instret
