// ScriptedModelServer: a model API for tests, on 127.0.0.1, that speaks the
// real wire formats: OpenAI chat completions (POST /v1/chat/completions),
// OpenAI embeddings (POST /v1/embeddings) and the Anthropic Messages API
// (POST /v1/messages). Answers come from a script of provider-neutral
// replies; each is rendered in the format of the endpoint that was called,
// with real-looking ids, usage and finish reasons, so the real client code
// is what tests exercise.
//
// Replies are taken in order from the queue. A reply with `when_contains`
// is only used for a request whose body contains that text (the first such
// reply in the queue wins over plain ones). With an empty queue the server
// answers 500 in the provider's error format, message "no scripted reply".
// Embeddings need no script: each text gets a deterministic vector of
// `embedding_dims` floats (or the request's `dimensions`) derived from its
// words (texts sharing words get similar vectors); push_embedding() queues
// errors or delays for embedding requests.
//
// Requests are checked the way the real APIs check them, lightly, and a
// malformed one is answered 400 in the provider's error format before any
// reply is used: a body that is not a JSON object, `model` missing,
// `messages` missing or empty, `stream: true` (not served here); OpenAI: a
// tool message that does not answer the assistant tool_calls just before it
// (or tool_calls left unanswered), tool call arguments that are not a JSON
// string, a tool without function.name, a json_schema response_format
// without a name; Anthropic: no `anthropic-version` header, `max_tokens`
// missing, a `system` role message, empty content or empty text blocks, a
// tool_use input that is not an object, a tool_result that does not answer
// a tool_use of the previous message (or a tool_use left unanswered), a tool
// without name or input_schema. So a client bug shows up as a test failure.
//
// Thread-safety: every method may be called from any thread while requests
// are being served; set embedding_dims before the first request.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/json.h"

namespace cadre::testing {

struct ScriptedReply {
  int status = 200;                 // not 200: an error answer in the provider's error format
  std::string text;                 // the answer text (with status 200)
  std::vector<std::pair<std::string, Json>> tool_calls;  // (tool name, arguments): a tool-use answer
  std::chrono::milliseconds delay{0};  // answer only after this long
  int retry_after_s = -1;           // >= 0: sent as Retry-After
  int64_t input_tokens = 12;
  int64_t output_tokens = 7;
  std::string when_contains;        // "": any request

  static ScriptedReply Text(std::string text);
  static ScriptedReply Tool(std::string name, Json arguments);
  static ScriptedReply Error(int status, int retry_after_s = -1);
};

struct ReceivedRequest {
  std::string path;                 // /v1/chat/completions, /v1/messages, /v1/embeddings
  Json headers;                     // lower-cased name -> value
  Json body;                        // the raw text as a JSON string when it was not JSON
};

class ScriptedModelServer {
 public:
  ScriptedModelServer();            // listening on 127.0.0.1 on a free port when constructed
  // Listening on 127.0.0.1:`port` (0: a free port). If the port cannot be
  // bound, nothing listens and port() is 0.
  explicit ScriptedModelServer(int port);
  ~ScriptedModelServer();           // stops serving; requests still waiting out a delay get 503
  ScriptedModelServer(const ScriptedModelServer&) = delete;
  ScriptedModelServer& operator=(const ScriptedModelServer&) = delete;

  int port() const { return port_; }
  std::string base_url() const;     // http://127.0.0.1:PORT/v1 (both formats)

  void push(ScriptedReply reply);
  // Queues a reply for /v1/embeddings: its status, delay, retry_after_s and
  // when_contains apply (text and tool_calls are ignored); with none queued
  // embedding requests are answered with the deterministic vectors.
  void push_embedding(ScriptedReply reply);
  size_t pending() const;           // replies not used yet (both queues)

  int chat_requests() const;        // chat and messages requests received (errors included)
  int embedding_requests() const;
  std::vector<ReceivedRequest> received() const;  // every request, in arrival order

  int embedding_dims = 16;

 private:
  struct State;
  std::unique_ptr<State> state_;
  int port_ = 0;
};

// A script for cadre-test-model-server, as JSON:
//   {"replies": [{"text": "hi"},
//                {"tool_calls": [{"name": "search", "arguments": {"q": "x"}}]},
//                {"status": 429, "retry_after_s": 1}, ...],
//    "embedding_replies": [...], "embedding_dims": 16}
// Each reply may also carry "when_contains", "delay_ms", "input_tokens" and
// "output_tokens". Unknown fields are errors (they are usually typos).
struct ModelServerScript {
  std::vector<ScriptedReply> replies;
  std::vector<ScriptedReply> embedding_replies;
  int embedding_dims = 16;
};

// Parses a script; errors are InvalidArgument and name `source` (the file)
// and the field ("script.json: replies[2].tool_calls[0].name: expected a string").
Result<ModelServerScript> parse_model_server_script(std::string_view text, std::string_view source);

}  // namespace cadre::testing
