#include "model_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <ctime>
#include <limits>
#include <optional>
#include <set>

namespace cadre::testing {
namespace {

constexpr char kChatCompletionsPath[] = "/v1/chat/completions";
constexpr char kEmbeddingsPath[] = "/v1/embeddings";
constexpr char kMessagesPath[] = "/v1/messages";
constexpr char kHost[] = "127.0.0.1";

// Enough workers that a test's concurrent calls are not serialised behind
// delayed replies.
constexpr size_t kServerThreads = 32;
// A delayed reply sleeps in slices this long so that shutdown is prompt.
constexpr auto kDelaySlice = std::chrono::milliseconds(10);
// The real OpenAI API takes at most this many inputs per embeddings request.
constexpr size_t kMaxEmbeddingInputs = 2048;

enum class Format { kOpenAi, kAnthropic };

// A refusal or failure before rendering; `param` and `code` are OpenAI's
// optional fields ("" renders as null).
struct ApiError {
  int status = 400;
  std::string message;
  std::string param;
  std::string code;
};

ApiError invalid_request(std::string message, std::string param = "", std::string code = "") {
  return {400, std::move(message), std::move(param), std::move(code)};
}

Json null_if_empty(const std::string& text) {
  return text.empty() ? Json(nullptr) : Json(text);
}

// OpenAI: {"error": {"message", "type", "param", "code"}}.
Json openai_error_body(const ApiError& error) {
  std::string type = "invalid_request_error";
  std::string code = error.code;
  if (error.status == 401 && code.empty()) code = "invalid_api_key";
  if (error.status == 429) {
    type = "requests";
    if (code.empty()) code = "rate_limit_exceeded";
  }
  if (error.status >= 500) type = "server_error";
  return {{"error",
           {{"message", error.message},
            {"type", type},
            {"param", null_if_empty(error.param)},
            {"code", null_if_empty(code)}}}};
}

std::string anthropic_error_type(int status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

// The message a scripted error status carries, worded like the provider's.
std::string scripted_error_message(Format format, int status, const std::string& model) {
  if (format == Format::kAnthropic) {
    switch (status) {
      case 401:
        return "invalid x-api-key";
      case 403:
        return "Your API key does not have permission to use the specified resource.";
      case 404:
        return "model: " + model;
      case 429:
        return "Number of requests has exceeded your per-minute rate limit (scripted)";
      case 500:
        return "Internal server error (scripted)";
      case 529:
        return "Overloaded";
      default:
        return "scripted error (HTTP " + std::to_string(status) + ")";
    }
  }
  switch (status) {
    case 401:
      return "Incorrect API key provided (scripted).";
    case 404:
      return "The model `" + model + "` does not exist or you do not have access to it.";
    case 429:
      return "Rate limit reached for requests (scripted). Please try again later.";
    case 500:
      return "The server had an error while processing your request (scripted).";
    case 503:
      return "The engine is currently overloaded, please try again later (scripted).";
    default:
      return "scripted error (HTTP " + std::to_string(status) + ")";
  }
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// `length` letters and digits derived from `seed`: ids that look like the real ones.
std::string id_chars(uint64_t seed, size_t length) {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out;
  uint64_t x = seed;
  for (size_t i = 0; i < length; ++i) {
    x = splitmix64(x);
    out += kAlphabet[x % 62];
  }
  return out;
}

uint64_t fnv1a(std::string_view text) {
  uint64_t hash = 0xCBF29CE484222325ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001B3ull;
  }
  return hash;
}

// Lower-cased words: runs of ASCII letters and digits, and of non-ASCII
// bytes (so UTF-8 words stay whole).
std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c >= 0x80) {
      word += static_cast<char>(std::tolower(c));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

// Feature hashing: each word adds +-1 to one of `dims` buckets, then the
// vector is L2-normalised, so texts sharing words have a high cosine.
std::vector<double> embed_text(std::string_view text, int dims) {
  std::vector<double> vector(static_cast<size_t>(dims), 0.0);
  std::vector<std::string> words = words_of(text);
  if (words.empty()) words.emplace_back(text);  // punctuation only: the text is its one feature
  for (const std::string& word : words) {
    uint64_t hash = fnv1a(word);
    vector[hash % static_cast<uint64_t>(dims)] += (hash >> 63) ? -1.0 : 1.0;
  }
  double norm = 0;
  for (double x : vector) norm += x * x;
  if (norm == 0) {  // every word cancelled another out
    vector[fnv1a(text) % static_cast<uint64_t>(dims)] = 1.0;
    return vector;
  }
  norm = std::sqrt(norm);
  for (double& x : vector) x /= norm;
  return vector;
}

// `object[key]` when it is a string, else "" (nlohmann's value() throws on a type mismatch).
std::string string_field(const Json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_string()) return "";
  return object[key].get<std::string>();
}

bool streaming_requested(const Json& body) {
  return body.contains("stream") && body["stream"].is_boolean() && body["stream"].get<bool>();
}

std::string type_name(const Json& value) {
  if (value.is_object()) return "an object";
  if (value.is_array()) return "an array";
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_null()) return "null";
  return "a number";
}

// --- OpenAI chat completions -------------------------------------------------

std::optional<ApiError> check_openai_chat(const Json& body) {
  if (!body.contains("model") || !body["model"].is_string() ||
      body["model"].get<std::string>().empty()) {
    return invalid_request("you must provide a model parameter");
  }
  if (!body.contains("messages")) {
    return invalid_request("Missing required parameter: 'messages'.", "messages",
                           "missing_required_parameter");
  }
  const Json& messages = body["messages"];
  if (!messages.is_array()) {
    return invalid_request("Invalid type for 'messages': expected an array of objects, but got " +
                               type_name(messages) + " instead.",
                           "messages", "invalid_type");
  }
  if (messages.empty()) {
    return invalid_request(
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
        "empty array "
        "instead.",
        "messages", "empty_array");
  }
  if (streaming_requested(body)) {
    return invalid_request("the scripted model server does not stream: send \"stream\": false",
                           "stream");
  }
  static const std::set<std::string> kRoles = {"system",    "developer", "user",
                                               "assistant", "tool",      "function"};
  // The tool_calls of the last assistant message, while the tool messages answering them follow.
  std::set<std::string> open_calls;
  std::set<std::string> answered;
  size_t open_index = 0;
  auto unanswered = [&]() -> std::optional<ApiError> {
    std::string missing;
    for (const std::string& id : open_calls) {
      if (!answered.contains(id)) missing += (missing.empty() ? "" : ", ") + id;
    }
    if (missing.empty()) return std::nullopt;
    return invalid_request(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to "
        "each "
        "'tool_call_id'. The following tool_call_ids did not have response messages: " +
            missing,
        "messages.[" + std::to_string(open_index) + "].role");
  };
  for (size_t i = 0; i < messages.size(); ++i) {
    const Json& message = messages[i];
    std::string at = "messages[" + std::to_string(i) + "]";
    if (!message.is_object()) {
      return invalid_request("Invalid type for '" + at + "': expected an object, but got " +
                                 type_name(message) + " instead.",
                             at, "invalid_type");
    }
    if (!message.contains("role") || !message["role"].is_string()) {
      return invalid_request("Missing required parameter: '" + at + ".role'.", at + ".role",
                             "missing_required_parameter");
    }
    std::string role = message["role"];
    if (!kRoles.contains(role)) {
      return invalid_request(
          "Invalid value: '" + role +
              "'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', "
              "and 'developer'.",
          at + ".role", "invalid_value");
    }
    if (role == "tool") {
      if (!message.contains("tool_call_id") || !message["tool_call_id"].is_string()) {
        return invalid_request("Missing required parameter: '" + at + ".tool_call_id'.",
                               at + ".tool_call_id", "missing_required_parameter");
      }
      std::string id = message["tool_call_id"];
      if (!open_calls.contains(id)) {
        return invalid_request(
            "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
            "message with "
            "'tool_calls'.",
            "messages.[" + std::to_string(i) + "].role");
      }
      answered.insert(id);
      continue;
    }
    if (auto error = unanswered()) return error;
    open_calls.clear();
    answered.clear();
    if (role != "assistant" || !message.contains("tool_calls") || message["tool_calls"].is_null())
      continue;
    const Json& calls = message["tool_calls"];
    if (!calls.is_array()) {
      return invalid_request("Invalid type for '" + at +
                                 ".tool_calls': expected an array, but got " + type_name(calls) +
                                 " instead.",
                             at + ".tool_calls", "invalid_type");
    }
    for (size_t k = 0; k < calls.size(); ++k) {
      const Json& call = calls[k];
      std::string call_at = at + ".tool_calls[" + std::to_string(k) + "]";
      if (!call.is_object() || !call.contains("id") || !call["id"].is_string()) {
        return invalid_request("Missing required parameter: '" + call_at + ".id'.", call_at + ".id",
                               "missing_required_parameter");
      }
      if (string_field(call, "type") != "function") {
        return invalid_request(
            "Missing required parameter: '" + call_at + ".type' (must be 'function').",
            call_at + ".type", "missing_required_parameter");
      }
      if (!call.contains("function") || !call["function"].is_object() ||
          !call["function"].contains("name") || !call["function"]["name"].is_string()) {
        return invalid_request("Missing required parameter: '" + call_at + ".function.name'.",
                               call_at + ".function.name", "missing_required_parameter");
      }
      const Json& function = call["function"];
      if (!function.contains("arguments")) {
        return invalid_request("Missing required parameter: '" + call_at + ".function.arguments'.",
                               call_at + ".function.arguments", "missing_required_parameter");
      }
      if (!function["arguments"].is_string()) {
        return invalid_request("Invalid type for '" + call_at +
                                   ".function.arguments': expected a string, but got " +
                                   type_name(function["arguments"]) + " instead.",
                               call_at + ".function.arguments", "invalid_type");
      }
      open_calls.insert(call["id"].get<std::string>());
    }
    open_index = i;
  }
  if (auto error = unanswered()) return error;

  if (body.contains("tools")) {
    const Json& tools = body["tools"];
    if (!tools.is_array()) {
      return invalid_request(
          "Invalid type for 'tools': expected an array, but got " + type_name(tools) + " instead.",
          "tools", "invalid_type");
    }
    for (size_t k = 0; k < tools.size(); ++k) {
      std::string at = "tools[" + std::to_string(k) + "]";
      const Json& tool = tools[k];
      if (!tool.is_object() || string_field(tool, "type") != "function") {
        return invalid_request(
            "Missing required parameter: '" + at + ".type' (must be 'function').", at + ".type",
            "missing_required_parameter");
      }
      if (!tool.contains("function") || !tool["function"].is_object()) {
        return invalid_request("Missing required parameter: '" + at + ".function'.",
                               at + ".function", "missing_required_parameter");
      }
      if (!tool["function"].contains("name") || !tool["function"]["name"].is_string()) {
        return invalid_request("Missing required parameter: '" + at + ".function.name'.",
                               at + ".function.name", "missing_required_parameter");
      }
    }
  }
  if (body.contains("response_format")) {
    const Json& format = body["response_format"];
    std::string type = string_field(format, "type");
    if (type != "text" && type != "json_object" && type != "json_schema") {
      return invalid_request(
          "Invalid value for 'response_format.type': expected one of 'text', 'json_object' or "
          "'json_schema'.",
          "response_format.type", "invalid_value");
    }
    if (type == "json_schema") {
      if (!format.contains("json_schema") || !format["json_schema"].is_object()) {
        return invalid_request("Missing required parameter: 'response_format.json_schema'.",
                               "response_format.json_schema", "missing_required_parameter");
      }
      if (!format["json_schema"].contains("name") || !format["json_schema"]["name"].is_string()) {
        return invalid_request("Missing required parameter: 'response_format.json_schema.name'.",
                               "response_format.json_schema.name", "missing_required_parameter");
      }
    }
  }
  return std::nullopt;
}

Json render_openai_chat(const ScriptedReply& reply, const std::string& model, uint64_t seed) {
  Json message = {{"role", "assistant"}, {"content", nullptr}, {"refusal", nullptr}};
  if (!reply.text.empty() || reply.tool_calls.empty()) message["content"] = reply.text;
  if (!reply.tool_calls.empty()) {
    Json calls = Json::array();
    for (size_t k = 0; k < reply.tool_calls.size(); ++k) {
      const auto& [name, arguments] = reply.tool_calls[k];
      calls.push_back({{"id", "call_" + id_chars(seed * 64 + k + 1, 24)},
                       {"type", "function"},
                       {"function", {{"name", name}, {"arguments", dump_json(arguments)}}}});
    }
    message["tool_calls"] = std::move(calls);
  }
  return {{"id", "chatcmpl-" + id_chars(seed, 29)},
          {"object", "chat.completion"},
          {"created", static_cast<int64_t>(std::time(nullptr))},
          {"model", model},
          {"choices",
           Json::array({{{"index", 0},
                         {"message", std::move(message)},
                         {"logprobs", nullptr},
                         {"finish_reason", reply.tool_calls.empty() ? "stop" : "tool_calls"}}})},
          {"usage",
           {{"prompt_tokens", reply.input_tokens},
            {"completion_tokens", reply.output_tokens},
            {"total_tokens", reply.input_tokens + reply.output_tokens}}},
          {"system_fingerprint", "fp_scripted"}};
}

// --- Anthropic messages --------------------------------------------------------

std::optional<ApiError> check_anthropic_block(const Json& block, const std::string& at,
                                              const std::string& role,
                                              const std::set<std::string>& previous_tool_uses,
                                              std::set<std::string>* tool_uses,
                                              std::set<std::string>* results) {
  if (!block.is_object() || !block.contains("type") || !block["type"].is_string()) {
    return invalid_request(at + ".type: Field required");
  }
  std::string type = block["type"];
  if (type == "text") {
    if (!block.contains("text") || !block["text"].is_string()) {
      return invalid_request(at + ".text: Field required");
    }
    if (block["text"].get<std::string>().empty()) {
      return invalid_request("messages: text content blocks must be non-empty");
    }
  } else if (type == "tool_use") {
    if (role != "assistant")
      return invalid_request(at + ": tool_use blocks may only appear in assistant messages");
    for (const char* field : {"id", "name"}) {
      if (!block.contains(field) || !block[field].is_string()) {
        return invalid_request(at + ".tool_use." + field + ": Field required");
      }
    }
    if (!block.contains("input") || !block["input"].is_object()) {
      return invalid_request(at + ".tool_use.input: Input should be a valid dictionary");
    }
    tool_uses->insert(block["id"].get<std::string>());
  } else if (type == "tool_result") {
    if (!block.contains("tool_use_id") || !block["tool_use_id"].is_string()) {
      return invalid_request(at + ".tool_result.tool_use_id: Field required");
    }
    std::string id = block["tool_use_id"];
    if (role != "user" || !previous_tool_uses.contains(id)) {
      return invalid_request(
          at + ": unexpected `tool_use_id` found in `tool_result` blocks: " + id +
          ". Each `tool_result` block must have a corresponding `tool_use` block in the "
          "previous message.");
    }
    results->insert(id);
  }
  return std::nullopt;
}

std::optional<ApiError> check_anthropic(const httplib::Request& request, const Json& body) {
  if (!request.has_header("anthropic-version"))
    return invalid_request("anthropic-version: header is required");
  if (!body.contains("model") || !body["model"].is_string() ||
      body["model"].get<std::string>().empty()) {
    return invalid_request("model: Field required");
  }
  if (!body.contains("max_tokens")) return invalid_request("max_tokens: Field required");
  if (!body["max_tokens"].is_number_integer())
    return invalid_request("max_tokens: Input should be a valid integer");
  if (body["max_tokens"].get<int64_t>() < 1) {
    return invalid_request("max_tokens: Input should be greater than or equal to 1");
  }
  if (!body.contains("messages")) return invalid_request("messages: Field required");
  const Json& messages = body["messages"];
  if (!messages.is_array()) return invalid_request("messages: Input should be a valid list");
  if (messages.empty()) return invalid_request("messages: at least one message is required");
  if (streaming_requested(body)) {
    return invalid_request(
        "stream: the scripted model server does not stream: send \"stream\": false");
  }
  if (body.contains("system") && !body["system"].is_string() && !body["system"].is_array()) {
    return invalid_request("system: Input should be a valid string or a list of text blocks");
  }
  std::set<std::string> previous_tool_uses;
  for (size_t i = 0; i < messages.size(); ++i) {
    const Json& message = messages[i];
    std::string at = "messages." + std::to_string(i);
    if (!message.is_object() || !message.contains("role") || !message["role"].is_string()) {
      return invalid_request(at + ".role: Field required");
    }
    std::string role = message["role"];
    if (role == "system") {
      return invalid_request(
          "messages: Unexpected role \"system\". The Messages API accepts a top-level `system` "
          "parameter, not "
          "\"system\" as an input message role.");
    }
    if (role != "user" && role != "assistant") {
      return invalid_request(at + ".role: Input should be 'user' or 'assistant'");
    }
    if (!message.contains("content")) return invalid_request(at + ".content: Field required");
    const Json& content = message["content"];
    bool final_assistant = i + 1 == messages.size() && role == "assistant";
    if (!content.is_string() && !content.is_array()) {
      return invalid_request(
          at + ".content: Input should be a valid string or a list of content blocks");
    }
    if (content.empty() || (content.is_string() && content.get<std::string>().empty())) {
      if (!final_assistant) {
        return invalid_request(
            at +
            ": all messages must have non-empty content except for the optional final "
            "assistant message");
      }
    }
    std::set<std::string> tool_uses, results;
    if (content.is_array()) {
      for (size_t k = 0; k < content.size(); ++k) {
        std::string block_at = at + ".content." + std::to_string(k);
        if (auto error = check_anthropic_block(content[k], block_at, role, previous_tool_uses,
                                               &tool_uses, &results)) {
          return error;
        }
      }
    }
    std::string missing;
    for (const std::string& id : previous_tool_uses) {
      if (!results.contains(id)) missing += (missing.empty() ? "" : ", ") + id;
    }
    if (!missing.empty()) {
      return invalid_request(
          "messages." + std::to_string(i - 1) +
          ": `tool_use` ids were found without `tool_result` blocks immediately after: " + missing +
          ". Each `tool_use` block must have a corresponding `tool_result` block in the next "
          "message.");
    }
    previous_tool_uses = std::move(tool_uses);
  }
  if (!previous_tool_uses.empty()) {
    std::string missing;
    for (const std::string& id : previous_tool_uses) missing += (missing.empty() ? "" : ", ") + id;
    return invalid_request(
        "messages." + std::to_string(messages.size() - 1) +
        ": `tool_use` ids were found without `tool_result` blocks immediately after: " + missing +
        ". Each `tool_use` block must have a corresponding `tool_result` block in the next "
        "message.");
  }
  if (body.contains("tools")) {
    const Json& tools = body["tools"];
    if (!tools.is_array()) return invalid_request("tools: Input should be a valid list");
    for (size_t k = 0; k < tools.size(); ++k) {
      std::string at = "tools." + std::to_string(k);
      const Json& tool = tools[k];
      if (!tool.is_object()) return invalid_request(at + ": Input should be a valid dictionary");
      std::string type = tool.contains("type") ? string_field(tool, "type") : "custom";
      if (type != "custom") continue;  // server tools (web search, ...) take no schema
      if (!tool.contains("name") || !tool["name"].is_string())
        return invalid_request(at + ".name: Field required");
      if (!tool.contains("input_schema") || !tool["input_schema"].is_object()) {
        return invalid_request(at + ".input_schema: Field required");
      }
    }
  }
  return std::nullopt;
}

Json render_anthropic(const ScriptedReply& reply, const std::string& model, uint64_t seed) {
  Json content = Json::array();
  if (!reply.text.empty() || reply.tool_calls.empty())
    content.push_back({{"type", "text"}, {"text", reply.text}});
  for (size_t k = 0; k < reply.tool_calls.size(); ++k) {
    const auto& [name, arguments] = reply.tool_calls[k];
    content.push_back({{"type", "tool_use"},
                       {"id", "toolu_01" + id_chars(seed * 64 + k + 1, 22)},
                       {"name", name},
                       {"input", arguments.is_object() ? arguments : Json::object()}});
  }
  return {
      {"id", "msg_01" + id_chars(seed, 22)},
      {"type", "message"},
      {"role", "assistant"},
      {"model", model},
      {"content", std::move(content)},
      {"stop_reason", reply.tool_calls.empty() ? "end_turn" : "tool_use"},
      {"stop_sequence", nullptr},
      {"usage", {{"input_tokens", reply.input_tokens}, {"output_tokens", reply.output_tokens}}}};
}

// --- OpenAI embeddings ---------------------------------------------------------

// The texts of a valid embeddings request, or why it is not valid.
std::optional<ApiError> check_embeddings(const Json& body, std::vector<std::string>* texts) {
  if (!body.contains("model") || !body["model"].is_string() ||
      body["model"].get<std::string>().empty()) {
    return invalid_request("you must provide a model parameter");
  }
  if (!body.contains("input")) {
    return invalid_request("Missing required parameter: 'input'.", "input",
                           "missing_required_parameter");
  }
  const Json& input = body["input"];
  const ApiError invalid_input = invalid_request(
      "'$.input' is invalid: expected a non-empty string or a non-empty array of non-empty strings "
      "(at most 2048); token arrays are not served by the scripted model server.",
      "input", "invalid_value");
  if (input.is_string()) {
    texts->push_back(input.get<std::string>());
  } else if (input.is_array() && !input.empty() && input.size() <= kMaxEmbeddingInputs) {
    for (const Json& text : input) {
      if (!text.is_string()) return invalid_input;
      texts->push_back(text.get<std::string>());
    }
  } else {
    return invalid_input;
  }
  for (const std::string& text : *texts) {
    if (text.empty()) return invalid_input;
  }
  if (body.contains("encoding_format") && body["encoding_format"] != "float") {
    return invalid_request("encoding_format: the scripted model server only serves \"float\"",
                           "encoding_format", "invalid_value");
  }
  if (body.contains("dimensions") &&
      (!body["dimensions"].is_number_integer() || body["dimensions"].get<int64_t>() < 1 ||
       body["dimensions"].get<int64_t>() > 4096)) {
    return invalid_request("Invalid 'dimensions': expected an integer from 1 to 4096.",
                           "dimensions", "invalid_value");
  }
  return std::nullopt;
}

Json render_embeddings(const std::vector<std::string>& texts, const std::string& model, int dims) {
  Json data = Json::array();
  int64_t tokens = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    data.push_back(
        {{"object", "embedding"}, {"index", i}, {"embedding", embed_text(texts[i], dims)}});
    tokens += std::max<int64_t>(1, static_cast<int64_t>(words_of(texts[i]).size()));
  }
  return {{"object", "list"},
          {"data", std::move(data)},
          {"model", model},
          {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}};
}

// The reply for a request: the first queued one whose when_contains the body
// holds, else the first plain one.
std::optional<ScriptedReply> take_reply(std::deque<ScriptedReply>& queue,
                                        const std::string& raw_body,
                                        const std::string& dumped_body) {
  auto matches = [&](const ScriptedReply& reply) {
    return !reply.when_contains.empty() &&
           (raw_body.find(reply.when_contains) != std::string::npos ||
            dumped_body.find(reply.when_contains) != std::string::npos);
  };
  auto it = std::find_if(queue.begin(), queue.end(), matches);
  if (it == queue.end()) {
    it = std::find_if(queue.begin(), queue.end(),
                      [](const ScriptedReply& r) { return r.when_contains.empty(); });
  }
  if (it == queue.end()) return std::nullopt;
  ScriptedReply reply = std::move(*it);
  queue.erase(it);
  return reply;
}

}  // namespace

ScriptedReply ScriptedReply::Text(std::string text) {
  ScriptedReply reply;
  reply.text = std::move(text);
  return reply;
}

ScriptedReply ScriptedReply::Tool(std::string name, Json arguments) {
  ScriptedReply reply;
  reply.tool_calls.emplace_back(std::move(name), std::move(arguments));
  return reply;
}

ScriptedReply ScriptedReply::Error(int status, int retry_after_s) {
  ScriptedReply reply;
  reply.status = status;
  reply.retry_after_s = retry_after_s;
  return reply;
}

struct ScriptedModelServer::State {
  explicit State(const ScriptedModelServer& owner) : owner(owner) {}

  void serve(const httplib::Request& request, httplib::Response& response);
  void serve_chat(const httplib::Request& request, const Json& body, Format format,
                  httplib::Response& response);
  void serve_embeddings(const httplib::Request& request, const Json& body,
                        httplib::Response& response);
  // Sleeps `delay` in slices; false if the server is stopping meanwhile.
  bool wait_out(std::chrono::milliseconds delay) const;
  void answer_error(Format format, const ApiError& error, int retry_after_s,
                    httplib::Response& response) const;

  const ScriptedModelServer& owner;
  httplib::Server http;
  socket_t listening_socket = -1;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> next_seed{1};

  mutable std::mutex mutex;  // guards what follows
  std::deque<ScriptedReply> replies;
  std::deque<ScriptedReply> embedding_replies;
  std::vector<ReceivedRequest> received;
  int chat_requests = 0;
  int embedding_requests = 0;
};

bool ScriptedModelServer::State::wait_out(std::chrono::milliseconds delay) const {
  auto deadline = std::chrono::steady_clock::now() + delay;
  while (!stopping) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return true;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(kDelaySlice, deadline - now));
  }
  return false;
}

void ScriptedModelServer::State::answer_error(Format format, const ApiError& error,
                                              int retry_after_s,
                                              httplib::Response& response) const {
  Json body;
  if (format == Format::kAnthropic) {
    body = {{"type", "error"},
            {"error", {{"type", anthropic_error_type(error.status)}, {"message", error.message}}},
            {"request_id", "req_011C" + id_chars(next_seed.load() + 0x5EED, 20)}};
  } else {
    body = openai_error_body(error);
  }
  response.status = error.status;
  if (retry_after_s >= 0) response.set_header("Retry-After", std::to_string(retry_after_s));
  response.set_content(dump_json(body), "application/json");
}

void ScriptedModelServer::State::serve(const httplib::Request& request,
                                       httplib::Response& response) {
  ReceivedRequest record;
  record.path = request.path;
  record.headers = Json::object();
  for (const auto& [name, value] : request.headers) {
    // httplib adds the peer's and its own address as pseudo headers.
    if (name == "REMOTE_ADDR" || name == "REMOTE_PORT" || name == "LOCAL_ADDR" ||
        name == "LOCAL_PORT")
      continue;
    std::string key = name;
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (record.headers.contains(key)) {
      record.headers[key] = record.headers[key].get<std::string>() + ", " + value;
    } else {
      record.headers[key] = value;
    }
  }
  Result<Json> parsed = parse_json(request.body, "request body");
  bool is_json_object = parsed.ok() && parsed->is_object();
  record.body = is_json_object ? *parsed : Json(request.body);
  Json body = record.body;
  {
    std::lock_guard<std::mutex> lock(mutex);
    received.push_back(std::move(record));
    if (request.path == kChatCompletionsPath || request.path == kMessagesPath) ++chat_requests;
    if (request.path == kEmbeddingsPath) ++embedding_requests;
  }

  Format format = request.path == kMessagesPath ? Format::kAnthropic : Format::kOpenAi;
  if (request.method != "POST" ||
      (request.path != kChatCompletionsPath && request.path != kMessagesPath &&
       request.path != kEmbeddingsPath)) {
    answer_error(format, {404, "Invalid URL (" + request.method + " " + request.path + ")", "", ""},
                 -1, response);
    return;
  }
  if (!is_json_object) {
    std::string message =
        format == Format::kAnthropic
            ? "There was an error parsing the body of your request: expected a JSON object"
            : "We could not parse the JSON body of your request: expected a JSON object.";
    answer_error(format, invalid_request(message), -1, response);
    return;
  }
  if (request.path == kEmbeddingsPath) {
    serve_embeddings(request, body, response);
  } else {
    serve_chat(request, body, format, response);
  }
}

void ScriptedModelServer::State::serve_chat(const httplib::Request& request, const Json& body,
                                            Format format, httplib::Response& response) {
  std::optional<ApiError> invalid =
      format == Format::kAnthropic ? check_anthropic(request, body) : check_openai_chat(body);
  if (invalid) {
    answer_error(format, *invalid, -1, response);
    return;
  }
  std::string model = body["model"];
  std::string dumped_body = dump_json(body);
  std::optional<ScriptedReply> reply;
  {
    std::lock_guard<std::mutex> lock(mutex);
    reply = take_reply(replies, request.body, dumped_body);
  }
  if (!reply) {
    answer_error(format, {500, "no scripted reply", "", ""}, -1, response);
    return;
  }
  if (!wait_out(reply->delay)) {
    answer_error(format, {503, "the scripted model server is shutting down", "", ""}, -1, response);
    return;
  }
  if (reply->status != 200) {
    answer_error(format,
                 {reply->status, scripted_error_message(format, reply->status, model), "", ""},
                 reply->retry_after_s, response);
    return;
  }
  uint64_t seed = next_seed++;
  Json answer = format == Format::kAnthropic ? render_anthropic(*reply, model, seed)
                                             : render_openai_chat(*reply, model, seed);
  if (reply->retry_after_s >= 0)
    response.set_header("Retry-After", std::to_string(reply->retry_after_s));
  response.set_content(dump_json(answer), "application/json");
}

void ScriptedModelServer::State::serve_embeddings(const httplib::Request& request, const Json& body,
                                                  httplib::Response& response) {
  std::vector<std::string> texts;
  if (std::optional<ApiError> invalid = check_embeddings(body, &texts)) {
    answer_error(Format::kOpenAi, *invalid, -1, response);
    return;
  }
  std::string model = body["model"];
  std::string dumped_body = dump_json(body);
  std::optional<ScriptedReply> reply;
  {
    std::lock_guard<std::mutex> lock(mutex);
    reply = take_reply(embedding_replies, request.body, dumped_body);
  }
  if (reply) {
    if (!wait_out(reply->delay)) {
      answer_error(Format::kOpenAi, {503, "the scripted model server is shutting down", "", ""}, -1,
                   response);
      return;
    }
    if (reply->status != 200) {
      answer_error(
          Format::kOpenAi,
          {reply->status, scripted_error_message(Format::kOpenAi, reply->status, model), "", ""},
          reply->retry_after_s, response);
      return;
    }
    if (reply->retry_after_s >= 0)
      response.set_header("Retry-After", std::to_string(reply->retry_after_s));
  }
  int dims = body.contains("dimensions") ? body["dimensions"].get<int>() : owner.embedding_dims;
  response.set_content(dump_json(render_embeddings(texts, model, std::max(1, dims))),
                       "application/json");
}

ScriptedModelServer::ScriptedModelServer() : ScriptedModelServer(0) {}

ScriptedModelServer::ScriptedModelServer(int port) : state_(std::make_unique<State>(*this)) {
  State& state = *state_;
  state.http.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
  // An idle keep-alive connection holds a worker until this times out, and
  // stop() waits for the workers.
  state.http.set_keep_alive_timeout(1);
  // httplib's default also sets SO_REUSEPORT, which would let a second
  // server bind a port that is in use.
  state.http.set_socket_options([&state](socket_t socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    state.listening_socket = socket;
  });
  auto serve = [&state](const httplib::Request& request, httplib::Response& response) {
    state.serve(request, response);
  };
  state.http.Post(".*", serve);
  state.http.Get(".*", serve);
  if (port == 0) {
    port_ = std::max(0, state.http.bind_to_any_port(kHost));
  } else {
    port_ = state.http.bind_to_port(kHost, port) ? port : 0;
  }
  if (port_ == 0) return;
  // httplib listens with a backlog of 5: more simultaneous connects than
  // that have their SYN dropped and retried a second later. Listening again
  // only raises the backlog.
  if (state.listening_socket >= 0) ::listen(state.listening_socket, SOMAXCONN);
  state.thread = std::thread([&state] { state.http.listen_after_bind(); });
  // stop() only takes effect once the accept loop runs, so wait for it
  // (the socket already accepts connections into its backlog).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!state.http.is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

ScriptedModelServer::~ScriptedModelServer() {
  state_->stopping = true;
  if (state_->thread.joinable()) {
    state_->http.stop();
    state_->thread.join();
  }
}

std::string ScriptedModelServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/v1";
}

void ScriptedModelServer::push(ScriptedReply reply) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->replies.push_back(std::move(reply));
}

void ScriptedModelServer::push_embedding(ScriptedReply reply) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->embedding_replies.push_back(std::move(reply));
}

size_t ScriptedModelServer::pending() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->replies.size() + state_->embedding_replies.size();
}

int ScriptedModelServer::chat_requests() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->chat_requests;
}

int ScriptedModelServer::embedding_requests() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->embedding_requests;
}

std::vector<ReceivedRequest> ScriptedModelServer::received() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->received;
}

// --- Scripts -----------------------------------------------------------------

namespace {

// An integer in [min, max], or nullopt.
std::optional<int64_t> integer_in(const Json& value, int64_t min, int64_t max) {
  if (!value.is_number_integer()) return std::nullopt;
  if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(max))
    return std::nullopt;
  int64_t n = value.get<int64_t>();
  if (n < min || n > max) return std::nullopt;
  return n;
}

Result<ScriptedReply> parse_reply(const Json& json, const std::string& at,
                                  const std::string& source) {
  auto fail = [&](const std::string& field, const std::string& what) {
    return Status::InvalidArgument(source + ": " + at + (field.empty() ? "" : "." + field) + ": " +
                                   what);
  };
  if (!json.is_object())
    return fail("", "expected an object with \"text\", \"tool_calls\" or \"status\"");
  static const std::set<std::string> kFields = {"text",          "tool_calls",   "status",
                                                "retry_after_s", "delay_ms",     "input_tokens",
                                                "output_tokens", "when_contains"};
  for (const auto& [key, value] : json.items()) {
    if (!kFields.contains(key)) {
      return fail(key,
                  "unknown field (expected text, tool_calls, status, retry_after_s, delay_ms, "
                  "input_tokens, "
                  "output_tokens or when_contains)");
    }
  }
  ScriptedReply reply;
  const int64_t kMax = std::numeric_limits<int32_t>::max();
  if (json.contains("text")) {
    if (!json["text"].is_string()) return fail("text", "expected a string");
    reply.text = json["text"];
  }
  if (json.contains("tool_calls")) {
    const Json& calls = json["tool_calls"];
    if (!calls.is_array() || calls.empty()) return fail("tool_calls", "expected a non-empty array");
    for (size_t k = 0; k < calls.size(); ++k) {
      std::string call_at = "tool_calls[" + std::to_string(k) + "]";
      const Json& call = calls[k];
      if (!call.is_object())
        return fail(call_at, "expected an object with \"name\" and \"arguments\"");
      for (const auto& [key, value] : call.items()) {
        if (key != "name" && key != "arguments")
          return fail(call_at + "." + key, "unknown field (expected name or arguments)");
      }
      if (!call.contains("name") || !call["name"].is_string() ||
          call["name"].get<std::string>().empty()) {
        return fail(call_at + ".name", "expected a non-empty string");
      }
      Json arguments = call.value("arguments", Json::object());
      if (!arguments.is_object()) return fail(call_at + ".arguments", "expected an object");
      reply.tool_calls.emplace_back(call["name"].get<std::string>(), std::move(arguments));
    }
  }
  if (json.contains("status")) {
    std::optional<int64_t> status = integer_in(json["status"], 200, 599);
    if (!status) return fail("status", "expected an HTTP status from 200 to 599");
    reply.status = static_cast<int>(*status);
  }
  if (json.contains("retry_after_s")) {
    std::optional<int64_t> seconds = integer_in(json["retry_after_s"], 0, kMax);
    if (!seconds) return fail("retry_after_s", "expected a whole number of seconds >= 0");
    reply.retry_after_s = static_cast<int>(*seconds);
  }
  if (json.contains("delay_ms")) {
    std::optional<int64_t> ms = integer_in(json["delay_ms"], 0, kMax);
    if (!ms) return fail("delay_ms", "expected a whole number of milliseconds >= 0");
    reply.delay = std::chrono::milliseconds(*ms);
  }
  for (auto [field, target] : {std::pair{"input_tokens", &reply.input_tokens},
                               std::pair{"output_tokens", &reply.output_tokens}}) {
    if (!json.contains(field)) continue;
    std::optional<int64_t> tokens = integer_in(json[field], 0, kMax);
    if (!tokens) return fail(field, "expected a whole number >= 0");
    *target = *tokens;
  }
  if (json.contains("when_contains")) {
    if (!json["when_contains"].is_string() || json["when_contains"].get<std::string>().empty()) {
      return fail("when_contains", "expected a non-empty string");
    }
    reply.when_contains = json["when_contains"];
  }
  bool has_answer = json.contains("text") || json.contains("tool_calls");
  if (reply.status == 200 && !has_answer && !json.contains("status")) {
    return fail("", "expected \"text\", \"tool_calls\" or an error \"status\"");
  }
  if (reply.status != 200 && has_answer) {
    return fail("status", "an error reply (status " + std::to_string(reply.status) +
                              ") has no text or tool_calls");
  }
  return reply;
}

Result<std::vector<ScriptedReply>> parse_replies(const Json& json, const std::string& field,
                                                 const std::string& source) {
  if (!json.is_array())
    return Status::InvalidArgument(source + ": " + field + ": expected an array of replies");
  std::vector<ScriptedReply> replies;
  for (size_t i = 0; i < json.size(); ++i) {
    CADRE_ASSIGN_OR_RETURN(ScriptedReply reply,
                           parse_reply(json[i], field + "[" + std::to_string(i) + "]", source));
    replies.push_back(std::move(reply));
  }
  return replies;
}

}  // namespace

Result<ModelServerScript> parse_model_server_script(std::string_view text,
                                                    std::string_view source_name) {
  std::string source(source_name);
  CADRE_ASSIGN_OR_RETURN(Json json, parse_json(text, source));
  if (!json.is_object())
    return Status::InvalidArgument(source + ": expected an object with \"replies\"");
  ModelServerScript script;
  for (const auto& [key, value] : json.items()) {
    if (key == "replies") {
      CADRE_ASSIGN_OR_RETURN(script.replies, parse_replies(value, key, source));
    } else if (key == "embedding_replies") {
      CADRE_ASSIGN_OR_RETURN(script.embedding_replies, parse_replies(value, key, source));
    } else if (key == "embedding_dims") {
      std::optional<int64_t> dims = integer_in(value, 1, 4096);
      if (!dims)
        return Status::InvalidArgument(source +
                                       ": embedding_dims: expected a whole number from 1 to 4096");
      script.embedding_dims = static_cast<int>(*dims);
    } else {
      return Status::InvalidArgument(
          source + ": " + key +
          ": unknown field (expected replies, embedding_replies or embedding_dims)");
    }
  }
  return script;
}

}  // namespace cadre::testing
