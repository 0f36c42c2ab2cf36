#include "models/http_errors.h"

#include "core/redact.h"

namespace cadre {
namespace {

constexpr size_t kMaxQuotedApiMessage = 500;

}  // namespace

std::string endpoint_url(const std::string& base_url, std::string_view default_base,
                         std::string_view path) {
  std::string base = base_url.empty() ? std::string(default_base) : base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + std::string(path);
}

std::string quoted_api_message(std::string message, const std::string& body,
                               const std::string& api_key) {
  if (message.empty()) message = body;
  // Keys and secrets out before cutting: a cut must not leave half a key behind.
  if (!api_key.empty()) {
    for (size_t at = message.find(api_key); at != std::string::npos;
         at = message.find(api_key, at)) {
      message.replace(at, api_key.size(), "[redacted]");
    }
  }
  if (has_secrets()) message = redact(message);
  if (message.size() > kMaxQuotedApiMessage)
    message = message.substr(0, kMaxQuotedApiMessage) + "...";
  return message;
}

Status http_failure(const std::string& who, int http_status, const std::string& detail) {
  std::string status = "HTTP " + std::to_string(http_status);
  std::string prefix = who + ": ";
  if (http_status == 429)
    return Status::ResourceExhausted(prefix + "rate limited (" + status + "): " + detail);
  if (http_status == 401 || http_status == 403) {
    return Status::FailedPrecondition(prefix + "the API key was refused (" + status +
                                      "): " + detail);
  }
  // 529 is Anthropic's "overloaded": temporary, like any 5xx.
  if (http_status == 529)
    return Status::Unavailable(prefix + "overloaded (" + status + "): " + detail);
  if (http_status >= 500) return Status::Unavailable(prefix + status + ": " + detail);
  if (http_status >= 400) return Status::InvalidArgument(prefix + status + ": " + detail);
  return Status::Internal(prefix + "unexpected " + status + ": " + detail);
}

Status transport_failure(const std::string& who, const Status& status) {
  std::string message = who + ": " + status.message();
  if (status.is(StatusCode::kDeadlineExceeded)) return Status::DeadlineExceeded(message);
  return Status::Unavailable(message);
}

}  // namespace cadre
