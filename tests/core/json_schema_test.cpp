// JSON Schema validation: every keyword with valid and invalid instances,
// every error reported with its JSON pointer, and hostile schemas refused or
// bounded rather than crashing or hanging.
#include "core/json_schema.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace cadre {
namespace {

Json json(const char* text) {
  return Json::parse(text);
}

// All errors on one line; "" when valid.
std::string errors_of(const Json& schema, const Json& instance) {
  return describe(validate_json(schema, instance), 100);
}

struct Case {
  std::string name;
  Json schema;
  Json instance;
  std::string expected;  // describe() of the errors; "" for valid
};

void expect_cases(const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    EXPECT_EQ(errors_of(c.schema, c.instance), c.expected)
        << c.name << "\n  schema:   " << c.schema.dump() << "\n  instance: " << c.instance.dump();
  }
}

// {"properties": {"a": {"properties": {"a": ... }}}}, `levels` deep, built in
// place because copying would recurse once per level.
Json deep_schema(int levels) {
  Json root = Json::object();
  Json* node = &root;
  for (int i = 0; i < levels; ++i) node = &(*node)["properties"]["a"];
  *node = Json::object();
  return root;
}

// [[[...]]], `levels` deep.
Json deep_array(int levels) {
  Json root = Json::array();
  Json* node = &root;
  for (int i = 0; i < levels; ++i) {
    node->push_back(Json::array());
    node = &node->back();
  }
  return root;
}

TEST(ValidateJson, Type) {
  expect_cases({
      {"string", json(R"({"type": "string"})"), "x", ""},
      {"not a string", json(R"({"type": "string"})"), 5, "is a number, expected a string"},
      {"integer", json(R"({"type": "integer"})"), 3, ""},
      {"3.0 is an integer", json(R"({"type": "integer"})"), 3.0, ""},
      {"3.5 is not", json(R"({"type": "integer"})"), 3.5, "is a number, expected an integer"},
      {"number", json(R"({"type": "number"})"), 3.5, ""},
      {"integers are numbers", json(R"({"type": "number"})"), 3, ""},
      {"null", json(R"({"type": "null"})"), nullptr, ""},
      {"not null", json(R"({"type": "null"})"), 0, "is a number, expected null"},
      {"boolean", json(R"({"type": "boolean"})"), "true", "is a string, expected a boolean"},
      {"object", json(R"({"type": "object"})"), Json::array(), "is an array, expected an object"},
      {"array", json(R"({"type": "array"})"), Json::object(), "is an object, expected an array"},
      {"list", json(R"({"type": ["string", "null"]})"), nullptr, ""},
      {"list fails", json(R"({"type": ["string", "integer", "null"]})"), true,
       "is a boolean, expected a string, an integer or null"},
  });
}

TEST(ValidateJson, EnumAndConst) {
  expect_cases({
      {"enum member", json(R"({"enum": ["a", "b"]})"), "a", ""},
      {"enum miss", json(R"({"enum": ["a", 1, null]})"), "c", R"(must be one of "a", 1, null)"},
      {"1.0 equals 1", json(R"({"enum": [1]})"), 1.0, ""},
      {"structured member", json(R"({"enum": [{"k": [1, 2]}]})"), json(R"({"k": [1, 2]})"), ""},
      {"long enum is cut", json(R"({"enum": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]})"), 0,
       "must be one of 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ... (12 in all)"},
      {"const", json(R"({"const": {"k": [1, 2]}})"), json(R"({"k": [1, 2]})"), ""},
      {"const miss", json(R"({"const": "x"})"), "y", R"(must be "x")"},
      {"const is typed", json(R"({"const": "1"})"), 1, R"(must be "1")"},
  });
}

TEST(ValidateJson, NumberBounds) {
  expect_cases({
      {"minimum met", json(R"({"minimum": 5})"), 5, ""},
      {"below minimum", json(R"({"minimum": 5})"), 4, "is 4, less than the minimum 5"},
      {"float below minimum", json(R"({"minimum": 0.5})"), 0.25,
       "is 0.25, less than the minimum 0.5"},
      {"maximum met", json(R"({"maximum": 5})"), 5.0, ""},
      {"above maximum", json(R"({"maximum": 5})"), 6, "is 6, more than the maximum 5"},
      {"exclusive minimum", json(R"({"exclusiveMinimum": 5})"), 5,
       "is 5, not more than the exclusive minimum 5"},
      {"above exclusive minimum", json(R"({"exclusiveMinimum": 5})"), 5.1, ""},
      {"exclusive maximum", json(R"({"exclusiveMaximum": 5})"), 5,
       "is 5, not less than the exclusive maximum 5"},
      {"exact beyond 2^53", json(R"({"maximum": 9007199254740992})"), json("9007199254740993"),
       "is 9007199254740993, more than the maximum 9007199254740992"},
      {"unsigned against negative", json(R"({"minimum": -1})"), json("18446744073709551615"), ""},
      {"negative against unsigned", json(R"({"maximum": 18446744073709551615})"), -1, ""},
      {"bounds ignore strings", json(R"({"minimum": 5})"), "a", ""},
  });
}

TEST(ValidateJson, MultipleOf) {
  expect_cases({
      {"integer multiple", json(R"({"multipleOf": 3})"), 9, ""},
      {"negative multiple", json(R"({"multipleOf": 3})"), -9, ""},
      {"not a multiple", json(R"({"multipleOf": 3})"), 10, "is 10, not a multiple of 3"},
      {"decimal multiple", json(R"({"multipleOf": 0.1})"), 0.3, ""},
      {"decimal miss", json(R"({"multipleOf": 0.1})"), 0.35, "is 0.35, not a multiple of 0.1"},
      {"overflowing quotient", json(R"({"multipleOf": 0.123456789})"), 1e308,
       "is 1e+308, not a multiple of 0.123456789"},
  });
}

TEST(ValidateJson, Strings) {
  expect_cases({
      {"counts characters, not bytes", json(R"({"minLength": 2})"), "\xC3\xA9",
       "is 1 character long, shorter than the minimum 2"},
      {"two characters", json(R"({"minLength": 2})"), "\xC3\xA9\xC3\xA9", ""},
      {"too long", json(R"({"maxLength": 3})"), "abcd",
       "is 4 characters long, longer than the maximum 3"},
      {"2.0 is a count", json(R"({"maxLength": 2.0})"), "ab", ""},
      {"pattern", json(R"({"pattern": "^[a-z]+$"})"), "abc", ""},
      {"pattern miss", json(R"({"pattern": "^[a-z]+$"})"), "abC",
       R"(does not match the pattern "^[a-z]+$")"},
      {"pattern searches", json(R"({"pattern": "b"})"), "abc", ""},
      {"anchors hold", json(R"({"pattern": "^b"})"), "abc", R"(does not match the pattern "^b")"},
      {"end anchor", json(R"({"pattern": "a$"})"), "ab", R"(does not match the pattern "a$")"},
      {"alternation is grouped", json(R"({"pattern": "^a|b$"})"), "xa",
       R"(does not match the pattern "^a|b$")"},
      {"lookahead", json(R"({"pattern": "^(?=.*\\d)\\w+$"})"), "abc1", ""},
      {"string keywords ignore numbers", json(R"({"minLength": 2, "pattern": "x"})"), 1, ""},
  });
}

TEST(ValidateJson, Formats) {
  const Json date_time = json(R"({"format": "date-time"})");
  const Json date = json(R"({"format": "date"})");
  const Json email = json(R"({"format": "email"})");
  const Json uri = json(R"({"format": "uri"})");
  const std::string bad_date_time = "is not a date-time (RFC 3339, e.g. 2026-11-25T09:00:00Z)";
  expect_cases({
      {"date-time", date_time, "2026-11-25T09:00:00Z", ""},
      {"date-time with offset and fraction", date_time, "2026-11-25T09:00:00.123+01:00", ""},
      {"date-time, lower case", date_time, "2026-11-25t09:00:00z", ""},
      {"leap second", date_time, "2016-12-31T23:59:60Z", ""},
      {"no such day", date_time, "2026-02-30T09:00:00Z", bad_date_time},
      {"date alone", date_time, "2026-11-25", bad_date_time},
      {"no zone", date_time, "2026-11-25T09:00:00", bad_date_time},
      {"hour 24", date_time, "2026-11-25T24:00:00Z", bad_date_time},
      {"date", date, "2024-02-29", ""},
      {"not a leap year", date, "2023-02-29", "is not a date (YYYY-MM-DD)"},
      {"short date", date, "2026-1-5", "is not a date (YYYY-MM-DD)"},
      {"email", email, "ops@example.com", ""},
      {"email without a dot", email, "root@localhost", ""},
      {"no at", email, "ops.example.com", "is not an email address"},
      {"space", email, "o ps@example.com", "is not an email address"},
      {"empty local part", email, "@example.com", "is not an email address"},
      {"uri", uri, "https://example.com/a?b=c#d", ""},
      {"urn", uri, "urn:isbn:0451450523", ""},
      {"relative", uri, "/just/a/path", "is not a URI (scheme:rest, no spaces)"},
      {"spaces", uri, "https://example.com/a b", "is not a URI (scheme:rest, no spaces)"},
      {"unknown formats are ignored", json(R"({"format": "hostname"})"), "not a host!", ""},
      {"formats ignore non-strings", date, 5, ""},
  });
}

TEST(ValidateJson, Arrays) {
  expect_cases({
      {"min items", json(R"({"minItems": 2})"), json("[1]"),
       "has 1 item, fewer than the minimum 2"},
      {"max items", json(R"({"maxItems": 1})"), json("[1, 2]"),
       "has 2 items, more than the maximum 1"},
      {"unique", json(R"({"uniqueItems": true})"), json(R"([1, "1", [1], {"a": 1}])"), ""},
      {"duplicate", json(R"({"uniqueItems": true})"), json("[1, 2, 3, 2, 1]"),
       "has equal items at 1 and 3, expected unique items"},
      {"1.0 duplicates 1", json(R"({"uniqueItems": true})"), json("[1, 1.0]"),
       "has equal items at 0 and 1, expected unique items"},
      {"equal objects", json(R"({"uniqueItems": true})"), json(R"([{"a": [1]}, {"a": [1]}])"),
       "has equal items at 0 and 1, expected unique items"},
      {"uniqueItems false", json(R"({"uniqueItems": false})"), json("[1, 1]"), ""},
      {"items", json(R"({"items": {"type": "string"}})"), json(R"(["a", 1, 2])"),
       "/1: is a number, expected a string; /2: is a number, expected a string"},
      {"prefix items",
       json(R"({"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false})"),
       json(R"(["a", 1])"), ""},
      {"short tuple", json(R"({"prefixItems": [{"type": "string"}, {"type": "integer"}]})"),
       json(R"(["a"])"), ""},
      {"prefix then items",
       json(R"({"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false})"),
       json(R"(["a", "b", 3])"),
       "/1: is a string, expected an integer; /2: is not allowed here (the schema is false)"},
      {"array keywords ignore objects", json(R"({"minItems": 2, "items": false})"),
       json(R"({"a": 1})"), ""},
  });
}

TEST(ValidateJson, Objects) {
  expect_cases({
      {"required", json(R"({"required": ["a", "b"]})"), json(R"({"a": 1})"), "/b: is required"},
      {"all required", json(R"({"required": ["a", "b"]})"), json("{}"),
       "/a: is required; /b: is required"},
      {"properties", json(R"({"properties": {"a": {"type": "string"}}})"),
       json(R"({"a": 1, "b": 2})"), "/a: is a number, expected a string"},
      {"no additional", json(R"({"properties": {"a": {}}, "additionalProperties": false})"),
       json(R"({"a": 1, "b": 2, "c": 3})"),
       "/b: is not an allowed property; /c: is not an allowed property"},
      {"additional schema",
       json(R"({"properties": {"a": {}}, "additionalProperties": {"type": "integer"}})"),
       json(R"({"a": "x", "b": 1, "c": "y"})"), "/c: is a string, expected an integer"},
      {"min properties", json(R"({"minProperties": 1})"), json("{}"),
       "has 0 properties, fewer than the minimum 1"},
      {"max properties", json(R"({"maxProperties": 1})"), json(R"({"a": 1, "b": 2})"),
       "has 2 properties, more than the maximum 1"},
      {"one property", json(R"({"minProperties": 2})"), json(R"({"a": 1})"),
       "has 1 property, fewer than the minimum 2"},
      {"pointer escapes",
       json(R"({"properties": {"a/b": {"type": "string"}, "m~n": {"type": "string"}}})"),
       json(R"({"a/b": 1, "m~n": 2})"),
       "/a~1b: is a number, expected a string; /m~0n: is a number, expected a string"},
      {"required escapes", json(R"({"required": ["x/y~"]})"), json("{}"), "/x~1y~0: is required"},
      {"object keywords ignore arrays", json(R"({"required": ["a"], "minProperties": 1})"),
       json("[]"), ""},
  });
}

TEST(ValidateJson, Combinators) {
  const Json any_of =
      json(R"({"anyOf": [{"type": "string"}, {"type": "object", "required": ["a"]}]})");
  const Json one_of = json(R"({"oneOf": [{"type": "integer"}, {"minimum": 2}]})");
  expect_cases({
      {"allOf", json(R"({"allOf": [{"minimum": 3}, {"multipleOf": 2}]})"), 4, ""},
      {"allOf reports every branch", json(R"({"allOf": [{"minimum": 3}, {"multipleOf": 2}]})"), 1,
       "is 1, less than the minimum 3; is 1, not a multiple of 2"},
      {"anyOf first", any_of, "x", ""},
      {"anyOf second", any_of, json(R"({"a": 1})"), ""},
      {"anyOf none", any_of, 5,
       "matches no branch of anyOf (branch 0: is a number, expected a string; "
       "branch 1: is a number, expected an object)"},
      {"anyOf names nested paths", any_of, json("{}"),
       "matches no branch of anyOf (branch 0: is an object, expected a string; branch 1: /a: is "
       "required)"},
      {"anyOf counts the rest", json(R"({"anyOf": [{"required": ["a", "b", "c"]}]})"), json("{}"),
       "matches no branch of anyOf (branch 0: /a: is required (+2 more))"},
      {"oneOf exactly one", one_of, 1, ""},
      {"oneOf two", one_of, 3, "matches oneOf branches 0 and 1, expected exactly one"},
      {"oneOf none", one_of, 1.5,
       "matches no branch of oneOf (branch 0: is a number, expected an integer; "
       "branch 1: is 1.5, less than the minimum 2)"},
      {"not", json(R"({"not": {"type": "string"}})"), 1, ""},
      {"not matched", json(R"({"not": {"type": "string"}})"), "x",
       R"(must not match the schema under "not")"},
      {"true schema", json("true"), json(R"({"anything": [1]})"), ""},
      {"false schema", json("false"), 1, "is not allowed here (the schema is false)"},
      {"false property", json(R"({"properties": {"a": false}})"), json(R"({"a": 1})"),
       "/a: is not allowed here (the schema is false)"},
      {"empty schema", json("{}"), 1, ""},
      {"annotations are ignored",
       json(R"({"title": "t", "description": "d", "default": 1, "examples": []})"), "x", ""},
  });
}

TEST(ValidateJson, References) {
  const Json tree = json(R"({
    "$defs": {"node": {"type": "object",
                       "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
    "$ref": "#/$defs/node"})");
  expect_cases({
      {"$defs", json(R"({"$defs": {"name": {"type": "string", "minLength": 1}},
                         "properties": {"n": {"$ref": "#/$defs/name"}}})"),
       json(R"({"n": ""})"), "/n: is 0 characters long, shorter than the minimum 1"},
      {"definitions",
       json(
           R"({"definitions": {"id": {"type": "integer"}}, "items": {"$ref": "#/definitions/id"}})"),
       json(R"([1, "2"])"), "/1: is a string, expected an integer"},
      {"recursive tree", tree, json(R"({"children": [{"children": []}, {"children": [{}]}]})"), ""},
      {"deep in the tree", tree, json(R"({"children": [{"children": []}, {"children": [5]}]})"),
       "/children/1/children/0: is a number, expected an object"},
      {"root reference", json(R"({"type": ["array", "integer"], "items": {"$ref": "#"}})"),
       json(R"([1, [2, ["x"]]])"), "/1/1/0: is a string, expected an array or an integer"},
      {"escaped names", json(R"({"$defs": {"a/b": {"type": "string"}}, "$ref": "#/$defs/a~1b"})"),
       1, "is a number, expected a string"},
      {"percent-encoded names",
       json(R"({"$defs": {"50%": {"type": "string"}}, "$ref": "#/$defs/50%25"})"), 1,
       "is a number, expected a string"},
      {"siblings of $ref apply",
       json(R"({"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "minLength": 3})"), "ab",
       "is 2 characters long, shorter than the minimum 3"},
  });
}

TEST(ValidateJson, ReportsEveryErrorWithItsPath) {
  const Json schema = json(R"({
    "type": "object",
    "required": ["name", "tags", "owner"],
    "additionalProperties": false,
    "properties": {
      "name": {"type": "string", "minLength": 3, "pattern": "^[a-z]+$"},
      "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true},
      "owner": {"type": "object", "required": ["email"],
                "properties": {"email": {"type": "string", "format": "email"}}},
      "count": {"type": "integer", "minimum": 0}
    }})");
  const Json instance =
      json(R"({"name": "AB", "tags": ["x", 2, "x"], "count": -1.5, "extra": true})");

  auto errors = validate_json(schema, instance);

  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& e : errors) got.emplace_back(e.path, e.message);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"/owner", "is required"},
      {"/count", "is a number, expected an integer"},
      {"/count", "is -1.5, less than the minimum 0"},
      {"/extra", "is not an allowed property"},
      {"/name", "is 2 characters long, shorter than the minimum 3"},
      {"/name", R"(does not match the pattern "^[a-z]+$")"},
      {"/tags", "has equal items at 0 and 2, expected unique items"},
      {"/tags/1", "is a number, expected a string"},
  };
  EXPECT_EQ(got, expected);
}

TEST(CheckSchema, AcceptsWellFormedSchemas) {
  for (
      const char* text : {
          R"({})",
          R"(true)",
          R"({"type": ["string", "null"], "minLength": 2.0, "pattern": "^\\w+$", "format": "made-up"})",
          R"({"$defs": {"n": {"properties": {"next": {"$ref": "#/$defs/n"}}}}, "$ref": "#/$defs/n"})",
          R"({"x-vendor": {"type": "not checked, not a keyword here"}, "title": "t"})",
          R"({"$ref": "#/x-shared/s", "x-shared": {"s": {"type": "string"}}})",
      }) {
    EXPECT_EQ(describe(check_schema(json(text))), "") << text;
  }
}

TEST(CheckSchema, NamesEachProblemWithItsPointerIntoTheSchema) {
  const std::string types = "(use null, boolean, object, array, number, string or integer)";
  struct SchemaCase {
    const char* schema;
    std::string expected;
  };
  const std::vector<SchemaCase> cases = {
      {R"(5)", "is a number, expected a schema (an object or a boolean)"},
      {R"(null)", "is null, expected a schema (an object or a boolean)"},
      {R"({"type": "strin"})", R"(/type: unknown type "strin" )" + types},
      {R"({"type": ["string", "wat"]})", R"(/type/1: unknown type "wat" )" + types},
      {R"({"type": 5})", "/type: is a number, expected a type name or a non-empty list of them"},
      {R"({"type": []})", "/type: is an array, expected a type name or a non-empty list of them"},
      {R"({"properties": []})", "/properties: is an array, expected an object of schemas"},
      {R"({"properties": {"a": 5}})",
       "/properties/a: is a number, expected a schema (an object or a boolean)"},
      {R"({"properties": {"a/b": {"type": "x"}}})",
       R"(/properties/a~1b/type: unknown type "x" )" + types},
      {R"({"$defs": {"d": {"type": "x"}}})", R"(/$defs/d/type: unknown type "x" )" + types},
      {R"({"items": [{}]})",
       R"(/items: is an array; since draft 2020-12 a list of item schemas is written "prefixItems")"},
      {R"({"not": "x"})", "/not: is a string, expected a schema (an object or a boolean)"},
      {R"({"anyOf": []})", "/anyOf: is an array, expected a non-empty array of schemas"},
      {R"({"oneOf": {}})", "/oneOf: is an object, expected a non-empty array of schemas"},
      {R"({"allOf": [{}, {"minimum": "1"}]})", "/allOf/1/minimum: is a string, expected a number"},
      {R"({"required": "a"})", "/required: is a string, expected an array of property names"},
      {R"({"required": ["a", 1]})", "/required: is an array, expected an array of property names"},
      {R"({"enum": 5})", "/enum: is a number, expected an array of allowed values"},
      {R"({"exclusiveMinimum": true})",
       "/exclusiveMinimum: is a boolean; since draft 6 it is the bound itself, a number"},
      {R"({"multipleOf": 0})", "/multipleOf: is a number, expected a number greater than 0"},
      {R"({"minLength": -1})", "/minLength: is a number, expected a non-negative integer"},
      {R"({"maxItems": 2.5})", "/maxItems: is a number, expected a non-negative integer"},
      {R"({"uniqueItems": "yes"})", "/uniqueItems: is a string, expected a boolean"},
      {R"({"format": 1})", "/format: is a number, expected a format name"},
      {R"({"pattern": 5})", "/pattern: is a number, expected a regular expression (a string)"},
      {R"({"pattern": "(ab"})",
       "/pattern: '(ab' is not a valid regular expression: it has an unmatched parenthesis"},
      {R"({"pattern": "a{2,1}"})",
       "/pattern: 'a{2,1}' is not a valid regular expression: it has an invalid {} range"},
      {R"({"pattern": "(a)\\1"})",
       R"(/pattern: '(a)\1' is not a valid regular expression: it has a back-reference (not supported) or too much complexity)"},
      {R"({"$ref": 5})", R"(/$ref: is a number, expected a reference like "#/$defs/name")"},
      {R"({"$ref": "#/$defs/missing"})",
       R"(/$ref: "#/$defs/missing" resolves to nothing in this schema)"},
      {R"({"$ref": "#/$defs/bad~2escape", "$defs": {}})",
       R"(/$ref: "#/$defs/bad~2escape" resolves to nothing in this schema)"},
      {R"({"$ref": "https://example.com/s.json"})",
       R"(/$ref: "https://example.com/s.json" is not a local reference (only "#..." pointers into this schema are supported))"},
      {R"({"$ref": "#/required", "required": ["a"]})",
       R"(/$ref: "#/required" names an array, not a schema)"},
      {R"({"$ref": "#/x-shared/s", "x-shared": {"s": {"type": "x"}}})",
       R"(/x-shared/s/type: unknown type "x" )" + types},
      {R"({"type": "strin", "minimum": "5", "properties": {"a": {"pattern": "("}}})",
       "/minimum: is a string, expected a number; "
       "/properties/a/pattern: '(' is not a valid regular expression: it has an unmatched "
       "parenthesis; "
       R"(/type: unknown type "strin" )" +
           types},
  };
  for (const auto& c : cases)
    EXPECT_EQ(describe(check_schema(json(c.schema)), 100), c.expected) << c.schema;
}

TEST(CheckSchema, RefusesLongPatterns) {
  Json schema = {{"pattern", std::string(1001, 'a')}};
  EXPECT_EQ(describe(check_schema(schema)), "/pattern: is longer than 1000 characters");
  schema["pattern"] = std::string(1000, 'a');
  EXPECT_EQ(describe(check_schema(schema)), "");
}

TEST(CheckSchema, FindsRefLoopsThatNeverReachIntoTheInstance) {
  struct LoopCase {
    const char* schema;
    std::string expected;
  };
  const std::string loop = "a $ref loop applies the same schema to the same value forever: ";
  const std::vector<LoopCase> cases = {
      {R"({"$ref": "#"})", loop + "# -> #"},
      {R"({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}})",
       "/$defs/b: " + loop + "#/$defs/a -> #/$defs/b -> #/$defs/a"},
      {R"({"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}, {"type": "string"}]}}, "$ref": "#/$defs/a"})",
       "/$defs/a/anyOf/0: " + loop + "#/$defs/a -> #/$defs/a/anyOf/0 -> #/$defs/a"},
      {R"({"not": {"allOf": [{"$ref": "#"}]}})",
       "/not/allOf/0: " + loop + "# -> #/not -> #/not/allOf/0 -> #"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(describe(check_schema(json(c.schema))), c.expected) << c.schema;
    // validate_json refuses the schema instead of looping.
    auto errors = validate_json(json(c.schema), 1);
    ASSERT_EQ(errors.size(), 1u) << c.schema;
    EXPECT_EQ(errors[0].message.rfind("invalid schema: a $ref loop", 0), 0u) << errors[0].message;
  }
}

TEST(CheckSchema, RefusesSchemasNestedTenThousandLevels) {
  const Json schema = deep_schema(10'000);
  auto errors = check_schema(schema);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "nests deeper than 64 levels");
  EXPECT_EQ(errors[0].path.rfind("/properties/a/properties/a/", 0), 0u);

  auto refused = validate_json(schema, Json::object());
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].message, "invalid schema: nests deeper than 64 levels");

  Json deep_all_of = Json::object();
  Json* node = &deep_all_of;
  for (int i = 0; i < 10'000; ++i) node = &(*node)["allOf"][0];
  *node = Json::object();
  EXPECT_EQ(check_schema(deep_all_of).size(), 1u);

  EXPECT_EQ(describe(check_schema(deep_schema(63))), "");
}

TEST(CheckSchema, RefusesDeeplyNestedConstAndEnumValues) {
  Json schema = {{"const", deep_array(10'000)}, {"enum", Json::array({deep_array(10'000)})}};
  EXPECT_EQ(describe(check_schema(schema)),
            "/const: nests deeper than 64 levels; /enum: nests deeper than 64 levels");
}

TEST(ValidateJson, StopsOnInstancesNestedDeeperThanItsLimit) {
  const Json schema = json(R"({"type": "array", "items": {"$ref": "#"}})");
  EXPECT_EQ(errors_of(schema, deep_array(100)), "");

  auto errors = validate_json(schema, deep_array(10'000));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message,
            "validation stopped: schemas apply inside one another deeper than 256 levels here");
  EXPECT_EQ(errors[0].path.rfind("/0/0/0/", 0), 0u);
}

TEST(ValidateJson, RefusesToCompareItemsNestedTooDeeply) {
  Json instance = Json::array({deep_array(10'000), deep_array(10'000)});
  EXPECT_EQ(errors_of(json(R"({"uniqueItems": true})"), instance),
            "nests too deeply to compare its items");
}

TEST(ValidateJson, GivesUpOnSchemasThatBranchExponentially) {
  // Forty levels of anyOf with two branches each: 2^40 paths, no loop.
  Json schema = Json::object();
  for (int i = 0; i < 40; ++i) {
    std::string next = "#/$defs/d" + std::to_string(i + 1);
    schema["$defs"]["d" + std::to_string(i)] = {{"anyOf", {{{"$ref", next}}, {{"$ref", next}}}}};
  }
  schema["$defs"]["d40"] = {{"type", "string"}};
  schema["$ref"] = "#/$defs/d0";
  ASSERT_EQ(describe(check_schema(schema)), "");

  auto started = std::chrono::steady_clock::now();
  auto errors = validate_json(schema, 5);
  auto took = std::chrono::steady_clock::now() - started;

  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message,
            "validation stopped after 1000000 steps: the schema branches too much");
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_EQ(errors_of(schema, "fine"), "");
}

TEST(ValidateJson, PatternsNeitherBacktrackExponentiallyNorOverflowTheStack) {
  // The classic catastrophic pattern; a backtracking engine takes ages here.
  const std::string almost = std::string(5000, 'a') + "b";
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(errors_of(json(R"({"pattern": "^(a+)+$"})"), almost),
            R"(does not match the pattern "^(a+)+$")");
  EXPECT_EQ(errors_of(json(R"({"pattern": "(a|aa)*c"})"), almost),
            R"(does not match the pattern "(a|aa)*c")");
  // A recursive matcher needs a stack frame per character here.
  EXPECT_EQ(errors_of(json(R"({"pattern": "^(a|b)*$"})"), std::string(200'000, 'a')), "");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST(ValidateJson, MalformedSchemasReportThemselves) {
  auto errors =
      validate_json(json(R"({"properties": {"a": {"type": "strng"}}})"), json(R"({"a": 1})"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "/properties/a/type");
  EXPECT_EQ(errors[0].message.rfind(R"(invalid schema: unknown type "strng")", 0), 0u)
      << errors[0].message;
}

TEST(Describe, JoinsErrorsWithTheirPaths) {
  const std::vector<SchemaError> errors = {{"/items/2", "is required"},
                                           {"", "is a number, expected an object"},
                                           {"/name", "is a number, expected a string"}};
  EXPECT_EQ(describe(errors),
            "/items/2: is required; is a number, expected an object; /name: is a number, expected "
            "a string");
  EXPECT_EQ(describe({}), "");
}

TEST(Describe, StopsAtTheLimit) {
  std::vector<SchemaError> errors;
  for (int i = 0; i < 12; ++i) errors.push_back({"/" + std::to_string(i), "is required"});
  std::string ten;
  for (int i = 0; i < 10; ++i) ten += (i ? "; /" : "/") + std::to_string(i) + ": is required";
  EXPECT_EQ(describe(errors), ten + "; and 2 more");
  EXPECT_EQ(describe(errors, 1), "/0: is required; and 11 more");
  EXPECT_EQ(describe(errors, 0), "and 12 more");
  EXPECT_EQ(describe(errors, 12).find("more"), std::string::npos);
}

}  // namespace
}  // namespace cadre
