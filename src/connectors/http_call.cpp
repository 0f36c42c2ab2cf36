#include "connectors/http_call.h"

#include <curl/curl.h>

#include "core/curl_util.h"
#include "core/redact.h"

namespace cadre {

namespace {

constexpr size_t kQuotedBodyChars = 300;

std::string reason_phrase(int status) {
  switch (status) {
    case 400: return " Bad Request";
    case 401: return " Unauthorized";
    case 403: return " Forbidden";
    case 404: return " Not Found";
    case 408: return " Request Timeout";
    case 409: return " Conflict";
    case 422: return " Unprocessable Content";
    case 429: return " Too Many Requests";
    case 500: return " Internal Server Error";
    case 502: return " Bad Gateway";
    case 503: return " Service Unavailable";
    case 504: return " Gateway Timeout";
    default: return "";
  }
}

}  // namespace

std::string quoted_body(const std::string& body) {
  std::string text = has_secrets() ? redact(body) : body;
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (text.size() > kQuotedBodyChars) text = text.substr(0, kQuotedBodyChars) + "...";
  return text.empty() ? "(empty body)" : text;
}

std::string media_type(const HttpResponse& response) {
  auto it = response.headers.find("content-type");
  if (it == response.headers.end()) return "";
  std::string type = lower_case(it->second.substr(0, it->second.find(';')));
  return std::string(trim_space(type));
}

std::string url_escape(const std::string& text) {
  init_curl_once();
  char* escaped = curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size()));
  if (escaped == nullptr) return "";
  std::string out(escaped);
  curl_free(escaped);
  return out;
}

Result<HttpResponse> send_connector_request(HttpRequest request, const ToolCall& call, const std::string& who,
                                            int* status_out) {
  if (status_out != nullptr) *status_out = 0;
  const std::string what = request.method + " " + redact_url(request.url);
  if (call.deadline > 0) {
    const TimeMs now = call.clock ? call.clock->now_ms() : SystemClock::instance().now_ms();
    if (call.deadline <= now) return Status::DeadlineExceeded(who + ": no time left for " + what);
    request.timeout = call.deadline - now;
  }
  auto sent = http_send(request);
  if (!sent.ok()) {
    const Status& status = sent.status();
    // Too large is the answer's nature, not a passing trouble.
    if (status.is(StatusCode::kResourceExhausted)) return Status::FailedPrecondition(who + ": " + status.message());
    // A reset or an empty reply is the other side's passing trouble: worth a retry.
    if (status.is(StatusCode::kIOError)) return Status::Unavailable(who + ": " + status.message());
    return status.with_context(who);
  }
  HttpResponse& response = *sent;
  const int code = response.status;
  if (status_out != nullptr) *status_out = code;
  if (code >= 200 && code < 300) return std::move(response);
  std::string message = who + ": " + what + " answered " + std::to_string(code) + reason_phrase(code) + ": " +
                        quoted_body(response.body);
  if ((code == 429 || code == 503) && call.retry_after != nullptr) {
    const TimeMs now = call.clock ? call.clock->now_ms() : SystemClock::instance().now_ms();
    DurationMs wait = retry_after_ms(response, now);
    if (wait >= 0) {
      *call.retry_after = wait;
      message += " (Retry-After " + std::to_string(wait / 1000) + " s)";
    }
  }
  if (code == 408) return Status::DeadlineExceeded(message);
  if (code == 429) return Status::ResourceExhausted(message);
  if (code >= 500) return Status::Unavailable(message);
  if (code == 401 || code == 403) return Status::FailedPrecondition(message);
  if (code == 404) return Status::NotFound(message);
  if (code == 409) return Status::Conflict(message);
  if (code >= 400) return Status::InvalidArgument(message);
  return Status::FailedPrecondition(message + " (redirects are not followed)");
}

}  // namespace cadre
