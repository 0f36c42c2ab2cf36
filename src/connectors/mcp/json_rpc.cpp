#include "connectors/mcp/json_rpc.h"

namespace cadre {
namespace {

bool is_integer_id(const Json& id) {
  return id.is_number_integer() || id.is_number_unsigned();
}

// What is wrong with a response's body, or "" when it is well-formed.
std::string response_body_problem(const Json& message) {
  const bool has_result = message.contains("result");
  const bool has_error = message.contains("error");
  if (has_result && has_error) return "the response carries both 'result' and 'error'";
  if (!has_result && !has_error) return "the response carries neither 'result' nor 'error'";
  if (has_error) {
    const Json& error = message["error"];
    if (!error.is_object()) return "the response's 'error' is not an object";
    if (!error.contains("code") || !error["code"].is_number_integer())
      return "the response's error has no integer 'code'";
    if (!error.contains("message") || !error["message"].is_string())
      return "the response's error has no 'message' text";
  }
  return "";
}

}  // namespace

JsonRpcMessage classify_json_rpc(const Json& message) {
  JsonRpcMessage out;
  if (!message.is_object()) {
    out.problem = "the message is not a JSON object";
    return out;
  }
  auto method = message.find("method");
  auto id = message.find("id");
  if (method != message.end()) {
    if (!method->is_string()) {
      out.problem = "the message's 'method' is not text";
      return out;
    }
    out.method = method->get<std::string>();
    const bool has_id = id != message.end() && !id->is_null();
    out.kind = has_id ? JsonRpcKind::kRequest : JsonRpcKind::kNotification;
    return out;
  }
  if (id == message.end()) {
    out.problem = "the message has neither 'method' nor 'id'";
    return out;
  }
  if (is_integer_id(*id)) out.id = id->get<int64_t>();
  out.problem = response_body_problem(message);
  out.kind = out.problem.empty() ? JsonRpcKind::kResponse : JsonRpcKind::kInvalid;
  return out;
}

Json json_rpc_request(int64_t id, std::string_view method, const Json& params) {
  Json message = {{"jsonrpc", "2.0"}, {"id", id}, {"method", std::string(method)}};
  if (!params.is_null()) message["params"] = params;
  return message;
}

Json json_rpc_notification(std::string_view method, const Json& params) {
  Json message = {{"jsonrpc", "2.0"}, {"method", std::string(method)}};
  if (!params.is_null()) message["params"] = params;
  return message;
}

Json json_rpc_error_reply(const Json& id, int code, std::string_view message) {
  return {{"jsonrpc", "2.0"},
          {"id", id},
          {"error", {{"code", code}, {"message", std::string(message)}}}};
}

Json reply_to_server_request(const Json& request) {
  const Json& id = json_field(request, "id");
  const std::string method = json_text(request, "method");
  if (method == "ping") return {{"jsonrpc", "2.0"}, {"id", id}, {"result", Json::object()}};
  return json_rpc_error_reply(id, kJsonRpcMethodNotFound,
                              "cadre does not support '" + method + "' requests from servers");
}

Status status_from_json_rpc_error(const Json& error, std::string_view context) {
  const Json& code_field = json_field(error, "code");
  const int code = code_field.is_number_integer() ? code_field.get<int>() : 0;
  std::string message = std::string(context) + ": " +
                        quote_excerpt(json_text(error, "message"), 500) + " (JSON-RPC error " +
                        std::to_string(code) + ")";
  const Json& data = json_field(error, "data");
  if (data.is_string()) message += ": " + quote_excerpt(data.get<std::string>(), 300);
  switch (code) {
    case kJsonRpcParseError:
    case kJsonRpcInvalidRequest:
    case kJsonRpcInvalidParams:
      return Status::InvalidArgument(std::move(message));
    default:
      return Status::FailedPrecondition(std::move(message));
  }
}

std::string quote_excerpt(std::string_view text, size_t limit) {
  std::string out;
  const bool cut = text.size() > limit;
  if (cut) text = text.substr(0, limit);
  out.reserve(text.size() + 3);
  for (char c : text) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  if (cut) out += "...";
  return out;
}

}  // namespace cadre
