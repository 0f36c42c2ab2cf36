#include "core/json.h"

namespace cadre {

Result<Json> parse_json(std::string_view text, std::string_view what) {
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    // Re-parse with exceptions only to obtain the library's precise message.
    try {
      Json ignored = Json::parse(text);
      (void)ignored;
    } catch (const Json::parse_error& e) {
      return Status::InvalidArgument(std::string(what) + ": invalid JSON: " + e.what());
    }
    return Status::InvalidArgument(std::string(what) + ": invalid JSON");
  }
  return value;
}

std::string dump_json(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace cadre
