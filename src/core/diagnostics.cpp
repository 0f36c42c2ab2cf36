#include "core/diagnostics.h"

#include <algorithm>
#include <tuple>

namespace cadre {

std::string Diagnostic::to_string() const {
  std::string out = file;
  out += ':' + std::to_string(line) + ':' + std::to_string(column) + ": ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

std::string Diagnostics::to_string() const {
  std::vector<const Diagnostic*> sorted;
  for (const auto& d : items_) sorted.push_back(&d);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic* a, const Diagnostic* b) {
    return std::tie(a->file, a->line, a->column) < std::tie(b->file, b->line, b->column);
  });
  std::string out;
  for (const auto* d : sorted) out += d->to_string() + '\n';
  return out;
}

Status Diagnostics::to_status() const {
  if (items_.empty()) return Status::Ok();
  return Status::InvalidArgument(std::to_string(items_.size()) + " problem(s):\n" + to_string());
}

}  // namespace cadre
