// Composing the message Cadre sends: OutgoingEmail (what a caller asks for)
// checked and written as RFC 5322 + MIME text, ready for SMTP DATA.
//
// Addresses are "local@domain" or "Display Name <local@domain>" (the name
// may be quoted, and may be any UTF-8). Local parts and domains are ASCII
// (no SMTPUTF8). Header injection is refused: a CR, LF or other control
// character in any header field is invalid_argument naming the field
// ("to[1]", "subject"), never quoting its value. Non-ASCII subjects and
// names become RFC 2047 encoded words; the body is UTF-8, 7bit when it is
// short-lined ASCII, quoted-printable otherwise (so no 8BITMIME is needed).
// Bcc recipients are in the envelope only.
//
// The Message-ID is derived from the caller's idempotency key, so a resend
// after a crash carries the same one and a receiver can drop the duplicate.
//
// Thread-safety: pure functions; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace cadre {

struct OutgoingEmail {
  std::string from;                      // "a@example.com" or "Name <a@example.com>"
  std::vector<std::string> to, cc, bcc;  // at least one recipient in all
  std::string subject;                   // UTF-8, one line
  std::string text;                      // UTF-8 body; any line breaks
  std::string reply_to;                  // optional address
  std::string in_reply_to;               // optional "<id@host>": also sent as References
};

struct ComposedEmail {
  std::string envelope_from;            // the bare address of `from`
  std::vector<std::string> recipients;  // bare addresses of to, cc, bcc, in order, no duplicates
  std::string message_id;               // "<…@domain>"
  std::string data;                     // headers and body, CRLF line breaks
};

// Limits on what one message may carry.
constexpr size_t kMaxRecipients = 100;
constexpr size_t kMaxSubjectBytes = 2000;
constexpr size_t kMaxTextBytes = 10 * 1024 * 1024;

// `date` is the Date header's instant. Errors: invalid_argument naming the
// field; resource_exhausted when a limit above is passed.
Result<ComposedEmail> compose_email(const OutgoingEmail& email, std::string_view idempotency_key,
                                    TimeMs date);

// "<" the first 32 hex digits of SHA-256(key) "@" domain ">".
std::string message_id_for(std::string_view idempotency_key, std::string_view domain);

// "Tue, 03 Mar 2026 09:05:00 +0000" (RFC 5322 3.3, always UTC).
std::string format_rfc5322_date(TimeMs t);

}  // namespace cadre
