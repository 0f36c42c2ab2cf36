// JSON Schema validation for the subset Cadre uses in tool arguments, agent
// success criteria and plans (draft 2020-12 keywords): type (string or list),
// properties, required, additionalProperties (bool or schema), items,
// prefixItems, enum, const, minimum, maximum, exclusiveMinimum,
// exclusiveMaximum, multipleOf, minLength, maxLength, pattern (ECMAScript),
// minItems, maxItems, uniqueItems, minProperties, maxProperties, allOf,
// anyOf, oneOf, not, $ref to a pointer inside the same schema ("#/$defs/NAME",
// "#/definitions/NAME", "#"), and format "date-time"/"date"/"email"/"uri"
// (checked loosely; other formats are ignored). Unknown keywords (title,
// description, examples, default, ...) are ignored. No Debian package offers
// a C++ validator, so this is small and tested.
//
// Hostile schemas are refused or bounded, never crash or hang: subschemas may
// nest 64 levels, $ref loops that never reach into the instance are schema
// errors, and validation gives up with a single error past 256 nested schema
// applications or a million steps. Patterns are ECMAScript without
// back-references, matched on bytes, by an engine that cannot backtrack exponentially.
//
// Thread-safety: free functions without shared state.
#pragma once

#include <string>
#include <vector>

#include "core/json.h"
#include "core/result.h"

namespace cadre {

struct SchemaError {
  std::string path;     // JSON pointer into the instance, "" for the root: "/items/2/name"
  std::string message;  // "is a number, expected a string", "is required", ...
};

// Errors in the schema itself (an unknown type name, a bad pattern, a $ref
// that resolves nowhere), each with the pointer into the schema.
std::vector<SchemaError> check_schema(const Json& schema);

// Every way `instance` fails `schema` (empty: valid). A schema that is not
// well-formed (see check_schema) reports its own errors instead: pointers into
// the schema, messages starting "invalid schema: ".
std::vector<SchemaError> validate_json(const Json& schema, const Json& instance);

// "/items/2: is required; /name: is a number, expected a string" (at most
// `limit` errors, then "and N more"). An error at the root has no path
// prefix; no errors give "".
std::string describe(const std::vector<SchemaError>& errors, size_t limit = 10);

}  // namespace cadre
