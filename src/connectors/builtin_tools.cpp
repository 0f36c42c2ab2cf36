#include "connectors/builtin_tools.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "connectors/file_io.h"

namespace cadre {
namespace fs = std::filesystem;
namespace {

Result<std::string> string_arg(const Json& args, const char* name, bool required = true) {
  if (!args.is_object()) return Status::InvalidArgument("arguments must be an object");
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) {
    if (required) return Status::InvalidArgument(std::string("argument '") + name + "' is required");
    return std::string();
  }
  if (it->is_string()) return it->get<std::string>();
  return dump_json(*it);  // numbers, objects: written as JSON text
}

Status ensure_parent(const fs::path& path) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return errno_status(ec.value(), "cannot create folder " + path.parent_path().string());
  return Status::Ok();
}

// The arguments of the file tools: a path inside the workspace and content.
struct FileArguments {
  std::string relative;
  fs::path path;  // resolved; its folder exists
  std::string content;
};

Result<FileArguments> file_arguments(const ToolCall& call) {
  FileArguments a;
  CADRE_ASSIGN_OR_RETURN(a.relative, string_arg(call.args, "path"));
  CADRE_ASSIGN_OR_RETURN(a.content, string_arg(call.args, "content"));
  CADRE_ASSIGN_OR_RETURN(a.path, resolve_workspace_path(call.workspace_root, a.relative));
  CADRE_RETURN_IF_ERROR(ensure_parent(a.path));
  return a;
}

Json file_schema() {
  return Json::parse(R"({"type":"object","required":["path","content"],"properties":{
                       "path":{"type":"string"},"content":{"type":"string"}}})");
}

class BuiltinTool : public Tool {
 public:
  explicit BuiltinTool(ToolSpec spec) : spec_(std::move(spec)) {}
  const ToolSpec& spec() const override { return spec_; }

 private:
  ToolSpec spec_;
};

class LogTool final : public BuiltinTool {
 public:
  LogTool()
      : BuiltinTool({"log", "Record a message in the run's trace and the server log.", RiskClass::kRead, true,
                     Json::parse(R"({"type":"object","required":["message"],"properties":{
                       "message":{"type":"string"},"level":{"enum":["info","warn","error"]}}})"),
                     {}}) {}
  Result<Json> invoke(const ToolCall& call) override {
    CADRE_ASSIGN_OR_RETURN(std::string message, string_arg(call.args, "message"));
    CADRE_ASSIGN_OR_RETURN(std::string level, string_arg(call.args, "level", false));
    if (level.empty()) level = "info";
    if (level != "info" && level != "warn" && level != "error")
      return Status::InvalidArgument("argument 'level' must be info, warn or error, not '" + level + "'");
    if (level == "error") {
      spdlog::error("[log] {}", message);
    } else if (level == "warn") {
      spdlog::warn("[log] {}", message);
    } else {
      spdlog::info("[log] {}", message);
    }
    return Json{{"message", message}, {"level", level}};
  }
};

class FileWriteTool final : public BuiltinTool {
 public:
  FileWriteTool()
      : BuiltinTool({"file.write", "Replace a file in the workspace with the given content (atomic).",
                     RiskClass::kWrite, true, file_schema(), {}}) {}
  Result<Json> invoke(const ToolCall& call) override {
    CADRE_ASSIGN_OR_RETURN(FileArguments a, file_arguments(call));
    const auto& [relative, path, content] = a;
    CADRE_RETURN_IF_ERROR(write_file_atomically(path, content, call.idempotency_key, relative));
    return Json{{"path", relative}, {"bytes", content.size()}};
  }
};

class FileAppendTool final : public BuiltinTool {
 public:
  FileAppendTool()
      : BuiltinTool({"file.append", "Append content to a file in the workspace (a newline is added if missing).",
                     RiskClass::kWrite, false, file_schema(), {}}) {}
  Result<Json> invoke(const ToolCall& call) override {
    CADRE_ASSIGN_OR_RETURN(FileArguments a, file_arguments(call));
    auto& [relative, path, content] = a;
    if (content.empty() || content.back() != '\n') content += '\n';
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return errno_status(errno, "cannot open " + relative);
    Status s = write_all(fd, content, relative);
    ::close(fd);
    CADRE_RETURN_IF_ERROR(s);
    return Json{{"path", relative}, {"bytes", content.size()}};
  }
};

// Carried out by the playbook runner through the TaskContext (they park the
// task or write to the store); registered so that definitions can name them.
class KernelTool final : public BuiltinTool {
 public:
  using BuiltinTool::BuiltinTool;
  Result<Json> invoke(const ToolCall&) override {
    return Status::FailedPrecondition("tool '" + spec().name + "' is carried out by the kernel, not invoked");
  }
};

}  // namespace

Result<fs::path> resolve_workspace_path(const fs::path& root, const std::string& relative) {
  return resolve_under_root(root, relative, "the workspace");
}

Status register_builtin_tools(ToolRegistry& registry) {
  CADRE_RETURN_IF_ERROR(registry.add(std::make_shared<LogTool>()));
  CADRE_RETURN_IF_ERROR(registry.add(std::make_shared<FileWriteTool>()));
  CADRE_RETURN_IF_ERROR(registry.add(std::make_shared<FileAppendTool>()));
  CADRE_RETURN_IF_ERROR(registry.add(std::make_shared<KernelTool>(
      ToolSpec{"wait", "Pause the run for a duration, until a time, or until an event, holding no worker.",
               RiskClass::kRead, true,
               Json::parse(R"({"type":"object","properties":{"duration":{"type":"string"},"until":{"type":"string"},
                 "event":{"type":"string"}}})"),
               {}})));
  CADRE_RETURN_IF_ERROR(registry.add(std::make_shared<KernelTool>(
      ToolSpec{"emit", "Raise an event (exactly once) that can trigger playbooks.", RiskClass::kWrite, true,
               Json::parse(R"({"type":"object","required":["event"],"properties":{"event":{"type":"string"},"data":{}}})"),
               {}})));
  return Status::Ok();
}

}  // namespace cadre
