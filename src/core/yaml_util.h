// YAML helpers for workspace files: parse text into a yaml-cpp node without
// letting library exceptions escape, and read fields with their places so
// every problem becomes a Diagnostic (file:line:column: field.path: message).
//
// yaml-cpp marks are 0-based; everything here reports 1-based lines and
// columns. A field's problems are reported at its value, or at its key when
// the value is empty (yaml-cpp places an empty value at the next token).
//
// Scalars follow the YAML 1.2 core schema: quoted scalars are strings; plain
// ones are null (~, null), booleans (true, false), integers, floats, or
// strings. `yes`, `no` and `on` stay strings.
//
// Parsing caps a document's size, nesting depth and node count (aliases
// included) so untrusted input can neither exhaust the stack nor expand
// exponentially; after parse_yaml() succeeds, recursive walks are safe.
//
// Thread-safety: YamlReader is not thread-safe; the free functions are.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/diagnostics.h"
#include "core/duration.h"
#include "core/json.h"

namespace cadre {

inline constexpr size_t kMaxYamlBytes = 1024 * 1024;
inline constexpr int kMaxYamlDepth = 64;
inline constexpr int64_t kMaxYamlNodes = 100000;

// A 1-based place in a file; {0, 0} when unknown.
struct YamlPos {
  int line = 0;
  int column = 0;
};

YamlPos yaml_pos(const YAML::Node& node);

// "steps" + "id" -> "steps.id"; "" + "name" -> "name".
std::string field_path(std::string_view parent, std::string_view key);
// "steps" + 2 -> "steps[2]".
std::string index_path(std::string_view parent, size_t index);

// The candidate closest to `word` when it is close enough to be a likely
// typo (small edit distance, or equal ignoring case), else "".
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);
// " (did you mean 'x'?)" or "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// "a mapping", "a sequence", "a string", "null".
std::string yaml_kind(const YAML::Node& node);

// Parses one YAML document. Syntax errors (with the parser's place), a
// second document, or input beyond the caps above become diagnostics and
// yield nullopt. An empty document yields a Null node.
std::optional<YAML::Node> parse_yaml(std::string_view text, const std::string& file,
                                     Diagnostics* diagnostics);

// One entry of a mapping (or one element of a sequence, whose key_pos is its
// own place).
struct YamlField {
  std::string name;  // the key; for an element, its index as text
  std::string path;  // dotted path, e.g. "steps[1].needs"
  YamlPos key_pos;
  YAML::Node value;

  // Where a problem with the value is reported.
  YamlPos pos() const;
};

// The entries of one mapping in document order.
class YamlMap {
 public:
  YamlMap() = default;
  YamlMap(YAML::Node node, std::string path, std::vector<YamlField> fields)
      : node_(std::move(node)), path_(std::move(path)), fields_(std::move(fields)) {}

  const YamlField* find(std::string_view name) const;
  const std::vector<YamlField>& fields() const { return fields_; }
  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }

 private:
  YAML::Node node_;
  std::string path_;
  std::vector<YamlField> fields_;
};

// Reads typed values from parsed nodes and reports problems for one file.
class YamlReader {
 public:
  YamlReader(std::string file, Diagnostics* diagnostics)
      : file_(std::move(file)), diagnostics_(diagnostics) {}

  const std::string& file() const { return file_; }
  int error_count() const { return errors_; }

  void error(YamlPos pos, std::string_view path, std::string message);
  void error(const YamlField& field, std::string message) {
    error(field.pos(), field.path, std::move(message));
  }

  // The entries of a mapping. Reports a non-mapping (and returns nullopt),
  // non-scalar and duplicate keys, and keys not in `allowed` with a "did you
  // mean" hint (an empty `allowed` accepts every key). `ignored` keys are
  // accepted but left out of the result.
  std::optional<YamlMap> read_map(const YAML::Node& node, YamlPos pos, std::string_view path,
                                  const std::vector<std::string>& allowed,
                                  const std::vector<std::string>& ignored = {});
  std::optional<YamlMap> read_map(const YamlField& field, const std::vector<std::string>& allowed,
                                  const std::vector<std::string>& ignored = {}) {
    return read_map(field.value, field.pos(), field.path, allowed, ignored);
  }

  // The elements of a sequence; reports anything else.
  std::optional<std::vector<YamlField>> read_sequence(const YamlField& field);

  // Reports `path.name: required field is missing` at the mapping.
  const YamlField* require(const YamlMap& map, std::string_view name);

  // Typed getters: nullopt (after a diagnostic) on a wrong type or range.
  std::optional<std::string> as_string(const YamlField& field);  // any scalar's text
  std::optional<int64_t> as_int(const YamlField& field, int64_t min, int64_t max);
  std::optional<double> as_number(const YamlField& field, double min, double max);
  std::optional<bool> as_bool(const YamlField& field);
  std::optional<DurationMs> as_duration(const YamlField& field, DurationMs min = 0);
  // A sequence of scalars; a single scalar is accepted as a list of one.
  std::optional<std::vector<std::string>> as_string_list(
      const YamlField& field, std::vector<YamlField>* elements = nullptr);

  // The node as JSON using the core schema. Non-scalar and duplicate keys
  // are reported (at `path`) and skipped.
  Json to_json(const YAML::Node& node, std::string_view path);

 private:
  std::string file_;
  Diagnostics* diagnostics_;
  int errors_ = 0;
};

// The core-schema value of a scalar node (see the header paragraph).
Json yaml_scalar_to_json(const YAML::Node& node);

}  // namespace cadre
