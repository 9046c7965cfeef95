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

bool is_stale(const fs::directory_entry& entry, const std::string& target_name) {
  std::error_code ec;
  if (!entry.is_regular_file(ec)) return false;
  const long pid = temporary_pid(entry.path().filename().string(), target_name);
  if (pid <= 0 || pid == long(::getpid())) return false;
  if (!(::kill(pid_t(pid), 0) != 0 && errno == ESRCH)) return false;  // alive, or not ours to judge: kept
  // The pid names a process on this host only: a writer on another host that shares the folder
  // holds the temporary's lock (write_atomically takes it) while it lives. A lock we can take means
  // no writer holds it.
  const int fd = ::open(entry.path().c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  const bool unlocked = ::flock(fd, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK;
  ::close(fd);
  return unlocked;
}

}  // namespace

std::size_t remove_stale_temporaries(const fs::path& dir, const std::string& target_name, bool recursive) {
  std::vector<fs::path> stale;
  std::error_code ec;
  if (recursive) {
    for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec))
      if (is_stale(*it, target_name)) stale.push_back(it->path());
  } else {
    for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
         it.increment(ec))
      if (is_stale(*it, target_name)) stale.push_back(it->path());
  }
  std::size_t removed = 0;
  for (const auto& p : stale)
    if (fs::remove(p, ec)) ++removed;
  return removed;
}

}  // namespace instret
