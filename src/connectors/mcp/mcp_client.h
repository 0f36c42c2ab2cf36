// McpClient: a Model Context Protocol client over one McpTransport.
//
//   auto transport = StdioTransport::start({.command = {"node", "server.js"}});
//   McpClient client(std::move(*transport), {.server_name = "everything"});
//   client.initialize(mcp_deadline_in(10000));
//   auto tools = client.list_tools(mcp_deadline_in(10000));
//   auto result = client.call_tool("echo", {{"message", "hi"}}, mcp_deadline_in(30000));
//
// initialize() offers the newest protocol version Cadre speaks and accepts an
// older one the server answers with if Cadre speaks it too; then it sends
// `notifications/initialized`. Cadre offers no client capabilities (no roots,
// sampling or elicitation), so a server asks it for nothing but ping.
//
// A tool that runs and fails answers `isError: true`: that is a result
// (McpToolResult::is_error), not an error of the call. Errors of the call:
// the server unreachable or gone -> unavailable; no answer by the deadline ->
// deadline_exceeded; a JSON-RPC error from the server -> invalid_argument (bad
// request or parameters) or failed_precondition (anything else), with the
// server's message; an answer that is not what the protocol says -> internal,
// naming what was wrong. Every message starts with "MCP server 'NAME'".
//
// Over HTTP, a server that forgot the session (404) is initialized again once
// and the request repeated.
//
// Thread-safety: all methods may be called from several threads at once
// (initialize() runs once at a time); requests are in flight together.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/mcp/mcp_transport.h"

namespace cadre {

// The protocol versions Cadre speaks, newest first.
inline constexpr const char* kMcpProtocolVersions[] = {"2025-06-18", "2025-03-26", "2024-11-05"};

struct McpClientOptions {
  std::string server_name = "mcp";  // names the server in every message
  std::string client_name = "cadre";
  std::string client_version = "0.1.0";
  size_t max_tools = 1000;      // tools/list: more is an error, not a silent cut
  size_t max_list_pages = 100;  // tools/list pages followed through nextCursor
};

struct McpServerInfo {
  std::string protocol_version;  // agreed
  std::string name;              // serverInfo.name ("" when the server gave none)
  std::string version;
  Json capabilities = Json::object();
  std::string instructions;
};

struct McpToolInfo {
  std::string name;
  std::string title;
  std::string description;
  Json input_schema = Json::object();  // a JSON Schema for the arguments
  Json output_schema;                  // null when the tool declares none
  Json annotations = Json::object();   // readOnlyHint, destructiveHint, idempotentHint, ...
};

struct McpToolResult {
  Json content = Json::array();  // content blocks: {type: text, text}, {type: image, ...}, ...
  bool is_error = false;         // the tool ran and failed
  Json structured_content;       // null when absent

  // The text blocks joined (other blocks as "[image image/png]"), cut to `limit` bytes.
  std::string text(size_t limit = 2000) const;
  Json to_json() const;  // {content, isError, structuredContent?}
};

class McpClient {
 public:
  McpClient(std::unique_ptr<McpTransport> transport, McpClientOptions options = {});
  ~McpClient();  // close()
  McpClient(const McpClient&) = delete;
  McpClient& operator=(const McpClient&) = delete;

  Result<McpServerInfo> initialize(McpDeadline deadline);

  // Every tool, following nextCursor.
  Result<std::vector<McpToolInfo>> list_tools(McpDeadline deadline);

  // Calls the tool `name` with `arguments` (an object; null is sent as {}).
  Result<McpToolResult> call_tool(const std::string& name, const Json& arguments,
                                  McpDeadline deadline);

  // Any request after initialize (resources/list, prompts/get, ...): the result
  // object, or the error mapped as above.
  Result<Json> request(const std::string& method, const Json& params, McpDeadline deadline);

  // Closes the transport; later calls fail. Idempotent.
  void close();

  bool initialized() const;
  McpServerInfo server_info() const;
  const std::string& server_name() const { return options_.server_name; }
  McpTransport& transport() { return *transport_; }

 private:
  // `label` names the request in messages ("tools/call 'echo'").
  Result<Json> labeled_request(const std::string& method, std::string_view label,
                               const Json& params, McpDeadline deadline);
  Result<Json> send(const std::string& method, std::string_view label, const Json& params,
                    McpDeadline deadline);
  Status initialize_locked(McpDeadline deadline);  // holds init_mutex_
  Status reinitialize_if_lost(uint64_t seen_generation, McpDeadline deadline);
  std::string context(std::string_view method) const;

  std::unique_ptr<McpTransport> transport_;
  McpClientOptions options_;
  std::mutex init_mutex_;     // one initialize at a time
  mutable std::mutex mutex_;  // guards below
  bool initialized_ = false;
  uint64_t generation_ = 0;  // bumped by every successful initialize
  McpServerInfo info_;
};

}  // namespace cadre
