// Provider-neutral model requests and answers. Providers translate these to
// and from their wire formats; the agent loop, the journal, the cache and the
// recordings only ever see this shape (to_json/from_json below), so a
// conversation recorded against one provider replays against any.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/result.h"

namespace cadre {

struct ModelToolCall {
  std::string id;        // the provider's id, echoed back with the result
  std::string name;      // as declared in ChatRequest::tools
  Json arguments = Json::object();
};

struct ChatMessage {
  std::string role;      // system | user | assistant | tool
  std::string content;   // text; for role tool, the tool's result as text
  std::vector<ModelToolCall> tool_calls;  // role assistant: the calls it asked for
  std::string tool_call_id;               // role tool: which call this answers
};

struct ModelToolDef {
  std::string name;      // [A-Za-z0-9_-]{1,64}: the wire allows nothing else
  std::string description;
  Json parameters = Json::object();  // JSON Schema of the arguments
};

struct ChatRequest {
  std::vector<ChatMessage> messages;
  std::vector<ModelToolDef> tools;
  Json response_schema;  // null: free text; else the answer must be JSON of this schema
  int max_tokens = 0;    // 0: the endpoint's max_tokens
  double temperature = 0;
};

struct TokenUsage {
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
};

struct ChatResponse {
  std::string content;                    // the text answer (JSON text when a schema was asked)
  std::vector<ModelToolCall> tool_calls;  // non-empty: the model wants these tools run
  std::string finish_reason;              // stop | tool_calls | length | ...
  TokenUsage usage;
};

struct EmbedResponse {
  std::vector<std::vector<float>> vectors;  // one per input text, same order
  TokenUsage usage;
};

Json to_json(const ChatRequest& request);
Json to_json(const ChatResponse& response);
Result<ChatRequest> chat_request_from_json(const Json& j);
Result<ChatResponse> chat_response_from_json(const Json& j);

// Hex SHA-256 of the canonical JSON of the request: the same request gives
// the same key in every process and on every machine.
std::string request_key(const ChatRequest& request);
// What a recording is matched by: the request key with the ids and times
// Cadre itself puts in prompts (memory items carry their event ids and
// dates) masked, since they differ on every run.
std::string replay_key(const ChatRequest& request);

// The recording key of one embeddings request: hex SHA-256 of the texts as a
// JSON array.
std::string embed_key(const std::vector<std::string>& texts);

}  // namespace cadre
