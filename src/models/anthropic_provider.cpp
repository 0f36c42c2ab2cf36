// The Anthropic Messages API: POST {base_url}/messages. It differs from the
// OpenAI format in ways the neutral request hides: system text is a
// top-level field, tool calls and tool results are content blocks (all
// results for one assistant turn go back in ONE user message), max_tokens is
// required, and there is no JSON mode, so a response schema becomes an
// instruction in the system text.
#include "core/clock.h"
#include "core/http_client.h"
#include "models/http_errors.h"
#include "models/provider.h"

namespace cadre {
namespace {

constexpr const char* kDefaultBaseUrl = "https://api.anthropic.com/v1";
constexpr const char* kApiVersion = "2023-06-01";

std::string who(const ModelEndpoint& endpoint) {
  return "anthropic model '" + endpoint.model + "'";
}

// {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
std::string api_error_message(const std::string& body, const std::string& api_key) {
  std::string message;
  Result<Json> parsed = parse_json(body, "error body");
  if (parsed.ok() && parsed->is_object()) {
    auto error = parsed->find("error");
    if (error != parsed->end() && error->is_object()) {
      auto type = error->find("type");
      auto text = error->find("message");
      if (type != error->end() && type->is_string()) message = type->get<std::string>();
      if (text != error->end() && text->is_string()) {
        message += (message.empty() ? "" : ": ") + text->get<std::string>();
      }
    } else if (error != parsed->end() && error->is_string()) {
      message = error->get<std::string>();
    }
  }
  return quoted_api_message(std::move(message), body, api_key);
}

Json tool_use_block(const ModelToolCall& call) {
  // input must be an object on the wire; unparsable arguments kept as
  // {"_raw": "..."} already are one.
  Json input =
      call.arguments.is_object() ? call.arguments : Json{{"_raw", dump_json(call.arguments)}};
  return Json{
      {"type", "tool_use"}, {"id", call.id}, {"name", call.name}, {"input", std::move(input)}};
}

// The system text (every system message, then the schema instruction) and
// the alternating user/assistant messages.
struct WireConversation {
  std::string system;
  Json messages = Json::array();
};

WireConversation wire_conversation(const ChatRequest& request) {
  WireConversation out;
  const auto& messages = request.messages;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    if (message.role == "system") {
      if (!out.system.empty()) out.system += "\n\n";
      out.system += message.content;
    } else if (message.role == "tool") {
      // Results of one assistant turn's calls travel together in one user message.
      Json blocks = Json::array();
      for (; i < messages.size() && messages[i].role == "tool"; ++i) {
        blocks.push_back(Json{{"type", "tool_result"},
                              {"tool_use_id", messages[i].tool_call_id},
                              {"content", messages[i].content}});
      }
      --i;  // the loop's ++i moves to the message after the run
      out.messages.push_back(Json{{"role", "user"}, {"content", std::move(blocks)}});
    } else if (message.role == "assistant" && !message.tool_calls.empty()) {
      Json blocks = Json::array();
      if (!message.content.empty())
        blocks.push_back(Json{{"type", "text"}, {"text", message.content}});
      for (const auto& call : message.tool_calls) blocks.push_back(tool_use_block(call));
      out.messages.push_back(Json{{"role", "assistant"}, {"content", std::move(blocks)}});
    } else {
      out.messages.push_back(Json{{"role", message.role}, {"content", message.content}});
    }
  }
  if (!request.response_schema.is_null()) {
    if (!out.system.empty()) out.system += "\n\n";
    out.system += "Answer with only a JSON value that matches this JSON Schema: " +
                  dump_json(request.response_schema);
  }
  return out;
}

Json messages_body(const ModelEndpoint& endpoint, const ChatRequest& request) {
  WireConversation conversation = wire_conversation(request);
  int max_tokens = request.max_tokens > 0 ? request.max_tokens : endpoint.max_tokens;
  if (max_tokens <= 0)
    max_tokens = 1024;  // required by the API; config validation keeps this unreachable
  Json body{{"model", endpoint.model},
            {"max_tokens", max_tokens},
            {"messages", std::move(conversation.messages)},
            {"temperature", request.temperature}};
  if (!conversation.system.empty()) body["system"] = std::move(conversation.system);
  if (!request.tools.empty()) {
    Json tools = Json::array();
    for (const auto& tool : request.tools) {
      tools.push_back(Json{{"name", tool.name},
                           {"description", tool.description},
                           {"input_schema", tool.parameters}});
    }
    body["tools"] = std::move(tools);
  }
  return body;
}

std::string neutral_finish_reason(const std::string& stop_reason) {
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "end_turn" || stop_reason == "stop_sequence") return "stop";
  if (stop_reason == "max_tokens") return "length";
  return stop_reason;
}

// Without a JSON mode a model may still wrap its JSON in a Markdown fence;
// the schema asked for JSON alone, so the fence is dropped.
std::string without_code_fence(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  size_t end = text.find_last_not_of(" \t\r\n");
  if (begin == std::string::npos) return text;
  std::string trimmed = text.substr(begin, end - begin + 1);
  if (trimmed.size() < 6 || trimmed.rfind("```", 0) != 0 ||
      trimmed.compare(trimmed.size() - 3, 3, "```") != 0) {
    return text;
  }
  size_t first_newline = trimmed.find('\n');
  if (first_newline == std::string::npos || first_newline >= trimmed.size() - 3) return text;
  std::string inner = trimmed.substr(first_newline + 1, trimmed.size() - 3 - (first_newline + 1));
  while (!inner.empty() && (inner.back() == '\n' || inner.back() == '\r')) inner.pop_back();
  return inner;
}

int64_t token_count(const Json& usage, const char* key) {
  auto it = usage.find(key);
  if (it == usage.end() || !it->is_number_integer()) return 0;
  return it->get<int64_t>();
}

Result<ChatResponse> parse_messages_answer(const ModelEndpoint& endpoint, const Json& answer,
                                           bool schema_asked) {
  auto bad = [&](const std::string& what) {
    return Status::Internal(who(endpoint) + " answer: " + what);
  };
  auto content = answer.find("content");
  if (content == answer.end() || !content->is_array()) return bad("expected a 'content' array");
  ChatResponse response;
  for (size_t i = 0; i < content->size(); ++i) {
    const Json& block = (*content)[i];
    std::string at = "content[" + std::to_string(i) + "]";
    if (!block.is_object()) return bad(at + " is not an object");
    auto type = block.find("type");
    if (type == block.end() || !type->is_string()) return bad(at + ".type is missing");
    if (*type == "text") {
      auto text = block.find("text");
      if (text == block.end() || !text->is_string()) return bad(at + ".text is not a string");
      response.content += text->get<std::string>();
    } else if (*type == "tool_use") {
      auto name = block.find("name");
      if (name == block.end() || !name->is_string()) return bad(at + ".name is missing");
      ModelToolCall call;
      call.name = name->get<std::string>();
      auto id = block.find("id");
      if (id != block.end() && id->is_string()) call.id = id->get<std::string>();
      auto input = block.find("input");
      if (input != block.end() && input->is_object()) {
        call.arguments = *input;
      } else if (input != block.end() && !input->is_null()) {
        call.arguments = Json{{"_raw", dump_json(*input)}};
      }
      response.tool_calls.push_back(std::move(call));
    }
    // Other blocks (thinking, server tools) carry nothing the neutral answer holds.
  }
  if (schema_asked) response.content = without_code_fence(response.content);
  auto stop = answer.find("stop_reason");
  if (stop != answer.end() && stop->is_string())
    response.finish_reason = neutral_finish_reason(*stop);
  auto usage = answer.find("usage");
  if (usage != answer.end() && usage->is_object()) {
    response.usage.input_tokens = token_count(*usage, "input_tokens");
    response.usage.output_tokens = token_count(*usage, "output_tokens");
  }
  return response;
}

class AnthropicProvider final : public ModelProvider {
 public:
  Result<ChatResponse> chat(const ModelEndpoint& endpoint, const std::string& api_key,
                            const ChatRequest& request, DurationMs* retry_after) override {
    if (retry_after != nullptr) *retry_after = -1;
    HttpRequest http;
    http.method = "POST";
    http.url = endpoint_url(endpoint.base_url, kDefaultBaseUrl, "/messages");
    http.headers["Content-Type"] = "application/json";
    http.headers["Accept"] = "application/json";
    http.headers["anthropic-version"] = kApiVersion;
    if (!api_key.empty()) http.headers["x-api-key"] = api_key;
    http.body = dump_json(messages_body(endpoint, request));
    http.timeout = endpoint.timeout;

    Result<HttpResponse> response = http_send(http);
    if (!response.ok()) return transport_failure(who(endpoint), response.status());
    if (response->status < 200 || response->status >= 300) {
      if (retry_after != nullptr)
        *retry_after = retry_after_ms(*response, SystemClock::instance().now_ms());
      return http_failure(who(endpoint), response->status,
                          api_error_message(response->body, api_key));
    }
    Result<Json> answer = parse_json(response->body, who(endpoint) + " answer");
    if (!answer.ok()) return Status::Internal(answer.status().message());
    if (!answer->is_object())
      return Status::Internal(who(endpoint) + " answer: expected a JSON object");
    return parse_messages_answer(endpoint, *answer, !request.response_schema.is_null());
  }

  Result<EmbedResponse> embed(const ModelEndpoint& endpoint, const std::string&,
                              const std::vector<std::string>&, DurationMs* retry_after) override {
    if (retry_after != nullptr) *retry_after = -1;
    return Status::FailedPrecondition(
        who(endpoint) +
        ": the Anthropic API has no embeddings; give the embed tier an "
        "openai-compatible provider");
  }
};

}  // namespace

std::unique_ptr<ModelProvider> make_anthropic_provider() {
  return std::make_unique<AnthropicProvider>();
}

}  // namespace cadre
