// File operations shared by the built-in file tools and the files connector:
// paths confined under a root, atomic replacement, errno as Status.
//
// Thread-safety: free functions.
#pragma once

#include <filesystem>
#include <string>

#include "core/result.h"

namespace cadre {

// errno -> Status: a full disk is ResourceExhausted, EINTR/EAGAIN Unavailable,
// the rest IOError; `what` says what was being done.
Status errno_status(int err, const std::string& what);

// Resolves `relative` under `root`, refusing absolute paths, `..` escapes,
// symbolic links that lead outside, and a `.cadre` folder directly under
// `root`. `root_name` names the root in messages ("the workspace").
Result<std::filesystem::path> resolve_under_root(const std::filesystem::path& root, const std::string& relative,
                                                 const std::string& root_name);

// Replaces `path` with `content` through a temporary file beside it (named
// with `temp_suffix`), fsynced and renamed over it, creating its folder.
// Readers see the old file or the new one, never half. `label` names the
// file in messages.
Status write_file_atomically(const std::filesystem::path& path, const std::string& content,
                             const std::string& temp_suffix, const std::string& label);

// Appends `data` to an open descriptor, retrying short writes.
Status write_all(int fd, const std::string& data, const std::string& label);

}  // namespace cadre
