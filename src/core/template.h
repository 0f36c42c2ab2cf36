// Templates in workspace files: strings containing `{{ expression }}`.
//
// Expressions are a small, side-effect-free language:
//   paths        input.customer, steps.fetch.output.items[0].name, item
//   literals     "text", 'text', 42, 3.5, true, false, null
//   operators    == != < <= > >= (numbers and strings), and or not, ( )
//   filters      expr | default("x") | upper | lower | trim | json | length
// A missing path yields null (so `| default(...)` can replace it) rather than
// an error; a type error (comparing an object with a number) is an error.
//
// Rendering: a string that is exactly one `{{ expr }}` (surrounding spaces
// allowed) yields the expression's JSON value with its type kept, so
// `foreach: "{{ input.items }}"` gives an array. Any other string is
// interpolated: each expression's value is turned into text (strings as they
// are, null as "", anything else as compact JSON). Objects and arrays are
// rendered recursively; other JSON values pass through unchanged.
//
// Errors name the column in the template where parsing or evaluation failed.
// Rendering is deterministic and bounded (template length, nesting depth and
// output size are limited) so untrusted files cannot hang or exhaust memory.
//
// Thread-safety: free functions without shared state.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/result.h"

namespace cadre {

// Renders every string inside `value` against `scope` (a JSON object whose
// keys are the roots of paths: input, steps, item, trigger, event, run).
Result<Json> render_template(const Json& value, const Json& scope);

// Evaluates one expression without braces: "input.count > 2".
Result<Json> evaluate_expression(std::string_view expression, const Json& scope);

// A condition as written in `if:`, with or without braces. Truthiness: false,
// null, 0, "" and empty arrays/objects are false; everything else is true.
Result<bool> evaluate_condition(std::string_view condition, const Json& scope);

// Checks syntax only (for `cadre check`); does not need a scope.
Status check_template(std::string_view text);

// The root names (before the first '.' or '[') used by paths in `text`,
// e.g. {"input", "steps"}; lets `cadre check` report unknown roots and steps.
Result<std::vector<std::string>> template_paths(std::string_view text);

}  // namespace cadre
