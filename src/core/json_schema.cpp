// JSON Schema validation (see json_schema.h) in two passes. check_schema walks
// the schema once and refuses what validation could not apply safely: wrong
// keyword shapes, unknown types, patterns that do not compile, $refs that
// resolve nowhere and $ref loops that would apply a schema to the same value
// forever. Only then does the validator walk schema and instance together,
// still bounded in depth and steps because a schema may branch (anyOf of
// $refs) exponentially without looping.
//
// Patterns run on libstdc++'s breadth-first regex executor: the default
// backtracking one recurses once per input character (tens of kilobytes of
// string overflow an 8 MB stack) and backtracks exponentially on patterns like
// "^(a+)+$". The price is that back-references are refused.
#include "core/json_schema.h"

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <regex>
#include <string_view>
#include <unordered_map>

namespace cadre {
namespace {

// Subschemas nested inside one schema, and a const or enum value's nesting.
constexpr int kMaxSchemaDepth = 64;
// Schemas applied inside one another while validating ($refs to recursive
// definitions follow the instance down, so this is deeper than the above).
constexpr int kMaxValidationDepth = 256;
// Schema applications per validation: bounds branching that does not loop.
constexpr int64_t kMaxValidationSteps = 1'000'000;
constexpr size_t kMaxPatternLength = 1000;
// How much of a value, pattern or nested error a message quotes.
constexpr size_t kMaxQuoted = 60;
constexpr size_t kMaxBranchSummary = 160;
constexpr size_t kMaxEnumShown = 10;

#if defined(__GLIBCXX__)
constexpr auto kRegexFlags = std::regex::ECMAScript | std::regex_constants::__polynomial;
#else
constexpr auto kRegexFlags = std::regex::ECMAScript;
#endif

constexpr std::array<std::string_view, 7> kTypeNames = {"null",   "boolean", "object", "array",
                                                        "number", "string",  "integer"};

// ---------------------------------------------------------------- helpers

// One JSON pointer reference token (RFC 6901): "~" -> "~0", "/" -> "~1".
std::string escape_pointer_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// Appends "/token" to a pointer for the guard's lifetime.
class PathSegment {
 public:
  PathSegment(std::string& path, std::string_view token) : path_(path), size_(path.size()) {
    path_ += '/';
    path_ += escape_pointer_token(token);
  }
  PathSegment(std::string& path, size_t index) : PathSegment(path, std::to_string(index)) {}
  ~PathSegment() { path_.resize(size_); }
  PathSegment(const PathSegment&) = delete;
  PathSegment& operator=(const PathSegment&) = delete;

 private:
  std::string& path_;
  size_t size_;
};

// Cuts `text` to about `limit` bytes without splitting a UTF-8 sequence.
std::string shorten(std::string text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t cut = limit - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text + "...";
}

// A value as a message may quote it. const and enum values are shallow
// (check_schema bounds them), so dumping them cannot recurse far.
std::string quote(const Json& value) {
  return shorten(value.dump(-1, ' ', false, Json::error_handler_t::replace), kMaxQuoted);
}

bool nests_deeper_than(const Json& value, int levels) {
  if (!value.is_structured()) return false;
  if (levels == 0) return true;
  for (const auto& child : value) {
    if (nests_deeper_than(child, levels - 1)) return true;
  }
  return false;
}

std::string_view kind_of(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::binary:
      return "binary data";
    case Json::value_t::discarded:
      return "nothing";
    default:
      return "a number";
  }
}

std::string_view type_with_article(std::string_view type) {
  if (type == "null") return "null";
  if (type == "boolean") return "a boolean";
  if (type == "object") return "an object";
  if (type == "array") return "an array";
  if (type == "number") return "a number";
  if (type == "string") return "a string";
  if (type == "integer") return "an integer";
  return type;
}

bool is_known_type(std::string_view type) {
  return std::find(kTypeNames.begin(), kTypeNames.end(), type) != kTypeNames.end();
}

// 3.0 is an integer; 3.5 and 1e400 (infinite) are not.
bool is_integral(const Json& value) {
  if (value.is_number_integer()) return true;
  if (!value.is_number_float()) return false;
  double number = value.get<double>();
  return std::isfinite(number) && std::floor(number) == number;
}

bool has_type(const Json& value, std::string_view type) {
  if (type == "null") return value.is_null();
  if (type == "boolean") return value.is_boolean();
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "number") return value.is_number();
  if (type == "string") return value.is_string();
  if (type == "integer") return is_integral(value);
  return false;
}

// "a, b or c"
std::string join_alternatives(const std::vector<std::string>& items, std::string_view last_joint) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? last_joint : std::string_view(", ");
    out += items[i];
  }
  return out;
}

// "1 item", "2 items"; "1 property", "2 properties"
std::string count_noun(size_t count, std::string_view one, std::string_view many) {
  return std::to_string(count) + " " + std::string(count == 1 ? one : many);
}

// Exact for 64-bit integers of either sign; doubles otherwise.
int compare_numbers(const Json& a, const Json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    const bool a_negative = !a.is_number_unsigned() && a.get<int64_t>() < 0;
    const bool b_negative = !b.is_number_unsigned() && b.get<int64_t>() < 0;
    if (a_negative != b_negative) return a_negative ? -1 : 1;
    if (a_negative) {
      int64_t x = a.get<int64_t>(), y = b.get<int64_t>();
      return (x > y) - (x < y);
    }
    uint64_t x = a.get<uint64_t>(), y = b.get<uint64_t>();
    return (x > y) - (x < y);
  }
  double x = a.get<double>(), y = b.get<double>();
  return (x > y) - (x < y);
}

uint64_t magnitude(const Json& integer) {
  if (integer.is_number_unsigned()) return integer.get<uint64_t>();
  int64_t value = integer.get<int64_t>();
  return value < 0 ? uint64_t{0} - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
}

bool is_multiple_of(const Json& value, const Json& divisor) {
  if (value.is_number_integer() && divisor.is_number_integer()) {
    uint64_t d = magnitude(divisor);
    return d != 0 && magnitude(value) % d == 0;
  }
  double quotient = value.get<double>() / divisor.get<double>();
  if (!std::isfinite(quotient)) return false;
  // Decimal divisors (0.1) are inexact in binary; allow a few ulps of error.
  double tolerance = 4 * DBL_EPSILON * std::max(1.0, std::fabs(quotient));
  return std::fabs(quotient - std::round(quotient)) <= tolerance;
}

// JSON Schema counts characters (code points), not bytes.
size_t code_points(std::string_view text) {
  size_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

// A non-negative integer keyword value (3.0 counts), for minLength and kin.
bool is_count(const Json& value) {
  return is_integral(value) && (value.is_number_unsigned() || value.get<double>() >= 0);
}

uint64_t count_of(const Json& value) {
  if (value.is_number_integer()) return magnitude(value);
  double number = value.get<double>();
  return number >= 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(number);
}

std::string_view regex_problem(std::regex_constants::error_type code) {
  using namespace std::regex_constants;
  switch (code) {
    case error_collate:
      return "an invalid collating element";
    case error_ctype:
      return "an invalid character class";
    case error_escape:
      return "an invalid escape";
    case error_backref:
      return "an invalid back-reference";
    case error_brack:
      return "an unmatched '['";
    case error_paren:
      return "an unmatched parenthesis";
    case error_brace:
      return "an unmatched '{'";
    case error_badbrace:
      return "an invalid {} range";
    case error_range:
      return "an invalid character range";
    case error_space:
      return "too many states";
    case error_badrepeat:
      return "a repeat with nothing to repeat";
    case error_complexity:
      return "a back-reference (not supported) or too much complexity";
    case error_stack:
      return "too much complexity";
    default:
      return "an error";
  }
}

// The problem with `pattern` as an ECMAScript regex, or "" when it compiles.
std::string pattern_problem(const std::string& pattern) {
  if (pattern.size() > kMaxPatternLength) {
    return "is longer than " + std::to_string(kMaxPatternLength) + " characters";
  }
  try {
    std::regex compiled(pattern, kRegexFlags);
    (void)compiled;
  } catch (const std::regex_error& e) {
    return "'" + shorten(pattern, kMaxQuoted) + "' is not a valid regular expression: it has " +
           std::string(regex_problem(e.code()));
  } catch (const std::exception& e) {
    return "'" + shorten(pattern, kMaxQuoted) + "' could not be compiled: " + e.what();
  }
  return "";
}

// Percent-decoding of a URI fragment; nullopt for a broken escape.
std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int high = hex(text[i + 1]), low = hex(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

// The node a local "$ref" ("#", "#/$defs/name", any "#/json/pointer") names
// inside `root`, or nullptr.
const Json* resolve_ref(const Json& root, std::string_view ref) {
  if (ref.empty() || ref.front() != '#') return nullptr;
  std::optional<std::string> pointer = percent_decode(ref.substr(1));
  if (!pointer) return nullptr;
  if (pointer->empty()) return &root;
  if (pointer->front() != '/') return nullptr;  // "#anchor" names are not supported
  const Json* node = &root;
  size_t start = 1;
  while (true) {
    size_t end = pointer->find('/', start);
    std::string_view raw = std::string_view(*pointer).substr(
        start, end == std::string::npos ? std::string::npos : end - start);
    std::string token;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '~') {
        token += raw[i];
      } else if (i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[++i] == '0' ? '~' : '/';
      } else {
        return nullptr;
      }
    }
    if (node->is_object()) {
      auto it = node->find(token);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array()) {
      if (token.empty() || token.size() > 9 || (token.size() > 1 && token[0] == '0') ||
          !std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return nullptr;
      }
      size_t index = std::stoul(token);
      if (index >= node->size()) return nullptr;
      node = &(*node)[index];
    } else {
      return nullptr;
    }
    if (end == std::string::npos) return node;
    start = end + 1;
  }
}

// ---------------------------------------------------------------- formats

bool read_digits(std::string_view text, size_t at, size_t count, int* out) {
  if (at + count > text.size()) return false;
  int value = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  *out = value;
  return true;
}

int days_in_month(int year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// "2026-11-25"
bool is_date(std::string_view text) {
  int year = 0, month = 0, day = 0;
  return text.size() == 10 && read_digits(text, 0, 4, &year) && text[4] == '-' &&
         read_digits(text, 5, 2, &month) && text[7] == '-' && read_digits(text, 8, 2, &day) &&
         month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month);
}

// RFC 3339: "2026-11-25T09:00:00Z", "2026-11-25T09:00:00.5+01:00"
bool is_date_time(std::string_view text) {
  if (text.size() < 20 || !is_date(text.substr(0, 10))) return false;
  if (text[10] != 'T' && text[10] != 't') return false;
  int hour = 0, minute = 0, second = 0;
  if (!read_digits(text, 11, 2, &hour) || text[13] != ':' || !read_digits(text, 14, 2, &minute) ||
      text[16] != ':' || !read_digits(text, 17, 2, &second)) {
    return false;
  }
  if (hour > 23 || minute > 59 || second > 60) return false;  // 60: a leap second
  size_t at = 19;
  if (text[at] == '.') {
    size_t digits_start = ++at;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') ++at;
    if (at == digits_start) return false;
  }
  if (at == text.size()) return false;
  if ((text[at] == 'Z' || text[at] == 'z') && at + 1 == text.size()) return true;
  int offset_hour = 0, offset_minute = 0;
  return (text[at] == '+' || text[at] == '-') && at + 6 == text.size() &&
         read_digits(text, at + 1, 2, &offset_hour) && text[at + 3] == ':' &&
         read_digits(text, at + 4, 2, &offset_minute) && offset_hour <= 23 && offset_minute <= 59;
}

bool has_space_or_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F;
  });
}

// Loosely: "local@domain", both non-empty, no spaces, a sane domain.
bool is_email(std::string_view text) {
  size_t at = text.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == text.size()) return false;
  std::string_view local = text.substr(0, at), domain = text.substr(at + 1);
  return !has_space_or_control(text) && local.find('@') == std::string_view::npos &&
         domain.front() != '.' && domain.back() != '.' &&
         domain.find("..") == std::string_view::npos;
}

// Loosely: a scheme, a colon, and no characters a URI never holds raw.
bool is_uri(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!is_alpha(text[0])) return false;
  for (char c : text.substr(0, colon)) {
    if (!is_alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') return false;
  }
  return !has_space_or_control(text) && text.find_first_of("<>\"{}|\\^`") == std::string_view::npos;
}

// The complaint about `text` under `format`, or "" when fine or unknown.
std::string_view format_problem(std::string_view format, std::string_view text) {
  if (format == "date-time" && !is_date_time(text)) {
    return "is not a date-time (RFC 3339, e.g. 2026-11-25T09:00:00Z)";
  }
  if (format == "date" && !is_date(text)) return "is not a date (YYYY-MM-DD)";
  if (format == "email" && !is_email(text)) return "is not an email address";
  if (format == "uri" && !is_uri(text)) return "is not a URI (scheme:rest, no spaces)";
  return "";
}

// ---------------------------------------------------------------- check_schema

class SchemaChecker {
 public:
  explicit SchemaChecker(const Json& root) : root_(root) {}

  std::vector<SchemaError> run() {
    std::string path;
    check(root_, path, 0);
    // Targets outside the walked keywords ("#/x-shared/thing") are checked too.
    for (size_t i = 0; i < ref_targets_.size(); ++i) {
      const auto [target, target_path] = ref_targets_[i];
      if (!walked_.contains(target)) {
        std::string from = target_path;
        check(*target, from, 0);
      }
    }
    if (errors_.empty()) find_ref_loops();
    return std::move(errors_);
  }

 private:
  void error(const std::string& path, std::string message) {
    errors_.push_back({path, std::move(message)});
  }

  void check(const Json& schema, std::string& path, int depth) {
    if (schema.is_boolean()) return;
    if (!schema.is_object()) {
      error(path,
            "is " + std::string(kind_of(schema)) + ", expected a schema (an object or a boolean)");
      return;
    }
    if (depth > kMaxSchemaDepth) {
      error(path, "nests deeper than " + std::to_string(kMaxSchemaDepth) + " levels");
      return;
    }
    if (!walked_.emplace(&schema, path).second) return;
    walk_order_.push_back(&schema);
    for (const auto& [keyword, value] : schema.items()) {
      PathSegment segment(path, keyword);
      check_keyword(keyword, value, path, depth);
    }
  }

  void check_schema_map(const Json& value, std::string& path, int depth) {
    if (!value.is_object()) {
      error(path, "is " + std::string(kind_of(value)) + ", expected an object of schemas");
      return;
    }
    for (const auto& [name, schema] : value.items()) {
      PathSegment segment(path, name);
      check(schema, path, depth + 1);
    }
  }

  void check_schema_list(const Json& value, std::string& path, int depth) {
    if (!value.is_array() || value.empty()) {
      error(path, "is " + std::string(kind_of(value)) + ", expected a non-empty array of schemas");
      return;
    }
    for (size_t i = 0; i < value.size(); ++i) {
      PathSegment segment(path, i);
      check(value[i], path, depth + 1);
    }
  }

  void check_type(const Json& value, const std::string& path) {
    const std::string known = "use null, boolean, object, array, number, string or integer";
    if (value.is_string()) {
      if (!is_known_type(value.get<std::string>())) {
        error(path, "unknown type " + quote(value) + " (" + known + ")");
      }
      return;
    }
    if (!value.is_array() || value.empty()) {
      error(path, "is " + std::string(kind_of(value)) +
                      ", expected a type name or a non-empty list of them");
      return;
    }
    for (size_t i = 0; i < value.size(); ++i) {
      if (!value[i].is_string() || !is_known_type(value[i].get<std::string>())) {
        error(path + "/" + std::to_string(i),
              "unknown type " + quote(value[i]) + " (" + known + ")");
      }
    }
  }

  void check_ref(const Json& value, const std::string& path) {
    if (!value.is_string()) {
      error(path,
            "is " + std::string(kind_of(value)) + ", expected a reference like \"#/$defs/name\"");
      return;
    }
    const std::string ref = value.get<std::string>();
    if (ref.empty() || ref.front() != '#') {
      error(
          path,
          quote(value) +
              " is not a local reference (only \"#...\" pointers into this schema are supported)");
      return;
    }
    const Json* target = resolve_ref(root_, ref);
    if (target == nullptr) {
      error(path, quote(value) + " resolves to nothing in this schema");
    } else if (!target->is_object() && !target->is_boolean()) {
      error(path, quote(value) + " names " + std::string(kind_of(*target)) + ", not a schema");
    } else {
      // The target's own pointer, so its errors point at it.
      auto decoded = percent_decode(std::string_view(ref).substr(1));
      ref_targets_.emplace_back(target, decoded.value_or(""));
    }
  }

  void check_keyword(const std::string& keyword, const Json& value, std::string& path, int depth) {
    auto expect = [&](bool ok, std::string_view what) {
      if (!ok) error(path, "is " + std::string(kind_of(value)) + ", expected " + std::string(what));
    };
    if (keyword == "type") {
      check_type(value, path);
    } else if (keyword == "properties" || keyword == "$defs" || keyword == "definitions") {
      check_schema_map(value, path, depth);
    } else if (keyword == "items" && value.is_array()) {
      error(path,
            "is an array; since draft 2020-12 a list of item schemas is written \"prefixItems\"");
    } else if (keyword == "additionalProperties" || keyword == "items" || keyword == "not") {
      check(value, path, depth + 1);
    } else if (keyword == "prefixItems" || keyword == "allOf" || keyword == "anyOf" ||
               keyword == "oneOf") {
      check_schema_list(value, path, depth);
    } else if (keyword == "required") {
      expect(value.is_array() && std::all_of(value.begin(), value.end(),
                                             [](const Json& name) { return name.is_string(); }),
             "an array of property names");
    } else if (keyword == "enum") {
      expect(value.is_array(), "an array of allowed values");
      if (nests_deeper_than(value, kMaxSchemaDepth + 1)) {
        error(path, "nests deeper than " + std::to_string(kMaxSchemaDepth) + " levels");
      }
    } else if (keyword == "const") {
      if (nests_deeper_than(value, kMaxSchemaDepth)) {
        error(path, "nests deeper than " + std::to_string(kMaxSchemaDepth) + " levels");
      }
    } else if ((keyword == "exclusiveMinimum" || keyword == "exclusiveMaximum") &&
               value.is_boolean()) {
      error(path, "is a boolean; since draft 6 it is the bound itself, a number");
    } else if (keyword == "minimum" || keyword == "maximum" || keyword == "exclusiveMinimum" ||
               keyword == "exclusiveMaximum") {
      expect(value.is_number(), "a number");
    } else if (keyword == "multipleOf") {
      expect(value.is_number() && value.get<double>() > 0, "a number greater than 0");
    } else if (keyword == "minLength" || keyword == "maxLength" || keyword == "minItems" ||
               keyword == "maxItems" || keyword == "minProperties" || keyword == "maxProperties") {
      expect(is_count(value), "a non-negative integer");
    } else if (keyword == "uniqueItems") {
      expect(value.is_boolean(), "a boolean");
    } else if (keyword == "pattern") {
      if (!value.is_string()) {
        expect(false, "a regular expression (a string)");
      } else if (std::string problem = pattern_problem(value.get<std::string>());
                 !problem.empty()) {
        error(path, problem);
      }
    } else if (keyword == "format") {
      expect(value.is_string(), "a format name");
    } else if (keyword == "$ref") {
      check_ref(value, path);
    }
    // Anything else (title, description, default, ...) is an annotation.
  }

  // A cycle of $ref/allOf/anyOf/oneOf/not edges applies a schema to the same
  // value forever. Depth-first search, iterative so long chains cannot
  // exhaust the stack.
  struct Frame {
    const Json* schema;
    std::vector<const Json*> next;  // its in-place subschemas
    size_t index = 0;               // the next one to visit
  };

  void find_ref_loops() {
    enum class Mark { kOnStack, kDone };
    std::unordered_map<const Json*, Mark> marks;
    for (const Json* start : walk_order_) {
      if (marks.contains(start)) continue;
      std::vector<Frame> stack;
      stack.push_back({start, in_place_children(*start)});
      marks[start] = Mark::kOnStack;
      while (!stack.empty()) {
        Frame& top = stack.back();
        if (top.index == top.next.size()) {
          marks[top.schema] = Mark::kDone;
          stack.pop_back();
          continue;
        }
        const Json* child = top.next[top.index++];
        auto mark = marks.find(child);
        if (mark == marks.end()) {
          marks[child] = Mark::kOnStack;
          stack.push_back({child, in_place_children(*child)});
        } else if (mark->second == Mark::kOnStack) {
          report_loop(stack, child);
        }
      }
    }
  }

  std::vector<const Json*> in_place_children(const Json& schema) const {
    std::vector<const Json*> children;
    if (!schema.is_object()) return children;
    for (const char* keyword : {"allOf", "anyOf", "oneOf"}) {
      auto it = schema.find(keyword);
      if (it != schema.end() && it->is_array()) {
        for (const auto& branch : *it) children.push_back(&branch);
      }
    }
    if (auto it = schema.find("not"); it != schema.end()) children.push_back(&*it);
    if (auto it = schema.find("$ref"); it != schema.end() && it->is_string()) {
      if (const Json* target = resolve_ref(root_, it->get<std::string>())) {
        children.push_back(target);
      }
    }
    return children;
  }

  void report_loop(const std::vector<Frame>& stack, const Json* back_to) {
    auto path_of = [&](const Json* node) {
      auto it = walked_.find(node);
      return it == walked_.end() ? std::string("?") : it->second;
    };
    std::vector<std::string> cycle;
    bool in_cycle = false;
    for (const auto& frame : stack) {
      in_cycle = in_cycle || frame.schema == back_to;
      if (in_cycle) cycle.push_back("#" + path_of(frame.schema));
    }
    cycle.push_back("#" + path_of(back_to));
    std::string message = "a $ref loop applies the same schema to the same value forever: ";
    for (size_t i = 0; i < cycle.size(); ++i) message += (i ? " -> " : "") + cycle[i];
    error(path_of(stack.back().schema), message);
  }

  const Json& root_;
  std::vector<SchemaError> errors_;
  std::unordered_map<const Json*, std::string> walked_;  // schema -> its pointer
  std::vector<const Json*> walk_order_;                  // so reports come in a stable order
  std::vector<std::pair<const Json*, std::string>> ref_targets_;
};

// ---------------------------------------------------------------- validation

class Validator {
 public:
  explicit Validator(const Json& root) : root_(root) {}

  std::vector<SchemaError> run(const Json& instance) {
    std::vector<SchemaError> errors;
    validate(root_, instance, errors, 0);
    if (stopped_) return {*stopped_};
    return errors;
  }

 private:
  using Errors = std::vector<SchemaError>;

  void add(Errors& errors, std::string message) { errors.push_back({path_, std::move(message)}); }

  void stop(std::string why) {
    if (!stopped_) stopped_ = SchemaError{path_, std::move(why)};
  }

  void validate(const Json& schema, const Json& instance, Errors& errors, int depth) {
    if (stopped_) return;
    if (++steps_ > kMaxValidationSteps) {
      stop("validation stopped after " + std::to_string(kMaxValidationSteps) +
           " steps: the schema branches too much");
      return;
    }
    if (depth > kMaxValidationDepth) {
      stop("validation stopped: schemas apply inside one another deeper than " +
           std::to_string(kMaxValidationDepth) + " levels here");
      return;
    }
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) add(errors, "is not allowed here (the schema is false)");
      return;
    }
    if (!schema.is_object()) return;  // check_schema has refused it

    check_type(schema, instance, errors);
    check_value(schema, instance, errors);
    if (instance.is_number()) check_number(schema, instance, errors);
    if (instance.is_string()) check_string(schema, instance.get_ref<const std::string&>(), errors);
    if (instance.is_array()) check_array(schema, instance, errors, depth);
    if (instance.is_object()) check_object(schema, instance, errors, depth);
    check_combinators(schema, instance, errors, depth);
    if (auto ref = schema.find("$ref"); ref != schema.end() && ref->is_string()) {
      if (const Json* target = resolve_ref(root_, ref->get<std::string>())) {
        validate(*target, instance, errors, depth + 1);
      }
    }
  }

  void check_type(const Json& schema, const Json& instance, Errors& errors) {
    auto type = schema.find("type");
    if (type == schema.end()) return;
    std::vector<std::string> expected;
    if (type->is_string()) {
      if (has_type(instance, type->get_ref<const std::string&>())) return;
      expected.emplace_back(type_with_article(type->get_ref<const std::string&>()));
    } else if (type->is_array()) {
      for (const auto& name : *type) {
        if (!name.is_string()) continue;
        if (has_type(instance, name.get_ref<const std::string&>())) return;
        expected.emplace_back(type_with_article(name.get_ref<const std::string&>()));
      }
    } else {
      return;
    }
    add(errors, "is " + std::string(kind_of(instance)) + ", expected " +
                    join_alternatives(expected, " or "));
  }

  void check_value(const Json& schema, const Json& instance, Errors& errors) {
    if (auto constant = schema.find("const"); constant != schema.end() && instance != *constant) {
      add(errors, "must be " + quote(*constant));
    }
    auto allowed = schema.find("enum");
    if (allowed == schema.end() || !allowed->is_array()) return;
    if (std::find(allowed->begin(), allowed->end(), instance) != allowed->end()) return;
    std::vector<std::string> shown;
    for (const auto& value : *allowed) {
      if (shown.size() == kMaxEnumShown) {
        shown.push_back("... (" + std::to_string(allowed->size()) + " in all)");
        break;
      }
      shown.push_back(quote(value));
    }
    add(errors, "must be one of " + join_alternatives(shown, ", "));
  }

  void check_number(const Json& schema, const Json& instance, Errors& errors) {
    struct Bound {
      const char* keyword;
      int failing_sign;  // compare(instance, bound) result that fails
      bool equal_fails;
      const char* complaint;
    };
    static constexpr std::array<Bound, 4> kBounds = {{
        {"minimum", -1, false, "less than the minimum"},
        {"maximum", 1, false, "more than the maximum"},
        {"exclusiveMinimum", -1, true, "not more than the exclusive minimum"},
        {"exclusiveMaximum", 1, true, "not less than the exclusive maximum"},
    }};
    for (const auto& bound : kBounds) {
      auto limit = schema.find(bound.keyword);
      if (limit == schema.end() || !limit->is_number()) continue;
      int order = compare_numbers(instance, *limit);
      if (order == bound.failing_sign || (bound.equal_fails && order == 0)) {
        add(errors, "is " + quote(instance) + ", " + bound.complaint + " " + quote(*limit));
      }
    }
    auto divisor = schema.find("multipleOf");
    if (divisor != schema.end() && divisor->is_number() && divisor->get<double>() > 0 &&
        !is_multiple_of(instance, *divisor)) {
      add(errors, "is " + quote(instance) + ", not a multiple of " + quote(*divisor));
    }
  }

  void check_string(const Json& schema, const std::string& text, Errors& errors) {
    auto min_length = schema.find("minLength");
    auto max_length = schema.find("maxLength");
    if ((min_length != schema.end() && is_count(*min_length)) ||
        (max_length != schema.end() && is_count(*max_length))) {
      size_t length = code_points(text);
      if (min_length != schema.end() && is_count(*min_length) && length < count_of(*min_length)) {
        add(errors, "is " + count_noun(length, "character", "characters") +
                        " long, shorter than the minimum " + quote(*min_length));
      }
      if (max_length != schema.end() && is_count(*max_length) && length > count_of(*max_length)) {
        add(errors, "is " + count_noun(length, "character", "characters") +
                        " long, longer than the maximum " + quote(*max_length));
      }
    }
    if (auto pattern = schema.find("pattern"); pattern != schema.end() && pattern->is_string()) {
      check_pattern(*pattern, text, errors);
    }
    if (auto format = schema.find("format"); format != schema.end() && format->is_string()) {
      std::string_view problem = format_problem(format->get_ref<const std::string&>(), text);
      if (!problem.empty()) add(errors, std::string(problem));
    }
  }

  void check_pattern(const Json& pattern, const std::string& text, Errors& errors) {
    auto& compiled = patterns_[&pattern];
    try {
      if (!compiled) {
        // A whole-input match around the pattern is a search in one pass;
        // regex_search would restart at every offset (quadratic).
        const std::string& source = pattern.get_ref<const std::string&>();
        compiled =
            std::make_unique<std::regex>("[\\s\\S]*(?:" + source + ")[\\s\\S]*", kRegexFlags);
      }
      if (!std::regex_match(text, *compiled)) {
        add(errors, "does not match the pattern " + quote(pattern));
      }
    } catch (const std::exception& e) {
      add(errors, "could not be matched against the pattern " + quote(pattern) + ": " + e.what());
    }
  }

  void check_array(const Json& schema, const Json& array, Errors& errors, int depth) {
    auto min_items = schema.find("minItems");
    if (min_items != schema.end() && is_count(*min_items) && array.size() < count_of(*min_items)) {
      add(errors, "has " + count_noun(array.size(), "item", "items") + ", fewer than the minimum " +
                      quote(*min_items));
    }
    auto max_items = schema.find("maxItems");
    if (max_items != schema.end() && is_count(*max_items) && array.size() > count_of(*max_items)) {
      add(errors, "has " + count_noun(array.size(), "item", "items") + ", more than the maximum " +
                      quote(*max_items));
    }
    if (auto unique = schema.find("uniqueItems");
        unique != schema.end() && unique->is_boolean() && unique->get<bool>()) {
      check_unique(array, errors);
    }
    size_t prefix_count = 0;
    if (auto prefix = schema.find("prefixItems"); prefix != schema.end() && prefix->is_array()) {
      prefix_count = std::min(prefix->size(), array.size());
      for (size_t i = 0; i < prefix_count; ++i) {
        PathSegment segment(path_, i);
        validate((*prefix)[i], array[i], errors, depth + 1);
      }
    }
    if (auto items = schema.find("items"); items != schema.end() && !items->is_array()) {
      for (size_t i = prefix_count; i < array.size() && !stopped_; ++i) {
        PathSegment segment(path_, i);
        validate(*items, array[i], errors, depth + 1);
      }
    }
  }

  void check_unique(const Json& array, Errors& errors) {
    // Comparing recurses; values from parse_json are at most kMaxJsonDepth deep.
    if (nests_deeper_than(array, kMaxJsonDepth)) {
      add(errors, "nests too deeply to compare its items");
      return;
    }
    // Sorting finds duplicates in n log n; 1 and 1.0 compare equal, as JSON Schema wants.
    std::vector<size_t> order(array.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return array[a] < array[b]; });
    std::optional<std::pair<size_t, size_t>> first_duplicate;
    for (size_t i = 1; i < order.size(); ++i) {
      if (array[order[i - 1]] == array[order[i]]) {
        std::pair<size_t, size_t> pair = std::minmax(order[i - 1], order[i]);
        if (!first_duplicate || pair.second < first_duplicate->second) first_duplicate = pair;
      }
    }
    if (first_duplicate) {
      add(errors, "has equal items at " + std::to_string(first_duplicate->first) + " and " +
                      std::to_string(first_duplicate->second) + ", expected unique items");
    }
  }

  void check_object(const Json& schema, const Json& object, Errors& errors, int depth) {
    auto required = schema.find("required");
    if (required != schema.end() && required->is_array()) {
      for (const auto& name : *required) {
        if (name.is_string() && !object.contains(name.get_ref<const std::string&>())) {
          PathSegment segment(path_, name.get_ref<const std::string&>());
          add(errors, "is required");
        }
      }
    }
    auto min_properties = schema.find("minProperties");
    if (min_properties != schema.end() && is_count(*min_properties) &&
        object.size() < count_of(*min_properties)) {
      add(errors, "has " + count_noun(object.size(), "property", "properties") +
                      ", fewer than the minimum " + quote(*min_properties));
    }
    auto max_properties = schema.find("maxProperties");
    if (max_properties != schema.end() && is_count(*max_properties) &&
        object.size() > count_of(*max_properties)) {
      add(errors, "has " + count_noun(object.size(), "property", "properties") +
                      ", more than the maximum " + quote(*max_properties));
    }
    auto properties = schema.find("properties");
    auto additional = schema.find("additionalProperties");
    for (const auto& [name, value] : object.items()) {
      if (stopped_) return;
      PathSegment segment(path_, name);
      const Json* declared = nullptr;
      if (properties != schema.end() && properties->is_object()) {
        if (auto it = properties->find(name); it != properties->end()) declared = &*it;
      }
      if (declared != nullptr) {
        validate(*declared, value, errors, depth + 1);
      } else if (additional != schema.end()) {
        if (additional->is_boolean() && !additional->get<bool>()) {
          add(errors, "is not an allowed property");
        } else {
          validate(*additional, value, errors, depth + 1);
        }
      }
    }
  }

  // "branch 0: is a number, expected a string; branch 2: /a: is required"
  std::string summarize_branches(const std::vector<std::pair<size_t, Errors>>& failures) const {
    std::string summary;
    for (const auto& [index, branch_errors] : failures) {
      if (!summary.empty()) summary += "; ";
      summary += "branch " + std::to_string(index) + ": ";
      if (branch_errors.empty()) continue;
      const SchemaError& first = branch_errors.front();
      std::string text = first.path == path_ ? first.message : first.path + ": " + first.message;
      if (branch_errors.size() > 1) {
        text += " (+" + std::to_string(branch_errors.size() - 1) + " more)";
      }
      summary += shorten(std::move(text), kMaxBranchSummary);
    }
    return summary;
  }

  void check_combinators(const Json& schema, const Json& instance, Errors& errors, int depth) {
    if (auto all = schema.find("allOf"); all != schema.end() && all->is_array()) {
      for (const auto& branch : *all) validate(branch, instance, errors, depth + 1);
    }
    if (auto any = schema.find("anyOf"); any != schema.end() && any->is_array()) {
      std::vector<std::pair<size_t, Errors>> failures;
      bool matched = false;
      for (size_t i = 0; i < any->size() && !matched && !stopped_; ++i) {
        Errors branch_errors;
        validate((*any)[i], instance, branch_errors, depth + 1);
        matched = branch_errors.empty();
        failures.emplace_back(i, std::move(branch_errors));
      }
      if (!matched) {
        add(errors, "matches no branch of anyOf (" + summarize_branches(failures) + ")");
      }
    }
    if (auto one = schema.find("oneOf"); one != schema.end() && one->is_array()) {
      std::vector<std::pair<size_t, Errors>> failures;
      std::vector<std::string> matches;
      for (size_t i = 0; i < one->size() && !stopped_; ++i) {
        Errors branch_errors;
        validate((*one)[i], instance, branch_errors, depth + 1);
        if (branch_errors.empty()) {
          matches.push_back(std::to_string(i));
        } else {
          failures.emplace_back(i, std::move(branch_errors));
        }
      }
      if (matches.empty()) {
        add(errors, "matches no branch of oneOf (" + summarize_branches(failures) + ")");
      } else if (matches.size() > 1) {
        add(errors, "matches oneOf branches " + join_alternatives(matches, " and ") +
                        ", expected exactly one");
      }
    }
    if (auto negated = schema.find("not"); negated != schema.end()) {
      Errors branch_errors;
      validate(*negated, instance, branch_errors, depth + 1);
      if (branch_errors.empty()) add(errors, "must not match the schema under \"not\"");
    }
  }

  const Json& root_;
  std::string path_;
  int64_t steps_ = 0;
  std::optional<SchemaError> stopped_;  // set once validation gives up; the only error then
  std::unordered_map<const Json*, std::unique_ptr<std::regex>> patterns_;
};

}  // namespace

std::vector<SchemaError> check_schema(const Json& schema) {
  try {
    return SchemaChecker(schema).run();
  } catch (const std::exception& e) {
    return {{"", std::string("the schema could not be checked: ") + e.what()}};
  } catch (...) {
    return {{"", "the schema could not be checked"}};
  }
}

std::vector<SchemaError> validate_json(const Json& schema, const Json& instance) {
  try {
    std::vector<SchemaError> problems = SchemaChecker(schema).run();
    if (!problems.empty()) {
      for (auto& problem : problems) problem.message = "invalid schema: " + problem.message;
      return problems;
    }
    return Validator(schema).run(instance);
  } catch (const std::exception& e) {
    return {{"", std::string("validation failed: ") + e.what()}};
  } catch (...) {
    return {{"", "validation failed"}};
  }
}

std::string describe(const std::vector<SchemaError>& errors, size_t limit) {
  std::string out;
  const size_t shown = std::min(limit, errors.size());
  for (size_t i = 0; i < shown; ++i) {
    if (i > 0) out += "; ";
    if (!errors[i].path.empty()) out += errors[i].path + ": ";
    out += errors[i].message;
  }
  if (errors.size() > shown) {
    if (!out.empty()) out += "; ";
    out += "and " + std::to_string(errors.size() - shown) + " more";
  }
  return out;
}

}  // namespace cadre
