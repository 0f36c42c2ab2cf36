#include "connectors/email/mail_curl.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "core/http_client.h"

namespace cadre {
namespace {

constexpr size_t kMaxQuotedLine = 300;
constexpr size_t kRecentLines = 8;

bool is_refusal(std::string_view line) {
  if (line.size() >= 3 && (line[0] == '4' || line[0] == '5') &&
      std::isdigit(static_cast<unsigned char>(line[1])) &&
      std::isdigit(static_cast<unsigned char>(line[2]))) {
    return true;  // SMTP
  }
  size_t space = line.find(' ');
  if (space == std::string_view::npos) return false;
  std::string_view rest = line.substr(space + 1);
  return rest.rfind("NO ", 0) == 0 || rest.rfind("BAD ", 0) == 0 || rest == "NO" || rest == "BAD";
}

struct CurlUrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};

std::string url_part(CURLU* url, CURLUPart part, unsigned int flags = 0) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, flags) != CURLUE_OK || value == nullptr) return {};
  std::string text(value);
  curl_free(value);
  return text;
}

// Printable ASCII only, at most kMaxQuotedLine: server text goes into messages.
std::string printable(std::string_view text) {
  std::string out;
  for (char c : trim_space(text)) {
    if (out.size() >= kMaxQuotedLine) break;
    out += (c >= 0x20 && c < 0x7F) ? c : '?';
  }
  return out;
}

}  // namespace

Result<MailServer> parse_mail_url(std::string_view url, std::string_view plain_scheme,
                                  std::string_view tls_scheme) {
  const std::string expected =
      std::string(plain_scheme) + "://host:port or " + std::string(tls_scheme) + "://host:port";
  // redact_url drops userinfo and query: the text may hold a password.
  const std::string shown = "'" + redact_url(std::string(url)) + "'";
  init_curl_once();
  std::unique_ptr<CURLU, CurlUrlDeleter> parsed(curl_url());
  if (!parsed) return Status::ResourceExhausted("out of memory parsing a mail server URL");
  const std::string text(url);
  if (text.find_first_of("\r\n") != std::string::npos ||
      curl_url_set(parsed.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return Status::InvalidArgument("mail server URL " + shown + " is not a URL (expected " +
                                   expected + ")");
  }
  MailServer server;
  server.scheme = lower_case(url_part(parsed.get(), CURLUPART_SCHEME));
  if (server.scheme != plain_scheme && server.scheme != tls_scheme) {
    return Status::InvalidArgument("mail server URL " + shown + " has scheme '" + server.scheme +
                                   "' (expected " + expected + ")");
  }
  server.implicit_tls = server.scheme == tls_scheme;
  server.host = url_part(parsed.get(), CURLUPART_HOST);
  std::string port = url_part(parsed.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  server.port = port.empty() ? 0 : std::strtol(port.c_str(), nullptr, 10);
  if (server.host.empty() || server.port <= 0) {
    return Status::InvalidArgument("mail server URL " + shown + " has no host");
  }
  if (!url_part(parsed.get(), CURLUPART_USER).empty() ||
      !url_part(parsed.get(), CURLUPART_PASSWORD).empty() ||
      !url_part(parsed.get(), CURLUPART_OPTIONS).empty()) {
    return Status::InvalidArgument(server.where() +
                                   ": the URL carries credentials or login options; give them "
                                   "as username and password instead");
  }
  if (!url_part(parsed.get(), CURLUPART_QUERY).empty() ||
      !url_part(parsed.get(), CURLUPART_FRAGMENT).empty()) {
    return Status::InvalidArgument(server.where() + ": the URL has a query or fragment");
  }
  std::string path = url_part(parsed.get(), CURLUPART_PATH, CURLU_URLDECODE);
  server.path = path.empty() || path[0] != '/' ? path : path.substr(1);
  return server;
}

Result<std::unique_ptr<MailCurl>> MailCurl::open(const MailServer& server, const MailAccess& access,
                                                 const std::string& url) {
  if (access.timeout <= 0) {
    return Status::InvalidArgument(server.where() + ": the timeout must be positive");
  }
  init_curl_once();
  std::unique_ptr<MailCurl> mail(new MailCurl());
  mail->server_ = server;
  mail->access_ = access;
  mail->curl_.reset(curl_easy_init());
  if (!mail->curl_)
    return Status::ResourceExhausted(server.where() + ": could not create a curl handle");
  CURL* curl = mail->curl_.get();
  const long timeout = static_cast<long>(std::min<DurationMs>(access.timeout, 24L * 3600 * 1000));
  const std::string protocols =
      server.scheme == "smtp" || server.scheme == "smtps" ? "smtp,smtps" : "imap,imaps";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, protocols.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, mail->error_text_);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout);
  curl_easy_setopt(curl, CURLOPT_SERVER_RESPONSE_TIMEOUT, std::max(1L, (timeout + 999) / 1000));
  curl_easy_setopt(curl, CURLOPT_USE_SSL,
                   server.implicit_tls || access.require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY);
  if (!access.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, access.ca_file.c_str());
  if (!access.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, access.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, access.password.c_str());
  }
  // The debug callback sees the server's lines, for messages; with it set,
  // curl's verbose text goes there and nowhere else.
  curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, &MailCurl::on_debug);
  curl_easy_setopt(curl, CURLOPT_DEBUGDATA, mail.get());
  curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
  return mail;
}

int MailCurl::on_debug(CURL*, curl_infotype type, char* data, size_t size, void* self) {
  if (type != CURLINFO_HEADER_IN) return 0;
  try {
    auto& recent = static_cast<MailCurl*>(self)->recent_lines_;
    std::string_view lines(data, size);
    while (!lines.empty()) {
      size_t line_end = lines.find('\n');
      std::string_view line = trim_space(lines.substr(0, line_end));
      lines.remove_prefix(line_end == std::string_view::npos ? lines.size() : line_end + 1);
      if (line.empty()) continue;
      if (recent.size() >= kRecentLines) recent.erase(recent.begin());
      recent.push_back(printable(line));
    }
  } catch (...) {
  }
  return 0;
}

std::string MailCurl::last_server_line() const {
  return recent_lines_.empty() ? std::string() : recent_lines_.back();
}

std::string MailCurl::server_answer() const {
  for (auto line = recent_lines_.rbegin(); line != recent_lines_.rend(); ++line) {
    if (is_refusal(*line)) return *line;
  }
  return {};
}

std::string MailCurl::safe_detail(std::string_view text) const {
  std::string detail = printable(text);
  for (const std::string* secret : {&access_.password, &access_.username}) {
    if (!secret->empty() && detail.find(*secret) != std::string::npos) return {};
  }
  return detail;
}

Status MailCurl::error(CURLcode code) const {
  std::string what;
  StatusCode kind = StatusCode::kUnavailable;
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
      what = "could not resolve the host";
      break;
    case CURLE_COULDNT_CONNECT:
      what = "could not connect";
      break;
    case CURLE_OPERATION_TIMEDOUT:
      kind = StatusCode::kDeadlineExceeded;
      what = "no answer within " + format_duration(access_.timeout);
      break;
    case CURLE_LOGIN_DENIED:
      kind = StatusCode::kFailedPrecondition;
      what = "the server refused the login (check the username and password)";
      break;
    case CURLE_USE_SSL_FAILED:
      kind = StatusCode::kFailedPrecondition;
      what = "the server does not offer STARTTLS, and TLS is required (require_tls)";
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
      kind = StatusCode::kFailedPrecondition;
      what = "the server's TLS certificate is not trusted (ca_file)";
      break;
    case CURLE_SSL_CONNECT_ERROR:
      what = "the TLS handshake failed";
      break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      kind = StatusCode::kInvalidArgument;
      what = curl_easy_strerror(code);
      break;
    case CURLE_OUT_OF_MEMORY:
      kind = StatusCode::kResourceExhausted;
      what = "out of memory";
      break;
    default:
      what = curl_easy_strerror(code);
      break;
  }
  std::string message = server_.where() + ": " + what;
  std::string detail = safe_detail(error_text_);
  if (!detail.empty()) message += " (" + detail + ")";
  std::string line = safe_detail(server_answer());
  if (!line.empty()) {
    message += "; the server's last answer: \"" + line + "\"";
  }
  switch (kind) {
    case StatusCode::kDeadlineExceeded:
      return Status::DeadlineExceeded(message);
    case StatusCode::kFailedPrecondition:
      return Status::FailedPrecondition(message);
    case StatusCode::kInvalidArgument:
      return Status::InvalidArgument(message);
    case StatusCode::kResourceExhausted:
      return Status::ResourceExhausted(message);
    default:
      return Status::Unavailable(message);
  }
}

}  // namespace cadre
