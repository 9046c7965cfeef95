// Typed exceptions of the toolkit. Tools map UsageError to exit code 2 and every other
// Error to exit code 1, printing the message as one line.
#pragma once
#include <stdexcept>
#include <string>

namespace instret {

// Base of every error the toolkit throws on purpose; the message names the file and the problem.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Wrong flags, unknown or ill-typed configuration keys: the user asked for something invalid.
class UsageError : public Error {
 public:
  using Error::Error;
};

// A file could not be opened, read or written.
class IoError : public Error {
 public:
  using Error::Error;
};

// A file was read but its content is invalid (corrupt audio, broken MIDI, wrong checkpoint...).
class FormatError : public Error {
 public:
  using Error::Error;
};

// Long work gave up because the user asked the process to stop (SIGINT/SIGTERM).
class Interrupted : public Error {
 public:
  using Error::Error;
};

// The first non-blank line of an exception message, with bytes outside printable ASCII written as
// \xNN: c10::Error appends a backtrace, torch::jit::ErrorReport starts with a newline, and a
// message may quote bytes of a corrupted file; a tool's error is always one printable line.
inline std::string one_line(const std::string& message) {
  size_t begin = 0;
  while (begin < message.size()) {
    size_t end = message.find('\n', begin);
    if (end == std::string::npos) end = message.size();
    if (message.find_first_not_of(" \t\r", begin) < end) break;
    begin = end + 1;
  }
  std::string out;
  for (size_t i = begin; i < message.size() && message[i] != '\n'; ++i) {
    const unsigned char c = static_cast<unsigned char>(message[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else if (c != '\r') {
      const char* d = "0123456789abcdef";
      out += std::string("\\x") + d[c >> 4] + d[c & 15];
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out.empty() ? std::string("(no message)") : out;
}

}  // namespace instret
