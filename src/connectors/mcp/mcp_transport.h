// McpTransport: how an McpClient exchanges JSON-RPC messages with one Model
// Context Protocol server. Two transports exist: StdioTransport (the server is
// a child process speaking newline-delimited JSON on its stdin and stdout,
// stdio_transport.h) and HttpTransport (the server is reached by POSTing to one
// URL; it answers with JSON or a Server-Sent Events stream, http_transport.h).
//
// A transport numbers the requests itself and matches each response to its
// request. Requests the server sends to the client are answered by the
// transport: `ping` with an empty result, anything else with JSON-RPC error
// -32601 (a client offering no capabilities is asked for nothing else).
// Server notifications are counted and otherwise ignored.
//
// Errors: the server cannot be reached or has gone away -> unavailable (the
// message says why: the process's exit status and the end of its stderr, the
// connection refused); no answer by the deadline -> deadline_exceeded; an
// answer too large -> resource_exhausted; an answer that is not well-formed
// JSON-RPC -> internal, naming what was wrong; used after close() ->
// failed_precondition.
//
// Thread-safety: every method may be called from several threads at once;
// requests from different threads are in flight together.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/duration.h"
#include "core/json.h"
#include "core/result.h"

namespace cadre {

// Deadlines are on the steady clock: a wall clock set back must not stretch them.
using McpClock = std::chrono::steady_clock;
using McpDeadline = McpClock::time_point;

inline McpDeadline mcp_deadline_in(DurationMs timeout) {
  return McpClock::now() + std::chrono::milliseconds(timeout);
}

// Milliseconds left until `deadline` (0 when it has passed).
inline DurationMs mcp_remaining_ms(McpDeadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - McpClock::now());
  return left.count() > 0 ? left.count() : 0;
}

class McpTransport {
 public:
  virtual ~McpTransport() = default;

  // Sends the request `method` with `params` (null: none) and waits for its
  // response until `deadline`. The answer is the whole response message: an
  // object with either "result" or a well-formed "error" (which the caller
  // interprets).
  virtual Result<Json> request(std::string_view method, const Json& params,
                               McpDeadline deadline) = 0;

  // Sends a notification; no answer is expected.
  virtual Status notify(std::string_view method, const Json& params, McpDeadline deadline) = 0;

  // The protocol version agreed at initialization (HTTP sends it as the
  // MCP-Protocol-Version header on every later request).
  virtual void set_protocol_version(const std::string& version) { (void)version; }

  // True when the server has forgotten this client's session (HTTP 404 to a
  // request that carried one): the client must initialize again. A new
  // initialize clears it.
  virtual bool session_lost() const { return false; }

  // Ends the conversation: stops the server process, or ends the HTTP session.
  // Pending requests fail with unavailable. Idempotent.
  virtual void close() = 0;

  // How messages name the server's end: "process 'node' (pid 42)", "http://127.0.0.1:3001/mcp".
  virtual std::string describe() const = 0;

  // Notifications received so far (tests and diagnostics).
  virtual int64_t notifications_received() const = 0;
};

}  // namespace cadre
