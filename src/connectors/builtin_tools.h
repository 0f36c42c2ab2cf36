// The built-in tools, which need no network:
//   log          {message, level?}     records a message (read; idempotent)
//   file.write   {path, content}       replaces a file atomically (write; idempotent)
//   file.append  {path, content}       appends content (write; NOT idempotent)
//   wait         {duration} | {until} | {event}
//                                      parks the task until then (carried out by the kernel)
//   emit         {event, data?}        raises an event exactly once (carried out by the kernel)
// Paths are relative to the workspace root and must stay inside it (and
// outside .cadre/); anything else is refused before any file is touched.
#pragma once

#include <filesystem>

#include "kernel/tool.h"

namespace cadre {

Status register_builtin_tools(ToolRegistry& registry);

// Resolves `relative` under `root`, refusing absolute paths, `..` escapes,
// symbolic links that lead outside, and the private .cadre/ folder.
Result<std::filesystem::path> resolve_workspace_path(const std::filesystem::path& root, const std::string& relative);

}  // namespace cadre
