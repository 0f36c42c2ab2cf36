// The neutral model types as JSON. This JSON is what the journal, the
// response cache and the recordings store, so to_json must stay canonical
// (nlohmann objects keep their keys sorted, and every field is always
// written in the same way) and from_json must accept what older versions
// wrote: a missing optional field takes its default.
#include "models/model.h"

#include <regex>

#include "core/hash.h"

namespace cadre {
namespace {

std::string member_path(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out(parent);
  out += '.';
  out += key;
  return out;
}

std::string element_path(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::string kind_of(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a number";
    default:
      return "an unexpected value";
  }
}

Status wrong_type(std::string_view path, std::string_view expected, const Json& got) {
  return Status::InvalidArgument(std::string(path) + ": expected " + std::string(expected) +
                                 ", got " + kind_of(got));
}

Status expect_object(const Json& value, std::string_view path) {
  if (!value.is_object()) return wrong_type(path.empty() ? "value" : path, "an object", value);
  return Status::Ok();
}

// The member `key` of `object` if present and not null; else nullptr.
const Json* member(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

Status read_string(const Json& object, std::string_view path, const char* key, std::string* out,
                   bool required = false) {
  const Json* value = member(object, key);
  if (value == nullptr) {
    if (required)
      return Status::InvalidArgument(member_path(path, key) + ": required field is missing");
    out->clear();
    return Status::Ok();
  }
  if (!value->is_string()) return wrong_type(member_path(path, key), "a string", *value);
  *out = value->get<std::string>();
  return Status::Ok();
}

Status read_int(const Json& object, std::string_view path, const char* key, int64_t* out) {
  const Json* value = member(object, key);
  if (value == nullptr) return Status::Ok();
  if (!value->is_number_integer()) return wrong_type(member_path(path, key), "an integer", *value);
  *out = value->get<int64_t>();
  return Status::Ok();
}

Json tool_call_to_json(const ModelToolCall& call) {
  return Json{{"id", call.id}, {"name", call.name}, {"arguments", call.arguments}};
}

Result<std::vector<ModelToolCall>> tool_calls_from_json(const Json& object, std::string_view path) {
  std::vector<ModelToolCall> calls;
  const Json* list = member(object, "tool_calls");
  if (list == nullptr) return calls;
  std::string list_path = member_path(path, "tool_calls");
  if (!list->is_array()) return wrong_type(list_path, "an array", *list);
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& item = (*list)[i];
    std::string item_path = element_path(list_path, i);
    CADRE_RETURN_IF_ERROR(expect_object(item, item_path));
    ModelToolCall call;
    CADRE_RETURN_IF_ERROR(read_string(item, item_path, "id", &call.id));
    CADRE_RETURN_IF_ERROR(read_string(item, item_path, "name", &call.name, /*required=*/true));
    if (const Json* arguments = member(item, "arguments")) call.arguments = *arguments;
    calls.push_back(std::move(call));
  }
  return calls;
}

Json message_to_json(const ChatMessage& message) {
  Json out{{"role", message.role}, {"content", message.content}};
  // Written only when set, so recordings stay readable; from_json defaults them.
  if (!message.tool_calls.empty()) {
    Json calls = Json::array();
    for (const auto& call : message.tool_calls) calls.push_back(tool_call_to_json(call));
    out["tool_calls"] = std::move(calls);
  }
  if (!message.tool_call_id.empty()) out["tool_call_id"] = message.tool_call_id;
  return out;
}

Result<ChatMessage> message_from_json(const Json& j, std::string_view path) {
  CADRE_RETURN_IF_ERROR(expect_object(j, path));
  ChatMessage message;
  CADRE_RETURN_IF_ERROR(read_string(j, path, "role", &message.role, /*required=*/true));
  if (message.role != "system" && message.role != "user" && message.role != "assistant" &&
      message.role != "tool") {
    return Status::InvalidArgument(member_path(path, "role") +
                                   ": must be system, user, assistant or tool, got '" +
                                   message.role + "'");
  }
  CADRE_RETURN_IF_ERROR(read_string(j, path, "content", &message.content));
  CADRE_ASSIGN_OR_RETURN(message.tool_calls, tool_calls_from_json(j, path));
  CADRE_RETURN_IF_ERROR(read_string(j, path, "tool_call_id", &message.tool_call_id));
  return message;
}

Result<ModelToolDef> tool_def_from_json(const Json& j, std::string_view path) {
  CADRE_RETURN_IF_ERROR(expect_object(j, path));
  ModelToolDef tool;
  CADRE_RETURN_IF_ERROR(read_string(j, path, "name", &tool.name, /*required=*/true));
  CADRE_RETURN_IF_ERROR(read_string(j, path, "description", &tool.description));
  if (const Json* parameters = member(j, "parameters")) {
    if (!parameters->is_object()) {
      return wrong_type(member_path(path, "parameters"), "an object (a JSON Schema)", *parameters);
    }
    tool.parameters = *parameters;
  }
  return tool;
}

}  // namespace

Json to_json(const ChatRequest& request) {
  Json messages = Json::array();
  for (const auto& message : request.messages) messages.push_back(message_to_json(message));
  Json tools = Json::array();
  for (const auto& tool : request.tools) {
    tools.push_back(Json{
        {"name", tool.name}, {"description", tool.description}, {"parameters", tool.parameters}});
  }
  return Json{{"messages", std::move(messages)},
              {"tools", std::move(tools)},
              {"response_schema", request.response_schema},
              {"max_tokens", request.max_tokens},
              {"temperature", request.temperature}};
}

Json to_json(const ChatResponse& response) {
  Json calls = Json::array();
  for (const auto& call : response.tool_calls) calls.push_back(tool_call_to_json(call));
  // The store's spend query reads $.response.usage.input_tokens of journaled
  // model steps: keep this shape.
  return Json{{"content", response.content},
              {"tool_calls", std::move(calls)},
              {"finish_reason", response.finish_reason},
              {"usage", Json{{"input_tokens", response.usage.input_tokens},
                             {"output_tokens", response.usage.output_tokens}}}};
}

Result<ChatRequest> chat_request_from_json(const Json& j) {
  CADRE_RETURN_IF_ERROR(expect_object(j, "request"));
  ChatRequest request;
  const Json* messages = member(j, "messages");
  if (messages == nullptr) return Status::InvalidArgument("messages: required field is missing");
  if (!messages->is_array()) return wrong_type("messages", "an array", *messages);
  for (size_t i = 0; i < messages->size(); ++i) {
    CADRE_ASSIGN_OR_RETURN(ChatMessage message,
                           message_from_json((*messages)[i], element_path("messages", i)));
    request.messages.push_back(std::move(message));
  }
  if (const Json* tools = member(j, "tools")) {
    if (!tools->is_array()) return wrong_type("tools", "an array", *tools);
    for (size_t i = 0; i < tools->size(); ++i) {
      CADRE_ASSIGN_OR_RETURN(ModelToolDef tool,
                             tool_def_from_json((*tools)[i], element_path("tools", i)));
      request.tools.push_back(std::move(tool));
    }
  }
  if (const Json* schema = member(j, "response_schema")) {
    if (!schema->is_object() && !schema->is_boolean()) {
      return wrong_type("response_schema", "an object (a JSON Schema) or null", *schema);
    }
    request.response_schema = *schema;
  }
  int64_t max_tokens = 0;
  CADRE_RETURN_IF_ERROR(read_int(j, "", "max_tokens", &max_tokens));
  if (max_tokens < 0 || max_tokens > 100'000'000) {
    return Status::InvalidArgument("max_tokens: must be between 0 and 100000000, got " +
                                   std::to_string(max_tokens));
  }
  request.max_tokens = static_cast<int>(max_tokens);
  if (const Json* temperature = member(j, "temperature")) {
    if (!temperature->is_number()) return wrong_type("temperature", "a number", *temperature);
    request.temperature = temperature->get<double>();
  }
  return request;
}

Result<ChatResponse> chat_response_from_json(const Json& j) {
  CADRE_RETURN_IF_ERROR(expect_object(j, "response"));
  ChatResponse response;
  CADRE_RETURN_IF_ERROR(read_string(j, "", "content", &response.content));
  CADRE_ASSIGN_OR_RETURN(response.tool_calls, tool_calls_from_json(j, ""));
  CADRE_RETURN_IF_ERROR(read_string(j, "", "finish_reason", &response.finish_reason));
  if (const Json* usage = member(j, "usage")) {
    CADRE_RETURN_IF_ERROR(expect_object(*usage, "usage"));
    CADRE_RETURN_IF_ERROR(read_int(*usage, "usage", "input_tokens", &response.usage.input_tokens));
    CADRE_RETURN_IF_ERROR(
        read_int(*usage, "usage", "output_tokens", &response.usage.output_tokens));
  }
  return response;
}

std::string request_key(const ChatRequest& request) {
  return sha256_hex(dump_json(to_json(request)));
}

std::string replay_key(const ChatRequest& request) {
  // Ids: obj_/tsk_/evt_/mem_/sum_ + 26 characters; times: 2026-11-25 and 2026-11-25T08:00:00.000Z.
  static const std::regex kVolatile(
      R"((obj|tsk|evt|mem|sum)_[0-9A-Za-z]{26}|\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?Z)?)");
  return sha256_hex(std::regex_replace(dump_json(to_json(request)), kVolatile, "~"));
}

std::string embed_key(const std::vector<std::string>& texts) {
  return sha256_hex(dump_json(Json(texts)));
}

}  // namespace cadre
