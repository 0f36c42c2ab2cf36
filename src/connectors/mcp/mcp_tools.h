// An MCP server's tools as Cadre tools: each tool TOOL of server SERVER
// becomes the Tool "SERVER.TOOL" (`everything.echo`) in the ToolRegistry,
// with the tool's description and its inputSchema as the argument schema, so
// agents may be allowed it and its arguments are checked like any other.
//
// Risk and idempotency come from the tool's annotations unless the caller
// overrides them: readOnlyHint -> read (and idempotent), destructiveHint ->
// irreversible, otherwise write; idempotentHint -> idempotent. Annotations are
// hints from a server Cadre does not control; overrides are how an operator
// corrects them. A tool that is not idempotent is not retried by default: a
// call that timed out may have happened.
//
// Invoking returns {content, isError: false, structuredContent?}. A tool that
// answers isError: true fails with failed_precondition quoting the start of
// its text; protocol and transport errors pass through as McpClient gives them.
//
// Thread-safety: the tools share one McpClient, which is thread-safe.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/mcp/mcp_client.h"
#include "kernel/tool.h"

namespace cadre {

// What the caller says about one of the server's tools, over its annotations.
struct McpToolOverride {
  bool enabled = true;  // false: not registered
  std::optional<RiskClass> risk;
  std::optional<bool> idempotent;
  std::optional<RetryPolicy> retry;
};

struct McpServerOptions {
  std::string name;                                   // letters, digits, '_' or '-': "everything"
  std::map<std::string, McpToolOverride> tools = {};  // by the server's tool name
  DurationMs call_timeout = 60000;                    // for calls whose ToolCall has no deadline
  DurationMs list_timeout = 30000;                    // tools/list at registration
};

// Where the tools get their client: one fixed client, or a connection that
// starts the server again after it was lost (the mcp connector).
class McpConnection {
 public:
  virtual ~McpConnection() = default;
  // An initialized client, connecting first if needed.
  virtual Result<std::shared_ptr<McpClient>> client(McpDeadline deadline) = 0;
  // A call through `client` found the server unreachable; the next client() reconnects.
  virtual void lost(const std::shared_ptr<McpClient>& client) = 0;
};

// The Cadre spec of one MCP tool (pure; exposed for tests).
ToolSpec mcp_tool_spec(const McpToolInfo& tool, const McpServerOptions& options);

// Builds the tools from a listing: checks the server name, every tool's name
// and schema, and that every override names a listed tool.
Result<std::vector<std::shared_ptr<Tool>>> make_mcp_tools(std::shared_ptr<McpConnection> connection,
                                                          const std::vector<McpToolInfo>& listed,
                                                          const McpServerOptions& options);
Result<std::vector<std::shared_ptr<Tool>>> make_mcp_tools(std::shared_ptr<McpClient> client,
                                                          const std::vector<McpToolInfo>& listed,
                                                          const McpServerOptions& options);

// Lists the server's tools through `client` (initialized) and adds them to `registry`.
Status register_mcp_tools(ToolRegistry& registry, std::shared_ptr<McpClient> client,
                          const McpServerOptions& options);

}  // namespace cadre
