#include "core/yaml_util.h"

#include <yaml-cpp/anchor.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>
#include <unordered_map>
#include <utility>

namespace cadre {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool all_of(std::string_view s, bool (*pred)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), pred);
}

bool is_octal(char c) {
  return c >= '0' && c <= '7';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_null_text(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::optional<bool> bool_text(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

// YAML 1.2 core schema integers: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+.
// nullopt when the text is not an integer; `overflow` when it is one that
// does not fit in 64 bits.
std::optional<int64_t> int_text(std::string_view s, bool* overflow) {
  *overflow = false;
  int base = 10;
  std::string_view digits = s;
  bool negative = false;
  if (s.size() > 2 && s[0] == '0' && s[1] == 'o' && all_of(s.substr(2), is_octal)) {
    base = 8;
    digits = s.substr(2);
  } else if (s.size() > 2 && s[0] == '0' && s[1] == 'x' && all_of(s.substr(2), is_hex)) {
    base = 16;
    digits = s.substr(2);
  } else {
    if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
      negative = digits[0] == '-';
      digits.remove_prefix(1);
    }
    if (!all_of(digits, is_digit)) return std::nullopt;
  }
  std::string text = negative ? "-" + std::string(digits) : std::string(digits);
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec == std::errc::result_out_of_range) {
    *overflow = true;
    return std::nullopt;
  }
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?  (no .inf / .nan:
// JSON cannot hold them, so they stay strings).
std::optional<double> float_text(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && is_digit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  std::string text(s[0] == '+' ? s.substr(1) : s);
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// Whether the scalar's type is inferred from its text (plain, or tagged
// with a core-schema type) rather than fixed as a string (quoted or tagged).
bool is_inferred(const YAML::Node& node) {
  const std::string& tag = node.Tag();
  return tag == "?" || tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" ||
         tag == "tag:yaml.org,2002:bool" || tag == "tag:yaml.org,2002:null";
}

std::string quote(std::string_view text) {
  constexpr size_t kMax = 60;
  std::string out = "'";
  if (text.size() > kMax) {
    out += text.substr(0, kMax);
    out += "...";
  } else {
    out += text;
  }
  return out + "'";
}

std::string got(const YAML::Node& node) {
  if (node.IsScalar()) {
    if (!is_inferred(node)) return "the quoted string " + quote(node.Scalar());
    return quote(node.Scalar());
  }
  return yaml_kind(node);
}

// Optimal string alignment distance: insertions, deletions, substitutions
// and transpositions of adjacent characters ("lgo" -> "log") each cost 1.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// 1 -> "1", 0.5 -> "0.5".
std::string format_number(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  return Json(value).dump();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Records where each document's first node starts, building nothing.
class DocumentScan : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;

  void OnDocumentStart(const YAML::Mark& /*mark*/) override { pending_ = true; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override { node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                const std::string& /*value*/) override {
    node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/,
                       YAML::anchor_t /*anchor*/, YAML::EmitterStyle::value /*style*/) override {
    node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  YAML::EmitterStyle::value /*style*/) override {
    node(mark);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& mark) {
    if (pending_) starts.push_back(mark);
    pending_ = false;
  }
  bool pending_ = false;
};

}  // namespace

YamlPos yaml_pos(const YAML::Node& node) {
  if (!node.IsDefined()) return {};
  YAML::Mark mark = node.Mark();
  if (mark.is_null() || mark.line < 0 || mark.column < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

std::string field_path(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out(parent);
  out += '.';
  out += key;
  return out;
}

std::string index_path(std::string_view parent, size_t index) {
  return std::string(parent) + '[' + std::to_string(index) + ']';
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  constexpr size_t kMaxCompared = 64;
  if (word.empty() || word.size() > kMaxCompared) return "";
  std::string best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  size_t threshold = word.size() <= 3 ? 1 : 2;
  for (const auto& candidate : candidates) {
    if (candidate.size() > kMaxCompared || candidate == word) continue;
    size_t distance = lower(candidate) == lower(word) ? 0 : edit_distance(word, candidate);
    if (distance > threshold || distance >= candidate.size()) continue;
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string match = closest_match(word, candidates);
  return match.empty() ? "" : " (did you mean '" + match + "'?)";
}

std::string yaml_kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Scalar:
      return "a string";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "null";
}

std::optional<YAML::Node> parse_yaml(std::string_view text, const std::string& file,
                                     Diagnostics* diagnostics) {
  if (text.size() > kMaxYamlBytes) {
    diagnostics->add(file, 0, 0, "",
                     "file is " + std::to_string(text.size()) + " bytes; the limit is " +
                         std::to_string(kMaxYamlBytes));
    return std::nullopt;
  }
  // One document only. yaml-cpp 0.7's LoadAll() loops forever on a stray ","
  // (jbeder/yaml-cpp#1040, fixed upstream by PR #1319) and Load() silently
  // drops whatever follows the first document ("[a], b"). So a bounded scan
  // of our own looks for a second document first, and Load() builds the one.
  std::string input(text);
  YAML::Node document;
  try {
    std::istringstream stream(input);
    YAML::Parser parser(stream);
    DocumentScan scan;
    for (int i = 0; i < 2 && parser.HandleNextDocument(scan); ++i) {
    }
    if (scan.starts.size() > 1) {
      const YAML::Mark& second = scan.starts[1];
      diagnostics->add(file, second.line + 1, second.column + 1, "",
                       "YAML syntax error: unexpected text after the end of the document (a "
                       "file holds one YAML document)");
      return std::nullopt;
    }
    document = YAML::Load(input);
  } catch (const YAML::ParserException& e) {
    YamlPos pos = e.mark.is_null() ? YamlPos{} : YamlPos{e.mark.line + 1, e.mark.column + 1};
    diagnostics->add(file, pos.line, pos.column, "", "YAML syntax error: " + e.msg);
    return std::nullopt;
  } catch (const std::exception& e) {
    diagnostics->add(file, 0, 0, "", std::string("YAML error: ") + e.what());
    return std::nullopt;
  }
  if (!document.IsDefined()) return YAML::Node(YAML::NodeType::Null);

  // Walk without recursion: aliases can make the tree a DAG (exponential
  // when expanded) or even a cycle, which the depth cap also catches.
  std::vector<std::pair<YAML::Node, int>> stack = {{document, 0}};
  int64_t visited = 0;
  while (!stack.empty()) {
    auto [node, depth] = std::move(stack.back());
    stack.pop_back();
    if (++visited > kMaxYamlNodes) {
      diagnostics->add(
          file, 0, 0, "",
          "document has more than " + std::to_string(kMaxYamlNodes) + " nodes (aliases expanded)");
      return std::nullopt;
    }
    if (depth > kMaxYamlDepth) {
      YamlPos pos = yaml_pos(node);
      diagnostics->add(
          file, pos.line, pos.column, "",
          "document is nested deeper than " + std::to_string(kMaxYamlDepth) + " levels");
      return std::nullopt;
    }
    if (node.IsMap()) {
      for (auto it = node.begin(); it != node.end(); ++it) {
        stack.emplace_back(it->first, depth + 1);
        stack.emplace_back(it->second, depth + 1);
      }
    } else if (node.IsSequence()) {
      for (auto it = node.begin(); it != node.end(); ++it) stack.emplace_back(*it, depth + 1);
    }
  }
  return document;
}

YamlPos YamlField::pos() const {
  if (value.IsDefined() && !value.IsNull()) {
    YamlPos p = yaml_pos(value);
    if (p.line > 0) return p;
  }
  return key_pos;
}

const YamlField* YamlMap::find(std::string_view name) const {
  for (const auto& field : fields_) {
    if (field.name == name) return &field;
  }
  return nullptr;
}

void YamlReader::error(YamlPos pos, std::string_view path, std::string message) {
  ++errors_;
  diagnostics_->add(file_, pos.line, pos.column, std::string(path), std::move(message));
}

std::optional<YamlMap> YamlReader::read_map(const YAML::Node& node, YamlPos pos,
                                            std::string_view path,
                                            const std::vector<std::string>& allowed,
                                            const std::vector<std::string>& ignored) {
  if (!node.IsDefined() || node.IsNull()) return YamlMap(node, std::string(path), {});
  if (!node.IsMap()) {
    error(pos, path, "expected a mapping, got " + got(node));
    return std::nullopt;
  }
  std::vector<YamlField> fields;
  std::unordered_map<std::string, int> seen;  // every key and its line, for duplicates
  std::vector<std::string> candidates = allowed;
  candidates.insert(candidates.end(), ignored.begin(), ignored.end());
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;  // a copy: the iterator hands out a temporary
    YamlPos key_pos = yaml_pos(key);
    if (!key.IsScalar()) {
      error(key_pos, path, "keys must be strings, got " + yaml_kind(key));
      continue;
    }
    const std::string& name = key.Scalar();
    std::string child_path = field_path(path, name);
    auto same = seen.find(name);
    if (same != seen.end()) {
      error(key_pos, child_path,
            "duplicate key (first at line " + std::to_string(same->second) + ")");
      continue;
    }
    seen.emplace(name, key_pos.line);
    if (std::find(ignored.begin(), ignored.end(), name) != ignored.end()) continue;
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      error(key_pos, child_path, "unknown field" + did_you_mean(name, candidates));
      continue;
    }
    fields.push_back({name, std::move(child_path), key_pos, it->second});
  }
  return YamlMap(node, std::string(path), std::move(fields));
}

std::optional<std::vector<YamlField>> YamlReader::read_sequence(const YamlField& field) {
  std::vector<YamlField> elements;
  if (field.value.IsNull()) return elements;
  if (!field.value.IsSequence()) {
    error(field, "expected a sequence, got " + got(field.value));
    return std::nullopt;
  }
  size_t index = 0;
  for (auto it = field.value.begin(); it != field.value.end(); ++it, ++index) {
    YamlField element{std::to_string(index), index_path(field.path, index), yaml_pos(*it), *it};
    if (element.key_pos.line == 0) element.key_pos = field.pos();
    elements.push_back(std::move(element));
  }
  return elements;
}

const YamlField* YamlReader::require(const YamlMap& map, std::string_view name) {
  const YamlField* field = map.find(name);
  if (field == nullptr) {
    error(yaml_pos(map.node()), field_path(map.path(), name), "required field is missing");
  }
  return field;
}

std::optional<std::string> YamlReader::as_string(const YamlField& field) {
  if (!field.value.IsScalar()) {
    error(field, "expected a string, got " + got(field.value));
    return std::nullopt;
  }
  return field.value.Scalar();
}

std::optional<int64_t> YamlReader::as_int(const YamlField& field, int64_t min, int64_t max) {
  bool overflow = false;
  std::optional<int64_t> value;
  if (field.value.IsScalar() && is_inferred(field.value)) {
    value = int_text(field.value.Scalar(), &overflow);
  }
  if (!value) {
    error(field, overflow ? "integer " + quote(field.value.Scalar()) + " is out of range"
                          : "expected an integer, got " + got(field.value));
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    error(field, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                     ", got " + std::to_string(*value));
    return std::nullopt;
  }
  return value;
}

std::optional<double> YamlReader::as_number(const YamlField& field, double min, double max) {
  std::optional<double> value;
  if (field.value.IsScalar() && is_inferred(field.value)) {
    value = float_text(field.value.Scalar());
  }
  if (!value) {
    error(field, "expected a number, got " + got(field.value));
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    error(field, "must be between " + format_number(min) + " and " + format_number(max) + ", got " +
                     field.value.Scalar());
    return std::nullopt;
  }
  return value;
}

std::optional<bool> YamlReader::as_bool(const YamlField& field) {
  std::optional<bool> value;
  if (field.value.IsScalar() && is_inferred(field.value)) value = bool_text(field.value.Scalar());
  if (!value) {
    error(field, "expected true or false, got " + got(field.value));
    return std::nullopt;
  }
  return value;
}

std::optional<DurationMs> YamlReader::as_duration(const YamlField& field, DurationMs min) {
  if (!field.value.IsScalar()) {
    error(field, "expected a duration such as 30s, got " + got(field.value));
    return std::nullopt;
  }
  Result<DurationMs> value = parse_duration(field.value.Scalar());
  if (!value.ok()) {
    error(field, "invalid duration: " + value.status().message());
    return std::nullopt;
  }
  if (*value < min) {
    error(field, "must be at least " + format_duration(min) + ", got " + field.value.Scalar());
    return std::nullopt;
  }
  return *value;
}

std::optional<std::vector<std::string>> YamlReader::as_string_list(
    const YamlField& field, std::vector<YamlField>* elements) {
  std::vector<YamlField> items;
  if (field.value.IsScalar()) {
    items.push_back({"0", index_path(field.path, 0), field.pos(), field.value});
  } else {
    auto sequence = read_sequence(field);
    if (!sequence) return std::nullopt;
    items = std::move(*sequence);
  }
  std::vector<std::string> values;
  bool ok = true;
  for (const auto& item : items) {
    auto text = as_string(item);
    if (text) {
      values.push_back(*text);
    } else {
      ok = false;
    }
  }
  if (elements != nullptr) *elements = std::move(items);
  if (!ok) return std::nullopt;
  return values;
}

Json yaml_scalar_to_json(const YAML::Node& node) {
  if (!node.IsScalar()) return nullptr;
  const std::string& text = node.Scalar();
  if (!is_inferred(node)) return text;
  if (is_null_text(text)) return nullptr;
  if (auto b = bool_text(text)) return *b;
  bool overflow = false;
  if (auto i = int_text(text, &overflow)) return *i;
  if (auto f = float_text(text)) return *f;
  return text;
}

Json YamlReader::to_json(const YAML::Node& node, std::string_view path) {
  if (node.IsScalar()) return yaml_scalar_to_json(node);
  if (node.IsSequence()) {
    Json out = Json::array();
    size_t index = 0;
    for (auto it = node.begin(); it != node.end(); ++it, ++index) {
      out.push_back(to_json(*it, index_path(path, index)));
    }
    return out;
  }
  if (node.IsMap()) {
    Json out = Json::object();
    for (auto it = node.begin(); it != node.end(); ++it) {
      YamlPos key_pos = yaml_pos(it->first);
      if (!it->first.IsScalar()) {
        error(key_pos, path, "keys must be strings, got " + yaml_kind(it->first));
        continue;
      }
      const std::string key = it->first.Scalar();
      std::string child_path = field_path(path, key);
      if (out.contains(key)) {
        error(key_pos, child_path, "duplicate key");
        continue;
      }
      out[key] = to_json(it->second, child_path);
    }
    return out;
  }
  return nullptr;
}

}  // namespace cadre
