// Temporary files left behind by killed processes: write_atomically (core/fs.h) names its
// temporaries "<target>.tmp.<pid>.<n>"; a process killed between writing and renaming one leaves it.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>

namespace instret {

// Removes the temporaries under `dir` (and its subfolders when `recursive`) whose writing process
// no longer exists; those of live processes (a concurrent writer) and of this process stay. With a
// non-empty `target_name`, only temporaries of that file ("<target_name>.tmp.<pid>.<n>") are
// considered. Returns how many were removed; unreadable folders and failed removals are skipped.
std::size_t remove_stale_temporaries(const std::filesystem::path& dir, const std::string& target_name = "",
                                     bool recursive = true);

}  // namespace instret
