// HttpTransport: an MCP server reached over the Streamable HTTP transport.
// Every message is POSTed to one URL with `Accept: application/json,
// text/event-stream`; the server answers a request either with one JSON body
// or with an event stream (Server-Sent Events) that carries, before the
// response, any notifications and requests of its own. The stream is read as
// it arrives (core/http_client.h reads whole bodies, which a stream that waits
// for the client's answer never ends), so a server's request is answered
// while its stream is still open, and the transfer stops once the response is
// in. A notification is answered with 202 and no body.
//
// The session id the server gives at initialize (`Mcp-Session-Id`) is sent
// on every later message, with `MCP-Protocol-Version` once agreed; close()
// ends the session with DELETE. An HTTP 404 to a message that carried a
// session means the server forgot it: session_lost() becomes true.
//
// Each message uses its own libcurl handle: nothing is shared between
// threads but the session id. Answers are bounded (`max_response_bytes`),
// redirects are not followed, only http and https are spoken. Messages name
// the URL without query or credentials and never quote request headers
// (they may carry a token).
//
// Thread-safety: as McpTransport.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "connectors/mcp/mcp_transport.h"

namespace cadre {

struct HttpServerOptions {
  std::string url;                                  // "http://127.0.0.1:3001/mcp"
  std::map<std::string, std::string> headers = {};  // sent on every message, e.g. Authorization
  DurationMs connect_timeout = 10000;               // within each message's own deadline
  size_t max_response_bytes = 10 * 1024 * 1024;     // one answer, JSON or the whole event stream
};

class HttpTransport final : public McpTransport {
 public:
  // Checks the options (an http(s) URL, header names and values that can be
  // sent); connects nothing yet.
  static Result<std::unique_ptr<HttpTransport>> open(const HttpServerOptions& options);
  ~HttpTransport() override;

  Result<Json> request(std::string_view method, const Json& params, McpDeadline deadline) override;
  Status notify(std::string_view method, const Json& params, McpDeadline deadline) override;
  void set_protocol_version(const std::string& version) override;
  bool session_lost() const override;
  void close() override;
  std::string describe() const override;
  int64_t notifications_received() const override;

  std::string session_id() const;

  struct Exchange;  // one POST's state, filled by libcurl's callbacks

 private:
  explicit HttpTransport(HttpServerOptions options) : options_(std::move(options)) {}

  // POSTs `message`; waits for the response with `want_id` (-1: none, a
  // notification or a reply) until `deadline`.
  Result<Json> post(const Json& message, int64_t want_id, std::string_view method,
                    McpDeadline deadline);
  Result<Json> interpret(Exchange& exchange, int curl_code, std::string_view method,
                         McpDeadline deadline, McpClock::time_point started);
  void note_session(const std::string& session_id);
  void send_reply(const Json& reply);

  HttpServerOptions options_;
  std::string shown_url_;  // redacted, for messages

  mutable std::mutex mutex_;  // guards everything below
  int64_t next_id_ = 1;
  std::string session_id_;
  std::string protocol_version_;
  bool session_lost_ = false;
  bool closed_ = false;
  int64_t notifications_ = 0;
};

}  // namespace cadre
