// Durations as written in workspace files: "250ms", "30s", "5m", "1h30m",
// "2d", or a bare integer meaning seconds. Stored as milliseconds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cadre {

using DurationMs = int64_t;

// Errors say what is wrong with the text, e.g. "unknown unit 'x' in '5x'
// (use ms, s, m, h or d)". Negative or overflowing values are refused.
Result<DurationMs> parse_duration(std::string_view text);

// The shortest exact form: 90000 -> "1m30s", 250 -> "250ms", 0 -> "0s".
std::string format_duration(DurationMs ms);

}  // namespace cadre
