// What the SMTP sender and the IMAP reader share: the server's URL checked
// and named without credentials ("smtp://host:port"), a libcurl handle set
// up the same way for both (only the mail protocols, the TLS policy, a CA
// file, credentials, timeouts), and curl's failures as a Status.
//
// Every message names the server as scheme://host:port and nothing else of
// the URL; a detail from curl or a server answer is dropped when it contains
// the password or the username.
//
// Thread-safety: a MailCurl belongs to one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/curl_util.h"
#include "core/duration.h"
#include "core/result.h"

namespace cadre {

struct MailServer {
  std::string scheme;  // e.g. "smtp" or "smtps"
  std::string host;    // as in the URL ("[::1]" for IPv6)
  long port = 0;
  std::string path;  // percent-decoded, without the leading '/'
  bool implicit_tls = false;

  std::string where() const { return scheme + "://" + host + ":" + std::to_string(port); }
};

// `url` must use `plain_scheme` or `tls_scheme` (TLS from the first byte)
// and carry no credentials, query or fragment.
Result<MailServer> parse_mail_url(std::string_view url, std::string_view plain_scheme,
                                  std::string_view tls_scheme);

struct MailAccess {
  std::string username, password;  // empty username: no login
  bool require_tls = true;         // plain scheme: STARTTLS or fail
  std::string ca_file;             // PEM CA bundle to trust; empty: the system's
  DurationMs timeout = 30000;
};

class MailCurl {
 public:
  // A handle for `url` (which curl is given as is) with everything above set.
  static Result<std::unique_ptr<MailCurl>> open(const MailServer& server, const MailAccess& access,
                                                const std::string& url);

  // curl_easy_cleanup may still talk to the server (QUIT, LOGOUT) and call
  // back into this object: the handle goes before anything else.
  ~MailCurl() { curl_.reset(); }
  MailCurl(const MailCurl&) = delete;
  MailCurl& operator=(const MailCurl&) = delete;

  CURL* get() const { return curl_.get(); }
  const MailServer& server() const { return server_; }

  // What curl said about the last failure ("RCPT failed: 550"), unfiltered.
  const char* curl_error_text() const { return error_text_; }
  // The last line the server sent while curl drove the protocol.
  std::string last_server_line() const;
  // The server's last refusal (an SMTP 4xx/5xx reply, an IMAP NO or BAD)
  // among its recent lines, else empty: what explains a failure, rather
  // than the goodbye that followed it.
  std::string server_answer() const;

  // `code` as a Status naming the server: unavailable (no connection, TLS
  // handshake, reset), deadline_exceeded (timeout), failed_precondition
  // (login refused, STARTTLS required but not offered, certificate not
  // trusted), invalid_argument (URL).
  Status error(CURLcode code) const;

  // A detail fit for a message: empty when it mentions a credential.
  std::string safe_detail(std::string_view text) const;

 private:
  MailCurl() = default;
  static int on_debug(CURL*, curl_infotype type, char* data, size_t size, void* self);

  CurlEasy curl_;
  MailServer server_;
  MailAccess access_;
  char error_text_[CURL_ERROR_SIZE] = {0};
  std::vector<std::string> recent_lines_;  // the last few, oldest first
};

}  // namespace cadre
