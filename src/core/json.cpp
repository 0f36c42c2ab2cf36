#include "core/json.h"

#include <algorithm>

namespace cadre {

namespace {

// The deepest nesting of arrays and objects in `text`, ignoring strings.
// Copying, comparing and printing a parsed value recurse, so untrusted
// input that nests deeper than kMaxJsonDepth is refused before parsing.
int nesting_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

Result<Json> parse_json(std::string_view text, std::string_view what) {
  if (nesting_depth(text) > kMaxJsonDepth) {
    return Status::InvalidArgument(std::string(what) + ": JSON nests deeper than " + std::to_string(kMaxJsonDepth) +
                                   " levels");
  }
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    // Re-parse with exceptions only to obtain the library's precise message.
    try {
      Json ignored = Json::parse(text);
      (void)ignored;
    } catch (const Json::exception& e) {  // parse_error, or out_of_range for a number too large
      return Status::InvalidArgument(std::string(what) + ": invalid JSON: " + e.what());
    }
    return Status::InvalidArgument(std::string(what) + ": invalid JSON");
  }
  return value;
}

std::string dump_json(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const Json& json_field(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string json_text(const Json& j, const char* key) {
  const Json& v = json_field(j, key);
  return v.is_string() ? v.get<std::string>() : "";
}

}  // namespace cadre
