// The OpenAI-compatible wire format: POST {base_url}/chat/completions and
// {base_url}/embeddings. The same format is served by Ollama, llama.cpp's
// server, vLLM, LM Studio and OpenRouter, which differ in small ways this
// codec tolerates: arguments sent as an object instead of a JSON string, a
// finish_reason of "stop" on a tool-call answer, a missing usage block, and
// errors given as {"error": "text"} instead of {"error": {"message": ...}}.
#include "core/clock.h"
#include "core/http_client.h"
#include "models/http_errors.h"
#include "models/provider.h"

namespace cadre {
namespace {

constexpr const char* kDefaultBaseUrl = "https://api.openai.com/v1";

std::string who(const ModelEndpoint& endpoint) {
  return "openai model '" + endpoint.model + "'";
}

// The API's own explanation of an error answer, or the start of the body.
std::string api_error_message(const std::string& body, const std::string& api_key) {
  std::string message;
  Result<Json> parsed = parse_json(body, "error body");
  if (parsed.ok() && parsed->is_object()) {
    auto error = parsed->find("error");
    if (error != parsed->end()) {
      if (error->is_string()) {
        message = error->get<std::string>();
      } else if (error->is_object()) {
        auto text = error->find("message");
        if (text != error->end() && text->is_string()) message = text->get<std::string>();
      }
    }
  }
  return quoted_api_message(std::move(message), body, api_key);
}

Result<HttpResponse> post(const ModelEndpoint& endpoint, const std::string& api_key,
                          std::string_view path, const Json& body, DurationMs* retry_after) {
  if (retry_after != nullptr) *retry_after = -1;
  HttpRequest request;
  request.method = "POST";
  request.url = endpoint_url(endpoint.base_url, kDefaultBaseUrl, path);
  request.headers["Content-Type"] = "application/json";
  request.headers["Accept"] = "application/json";
  // Local servers (Ollama, llama.cpp) take no key: send no header at all.
  if (!api_key.empty()) request.headers["Authorization"] = "Bearer " + api_key;
  request.body = dump_json(body);
  request.timeout = endpoint.timeout;
  Result<HttpResponse> response = http_send(request);
  if (!response.ok()) return transport_failure(who(endpoint), response.status());
  if (response->status < 200 || response->status >= 300) {
    if (retry_after != nullptr)
      *retry_after = retry_after_ms(*response, SystemClock::instance().now_ms());
    return http_failure(who(endpoint), response->status,
                        api_error_message(response->body, api_key));
  }
  return response;
}

Result<Json> parse_answer(const ModelEndpoint& endpoint, const HttpResponse& response) {
  Result<Json> parsed = parse_json(response.body, who(endpoint) + " answer");
  if (!parsed.ok()) return Status::Internal(parsed.status().message());
  if (!parsed->is_object())
    return Status::Internal(who(endpoint) + " answer: expected a JSON object");
  return parsed;
}

Json wire_tool_call(const ModelToolCall& call) {
  // Arguments the model once sent unparsable are sent back as it wrote them.
  std::string arguments;
  if (call.arguments.is_object() && call.arguments.size() == 1 && call.arguments.contains("_raw") &&
      call.arguments["_raw"].is_string()) {
    arguments = call.arguments["_raw"].get<std::string>();
  } else {
    arguments = dump_json(call.arguments);
  }
  return Json{{"id", call.id},
              {"type", "function"},
              {"function", Json{{"name", call.name}, {"arguments", arguments}}}};
}

Json wire_message(const ChatMessage& message) {
  if (message.role == "tool") {
    return Json{
        {"role", "tool"}, {"tool_call_id", message.tool_call_id}, {"content", message.content}};
  }
  if (message.role == "assistant" && !message.tool_calls.empty()) {
    Json calls = Json::array();
    for (const auto& call : message.tool_calls) calls.push_back(wire_tool_call(call));
    Json content = message.content.empty() ? Json(nullptr) : Json(message.content);
    return Json{
        {"role", "assistant"}, {"content", std::move(content)}, {"tool_calls", std::move(calls)}};
  }
  return Json{{"role", message.role}, {"content", message.content}};
}

Json chat_body(const ModelEndpoint& endpoint, const ChatRequest& request) {
  Json messages = Json::array();
  for (const auto& message : request.messages) messages.push_back(wire_message(message));
  Json body{{"model", endpoint.model},
            {"messages", std::move(messages)},
            {"temperature", request.temperature}};
  int max_tokens = request.max_tokens > 0 ? request.max_tokens : endpoint.max_tokens;
  if (max_tokens > 0) body["max_tokens"] = max_tokens;
  if (!request.tools.empty()) {
    Json tools = Json::array();
    for (const auto& tool : request.tools) {
      tools.push_back(Json{{"type", "function"},
                           {"function", Json{{"name", tool.name},
                                             {"description", tool.description},
                                             {"parameters", tool.parameters}}}});
    }
    body["tools"] = std::move(tools);
  }
  if (!request.response_schema.is_null()) {
    body["response_format"] =
        Json{{"type", "json_schema"},
             {"json_schema", Json{{"name", "output"}, {"schema", request.response_schema}}}};
  }
  return body;
}

// A tool call's arguments: a JSON string on the wire (an object from some
// servers). Text that is not a JSON object is kept, not refused, so the
// agent loop can show the model what it wrote.
Json parse_arguments(const Json& wire) {
  if (wire.is_object()) return wire;
  if (!wire.is_string()) return Json{{"_raw", dump_json(wire)}};
  const std::string& text = wire.get_ref<const std::string&>();
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return Json::object();
  Result<Json> parsed = parse_json(text, "arguments");
  if (parsed.ok() && parsed->is_object()) return *parsed;
  return Json{{"_raw", text}};
}

int64_t token_count(const Json& usage, const char* key) {
  auto it = usage.find(key);
  if (it == usage.end() || !it->is_number_integer()) return 0;
  return it->get<int64_t>();
}

TokenUsage parse_usage(const Json& answer) {
  TokenUsage usage;
  auto it = answer.find("usage");
  if (it == answer.end() || !it->is_object()) return usage;
  usage.input_tokens = token_count(*it, "prompt_tokens");
  usage.output_tokens = token_count(*it, "completion_tokens");
  return usage;
}

Result<ChatResponse> parse_chat_answer(const ModelEndpoint& endpoint, const Json& answer) {
  auto bad = [&](const std::string& what) {
    return Status::Internal(who(endpoint) + " answer: " + what);
  };
  auto choices = answer.find("choices");
  if (choices == answer.end() || !choices->is_array() || choices->empty()) {
    return bad("expected a non-empty 'choices' array");
  }
  const Json& choice = (*choices)[0];
  if (!choice.is_object()) return bad("choices[0] is not an object");
  auto message = choice.find("message");
  if (message == choice.end() || !message->is_object()) return bad("choices[0].message is missing");

  ChatResponse response;
  auto content = message->find("content");
  if (content != message->end() && !content->is_null()) {
    if (!content->is_string()) return bad("choices[0].message.content is not a string");
    response.content = content->get<std::string>();
  }
  auto calls = message->find("tool_calls");
  if (calls != message->end() && !calls->is_null()) {
    if (!calls->is_array()) return bad("choices[0].message.tool_calls is not an array");
    for (size_t i = 0; i < calls->size(); ++i) {
      const Json& wire = (*calls)[i];
      std::string at = "choices[0].message.tool_calls[" + std::to_string(i) + "]";
      if (!wire.is_object()) return bad(at + " is not an object");
      auto function = wire.find("function");
      if (function == wire.end() || !function->is_object()) return bad(at + ".function is missing");
      auto name = function->find("name");
      if (name == function->end() || !name->is_string())
        return bad(at + ".function.name is missing");
      ModelToolCall call;
      call.name = name->get<std::string>();
      auto id = wire.find("id");
      if (id != wire.end() && id->is_string()) call.id = id->get<std::string>();
      auto arguments = function->find("arguments");
      call.arguments = arguments == function->end() ? Json::object() : parse_arguments(*arguments);
      response.tool_calls.push_back(std::move(call));
    }
  }
  auto finish = choice.find("finish_reason");
  if (finish != choice.end() && finish->is_string())
    response.finish_reason = finish->get<std::string>();
  // Some servers say "stop" while asking for tools; the neutral answer is consistent.
  if (!response.tool_calls.empty()) response.finish_reason = "tool_calls";
  response.usage = parse_usage(answer);
  return response;
}

Result<EmbedResponse> parse_embed_answer(const ModelEndpoint& endpoint, const Json& answer,
                                         size_t expected) {
  auto bad = [&](const std::string& what) {
    return Status::Internal(who(endpoint) + " embeddings answer: " + what);
  };
  auto data = answer.find("data");
  if (data == answer.end() || !data->is_array()) return bad("expected a 'data' array");
  if (data->size() != expected) {
    return bad("asked for " + std::to_string(expected) + " vectors, got " +
               std::to_string(data->size()));
  }
  EmbedResponse response;
  response.vectors.resize(expected);
  std::vector<bool> filled(expected, false);
  for (size_t i = 0; i < data->size(); ++i) {
    const Json& item = (*data)[i];
    std::string at = "data[" + std::to_string(i) + "]";
    if (!item.is_object()) return bad(at + " is not an object");
    // The answer may come in any order: data[i].index says which text it is.
    size_t index = i;
    auto wire_index = item.find("index");
    if (wire_index != item.end()) {
      if (!wire_index->is_number_integer() || wire_index->get<int64_t>() < 0 ||
          wire_index->get<int64_t>() >= static_cast<int64_t>(expected)) {
        return bad(at + ".index is not a valid position");
      }
      index = static_cast<size_t>(wire_index->get<int64_t>());
    }
    if (filled[index]) return bad("two vectors for index " + std::to_string(index));
    filled[index] = true;
    auto embedding = item.find("embedding");
    if (embedding == item.end() || !embedding->is_array())
      return bad(at + ".embedding is not an array");
    std::vector<float>& vector = response.vectors[index];
    vector.reserve(embedding->size());
    for (const auto& value : *embedding) {
      if (!value.is_number()) return bad(at + ".embedding holds a value that is not a number");
      vector.push_back(value.get<float>());
    }
  }
  response.usage = parse_usage(answer);
  return response;
}

class OpenAiProvider final : public ModelProvider {
 public:
  Result<ChatResponse> chat(const ModelEndpoint& endpoint, const std::string& api_key,
                            const ChatRequest& request, DurationMs* retry_after) override {
    CADRE_ASSIGN_OR_RETURN(HttpResponse response, post(endpoint, api_key, "/chat/completions",
                                                       chat_body(endpoint, request), retry_after));
    CADRE_ASSIGN_OR_RETURN(Json answer, parse_answer(endpoint, response));
    return parse_chat_answer(endpoint, answer);
  }

  Result<EmbedResponse> embed(const ModelEndpoint& endpoint, const std::string& api_key,
                              const std::vector<std::string>& texts,
                              DurationMs* retry_after) override {
    if (retry_after != nullptr) *retry_after = -1;
    if (texts.empty()) return EmbedResponse{};
    Json body{{"model", endpoint.model}, {"input", texts}};
    CADRE_ASSIGN_OR_RETURN(HttpResponse response,
                           post(endpoint, api_key, "/embeddings", body, retry_after));
    CADRE_ASSIGN_OR_RETURN(Json answer, parse_answer(endpoint, response));
    return parse_embed_answer(endpoint, answer, texts.size());
  }
};

}  // namespace

std::unique_ptr<ModelProvider> make_openai_provider() {
  return std::make_unique<OpenAiProvider>();
}

}  // namespace cadre
