// JSON values throughout Cadre are nlohmann::json. Helpers here parse without
// throwing and turn library exceptions into a Status.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cadre {

using Json = nlohmann::json;

inline constexpr int kMaxJsonDepth = 128;

// Parses `text`; the error names `what` (a file, flag or field) and the byte
// offset. Values nested deeper than kMaxJsonDepth are refused.
Result<Json> parse_json(std::string_view text, std::string_view what);

// Compact serialization that never throws: invalid UTF-8 is replaced.
std::string dump_json(const Json& value);

// Reading JSON without trusting its shape (journaled or stored values): the
// member `key` of `j`, or null when `j` is not an object or lacks it; and
// that member's text, or "" when it is not a string.
const Json& json_field(const Json& j, const char* key);
std::string json_text(const Json& j, const char* key);

}  // namespace cadre
