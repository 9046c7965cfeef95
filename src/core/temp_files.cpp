#include "instret/core/temp_files.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace instret {
namespace fs = std::filesystem;

namespace {

// The writer's pid of a "<name>.tmp.<pid>.<n>" file name; 0 when the name is not one.
long temporary_pid(const std::string& name, const std::string& target_name) {
  const size_t at = name.rfind(".tmp.");
  if (at == std::string::npos || at == 0) return 0;
  if (!target_name.empty() && name.compare(0, at, target_name) != 0) return 0;
  if (!target_name.empty() && at != target_name.size()) return 0;
  const std::string rest = name.substr(at + 5);  // "<pid>.<n>"
  const size_t dot = rest.find('.');
  if (dot == 0 || dot == std::string::npos || dot + 1 == rest.size() || dot > 9 ||
      rest.find_first_not_of("0123456789.") != std::string::npos || rest.find('.', dot + 1) != std::string::npos)
    return 0;
  return std::stol(rest.substr(0, dot));
}

// A temporary of a writer whose pid is gone on this host (the name's pid says nothing else).
bool dead_writer(const fs::directory_entry& entry, const std::string& target_name) {
  std::error_code ec;
  if (!entry.is_regular_file(ec)) return false;
  const long pid = temporary_pid(entry.path().filename().string(), target_name);
  if (pid <= 0 || pid == long(::getpid())) return false;
  return ::kill(pid_t(pid), 0) != 0 && errno == ESRCH;  // alive, or not ours to judge: kept
}

// Removes `path` unless a writer holds its lock (write_atomically holds it while the temporary
// lives, also on another host that shares the folder). The probe takes a shared lock, which a
// read-only descriptor may hold on every file system (NFS turns flock into a byte-range lock,
// whose exclusive form needs a writable one), and unlinks while holding it. A file system
// without locks leaves the pid check alone.
bool remove_unless_locked(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  const bool free = ::flock(fd, LOCK_SH | LOCK_NB) == 0 || errno == ENOLCK || errno == EOPNOTSUPP || errno == ENOSYS;
  std::error_code ec;
  const bool removed = free && fs::remove(path, ec);
  ::close(fd);
  return removed;
}

}  // namespace

std::size_t remove_stale_temporaries(const fs::path& dir, const std::string& target_name, bool recursive) {
  std::vector<fs::path> stale;
  std::error_code ec;
  if (recursive) {
    for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec))
      if (dead_writer(*it, target_name)) stale.push_back(it->path());
  } else {
    for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
         it.increment(ec))
      if (dead_writer(*it, target_name)) stale.push_back(it->path());
  }
  std::size_t removed = 0;
  for (const auto& p : stale) removed += remove_unless_locked(p);
  return removed;
}

}  // namespace instret
