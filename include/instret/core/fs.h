// File-system helpers: atomic output (write to a temporary name, rename when complete).
#pragma once
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

namespace instret {

// A unique temporary sibling of `target` ("<target>.tmp.<pid>.<n>"), on the same file system.
std::filesystem::path temp_path_for(const std::filesystem::path& target);

// Calls `write(tmp)` to fill a temporary sibling of `target`, fsyncs it, renames it onto `target`
// and fsyncs the folder, so that after a crash `target` is the old file or the complete new one.
// The parent directory is created. If `write` throws, the temporary is removed, `target` is
// left untouched and the exception propagates.
void write_atomically(const std::filesystem::path& target,
                      const std::function<void(const std::filesystem::path& tmp)>& write);

// Writes `bytes` to `target` atomically.
void write_file_atomically(const std::filesystem::path& target, const std::string& bytes);

// A file opened for reading only once it is known to be a regular file: it is opened without waiting
// (a FIFO with no writer does not block the open), then fstat'ed, so that the file checked is the file
// read. A FIFO, device (/dev/zero), socket or folder is an IoError naming it, before any byte is read:
// reading one would hang or never end. Every reader of a user-given path goes through it.
class RegularFile {
 public:
  explicit RegularFile(const std::filesystem::path& path);
  ~RegularFile();
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }  // at open time
  // Reads up to `n` bytes (fewer only at the end of the file); IoError on a read error.
  size_t read(void* buf, size_t n);
  // Gives up ownership of the descriptor (the caller closes it).
  int release();

 private:
  std::string name_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Reads a whole regular file (RegularFile); throws IoError naming the file when it cannot be read.
std::string read_file(const std::filesystem::path& path);

// 16 hex digits of fnv1a (core/hash.h) of a regular file's bytes (IoError when unreadable or not a
// regular file), read in blocks.
std::string file_hash(const std::filesystem::path& path);

// 16 hex digits identifying a large file's bytes (and length) at memory speed: four interleaved
// xxHash64-style lanes over 64-bit words, mixed at the end. For change detection of multi-GB files
// (a library and its FAISS index); identities stored in files keep using file_hash. The path form
// reads regular files only; the FILE* form hashes from the current position to the end (`name` names
// it in errors).
std::string fast_file_hash(const std::filesystem::path& path);
std::string fast_file_hash(std::FILE* file, const std::string& name);

}  // namespace instret
