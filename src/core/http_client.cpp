// HttpClient over libcurl's easy interface: one handle per call, so calls on
// different threads share nothing but curl's global state, which is set up
// once. Signals are off (CURLOPT_NOSIGNAL) because worker threads call this
// and curl's alarm-based DNS timeout is not thread-safe.
#include "core/http_client.h"


#include <cctype>
#include <limits>
#include <memory>
#include <mutex>
#include <string_view>

#include "core/clock.h"
#include "core/curl_util.h"

namespace cadre {
namespace {


// An HTTP token (RFC 9110): what a method or a header name may be made of.
bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) continue;
    if (std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) return false;
  }
  return true;
}

bool has_line_break(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos;
}

// curl's callbacks are C: an exception must not cross them. Returning less
// than given aborts the transfer (CURLE_WRITE_ERROR).
struct BodySink {
  std::string body;
  int64_t limit = 0;  // 0: none
  bool over_limit = false;
};

size_t collect_body(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  try {
    if (sink->limit > 0 && static_cast<int64_t>(sink->body.size() + size * count) > sink->limit) {
      sink->over_limit = true;
      return 0;
    }
    sink->body.append(data, size * count);
    return size * count;
  } catch (...) {
    return 0;
  }
}

// Called once per header line, status lines included. A new status line
// starts a new header block (e.g. after "100 Continue"), so only the final
// response's headers are kept.
size_t collect_header(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string_view line(data, size * count);
  try {
    if (line.rfind("HTTP/", 0) == 0) {
      headers->clear();
    } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
      std::string name = lower_case(trim_space(line.substr(0, colon)));
      if (!name.empty()) (*headers)[name] = std::string(trim_space(line.substr(colon + 1)));
    }  // else the blank line that ends the block
    return size * count;
  } catch (...) {
    return 0;
  }
}

// curl's detail text may quote what it was given; it is dropped when it holds
// the query, the userinfo or a header value, which can carry secrets.
bool mentions_secret(std::string_view detail, const HttpRequest& request) {
  std::string_view url = request.url;
  size_t query = url.find_first_of("?#");
  if (query != std::string_view::npos && detail.find(url.substr(query)) != std::string_view::npos) {
    return true;
  }
  size_t scheme_end = url.find("://");
  size_t authority_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  size_t at = url.substr(0, url.find_first_of("/?#", authority_start)).rfind('@');
  if (at != std::string_view::npos && at > authority_start &&
      detail.find(url.substr(authority_start, at - authority_start)) != std::string_view::npos) {
    return true;
  }
  for (const auto& [name, value] : request.headers) {
    std::string_view trimmed = trim_space(value);
    if (trimmed.size() >= 4 && detail.find(trimmed) != std::string_view::npos) return true;
  }
  return false;
}

Status transport_error(CURLcode code, const char* detail, const HttpRequest& request) {
  std::string message =
      request.method + " " + redact_url(request.url) + ": " + curl_easy_strerror(code);
  if (detail[0] != '\0' && !mentions_secret(detail, request)) {
    message += " (" + std::string(trim_space(detail)) + ")";
  }
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return Status::Unavailable(message);
    case CURLE_OPERATION_TIMEDOUT:
      return Status::DeadlineExceeded(message);
    default:
      return Status::IOError(message);
  }
}

Status check_request(const HttpRequest& request) {
  if (!is_token(request.method)) {
    return Status::InvalidArgument(redact_url(request.url) + ": the method is not an HTTP token");
  }
  const std::string where = request.method + " " + redact_url(request.url);
  if (request.timeout < 0) return Status::InvalidArgument(where + ": the timeout is negative");
  for (const auto& [name, value] : request.headers) {
    if (!is_token(name)) {
      return Status::InvalidArgument(where + ": header name '" + name + "' is not an HTTP token");
    }
    // Only the name is quoted: values carry credentials.
    if (has_line_break(value)) {
      return Status::InvalidArgument(where + ": the value of header '" + name +
                                     "' contains a line break");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<HttpResponse> http_send(const HttpRequest& request) {
  CADRE_RETURN_IF_ERROR(check_request(request));
  init_curl_once();
  CurlEasy curl(curl_easy_init());
  if (!curl) {
    return Status::Internal(request.method + " " + redact_url(request.url) +
                            ": could not create a curl handle");
  }
  CURL* handle = curl.get();

  CurlList header_list;
  auto add_header = [&](const std::string& line) {
    curl_slist* extended = curl_slist_append(header_list.get(), line.c_str());
    if (extended == nullptr) return false;
    (void)header_list.release();
    header_list.reset(extended);
    return true;
  };
  bool headers_ok = true;
  bool has_expect = false;
  for (const auto& [name, value] : request.headers) {
    // "Name;" is curl's spelling for a header with an empty value; "Name:" would remove it.
    headers_ok = headers_ok && add_header(value.empty() ? name + ";" : name + ": " + value);
    if (lower_case(name) == "expect") has_expect = true;
  }
  // curl would wait for "100 Continue" before sending a large body; servers
  // rarely need that and it costs a round trip.
  if (!has_expect) headers_ok = headers_ok && add_header("Expect:");
  if (!headers_ok) {
    return Status::Internal(request.method + " " + redact_url(request.url) +
                            ": out of memory building headers");
  }

  BodySink body;
  body.limit = request.max_response_bytes;
  HttpResponse response;
  char error_text[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
  // Only the web: a configured URL must not read local files or speak other protocols.
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, collect_header);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &response.headers);
  // A declared Content-Length over the limit stops before the body is read.
  if (request.max_response_bytes > 0)
    curl_easy_setopt(handle, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(request.max_response_bytes));
  if (request.timeout > 0) {
    long timeout = request.timeout > std::numeric_limits<long>::max()
                       ? std::numeric_limits<long>::max()
                       : static_cast<long>(request.timeout);
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, timeout);
  }

  const bool sends_body = !request.body.empty() || request.method == "POST" ||
                          request.method == "PUT" || request.method == "PATCH";
  if (request.method == "HEAD") {
    curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  } else if (sends_body) {
    // POSTFIELDS makes curl send the body; CUSTOMREQUEST then renames the method.
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
    if (request.method != "POST") {
      curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
  } else if (request.method == "GET") {
    curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  const int64_t started_us = monotonic_us();
  CURLcode code = curl_easy_perform(handle);
  response.elapsed_ms = (monotonic_us() - started_us) / 1000;
  if (body.over_limit || code == CURLE_FILESIZE_EXCEEDED) {
    return Status::ResourceExhausted(request.method + " " + redact_url(request.url) +
                                     ": the answer is larger than " +
                                     std::to_string(request.max_response_bytes) + " bytes");
  }
  if (code != CURLE_OK) return transport_error(code, error_text, request);

  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  response.body = std::move(body.body);
  return response;
}

DurationMs retry_after_ms(const HttpResponse& response, int64_t now_ms) {
  // http_send lower-cases names, but a response built by hand may not.
  const std::string* found = nullptr;
  for (const auto& [name, value] : response.headers) {
    if (lower_case(name) == "retry-after") found = &value;
  }
  if (found == nullptr) return -1;
  const std::string value(trim_space(*found));
  if (value.empty()) return -1;

  bool all_digits = true;
  for (char c : value) all_digits = all_digits && std::isdigit(static_cast<unsigned char>(c));
  if (all_digits) {
    constexpr DurationMs kMaxSeconds = std::numeric_limits<DurationMs>::max() / 1000;
    DurationMs seconds = 0;
    for (char c : value) {
      int digit = c - '0';
      if (seconds > (kMaxSeconds - digit) / 10) return -1;
      seconds = seconds * 10 + digit;
    }
    return seconds * 1000;
  }

  // Every HTTP-date form names the month; requiring a letter keeps curl's
  // lenient date parser from reading "-5" or "1.5" as some date.
  bool has_letter = false;
  for (char c : value) has_letter = has_letter || std::isalpha(static_cast<unsigned char>(c));
  if (!has_letter) return -1;
  time_t date = curl_getdate(value.c_str(), nullptr);
  if (date == -1) return -1;
  const int64_t date_ms = static_cast<int64_t>(date) * 1000;
  return date_ms > now_ms ? date_ms - now_ms : 0;
}

std::string redact_url(const std::string& url) {
  std::string_view rest(url);
  rest = rest.substr(0, rest.find_first_of("?#"));
  std::string_view scheme;
  size_t scheme_end = rest.find("://");
  if (scheme_end != std::string_view::npos) {
    scheme = rest.substr(0, scheme_end + 3);
    rest.remove_prefix(scheme_end + 3);
  }
  size_t path_start = rest.find('/');
  std::string_view authority = rest.substr(0, path_start);
  std::string_view path = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  return std::string(scheme) + std::string(authority) + std::string(path);
}

}  // namespace cadre
