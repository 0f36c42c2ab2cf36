#include "connectors/email/outgoing_message.h"

#include <cctype>
#include <ctime>

#include "connectors/email/mime_codecs.h"
#include "core/curl_util.h"
#include "core/hash.h"

namespace cadre {
namespace {

constexpr size_t kFoldAt = 78;      // RFC 5322 2.1.1: lines SHOULD stay within 78
constexpr size_t kMaxLine = 998;    // and MUST within 998
constexpr size_t kQuotedMax = 100;  // how much of a bad address an error quotes

struct Mailbox {
  std::string name;     // UTF-8, may be empty
  std::string address;  // local@domain
};

std::string field_error_prefix(std::string_view field) {
  return "field '" + std::string(field) + "'";
}

// Everything a header field may not hold: line breaks (injection), other
// control characters, and bytes that are not UTF-8.
Status check_header_text(std::string_view value, std::string_view field) {
  for (char c : value) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (c == '\r' || c == '\n') {
      return Status::InvalidArgument(field_error_prefix(field) +
                                     " contains a line break (header injection refused)");
    }
    if ((byte < 0x20 && c != '\t') || byte == 0x7F) {
      return Status::InvalidArgument(field_error_prefix(field) + " contains a control character");
    }
  }
  if (!is_valid_utf8(value)) {
    return Status::InvalidArgument(field_error_prefix(field) + " is not valid UTF-8");
  }
  return Status::Ok();
}

bool is_atext(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool is_dot_atom(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '.') {
      if (text[i + 1] == '.') return false;
    } else if (!is_atext(text[i])) {
      return false;
    }
  }
  return true;
}

bool is_domain(std::string_view domain) {
  if (domain.empty() || domain.size() > 253) return false;
  size_t start = 0;
  while (start <= domain.size()) {
    size_t dot = domain.find('.', start);
    std::string_view label =
        domain.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

std::string quoted_for_error(std::string_view value) {
  std::string shown(truncate_utf8(value, kQuotedMax));
  return "'" + shown + (shown.size() < value.size() ? "…'" : "'");
}

Result<Mailbox> parse_mailbox(std::string_view text, std::string_view field) {
  CADRE_RETURN_IF_ERROR(check_header_text(text, field));
  std::string_view trimmed = trim_space(text);
  Mailbox mailbox;
  std::string_view address = trimmed;
  if (!trimmed.empty() && trimmed.back() == '>') {
    size_t open = trimmed.rfind('<');
    if (open == std::string_view::npos) {
      return Status::InvalidArgument(field_error_prefix(field) + " has '>' without '<'");
    }
    address = trimmed.substr(open + 1, trimmed.size() - open - 2);
    std::string_view name = trim_space(trimmed.substr(0, open));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
      for (size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '\\' && i + 1 < name.size()) ++i;
        mailbox.name += name[i];
      }
    } else {
      mailbox.name = std::string(name);
    }
  }
  size_t at = address.rfind('@');
  const bool valid = at != std::string_view::npos && at <= 64 && address.size() <= 254 &&
                     is_dot_atom(address.substr(0, at)) && is_domain(address.substr(at + 1));
  if (!valid) {
    return Status::InvalidArgument(field_error_prefix(field) + " " + quoted_for_error(trimmed) +
                                   " is not an email address (local@domain or "
                                   "Name <local@domain>, ASCII)");
  }
  mailbox.address = std::string(address);
  return mailbox;
}

// A display name as a phrase: as is when it is atoms, quoted when it has
// ASCII specials, encoded words when it is not ASCII.
std::string render_mailbox(const Mailbox& mailbox) {
  if (mailbox.name.empty()) return mailbox.address;
  const std::string& name = mailbox.name;
  std::string phrase;
  if (!is_ascii(name) || name.find("=?") != std::string::npos) {
    phrase = encode_header_words(name);
  } else {
    bool plain = true;
    for (char c : name) plain = plain && (is_atext(c) || c == ' ');
    if (plain) {
      phrase = name;
    } else {
      phrase = "\"";
      for (char c : name) {
        if (c == '"' || c == '\\') phrase += '\\';
        phrase += c;
      }
      phrase += '"';
    }
  }
  return phrase + " <" + mailbox.address + ">";
}

size_t current_line_length(const std::string& text) {
  size_t last_break = text.rfind('\n');
  return last_break == std::string::npos ? text.size() : text.size() - last_break - 1;
}

// "Name: a, b, c" folded between addresses when a line would pass 78.
std::string address_header(std::string_view name, const std::vector<Mailbox>& mailboxes) {
  std::string header = std::string(name) + ": ";
  for (size_t i = 0; i < mailboxes.size(); ++i) {
    std::string rendered = render_mailbox(mailboxes[i]);
    if (i > 0) {
      size_t first_line = rendered.find('\r');
      size_t width = first_line == std::string::npos ? rendered.size() : first_line;
      header += current_line_length(header) + 2 + width > kFoldAt ? ",\r\n " : ", ";
    }
    header += rendered;
  }
  return header + "\r\n";
}

// An unstructured ASCII value folded at spaces (a fold is CRLF before a space).
std::string folded_header(std::string_view name, std::string_view value) {
  std::string header = std::string(name) + ":";
  size_t at = 0;
  bool first = true;
  while (at <= value.size()) {
    size_t space = value.find(' ', at + (first ? 0 : 1));
    if (space == std::string_view::npos) space = value.size();
    std::string_view piece = value.substr(at, space - at);  // non-first pieces start with ' '
    if (first) {
      header += ' ';
      header += piece;
      first = false;
    } else {
      if (current_line_length(header) + piece.size() > kFoldAt) header += "\r\n";
      header += piece;
    }
    if (space == value.size()) break;
    at = space;
  }
  return header + "\r\n";
}

// A word too long for one line even after folding.
bool has_long_word(std::string_view text) {
  size_t run = 0;
  for (char c : text) {
    run = c == ' ' ? 0 : run + 1;
    if (run > kFoldAt * 10) return true;
  }
  return false;
}

std::string with_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (text[i] == '\n') {
      out += "\r\n";
    } else {
      out += text[i];
    }
  }
  return out;
}

bool fits_7bit(std::string_view body) {
  if (!is_ascii(body) || body.find('\0') != std::string_view::npos) return false;
  size_t line_start = 0;
  while (line_start < body.size()) {
    size_t line_end = body.find("\r\n", line_start);
    if (line_end == std::string_view::npos) line_end = body.size();
    if (line_end - line_start > kMaxLine) return false;
    line_start = line_end + 2;
  }
  return true;
}

Result<std::string> message_id_reference(std::string_view text, std::string_view field) {
  CADRE_RETURN_IF_ERROR(check_header_text(text, field));
  std::string_view id = trim_space(text);
  if (id.size() >= 2 && id.front() == '<' && id.back() == '>') id = id.substr(1, id.size() - 2);
  bool valid = !id.empty() && id.size() <= kMaxLine - 20 && id.find('@') != std::string_view::npos;
  for (char c : id) {
    valid = valid && static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7F &&
            c != '<' && c != '>';
  }
  if (!valid) {
    return Status::InvalidArgument(field_error_prefix(field) + " " + quoted_for_error(text) +
                                   " is not a message id (<id@host>)");
  }
  return "<" + std::string(id) + ">";
}

}  // namespace

std::string message_id_for(std::string_view idempotency_key, std::string_view domain) {
  return "<" + sha256_hex(idempotency_key).substr(0, 32) + "@" + lower_case(domain) + ">";
}

std::string format_rfc5322_date(TimeMs t) {
  time_t seconds = static_cast<time_t>(t / 1000);
  if (t < 0 && t % 1000 != 0) --seconds;
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char text[64];
  snprintf(text, sizeof(text), "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[utc.tm_wday % 7],
           utc.tm_mday, kMonths[utc.tm_mon % 12], utc.tm_year + 1900, utc.tm_hour, utc.tm_min,
           utc.tm_sec);
  return text;
}

Result<ComposedEmail> compose_email(const OutgoingEmail& email, std::string_view idempotency_key,
                                    TimeMs date) {
  if (idempotency_key.empty()) {
    return Status::InvalidArgument("an idempotency key is required (it names the Message-ID)");
  }
  ComposedEmail composed;
  if (trim_space(email.from).empty()) {
    return Status::InvalidArgument(field_error_prefix("from") + " is empty");
  }
  CADRE_ASSIGN_OR_RETURN(Mailbox from, parse_mailbox(email.from, "from"));
  composed.envelope_from = from.address;

  std::vector<Mailbox> to, cc;
  auto add_recipients = [&](const std::vector<std::string>& list, std::string_view name,
                            std::vector<Mailbox>* shown) -> Status {
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string field = std::string(name) + "[" + std::to_string(i) + "]";
      CADRE_ASSIGN_OR_RETURN(Mailbox mailbox, parse_mailbox(list[i], field));
      bool seen = false;
      for (const auto& recipient : composed.recipients) {
        seen = seen || lower_case(recipient) == lower_case(mailbox.address);
      }
      if (!seen) composed.recipients.push_back(mailbox.address);
      if (shown) shown->push_back(std::move(mailbox));
    }
    return Status::Ok();
  };
  CADRE_RETURN_IF_ERROR(add_recipients(email.to, "to", &to));
  CADRE_RETURN_IF_ERROR(add_recipients(email.cc, "cc", &cc));
  CADRE_RETURN_IF_ERROR(add_recipients(email.bcc, "bcc", nullptr));
  if (composed.recipients.empty()) {
    return Status::InvalidArgument("no recipients: give at least one of to, cc, bcc");
  }
  if (composed.recipients.size() > kMaxRecipients) {
    return Status::ResourceExhausted(std::to_string(composed.recipients.size()) +
                                     " recipients; at most " + std::to_string(kMaxRecipients));
  }

  CADRE_RETURN_IF_ERROR(check_header_text(email.subject, "subject"));
  if (email.subject.size() > kMaxSubjectBytes) {
    return Status::ResourceExhausted(field_error_prefix("subject") + " is longer than " +
                                     std::to_string(kMaxSubjectBytes) + " bytes");
  }
  if (!is_valid_utf8(email.text)) {
    return Status::InvalidArgument(field_error_prefix("text") + " is not valid UTF-8");
  }
  if (email.text.size() > kMaxTextBytes) {
    return Status::ResourceExhausted(field_error_prefix("text") + " is longer than " +
                                     std::to_string(kMaxTextBytes) + " bytes");
  }
  std::vector<Mailbox> reply_to;
  if (!email.reply_to.empty()) {
    CADRE_ASSIGN_OR_RETURN(Mailbox mailbox, parse_mailbox(email.reply_to, "reply_to"));
    reply_to.push_back(std::move(mailbox));
  }
  std::string in_reply_to;
  if (!email.in_reply_to.empty()) {
    CADRE_ASSIGN_OR_RETURN(in_reply_to, message_id_reference(email.in_reply_to, "in_reply_to"));
  }

  const std::string domain = from.address.substr(from.address.rfind('@') + 1);
  composed.message_id = message_id_for(idempotency_key, domain);

  std::string& data = composed.data;
  data += "Date: " + format_rfc5322_date(date) + "\r\n";
  data += address_header("From", {from});
  if (!reply_to.empty()) data += address_header("Reply-To", reply_to);
  if (!to.empty()) data += address_header("To", to);
  if (!cc.empty()) data += address_header("Cc", cc);
  const std::string_view subject = trim_space(email.subject);
  if (is_ascii(subject) && subject.find("=?") == std::string_view::npos &&
      !has_long_word(subject)) {
    data += folded_header("Subject", subject);
  } else {
    data += "Subject: " + encode_header_words(subject) + "\r\n";
  }
  data += "Message-ID: " + composed.message_id + "\r\n";
  if (!in_reply_to.empty()) {
    data += "In-Reply-To: " + in_reply_to + "\r\n";
    data += "References: " + in_reply_to + "\r\n";
  }
  data += "MIME-Version: 1.0\r\n";
  data += "Content-Type: text/plain; charset=utf-8\r\n";
  std::string body = with_crlf(email.text);
  if (fits_7bit(body)) {
    data += "Content-Transfer-Encoding: 7bit\r\n\r\n";
    data += body;
  } else {
    data += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    data += quoted_printable_encode(body);
  }
  if (data.size() < 2 || data.compare(data.size() - 2, 2, "\r\n") != 0) data += "\r\n";
  return composed;
}

}  // namespace cadre
