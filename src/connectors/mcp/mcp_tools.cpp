#include "connectors/mcp/mcp_tools.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/json_schema.h"

namespace cadre {
namespace {

constexpr size_t kMaxServerNameBytes = 64;
constexpr size_t kMaxToolNameBytes = 128;
constexpr size_t kQuotedErrorBytes = 500;

bool hint(const Json& annotations, const char* key) {
  const Json& value = json_field(annotations, key);
  return value.is_boolean() && value.get<bool>();
}

bool name_chars_ok(std::string_view name, std::string_view extra) {
  return std::all_of(name.begin(), name.end(), [extra](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
  });
}

Status check_server_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxServerNameBytes || !name_chars_ok(name, "_-")) {
    return Status::InvalidArgument(
        "MCP server name '" + name +
        "' must be 1 to 64 letters, digits, '_' or '-' (it prefixes its tools' names)");
  }
  return Status::Ok();
}

Status check_tool(const McpToolInfo& tool, const std::string& server) {
  const std::string where = "MCP server '" + server + "': tool '" + tool.name + "'";
  if (tool.name.size() > kMaxToolNameBytes || !name_chars_ok(tool.name, "_-.")) {
    return Status::InvalidArgument(
        where +
        " has a name Cadre cannot use (letters, digits, '_', '-' and '.', at "
        "most 128); leave it out with an override (enabled: false)");
  }
  auto errors = check_schema(tool.input_schema);
  if (!errors.empty()) {
    return Status::InvalidArgument(where + " has an inputSchema Cadre cannot check (" +
                                   describe(errors, 3) +
                                   "); leave it out with an override (enabled: false)");
  }
  return Status::Ok();
}

Status check_overrides(const std::vector<McpToolInfo>& listed, const McpServerOptions& options) {
  std::set<std::string> names;
  for (const auto& tool : listed) names.insert(tool.name);
  for (const auto& [name, override_] : options.tools) {
    if (names.count(name)) continue;
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    return Status::InvalidArgument("MCP server '" + options.name + "' has no tool '" + name +
                                   "' to override (it lists: " + (known.empty() ? "none" : known) +
                                   ")");
  }
  return Status::Ok();
}

class FixedConnection final : public McpConnection {
 public:
  explicit FixedConnection(std::shared_ptr<McpClient> client) : client_(std::move(client)) {}
  Result<std::shared_ptr<McpClient>> client(McpDeadline) override { return client_; }
  void lost(const std::shared_ptr<McpClient>&) override {}

 private:
  std::shared_ptr<McpClient> client_;
};

class McpTool final : public Tool {
 public:
  McpTool(ToolSpec spec, std::string mcp_name, std::string server_name,
          std::shared_ptr<McpConnection> connection, DurationMs call_timeout)
      : spec_(std::move(spec)),
        mcp_name_(std::move(mcp_name)),
        server_name_(std::move(server_name)),
        connection_(std::move(connection)),
        call_timeout_(call_timeout) {}

  const ToolSpec& spec() const override { return spec_; }

  Result<Json> invoke(const ToolCall& call) override {
    CADRE_ASSIGN_OR_RETURN(DurationMs timeout, time_left(call));
    const McpDeadline deadline = mcp_deadline_in(timeout);
    CADRE_ASSIGN_OR_RETURN(std::shared_ptr<McpClient> client, connection_->client(deadline));
    Result<McpToolResult> called = client->call_tool(mcp_name_, call.args, deadline);
    if (called.status().is(StatusCode::kUnavailable)) connection_->lost(client);
    CADRE_ASSIGN_OR_RETURN(McpToolResult result, std::move(called));
    if (result.is_error) {
      std::string text = result.text(kQuotedErrorBytes);
      return Status::FailedPrecondition(
          "MCP server '" + server_name_ + "': tool '" + mcp_name_ +
          "' reported an error: " + (text.empty() ? "(no text)" : text));
    }
    return result.to_json();
  }

 private:
  // The call's own deadline when it has one (on its clock), else call_timeout.
  Result<DurationMs> time_left(const ToolCall& call) const {
    if (call.deadline <= 0) return call_timeout_;
    const TimeMs now = call.clock ? call.clock->now_ms() : SystemClock().now_ms();
    if (call.deadline <= now) {
      return Status::DeadlineExceeded("tool " + spec_.name +
                                      ": the step's deadline passed before the call");
    }
    return call.deadline - now;
  }

  ToolSpec spec_;
  std::string mcp_name_;
  std::string server_name_;
  std::shared_ptr<McpConnection> connection_;
  DurationMs call_timeout_;
};

}  // namespace

ToolSpec mcp_tool_spec(const McpToolInfo& tool, const McpServerOptions& options) {
  ToolSpec spec;
  spec.name = options.name + "." + tool.name;
  spec.description = tool.description.empty() ? tool.title : tool.description;
  const bool read_only = hint(tool.annotations, "readOnlyHint");
  // destructiveHint only means something for a tool that is not read-only.
  spec.risk = read_only                                   ? RiskClass::kRead
              : hint(tool.annotations, "destructiveHint") ? RiskClass::kIrreversible
                                                          : RiskClass::kWrite;
  spec.idempotent = read_only || hint(tool.annotations, "idempotentHint");
  spec.input_schema = tool.input_schema;
  McpToolOverride override_;
  if (auto it = options.tools.find(tool.name); it != options.tools.end()) override_ = it->second;
  if (override_.risk) spec.risk = *override_.risk;
  if (override_.idempotent) spec.idempotent = *override_.idempotent;
  if (override_.retry) {
    spec.retry = *override_.retry;
  } else if (!spec.idempotent) {
    spec.retry.max_attempts =
        1;  // a call that timed out may have happened: do not repeat it unasked
  }
  return spec;
}

Result<std::vector<std::shared_ptr<Tool>>> make_mcp_tools(std::shared_ptr<McpClient> client,
                                                          const std::vector<McpToolInfo>& listed,
                                                          const McpServerOptions& options) {
  if (!client) return Status::InvalidArgument("make_mcp_tools needs a client");
  return make_mcp_tools(std::make_shared<FixedConnection>(std::move(client)), listed, options);
}

Result<std::vector<std::shared_ptr<Tool>>> make_mcp_tools(std::shared_ptr<McpConnection> connection,
                                                          const std::vector<McpToolInfo>& listed,
                                                          const McpServerOptions& options) {
  CADRE_RETURN_IF_ERROR(check_server_name(options.name));
  CADRE_RETURN_IF_ERROR(check_overrides(listed, options));
  std::vector<std::shared_ptr<Tool>> tools;
  for (const auto& tool : listed) {
    auto it = options.tools.find(tool.name);
    if (it != options.tools.end() && !it->second.enabled) continue;
    CADRE_RETURN_IF_ERROR(check_tool(tool, options.name));
    tools.push_back(std::make_shared<McpTool>(mcp_tool_spec(tool, options), tool.name, options.name,
                                              connection, options.call_timeout));
  }
  return tools;
}

Status register_mcp_tools(ToolRegistry& registry, std::shared_ptr<McpClient> client,
                          const McpServerOptions& options) {
  if (!client) return Status::InvalidArgument("register_mcp_tools needs a client");
  CADRE_ASSIGN_OR_RETURN(std::vector<McpToolInfo> listed,
                         client->list_tools(mcp_deadline_in(options.list_timeout)));
  CADRE_ASSIGN_OR_RETURN(auto tools, make_mcp_tools(client, listed, options));
  for (const auto& tool : tools) {  // all or nothing
    if (registry.find(tool->spec().name)) {
      return Status::AlreadyExists("tool '" + tool->spec().name +
                                   "' is registered already (MCP server '" + options.name + "')");
    }
  }
  for (const auto& tool : tools) CADRE_RETURN_IF_ERROR(registry.add(tool));
  return Status::Ok();
}

}  // namespace cadre
