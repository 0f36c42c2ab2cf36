// HttpClient: outbound HTTP over libcurl for the modules that talk to the
// outside world (models/, connectors/). One request at a time per call, no
// shared state between calls, so any thread may use it.
//
// Errors are values: a request that got an HTTP answer (any status) is ok and
// carries the status; only transport failures are errors: cannot connect or
// resolve -> Unavailable, no answer before the timeout -> DeadlineExceeded,
// anything else -> IOError (including a URL curl cannot parse and schemes
// other than http and https, which are refused). A request that cannot be
// sent as written (a method or header name that is not an HTTP token, a line
// break in a header value, a negative timeout) is InvalidArgument. Error
// messages name the URL as redact_url() shows it and never contain request
// headers (they carry API keys) or bodies. Redirects are not followed. An
// answer larger than max_response_bytes stops the transfer: ResourceExhausted.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/duration.h"
#include "core/result.h"

namespace cadre {

struct HttpRequest {
  std::string method = "POST";  // GET, POST, PUT, PATCH, DELETE, HEAD
  std::string url;
  std::map<std::string, std::string> headers;  // name -> value; "" sends the header empty
  std::string body;
  DurationMs timeout = 60000;  // whole request; 0: none
  int64_t max_response_bytes = 0;  // a larger answer is ResourceExhausted; 0: no limit
};

struct HttpResponse {
  int status = 0;
  // Names lower-cased; a repeated header keeps its last value. Interim (1xx)
  // responses' headers are dropped.
  std::map<std::string, std::string> headers;
  std::string body;
  int64_t elapsed_ms = 0;
};

// Sends the request and waits for the whole answer.
Result<HttpResponse> http_send(const HttpRequest& request);

// The delay a `Retry-After` header asks for (seconds, or an HTTP date relative
// to `now_ms`; 0 for a date already past), or -1 when absent or unreadable.
DurationMs retry_after_ms(const HttpResponse& response, int64_t now_ms);

// The URL as it may appear in messages: scheme, host, port and path only (no
// userinfo, query or fragment).
std::string redact_url(const std::string& url);

}  // namespace cadre
