#include "connectors/mcp/mcp_client.h"

#include <set>

#include "connectors/mcp/json_rpc.h"

namespace cadre {
namespace {

bool speaks(const std::string& version) {
  for (const char* v : kMcpProtocolVersions) {
    if (version == v) return true;
  }
  return false;
}

std::string versions_spoken() {
  std::string out;
  for (const char* v : kMcpProtocolVersions) out += (out.empty() ? "" : ", ") + std::string(v);
  return out;
}

std::string optional_text(const Json& object, const char* key) {
  return json_text(object, key);
}

Result<McpServerInfo> parse_initialize_result(const Json& result) {
  if (!result.is_object()) return Status::Internal("the initialize result is not an object");
  McpServerInfo info;
  const Json& version = json_field(result, "protocolVersion");
  if (!version.is_string()) return Status::Internal("the initialize result has no protocolVersion");
  info.protocol_version = version.get<std::string>();
  if (!speaks(info.protocol_version)) {
    return Status::FailedPrecondition("the server speaks protocol version '" +
                                      quote_excerpt(info.protocol_version, 40) +
                                      "'; cadre speaks " + versions_spoken());
  }
  const Json& server = json_field(result, "serverInfo");
  info.name = optional_text(server, "name");
  info.version = optional_text(server, "version");
  const Json& capabilities = json_field(result, "capabilities");
  if (capabilities.is_object()) info.capabilities = capabilities;
  info.instructions = optional_text(result, "instructions");
  return info;
}

Result<McpToolInfo> parse_tool(const Json& tool, size_t index) {
  const std::string where = "tools[" + std::to_string(index) + "]";
  if (!tool.is_object()) return Status::Internal(where + " is not an object");
  McpToolInfo info;
  info.name = optional_text(tool, "name");
  if (info.name.empty()) return Status::Internal(where + " has no name");
  info.title = optional_text(tool, "title");
  info.description = optional_text(tool, "description");
  const Json& input = json_field(tool, "inputSchema");
  if (input.is_object()) {
    info.input_schema = input;
  } else if (input.is_null()) {
    info.input_schema = {
        {"type", "object"}};  // older servers leave it out for tools without arguments
  } else {
    return Status::Internal(where + " ('" + info.name +
                            "') has an inputSchema that is not an object");
  }
  const Json& output = json_field(tool, "outputSchema");
  if (output.is_object()) info.output_schema = output;
  const Json& annotations = json_field(tool, "annotations");
  if (annotations.is_object()) info.annotations = annotations;
  if (info.title.empty()) info.title = optional_text(info.annotations, "title");
  return info;
}

Result<McpToolResult> parse_call_result(const Json& result) {
  if (!result.is_object()) return Status::Internal("the tools/call result is not an object");
  McpToolResult out;
  const Json& content = json_field(result, "content");
  if (content.is_array()) {
    out.content = content;
  } else if (!content.is_null()) {
    return Status::Internal("the tools/call result's content is not a list");
  }
  const Json& is_error = json_field(result, "isError");
  if (is_error.is_boolean()) {
    out.is_error = is_error.get<bool>();
  } else if (!is_error.is_null()) {
    return Status::Internal("the tools/call result's isError is not true or false");
  }
  out.structured_content = json_field(result, "structuredContent");
  return out;
}

// One content block as text for a message.
std::string block_text(const Json& block) {
  const std::string type = json_text(block, "type");
  if (type == "text") return json_text(block, "text");
  if (type == "image" || type == "audio")
    return "[" + type + " " + json_text(block, "mimeType") + "]";
  if (type == "resource") {
    const Json& resource = json_field(block, "resource");
    std::string text = json_text(resource, "text");
    return text.empty() ? "[resource " + json_text(resource, "uri") + "]" : text;
  }
  if (type == "resource_link") return "[resource link " + json_text(block, "uri") + "]";
  return "[" + (type.empty() ? std::string("content") : type) + "]";
}

}  // namespace

std::string McpToolResult::text(size_t limit) const {
  std::string out;
  if (content.is_array()) {
    for (const Json& block : content) {
      if (!out.empty()) out += "\n";
      out += block_text(block);
      if (out.size() > limit) break;
    }
  }
  if (out.size() > limit) out = out.substr(0, limit) + "...";
  return out;
}

Json McpToolResult::to_json() const {
  Json out = {{"content", content}, {"isError", is_error}};
  if (!structured_content.is_null()) out["structuredContent"] = structured_content;
  return out;
}

McpClient::McpClient(std::unique_ptr<McpTransport> transport, McpClientOptions options)
    : transport_(std::move(transport)), options_(std::move(options)) {}

McpClient::~McpClient() {
  close();
}

std::string McpClient::context(std::string_view method) const {
  return "MCP server '" + options_.server_name + "': " + std::string(method);
}

Result<Json> McpClient::send(const std::string& method, std::string_view label, const Json& params,
                             McpDeadline deadline) {
  if (!transport_)
    return Status::FailedPrecondition(context(label) + ": the client has no transport");
  auto response = transport_->request(method, params, deadline);
  if (!response.ok()) return response.status().with_context(context(label));
  const Json& error = json_field(*response, "error");
  if (!error.is_null()) return status_from_json_rpc_error(error, context(label));
  return json_field(*response, "result");
}

Result<McpServerInfo> McpClient::initialize(McpDeadline deadline) {
  std::lock_guard<std::mutex> lock(init_mutex_);
  CADRE_RETURN_IF_ERROR(initialize_locked(deadline));
  return server_info();
}

Status McpClient::initialize_locked(McpDeadline deadline) {
  Json params = {
      {"protocolVersion", kMcpProtocolVersions[0]},
      {"capabilities", Json::object()},
      {"clientInfo", {{"name", options_.client_name}, {"version", options_.client_version}}}};
  CADRE_ASSIGN_OR_RETURN(Json result, send("initialize", "initialize", params, deadline));
  auto info = parse_initialize_result(result);
  if (!info.ok()) return info.status().with_context(context("initialize"));
  transport_->set_protocol_version(info->protocol_version);
  Status announced = transport_->notify("notifications/initialized", nullptr, deadline);
  if (!announced.ok()) return announced.with_context(context("notifications/initialized"));
  std::lock_guard<std::mutex> lock(mutex_);
  info_ = std::move(*info);
  initialized_ = true;
  ++generation_;
  return Status::Ok();
}

Status McpClient::reinitialize_if_lost(uint64_t seen_generation, McpDeadline deadline) {
  std::lock_guard<std::mutex> lock(init_mutex_);
  {
    std::lock_guard<std::mutex> state(mutex_);
    if (generation_ != seen_generation) return Status::Ok();  // another thread did it meanwhile
  }
  return initialize_locked(deadline);
}

Result<Json> McpClient::request(const std::string& method, const Json& params,
                                McpDeadline deadline) {
  return labeled_request(method, method, params, deadline);
}

Result<Json> McpClient::labeled_request(const std::string& method, std::string_view label,
                                        const Json& params, McpDeadline deadline) {
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!initialized_)
      return Status::FailedPrecondition(context(label) + ": the client is not initialized");
    generation = generation_;
  }
  auto result = send(method, label, params, deadline);
  if (!result.ok() && result.status().is(StatusCode::kUnavailable) && transport_ &&
      transport_->session_lost()) {
    CADRE_RETURN_IF_ERROR(reinitialize_if_lost(generation, deadline));
    result = send(method, label, params, deadline);
  }
  return result;
}

Result<std::vector<McpToolInfo>> McpClient::list_tools(McpDeadline deadline) {
  std::vector<McpToolInfo> tools;
  std::set<std::string> names;
  std::set<std::string> cursors;
  std::string cursor;
  for (size_t page = 0; page < options_.max_list_pages; ++page) {
    Json params = cursor.empty() ? Json::object() : Json{{"cursor", cursor}};
    CADRE_ASSIGN_OR_RETURN(Json result, request("tools/list", params, deadline));
    const Json& listed = json_field(result, "tools");
    if (!listed.is_array())
      return Status::Internal(context("tools/list") + ": the result has no 'tools' list");
    for (const Json& entry : listed) {
      auto tool = parse_tool(entry, tools.size());
      if (!tool.ok()) return tool.status().with_context(context("tools/list"));
      if (!names.insert(tool->name).second) {
        return Status::Internal(context("tools/list") + ": tool '" + tool->name +
                                "' is listed twice");
      }
      if (tools.size() >= options_.max_tools) {
        return Status::ResourceExhausted(context("tools/list") + ": the server lists more than " +
                                         std::to_string(options_.max_tools) + " tools (max_tools)");
      }
      tools.push_back(std::move(*tool));
    }
    const Json& next = json_field(result, "nextCursor");
    if (next.is_null() || (next.is_string() && next.get<std::string>().empty())) return tools;
    if (!next.is_string())
      return Status::Internal(context("tools/list") + ": nextCursor is not text");
    cursor = next.get<std::string>();
    if (!cursors.insert(cursor).second) {
      return Status::Internal(context("tools/list") + ": the server repeats cursor '" +
                              quote_excerpt(cursor, 60) + "' (the listing would never end)");
    }
  }
  return Status::ResourceExhausted(context("tools/list") + ": the listing goes on past " +
                                   std::to_string(options_.max_list_pages) +
                                   " pages (max_list_pages)");
}

Result<McpToolResult> McpClient::call_tool(const std::string& name, const Json& arguments,
                                           McpDeadline deadline) {
  const std::string what = "tools/call '" + name + "'";
  if (!arguments.is_null() && !arguments.is_object()) {
    return Status::InvalidArgument(context(what) + ": the arguments must be an object, not " +
                                   std::string(arguments.type_name()));
  }
  Json params = {{"name", name}, {"arguments", arguments.is_null() ? Json::object() : arguments}};
  CADRE_ASSIGN_OR_RETURN(Json result, labeled_request("tools/call", what, params, deadline));
  auto parsed = parse_call_result(result);
  if (!parsed.ok()) return parsed.status().with_context(context(what));
  return parsed;
}

void McpClient::close() {
  if (transport_) transport_->close();
  std::lock_guard<std::mutex> lock(mutex_);
  initialized_ = false;
}

bool McpClient::initialized() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return initialized_;
}

McpServerInfo McpClient::server_info() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return info_;
}

}  // namespace cadre
