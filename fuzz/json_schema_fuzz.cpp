// libFuzzer target for the JSON Schema validator (core/json_schema.h): any
// JSON given as a schema, and as an instance of itself and of a fixed
// schema, must give errors or none, never a crash, a hang or a sanitizer
// report. Schemas come from agent files and tools; instances from models.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/json.h"
#include "core/json_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = cadre::parse_json(text, "fuzz");
  if (!parsed.ok()) return 0;
  static const cadre::Json kPlanLike = cadre::Json::parse(R"({
    "type": "object", "required": ["tasks"],
    "properties": {"tasks": {"type": "array", "items": {"type": "object",
      "properties": {"key": {"type": "string", "pattern": "^[a-z][a-z0-9_-]*$"},
                     "needs": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}}}}}})");
  (void)cadre::check_schema(*parsed);
  (void)cadre::describe(cadre::validate_json(*parsed, *parsed));
  (void)cadre::describe(cadre::validate_json(kPlanLike, *parsed));
  return 0;
}
