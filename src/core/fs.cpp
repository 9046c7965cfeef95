#include "instret/core/fs.h"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "instret/core/error.h"

namespace instret {
namespace fs = std::filesystem;

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
  const fs::path tmp = temp_path_for(target);
  try {
    write(tmp);
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw IoError(target.string() + ": cannot rename temporary output into place: " + ec.message());
  }
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

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path.string() + ": cannot open for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw IoError(path.string() + ": read failed");
  return ss.str();
}

}  // namespace instret
