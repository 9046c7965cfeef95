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

}  // namespace instret
