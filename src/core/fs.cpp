#include "instret/core/fs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <atomic>
#include <memory>
#include <fstream>
#include <sstream>
#include <vector>
#include <cstdio>

#include "instret/core/error.h"
#include "instret/core/hash.h"

namespace instret {
namespace fs = std::filesystem;

namespace {

// fsync of a file or folder: without it, a power loss after the rename can leave the final name
// pointing at an empty or partial file, or the rename itself undone.
void sync_path(const fs::path& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) throw IoError(path.string() + ": cannot open to sync: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems cannot sync folders (EINVAL); the data itself must reach the disk.
  if (rc != 0 && !(directory && (err == EINVAL || err == EROFS)))
    throw IoError(path.string() + ": fsync failed: " + std::strerror(err));
}

}  // namespace

fs::path temp_path_for(const fs::path& target) {
  static std::atomic<unsigned long> counter{0};
  return fs::path(target.string() + ".tmp." + std::to_string(::getpid()) + "." +
                  std::to_string(counter++));
}

void write_atomically(const fs::path& target, const std::function<void(const fs::path&)>& write) {
  std::error_code ec;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) throw IoError(target.parent_path().string() + ": cannot create directory: " + ec.message());
  }
  // The temporary is created and locked (flock) before `write` fills it, and stays locked until it
  // has its final name: remove_stale_temporaries (core/temp_files.h) leaves a locked temporary alone,
  // which also protects it from a cleaner on another host that shares the folder. A name that
  // exists (a killed process's temporary whose pid this process now has) is skipped, never reused.
  fs::path tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 1000 && fd < 0; ++attempt) {
    tmp = temp_path_for(target);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);  // the umask decides, as for any file
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    const int err = errno;
    throw IoError(tmp.string() + ": cannot create: " + std::strerror(err));
  }
  struct Lock {
    int fd;
    ~Lock() { ::close(fd); }
  } const lock{fd};
  // Blocking: a cleaner's probe holds the lock only for an instant. A file system without locks
  // fails at once, leaving the cleaner's pid check alone.
  ::flock(lock.fd, LOCK_EX);
  try {
    write(tmp);
    sync_path(tmp, false);
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw IoError(target.string() + ": cannot rename temporary output into place: " + ec.message());
  }
  sync_path(target.has_parent_path() ? target.parent_path() : fs::path("."), true);
}

void write_file_atomically(const fs::path& target, const std::string& bytes) {
  write_atomically(target, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw IoError(tmp.string() + ": cannot open for writing");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw IoError(target.string() + ": write failed (disk full?)");
  });
}

RegularFile::RegularFile(const fs::path& path) : name_(path.string()) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below without a read.
  fd_ = ::open(name_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) throw IoError(name_ + ": cannot open for reading: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    const bool dir = S_ISDIR(st.st_mode);
    ::close(fd_);
    fd_ = -1;
    throw IoError(name_ + (dir ? ": is a folder, not a file" : ": not a regular file (a FIFO, device or socket)"));
  }
  size_ = static_cast<uint64_t>(st.st_size);
  // Reads of a regular file never wait; the flag is cleared all the same for whoever gets the descriptor.
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

size_t RegularFile::read(void* buf, size_t n) {
  auto* out = static_cast<char*>(buf);
  size_t done = 0;
  while (done < n) {
    const ssize_t got = ::read(fd_, out + done, n - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw IoError(name_ + ": read failed: " + std::strerror(errno));
    if (got == 0) break;
    done += size_t(got);
  }
  return done;
}

int RegularFile::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

std::string read_file(const fs::path& path) {
  RegularFile file(path);
  std::string out;
  // The size at open time is a hint only (a file can grow meanwhile): read to the end.
  out.resize(size_t(file.size()) + 1);
  size_t have = 0;
  for (;;) {
    if (have == out.size()) out.resize(out.size() * 2);
    const size_t got = file.read(out.data() + have, out.size() - have);
    have += got;
    if (have < out.size()) break;
  }
  out.resize(have);
  return out;
}

std::string file_hash(const std::filesystem::path& path) {
  RegularFile file(path);
  uint64_t h = 1469598103934665603ull;
  std::vector<char> buf(1 << 16);
  while (const size_t got = file.read(buf.data(), buf.size())) {
    for (size_t i = 0; i < got; ++i) {
      h ^= static_cast<unsigned char>(buf[i]);
      h *= 1099511628211ull;
    }
    if (got < buf.size()) break;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

std::string fast_file_hash(std::FILE* file, const std::string& name) {
  // xxHash64's round on four lanes (each word: lane += w * P2, rotate 31, times P1: every input bit
  // reaches every lane bit), then the lanes and the length through SplitMix64.
  constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull, kP2 = 0xC2B2AE3D27D4EB4Full;
  auto round = [](uint64_t lane, uint64_t w) {
    lane += w * kP2;
    lane = (lane << 31) | (lane >> 33);
    return lane * kP1;
  };
  uint64_t lane[4] = {kP1 + kP2, kP2, 0, 0 - kP1};
  uint64_t total = 0;
  std::vector<uint64_t> buf(1 << 17);  // 1 MiB
  for (;;) {
    const size_t got = std::fread(buf.data(), 1, buf.size() * sizeof(uint64_t), file);
    if (got == 0) break;
    if (got % sizeof(uint64_t) != 0)  // the tail: zero-padded to a whole word (the length is mixed in below)
      std::memset(reinterpret_cast<char*>(buf.data()) + got, 0, sizeof(uint64_t) - got % sizeof(uint64_t));
    const size_t words = (got + sizeof(uint64_t) - 1) / sizeof(uint64_t);
    size_t w = 0;
    for (; w + 4 <= words; w += 4)
      for (int k = 0; k < 4; ++k) lane[k] = round(lane[k], buf[w + size_t(k)]);
    for (; w < words; ++w) lane[0] = round(lane[0], buf[w]);
    total += got;
  }
  if (std::ferror(file)) throw IoError(name + ": read failed");
  uint64_t h = splitmix64(total);
  for (uint64_t l : lane) h = splitmix64(h ^ l);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

std::string fast_file_hash(const std::filesystem::path& path) {
  RegularFile file(path);
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(::fdopen(file.fd(), "rb"), &std::fclose);
  if (!f) throw IoError(path.string() + ": cannot open for reading");
  file.release();  // the FILE owns it now
  return fast_file_hash(f.get(), path.string());
}

}  // namespace instret
