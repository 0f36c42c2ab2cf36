// JSON-RPC 2.0 messages as the Model Context Protocol uses them: building
// requests, notifications and replies, and telling what a message from a
// server is without trusting its shape (nlohmann::json throws on wrong types,
// so every field is checked before it is read).
//
// Thread-safety: free functions without shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/json.h"
#include "core/status.h"

namespace cadre {

// The error codes JSON-RPC 2.0 reserves.
inline constexpr int kJsonRpcParseError = -32700;
inline constexpr int kJsonRpcInvalidRequest = -32600;
inline constexpr int kJsonRpcMethodNotFound = -32601;
inline constexpr int kJsonRpcInvalidParams = -32602;
inline constexpr int kJsonRpcInternalError = -32603;

enum class JsonRpcKind {
  kRequest,       // method and id: the peer expects an answer
  kNotification,  // method, no id
  kResponse,      // id and exactly one of result / error (well-formed)
  kInvalid,       // anything else; `problem` says what is wrong
};

struct JsonRpcMessage {
  JsonRpcKind kind = JsonRpcKind::kInvalid;
  std::string method;   // requests and notifications
  int64_t id = -1;      // responses whose id is an integer (the ids Cadre sends); else -1
  std::string problem;  // kInvalid, or a response whose id is known but whose body is not
};

// Classifies one message. A response with an integer id but a malformed body
// (both or neither of result and error, an error without code or message)
// keeps its id and kind kInvalid, so the request waiting for it can fail with
// `problem` instead of waiting for its deadline.
JsonRpcMessage classify_json_rpc(const Json& message);

Json json_rpc_request(int64_t id, std::string_view method, const Json& params);
Json json_rpc_notification(std::string_view method, const Json& params);
Json json_rpc_error_reply(const Json& id, int code, std::string_view message);

// The reply a client that offers no capabilities gives to a server's request:
// `ping` is answered with an empty result, anything else with -32601.
Json reply_to_server_request(const Json& request);

// A JSON-RPC error object ({code, message, data?}) as a Status, with the
// server's message: bad requests and parameters are invalid_argument, every
// other code failed_precondition. `context` names the server and the method.
Status status_from_json_rpc_error(const Json& error, std::string_view context);

// `text` shortened to `limit` bytes (with "...") and with control characters
// shown as spaces, for quoting what a server sent inside an error message.
std::string quote_excerpt(std::string_view text, size_t limit = 200);

}  // namespace cadre
