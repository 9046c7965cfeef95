// Helpers shared by the test executables: per-process scratch folders and running the tools.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
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

// The Python that runs the scikit-learn cross-checks (scripts/golden/check_eval_dumps.py):
// $INSTRET_PYREF, which scripts/test.sh points at the cached environment it makes from
// scripts/golden/requirements.txt (when set, it is used even if broken, so that a broken environment
// fails the check instead of skipping it), else ~/pyref/bin/python when it exists, else "".
inline std::string reference_python() {
  if (const char* env = std::getenv("INSTRET_PYREF"); env && *env) return env;
  const char* home = std::getenv("HOME");
  const std::filesystem::path p = std::filesystem::path(home ? home : "/root") / "pyref" / "bin" / "python";
  return std::filesystem::exists(p) ? p.string() : "";
}

// The message of a skipped cross-check: loud, and saying how to run it.
inline std::string cross_check_skipped() {
  return "CROSS-CHECK SKIPPED: no scikit-learn environment (run scripts/test.sh, which makes one, or set "
         "INSTRET_PYREF to a Python with numpy, scipy and scikit-learn)";
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

struct CommandOutputs {
  int code;              // exit status; -1 when the command did not exit normally
  std::string out, err;  // its stdout and stderr, apart
};

// Runs a shell command with its stderr sent to `err_file` (overwritten), and captures both streams.
inline CommandOutputs run_command_apart(const std::string& command, const std::filesystem::path& err_file) {
  const CommandResult r = run_command(command + " 2> '" + err_file.string() + "'");
  std::ifstream in(err_file);
  std::stringstream err;
  err << in.rdbuf();
  return {r.code, r.output, err.str()};
}

}  // namespace instret::test
