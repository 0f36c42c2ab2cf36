// mcp: a Model Context Protocol server's tools as CONNECTOR.TOOL, over stdio
// (`command`, the server as a child process) or streamable HTTP (`url`).
//
// The server is started (or reached) when the connector opens; a server
// that dies or stops answering is started again by the next call. Its tool
// list is kept in the store (connector_state, key "tools"), so when the
// server cannot be reached at start the tools it listed last are still
// registered and their calls fail as unavailable (and retry) until it is
// back; a server never seen is reported down and tried again by the hub.
#include <spdlog/spdlog.h>

#include <mutex>

#include "connectors/connector_types.h"
#include "connectors/mcp/http_transport.h"
#include "connectors/mcp/mcp_tools.h"
#include "connectors/mcp/stdio_transport.h"

namespace cadre {
namespace {

Json tool_to_json(const McpToolInfo& tool) {
  return {{"name", tool.name},
          {"title", tool.title},
          {"description", tool.description},
          {"inputSchema", tool.input_schema},
          {"annotations", tool.annotations}};
}

McpToolInfo tool_from_json(const Json& j) {
  McpToolInfo tool;
  tool.name = j.value("name", "");
  tool.title = j.value("title", "");
  tool.description = j.value("description", "");
  tool.input_schema = j.value("inputSchema", Json::object());
  tool.annotations = j.value("annotations", Json::object());
  return tool;
}

// One server, connected on demand and again after it was lost.
class McpSession final : public McpConnection {
 public:
  McpSession(ConnectorDef def, ConnectorEnv env) : def_(std::move(def)), env_(std::move(env)) {}

  Result<std::shared_ptr<McpClient>> client(McpDeadline deadline) override {
    std::lock_guard lock(mutex_);
    if (client_) return client_;
    std::unique_ptr<McpTransport> transport;
    if (!def_.mcp.command.empty()) {
      StdioServerOptions options;
      options.command = def_.mcp.command;
      for (const auto& [name, value] : def_.mcp.env) {
        CADRE_ASSIGN_OR_RETURN(options.env[name], resolve_references(value, env_.secrets, def_.name + ": env " + name));
      }
      if (!def_.mcp.cwd.empty()) {
        std::filesystem::path cwd = def_.mcp.cwd;
        options.working_dir = cwd.is_relative() ? env_.workspace_root / cwd : cwd;
      } else {
        options.working_dir = env_.workspace_root;
      }
      CADRE_ASSIGN_OR_RETURN(transport, StdioTransport::start(options));
    } else {
      HttpServerOptions options;
      options.url = def_.mcp.url;
      for (const auto& [name, value] : def_.mcp.headers) {
        CADRE_ASSIGN_OR_RETURN(options.headers[name],
                               resolve_references(value, env_.secrets, def_.name + ": header " + name));
      }
      CADRE_ASSIGN_OR_RETURN(transport, HttpTransport::open(options));
    }
    auto client = std::make_shared<McpClient>(std::move(transport), McpClientOptions{.server_name = def_.name});
    CADRE_RETURN_IF_ERROR(client->initialize(deadline).status());
    client_ = client;
    return client;
  }

  void lost(const std::shared_ptr<McpClient>& client) override {
    std::lock_guard lock(mutex_);
    if (client_ != client) return;  // someone reconnected already
    client_->close();
    client_.reset();
  }

  void close() {
    std::lock_guard lock(mutex_);
    if (client_) client_->close();
    client_.reset();
  }

 private:
  const ConnectorDef def_;
  const ConnectorEnv env_;
  std::mutex mutex_;
  std::shared_ptr<McpClient> client_;
};

class McpConnector final : public Connector {
 public:
  McpConnector(ConnectorDef def, const ConnectorEnv& env)
      : def_(std::move(def)), env_(env), session_(std::make_shared<McpSession>(def_, env)) {}

  Result<std::vector<std::shared_ptr<Tool>>> open() override {
    McpServerOptions options;
    options.name = def_.name;
    options.tools = def_.mcp.tools;
    options.call_timeout = def_.timeout;
    options.list_timeout = def_.timeout;
    auto listed = list_tools();
    if (listed.ok()) {
      remember(*listed);
      return make_mcp_tools(session_, *listed, options);
    }
    auto cached = remembered();
    if (!cached.empty()) {
      spdlog::warn("{}: the server does not answer ({}); registering the {} tools it listed last", def_.where(),
                   listed.status().message(), cached.size());
      return make_mcp_tools(session_, cached, options);
    }
    return listed.status();
  }

  void close() override { session_->close(); }

 private:
  Result<std::vector<McpToolInfo>> list_tools() {
    const McpDeadline deadline = mcp_deadline_in(def_.timeout);
    CADRE_ASSIGN_OR_RETURN(std::shared_ptr<McpClient> client, session_->client(deadline));
    auto listed = client->list_tools(deadline);
    if (listed.status().is(StatusCode::kUnavailable)) session_->lost(client);
    return listed;
  }

  void remember(const std::vector<McpToolInfo>& tools) {
    if (env_.store == nullptr) return;
    Json list = Json::array();
    for (const auto& tool : tools) list.push_back(tool_to_json(tool));
    Status put = env_.store->put_connector_state(def_.name, "tools", list, env_.clock->now_ms());
    if (!put.ok()) spdlog::warn("{}: cannot keep its tool list: {}", def_.where(), put.message());
  }

  std::vector<McpToolInfo> remembered() {
    std::vector<McpToolInfo> tools;
    if (env_.store == nullptr) return tools;
    auto list = env_.store->connector_state(def_.name, "tools");
    if (!list.ok() || !list->is_array()) return tools;
    for (const auto& item : *list) tools.push_back(tool_from_json(item));
    return tools;
  }

  ConnectorDef def_;
  ConnectorEnv env_;
  std::shared_ptr<McpSession> session_;
};

}  // namespace

std::unique_ptr<Connector> make_mcp_connector(const ConnectorDef& def, const ConnectorEnv& env) {
  return std::make_unique<McpConnector>(def, env);
}

}  // namespace cadre
