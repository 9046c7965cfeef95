// Text from outside (file names, bytes of a corrupt file) as it may be printed: never a control
// character, so that a name cannot start a second, forged log line or send escape sequences to the
// terminal.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>

namespace instret {

// `s` with every control character (C0, DEL, C1 as UTF-8), and every byte that is not part of a
// well-formed UTF-8 sequence, written as \xNN; other UTF-8 text is kept as it is.
std::string printable(std::string_view s);

// A path as a quoted, escaped string: 'name' with ' and \ escaped by a backslash and the rest as
// printable(). Used wherever a path found on disk (not typed by the user) is printed.
std::string quote_path(const std::filesystem::path& path);

}  // namespace instret
