#include "connectors/mcp/http_transport.h"


#include <algorithm>
#include <cctype>
#include <optional>
#include <thread>
#include <vector>

#include "connectors/mcp/json_rpc.h"
#include "connectors/mcp/sse_parser.h"
#include "core/curl_util.h"
#include "core/http_client.h"

namespace cadre {
namespace {

constexpr DurationMs kReplyTimeout = 5000;   // answering a server's request
constexpr DurationMs kDeleteTimeout = 3000;  // ending the session at close
constexpr DurationMs kCancelTimeout = 1000;  // telling the server a request was given up


bool is_header_token(std::string_view text) {
  if (text.empty()) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool has_line_break(std::string_view text) {
  return text.find('\r') != std::string_view::npos || text.find('\n') != std::string_view::npos;
}

// A session id may hold visible ASCII only (the protocol says so); anything
// else is not sent back.
bool is_valid_session_id(std::string_view id) {
  return !id.empty() &&
         std::all_of(id.begin(), id.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

CurlList make_headers(const std::vector<std::string>& lines) {
  curl_slist* list = nullptr;
  for (const auto& line : lines) {
    curl_slist* next = curl_slist_append(list, line.c_str());
    if (!next) break;
    list = next;
  }
  return CurlList(list);
}

}  // namespace

struct HttpTransport::Exchange {
  HttpTransport* transport = nullptr;
  int64_t want_id = -1;
  size_t max_bytes = 0;
  size_t received = 0;
  bool too_large = false;
  long status = 0;
  std::string content_type;  // lower case, without parameters
  std::string session_id;
  std::string body;  // anything but an event stream
  SseParser sse;
  std::optional<Json> response;
  std::string problem;  // set when the stream carried something malformed
  std::vector<std::thread> replies;

  bool is_stream() const {
    return status >= 200 && status < 300 && content_type == "text/event-stream";
  }

  void take_header(std::string_view line) {
    line = trim_space(line);
    if (line.rfind("HTTP/", 0) == 0) {  // a new status line: interim (1xx) answers start over
      auto space = line.find(' ');
      status = space == std::string_view::npos
                   ? 0
                   : std::atol(std::string(line.substr(space + 1, 3)).c_str());
      content_type.clear();
      session_id.clear();
      return;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return;
    const std::string name = lower_case(trim_space(line.substr(0, colon)));
    std::string_view value = trim_space(line.substr(colon + 1));
    if (name == "content-type") {
      content_type = lower_case(trim_space(value.substr(0, value.find(';'))));
    } else if (name == "mcp-session-id") {
      session_id = std::string(value);
    }
  }

  // Takes a piece of the body; false stops the transfer.
  bool take_body(std::string_view bytes) {
    received += bytes.size();
    if (received > max_bytes) {
      too_large = true;
      return false;
    }
    if (!is_stream()) {
      body.append(bytes);
      return true;
    }
    if (!sse.feed(bytes, [this](const SseEvent& event) { take_event(event); })) {
      problem = "the event stream has a line longer than the answer may be";
      return false;
    }
    return !response && problem.empty();
  }

  void take_event(const SseEvent& event) {
    if (event.data.empty() || response || !problem.empty()) return;
    auto parsed = parse_json(event.data, "an event from the server");
    if (!parsed.ok()) {
      problem = "the event stream carried a message that is not JSON ('" +
                quote_excerpt(event.data, 120) + "'): " + parsed.status().message();
      return;
    }
    if (parsed->is_array()) {
      for (const Json& message : *parsed) take_message(message);
    } else {
      take_message(*parsed);
    }
  }

  void take_message(const Json& message) {
    JsonRpcMessage m = classify_json_rpc(message);
    if (m.kind == JsonRpcKind::kResponse && m.id == want_id && want_id >= 0) {
      response = message;
    } else if (m.kind == JsonRpcKind::kInvalid && m.id == want_id && want_id >= 0) {
      problem = "the server's response to request " + std::to_string(m.id) +
                " is malformed: " + m.problem;
    } else if (m.kind == JsonRpcKind::kRequest) {
      // Answered beside the stream: the server may hold its response until it has our answer.
      Json reply = reply_to_server_request(message);
      HttpTransport* t = transport;
      replies.emplace_back([t, reply] { t->send_reply(reply); });
    } else if (m.kind == JsonRpcKind::kNotification) {
      std::lock_guard<std::mutex> lock(transport->mutex_);
      ++transport->notifications_;
    }
  }
};

namespace {

size_t on_header(char* data, size_t size, size_t count, void* user) {
  static_cast<HttpTransport::Exchange*>(user)->take_header(std::string_view(data, size * count));
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<HttpTransport::Exchange*>(user);
  return exchange->take_body(std::string_view(data, size * count)) ? size * count : 0;
}

// The response with `id` in a JSON body (one message or a batch), if any.
std::optional<Json> find_response(const Json& body, int64_t id) {
  auto matches = [id](const Json& m) {
    JsonRpcMessage c = classify_json_rpc(m);
    return c.kind == JsonRpcKind::kResponse && c.id == id;
  };
  if (body.is_object() && matches(body)) return body;
  if (body.is_array()) {
    for (const Json& m : body) {
      if (matches(m)) return m;
    }
  }
  return std::nullopt;
}

Status http_status_error(long status, const std::string& url, const std::string& body) {
  std::string message = "HTTP " + std::to_string(status) + " from " + url;
  std::string_view shown = trim_space(body);
  if (!shown.empty()) message += ": " + quote_excerpt(shown, 200);
  if (status == 401 || status == 403)
    return Status::FailedPrecondition(message + " (the server refused the credentials)");
  if (status == 429) return Status::ResourceExhausted(message);
  if (status >= 500) return Status::Unavailable(message);
  return Status::InvalidArgument(message);
}

}  // namespace

Result<std::unique_ptr<HttpTransport>> HttpTransport::open(const HttpServerOptions& options) {
  const std::string scheme = lower_case(options.url.substr(0, options.url.find("://")));
  if (options.url.find("://") == std::string::npos || (scheme != "http" && scheme != "https")) {
    return Status::InvalidArgument(
        "the MCP server's url must start with http:// or https://, not '" +
        redact_url(options.url) + "'");
  }
  for (const auto& [name, value] : options.headers) {
    if (!is_header_token(name))
      return Status::InvalidArgument("header name '" + name + "' is not an HTTP token");
    if (has_line_break(value))
      return Status::InvalidArgument("the value of header '" + name + "' has a line break");
  }
  if (options.max_response_bytes == 0)
    return Status::InvalidArgument("max_response_bytes must be positive");
  init_curl_once();
  std::unique_ptr<HttpTransport> transport(new HttpTransport(options));
  transport->shown_url_ = redact_url(options.url);
  return transport;
}

HttpTransport::~HttpTransport() {
  close();
}

Result<Json> HttpTransport::request(std::string_view method, const Json& params,
                                    McpDeadline deadline) {
  int64_t id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return Status::FailedPrecondition("the connection to the server is closed");
    id = next_id_++;
  }
  auto answer = post(json_rpc_request(id, method, params), id, method, deadline);
  if (answer.status().is(StatusCode::kDeadlineExceeded) && method != "initialize") {
    // A dropped connection does not cancel a request in this protocol; saying so does.
    Json cancel = json_rpc_notification(
        "notifications/cancelled", {{"requestId", id}, {"reason", "the client's deadline passed"}});
    (void)post(cancel, -1, "notifications/cancelled", mcp_deadline_in(kCancelTimeout));
  }
  return answer;
}

Status HttpTransport::notify(std::string_view method, const Json& params, McpDeadline deadline) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return Status::FailedPrecondition("the connection to the server is closed");
  }
  return post(json_rpc_notification(method, params), -1, method, deadline).status();
}

void HttpTransport::send_reply(const Json& reply) {
  (void)post(reply, -1, "a reply", mcp_deadline_in(kReplyTimeout));
}

Result<Json> HttpTransport::post(const Json& message, int64_t want_id, std::string_view method,
                                 McpDeadline deadline) {
  const auto started = McpClock::now();
  const DurationMs left = mcp_remaining_ms(deadline);
  if (left == 0)
    return Status::DeadlineExceeded("the deadline for " + std::string(method) + " had passed");
  std::vector<std::string> lines = {"Content-Type: application/json",
                                    "Accept: application/json, text/event-stream",
                                    "Expect:"};  // no 100-continue round trip for larger bodies
  bool sent_session = false;
  if (method != "initialize") {  // initialize starts a new session, under no agreed version yet
    std::lock_guard<std::mutex> lock(mutex_);
    if (!session_id_.empty()) {
      lines.push_back("Mcp-Session-Id: " + session_id_);
      sent_session = true;
    }
    if (!protocol_version_.empty()) lines.push_back("MCP-Protocol-Version: " + protocol_version_);
  }
  for (const auto& [name, value] : options_.headers) lines.push_back(name + ": " + value);
  CurlList headers = make_headers(lines);
  CurlEasy curl(curl_easy_init());
  if (!curl) return Status::ResourceExhausted("cannot create an HTTP handle");
  const std::string body = dump_json(message);
  Exchange exchange;
  exchange.transport = this;
  exchange.want_id = want_id;
  exchange.max_bytes = options_.max_response_bytes;
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(left));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(left, options_.connect_timeout)));
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &exchange);
  const CURLcode code = curl_easy_perform(h);
  for (auto& reply : exchange.replies) reply.join();
  if (exchange.status == 404 && sent_session) {
    std::lock_guard<std::mutex> lock(mutex_);
    session_lost_ = true;
    session_id_.clear();
    return Status::Unavailable("the server no longer knows this client's session (HTTP 404 from " +
                               shown_url_ + "); it must be initialized again");
  }
  return interpret(exchange, static_cast<int>(code), method, deadline, started);
}

Result<Json> HttpTransport::interpret(Exchange& e, int curl_code, std::string_view method,
                                      McpDeadline deadline, McpClock::time_point started) {
  const std::string what = std::string(method);
  if (is_valid_session_id(e.session_id)) note_session(e.session_id);
  if (e.response) return std::move(*e.response);
  if (!e.problem.empty()) return Status::Internal(e.problem);
  if (e.too_large) {
    return Status::ResourceExhausted("the answer to " + what + " exceeded " +
                                     std::to_string(options_.max_response_bytes) +
                                     " bytes (max_response_bytes)");
  }
  const auto code = static_cast<CURLcode>(curl_code);
  if (code == CURLE_OPERATION_TIMEDOUT) {
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - started).count();
    return Status::DeadlineExceeded("no answer to " + what + " from " + shown_url_ + " within " +
                                    std::to_string(waited) + " ms");
  }
  if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST) {
    return Status::Unavailable("cannot connect to " + shown_url_ + ": " + curl_easy_strerror(code));
  }
  if (code != CURLE_OK) {
    return Status::Unavailable("the connection to " + shown_url_ + " broke before the answer to " +
                               what + ": " + curl_easy_strerror(code));
  }
  if (e.status < 200 || e.status >= 300) {
    // A JSON-RPC error in the body says more than the status (e.g. 400 for an unknown session).
    auto parsed = parse_json(e.body, "the error body");
    if (e.want_id >= 0 && parsed.ok() && parsed->is_object() && parsed->contains("error")) {
      Json response = *parsed;
      response["id"] = e.want_id;
      if (classify_json_rpc(response).kind == JsonRpcKind::kResponse) return response;
    }
    return http_status_error(e.status, shown_url_, e.body);
  }
  if (e.want_id < 0) return Json(nullptr);  // a notification or a reply: 202 (or any 2xx) is all
  if (e.status == 202) {
    return Status::Internal("the server accepted " + what + " (HTTP 202) but sent no answer");
  }
  if (e.is_stream())
    return Status::Unavailable("the server ended the event stream before answering " + what);
  if (e.content_type != "application/json") {
    return Status::Internal("the server answered " + what + " with content type '" +
                            e.content_type + "', expected application/json or text/event-stream");
  }
  auto parsed = parse_json(e.body, "the answer to " + what);
  if (!parsed.ok()) {
    return Status::Internal("the answer to " + what + " is not JSON ('" +
                            quote_excerpt(e.body, 120) + "'): " + parsed.status().message());
  }
  if (auto response = find_response(*parsed, e.want_id)) return std::move(*response);
  return Status::Internal("the answer to " + what + " holds no well-formed response with id " +
                          std::to_string(e.want_id) + ": " + quote_excerpt(e.body, 160));
}

void HttpTransport::note_session(const std::string& session_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  session_id_ = session_id;
  session_lost_ = false;
}

void HttpTransport::set_protocol_version(const std::string& version) {
  std::lock_guard<std::mutex> lock(mutex_);
  protocol_version_ = version;
}

bool HttpTransport::session_lost() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return session_lost_;
}

void HttpTransport::close() {
  std::string session;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return;
    closed_ = true;
    session = session_id_;
  }
  if (session.empty()) return;
  // Ends the session on the server; a server that does not allow it answers 405, which is fine.
  std::vector<std::string> lines = {"Mcp-Session-Id: " + session};
  for (const auto& [name, value] : options_.headers) lines.push_back(name + ": " + value);
  CurlList headers = make_headers(lines);
  CurlEasy curl(curl_easy_init());
  if (!curl) return;
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(kDeleteTimeout));
  curl_easy_setopt(
      h, CURLOPT_WRITEFUNCTION,
      +[](char*, size_t size, size_t count, void*) { return size * count; });
  curl_easy_perform(h);
}

std::string HttpTransport::describe() const {
  return shown_url_;
}

int64_t HttpTransport::notifications_received() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return notifications_;
}

std::string HttpTransport::session_id() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return session_id_;
}

}  // namespace cadre
