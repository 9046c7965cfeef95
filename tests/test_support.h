// Helpers shared by the test executables: per-process scratch folders and running the tools.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <string>

namespace instret::test {

// The message of the E that `f` throws; "(other exception: ...)" or "(no exception)" otherwise.
template <typename E>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("(other exception: ") + e.what() + ")";
  }
  return "(no exception)";
}

// temp/instret_test_<tag>_<pid>, created (and emptied first when `fresh`).
inline std::filesystem::path scratch_dir(const std::string& tag, bool fresh = false) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("instret_test_" + tag + "_" + std::to_string(::getpid()));
  if (fresh) std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

struct CommandResult {
  int code;            // exit status; -1 when the command did not exit normally
  std::string output;  // what it wrote to stdout (redirect stderr in `command` to capture it too)
};

// Runs a shell command and captures its stdout.
inline CommandResult run_command(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return {-1, ""};
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace instret::test
