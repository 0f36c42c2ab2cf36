#include "kernel/tool.h"

#include <mutex>

namespace cadre {

std::string_view to_string(RiskClass risk) {
  switch (risk) {
    case RiskClass::kRead: return "read";
    case RiskClass::kWrite: return "write";
    case RiskClass::kIrreversible: return "irreversible";
  }
  return "unknown";
}

Status ToolRegistry::add(std::shared_ptr<Tool> tool) {
  const std::string& name = tool->spec().name;
  std::unique_lock lock(mutex_);
  if (tools_.count(name)) return Status::AlreadyExists("tool '" + name + "' is registered twice");
  tools_.emplace(name, std::move(tool));
  return Status::Ok();
}

std::shared_ptr<Tool> ToolRegistry::find(std::string_view name) const {
  std::shared_lock lock(mutex_);
  auto it = tools_.find(name);
  return it == tools_.end() ? nullptr : it->second;
}

std::vector<std::string> ToolRegistry::names() const {
  std::vector<std::string> out;
  std::shared_lock lock(mutex_);
  for (const auto& [name, tool] : tools_) out.push_back(name);
  return out;
}

}  // namespace cadre
