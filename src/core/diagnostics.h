// Diagnostics: every problem found while loading workspace files, each with
// its place, so `cadre check` can report all of them at once as
//   file:line:column: field.path: what is wrong
// Lines and columns are 1-based; 0 means "the whole file".
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace cadre {

struct Diagnostic {
  std::string file;     // relative to the workspace root, e.g. "playbooks/onboard.yaml"
  int line = 0;
  int column = 0;
  std::string field;    // dotted path, e.g. "steps[2].with.path"; may be empty
  std::string message;

  std::string to_string() const;
};

class Diagnostics {
 public:
  void add(Diagnostic d) { items_.push_back(std::move(d)); }
  void add(std::string file, int line, int column, std::string field, std::string message) {
    items_.push_back({std::move(file), line, column, std::move(field), std::move(message)});
  }
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  const std::vector<Diagnostic>& items() const { return items_; }

  // One line per diagnostic, sorted by file, line, column.
  std::string to_string() const;
  // InvalidArgument listing every diagnostic, or Ok when there are none.
  Status to_status() const;

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace cadre
