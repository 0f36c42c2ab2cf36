// libFuzzer target for the template language and durations: the input is
// rendered as a template (alone and nested in JSON), evaluated as an
// expression and as a condition, checked, scanned for roots, and parsed as a
// duration. Any crash, hang or sanitizer report is a bug; so is a broken
// invariant, which traps.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/duration.h"
#include "core/json.h"
#include "core/template.h"

namespace {

const cadre::Json& fuzz_scope() {
  static const cadre::Json kScope = cadre::Json::parse(R"({
    "input": {"name": " Ada ", "count": 3, "ratio": 0.5, "big": 18446744073709551615,
              "neg": -9223372036854775808, "items": [1, "two", null, {"k": [true, 2.5]}],
              "empty": "", "none": null, "user": {"first": "Ada", "with-dash": {"x": "y"}}},
    "steps": {"fetch": {"output": {"items": [{"name": "first"}, {"name": "second"}]}}},
    "item": "solo",
    "run": {"id": "run_1"}
  })");
  return kScope;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const cadre::Json& scope = fuzz_scope();

  (void)cadre::render_template(cadre::Json(std::string(text)), scope);
  (void)cadre::render_template(cadre::Json{{"with", cadre::Json::array({std::string(text), 1})}},
                               scope);
  (void)cadre::evaluate_expression(text, scope);
  (void)cadre::evaluate_condition(text, scope);

  // Syntax checking and root scanning run the same parser: they must agree.
  bool syntax_ok = cadre::check_template(text).ok();
  if (syntax_ok != cadre::template_paths(text).ok()) __builtin_trap();

  cadre::Result<cadre::DurationMs> duration = cadre::parse_duration(text);
  if (duration.ok()) {
    if (*duration < 0) __builtin_trap();
    // The printed form parses back to the same value.
    cadre::Result<cadre::DurationMs> again =
        cadre::parse_duration(cadre::format_duration(*duration));
    if (!again.ok() || *again != *duration) __builtin_trap();
  }
  return 0;
}
