// One IMAP session per call. libcurl does the connection, TLS (STARTTLS or
// implicit) and the login (CURLOPT_CONNECT_ONLY); the commands after that
// are ours, sent with curl_easy_send and read with curl_easy_recv, because
// curl's own IMAP commands SELECT the mailbox and FETCH with BODY[], which
// would mark messages \Seen.
#include "connectors/email/imap_reader.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>

#include "connectors/email/imap_protocol.h"
#include "connectors/email/mail_curl.h"
#include "connectors/email/mime_message.h"
#include "core/clock.h"

namespace cadre {
namespace {

constexpr size_t kMaxMessageBytes = 1024 * 1024;        // read of each message
constexpr size_t kMaxResponseBytes = 32 * 1024 * 1024;  // one response (a long SEARCH)
constexpr uint64_t kMaxUid = 4294967295ULL;             // UIDs are 32-bit (RFC 3501 2.3.1.1)
constexpr DurationMs kLogoutWait = 1000;
constexpr size_t kFetchGroup = 25;                   // messages per UID FETCH
constexpr size_t kMaxBatchBytes = 16 * 1024 * 1024;  // read per call, about

std::string upper_case(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper;
}

struct TaggedReply {
  std::vector<std::string> untagged;  // "* …" responses, CRLF included
  std::string condition;              // OK, NO or BAD
  std::string text;                   // the rest of the tagged line
};

// A logged-in connection: the commands after curl's login.
class ImapSession {
 public:
  ImapSession(std::unique_ptr<MailCurl> mail, int64_t deadline_us)
      : mail_(std::move(mail)), deadline_us_(deadline_us) {}

  ~ImapSession() {
    // curl_easy_cleanup sends its own LOGOUT and waits for the answer; with
    // the socket shut down that fails at once instead of waiting on a
    // server that stopped answering.
    if (socket_ != CURL_SOCKET_BAD) ::shutdown(socket_, SHUT_RDWR);
  }

  std::string where() const { return mail_->server().where(); }

  Status login() {
    curl_easy_setopt(mail_->get(), CURLOPT_CONNECT_ONLY, 1L);
    CURLcode code = curl_easy_perform(mail_->get());
    if (code != CURLE_OK) return mail_->error(code);
    curl_socket_t socket = CURL_SOCKET_BAD;
    if (curl_easy_getinfo(mail_->get(), CURLINFO_ACTIVESOCKET, &socket) != CURLE_OK ||
        socket == CURL_SOCKET_BAD) {
      return Status::Unavailable(where() + ": the connection closed after login");
    }
    socket_ = socket;
    return Status::Ok();
  }

  // Sends "TAG command" and reads up to the tagged reply.
  Result<TaggedReply> command(const std::string& command) {
    const std::string tag = "c" + std::to_string(++tags_);
    CADRE_RETURN_IF_ERROR(send_all(tag + " " + command + "\r\n"));
    TaggedReply reply;
    while (true) {
      CADRE_ASSIGN_OR_RETURN(std::string response, read_response());
      if (response.rfind(tag + " ", 0) == 0) {
        std::string_view rest = trim_space(std::string_view(response).substr(tag.size() + 1));
        size_t space = rest.find(' ');
        reply.condition = upper_case(rest.substr(0, space));
        reply.text = space == std::string_view::npos ? "" : std::string(rest.substr(space + 1));
        return reply;
      }
      if (response.rfind("* BYE", 0) == 0 && command != "LOGOUT") {
        return Status::Unavailable(where() + ": the server ended the session: \"" +
                                   mail_->safe_detail(response.substr(2)) + "\"");
      }
      if (response.rfind("* ", 0) == 0) reply.untagged.push_back(std::move(response));
      // Continuation requests ("+ …") are not expected: nothing we send has a literal.
    }
  }

  // The best-effort goodbye: a short wait, errors ignored.
  void logout() {
    deadline_us_ = std::min(deadline_us_, monotonic_us() + kLogoutWait * 1000);
    (void)command("LOGOUT");
  }

 private:
  Status wait_for(short events) {
    int64_t left_ms = (deadline_us_ - monotonic_us()) / 1000;
    if (left_ms <= 0) return timed_out();
    pollfd fd{static_cast<int>(socket_), events, 0};
    int ready = ::poll(&fd, 1, static_cast<int>(std::min<int64_t>(left_ms, 60000)));
    if (ready < 0 && errno != EINTR) {
      return Status::Unavailable(where() + ": waiting for the server failed");
    }
    return Status::Ok();
  }

  Status timed_out() const {
    return Status::DeadlineExceeded(where() + ": no answer within the timeout");
  }

  Status send_all(std::string_view data) {
    while (!data.empty()) {
      size_t sent = 0;
      CURLcode code = curl_easy_send(mail_->get(), data.data(), data.size(), &sent);
      if (code == CURLE_AGAIN) {
        CADRE_RETURN_IF_ERROR(wait_for(POLLOUT));
        continue;
      }
      if (code != CURLE_OK) {
        return Status::Unavailable(where() + ": sending failed: " + curl_easy_strerror(code));
      }
      data.remove_prefix(sent);
    }
    return Status::Ok();
  }

  Result<std::string> read_response() {
    char chunk[64 * 1024];
    // Only a chunk with a line break can complete a response: a long line
    // arriving in many chunks is not scanned again for each.
    bool may_be_complete = true;
    while (true) {
      if (may_be_complete) {
        Result<size_t> length = imap_response_length(buffer_, kMaxResponseBytes);
        if (!length.ok()) return length.status().with_context(where());
        if (*length > 0) {
          std::string response = buffer_.substr(0, *length);
          buffer_.erase(0, *length);
          return response;
        }
      }
      if (monotonic_us() >= deadline_us_) return timed_out();
      size_t received = 0;
      CURLcode code = curl_easy_recv(mail_->get(), chunk, sizeof(chunk), &received);
      if (code == CURLE_AGAIN) {
        CADRE_RETURN_IF_ERROR(wait_for(POLLIN));
        may_be_complete = false;
        continue;
      }
      if (code != CURLE_OK) {
        return Status::Unavailable(where() + ": reading failed: " + curl_easy_strerror(code));
      }
      if (received == 0) return Status::Unavailable(where() + ": the server closed the connection");
      buffer_.append(chunk, received);
      may_be_complete =
          std::memchr(chunk, '\n', received) != nullptr || buffer_.size() > kMaxResponseBytes;
    }
  }

  std::unique_ptr<MailCurl> mail_;
  int64_t deadline_us_;
  curl_socket_t socket_ = CURL_SOCKET_BAD;
  std::string buffer_;
  int tags_ = 0;
};

// A tagged NO or BAD as a Status; `what` says which step.
Status refused(const ImapSession& session, const TaggedReply& reply, std::string_view what,
               StatusCode code) {
  std::string message = session.where() + ": " + std::string(what) +
                        " (server: " + reply.condition + " " + reply.text.substr(0, 300) + ")";
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
  if (code == StatusCode::kNotFound) return Status::NotFound(message);
  return Status::FailedPrecondition(message);
}

// "[UIDVALIDITY 123]" in an untagged OK.
uint64_t find_uidvalidity(const std::vector<std::string>& untagged) {
  for (const auto& response : untagged) {
    const std::string upper = upper_case(response);
    size_t at = upper.find("[UIDVALIDITY ");
    if (at == std::string::npos) continue;
    uint64_t value = 0;
    for (size_t i = at + 13; i < upper.size() && std::isdigit(static_cast<unsigned char>(upper[i]));
         ++i) {
      value = value * 10 + static_cast<uint64_t>(upper[i] - '0');
      if (value > kMaxUid) return 0;
    }
    return value;
  }
  return 0;
}

bool parse_number(std::string_view text, uint64_t& value) {
  if (text.empty() || text.size() > 10) return false;
  value = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

// The UIDs in "* SEARCH 1 2 3" responses.
std::vector<uint64_t> search_results(const std::vector<std::string>& untagged) {
  std::vector<uint64_t> uids;
  for (const auto& response : untagged) {
    std::string_view line = trim_space(response);
    if (line.size() < 8 || lower_case(line.substr(0, 8)) != "* search") continue;
    line.remove_prefix(8);
    while (!line.empty()) {
      line = trim_space(line);
      size_t space = line.find(' ');
      uint64_t uid = 0;
      if (parse_number(line.substr(0, space), uid)) uids.push_back(uid);
      if (space == std::string_view::npos) break;
      line.remove_prefix(space);
    }
  }
  return uids;
}

// UID → message bytes from "* n FETCH (UID u BODY[]<0> {len} …)" responses.
std::map<uint64_t, std::string> fetched_messages(const std::vector<std::string>& untagged) {
  std::map<uint64_t, std::string> messages;
  for (const auto& response : untagged) {
    Result<std::vector<ImapValue>> values = parse_imap_values(response);
    if (!values.ok() || values->size() < 4 || !(*values)[2].is_atom("FETCH") ||
        (*values)[3].kind != ImapValue::Kind::kList) {
      continue;
    }
    const auto& items = (*values)[3].items;
    uint64_t uid = 0;
    const std::string* body = nullptr;
    for (size_t i = 0; i + 1 < items.size(); i += 2) {
      if (items[i].is_atom("UID")) {
        parse_number(items[i + 1].text, uid);
      } else if (items[i].kind == ImapValue::Kind::kAtom &&
                 lower_case(items[i].text).rfind("body[]", 0) == 0 &&
                 items[i + 1].kind == ImapValue::Kind::kString) {
        body = &items[i + 1].text;
      }
    }
    if (uid > 0 && body != nullptr) messages[uid] = *body;
  }
  return messages;
}

IncomingEmail to_incoming(uint64_t uid, const std::string& raw) {
  MimeMessage mime = parse_mime_message(raw, kDefaultMaxTextBytes);
  IncomingEmail email;
  email.uid = uid;
  email.message_id = std::string(trim_space(mime.header("Message-ID")));
  email.from = mime.decoded_header("From");
  email.to = mime.decoded_header("To");
  email.cc = mime.decoded_header("Cc");
  email.subject = mime.decoded_header("Subject");
  email.in_reply_to = std::string(trim_space(mime.header("In-Reply-To")));
  const std::string date = mime.header("Date");
  time_t parsed = date.empty() ? -1 : curl_getdate(date.c_str(), nullptr);
  email.date = parsed == -1 ? date : format_time_utc(static_cast<TimeMs>(parsed) * 1000);
  email.text = std::move(mime.text);
  email.truncated = mime.text_truncated || raw.size() >= kMaxMessageBytes;
  return email;
}

Status check_mailbox(const std::string& mailbox, const std::string& where) {
  for (char c : mailbox) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7F) {
      return Status::InvalidArgument(
          where + ": the mailbox name must be printable ASCII (modified UTF-7 for others)");
    }
  }
  return Status::Ok();
}

}  // namespace

Json ImapCursor::to_json() const {
  return {{"uidvalidity", uidvalidity}, {"last_uid", last_uid}};
}

Result<ImapCursor> ImapCursor::from_json(const Json& json) {
  ImapCursor cursor;
  const Json& uidvalidity = json_field(json, "uidvalidity");
  const Json& last_uid = json_field(json, "last_uid");
  if (!uidvalidity.is_number_unsigned() || !last_uid.is_number_unsigned()) {
    return Status::InvalidArgument(
        "an IMAP cursor is {\"uidvalidity\": N, \"last_uid\": N} with non-negative integers");
  }
  cursor.uidvalidity = uidvalidity.get<uint64_t>();
  cursor.last_uid = last_uid.get<uint64_t>();
  return cursor;
}

Json IncomingEmail::to_json() const {
  return {{"uid", uid},
          {"message_id", message_id},
          {"from", from},
          {"to", to},
          {"cc", cc},
          {"subject", subject},
          {"in_reply_to", in_reply_to},
          {"date", date},
          {"text", text},
          {"truncated", truncated}};
}

Result<ImapBatch> fetch_new_emails(const ImapSettings& settings, const ImapCursor& cursor,
                                   int limit) {
  const int64_t deadline_us = monotonic_us() + std::max<DurationMs>(settings.timeout, 0) * 1000;
  CADRE_ASSIGN_OR_RETURN(MailServer server, parse_mail_url(settings.url, "imap", "imaps"));
  if (limit < 1 || limit > kMaxImapFetchLimit) {
    return Status::InvalidArgument(server.where() + ": limit must be 1.." +
                                   std::to_string(kMaxImapFetchLimit));
  }
  if (settings.username.empty()) {
    return Status::InvalidArgument(server.where() + ": a username is required");
  }
  const std::string mailbox = server.path.empty() ? "INBOX" : server.path;
  CADRE_RETURN_IF_ERROR(check_mailbox(mailbox, server.where()));

  MailAccess access{settings.username, settings.password, settings.require_tls, settings.ca_file,
                    settings.timeout};
  const std::string url =
      server.scheme + "://" + server.host + ":" + std::to_string(server.port) + "/";
  CADRE_ASSIGN_OR_RETURN(std::unique_ptr<MailCurl> mail, MailCurl::open(server, access, url));
  ImapSession session(std::move(mail), deadline_us);
  CADRE_RETURN_IF_ERROR(session.login());

  CADRE_ASSIGN_OR_RETURN(TaggedReply examined, session.command("EXAMINE " + imap_quote(mailbox)));
  if (examined.condition != "OK") {
    return refused(session, examined, "cannot open mailbox " + imap_quote(mailbox),
                   StatusCode::kNotFound);
  }
  ImapBatch batch;
  batch.cursor.uidvalidity = find_uidvalidity(examined.untagged);
  if (batch.cursor.uidvalidity == 0) {
    return Status::Unavailable(session.where() + ": the server reported no UIDVALIDITY for " +
                               imap_quote(mailbox));
  }
  batch.uidvalidity_changed =
      cursor.uidvalidity != 0 && cursor.uidvalidity != batch.cursor.uidvalidity;
  const uint64_t after = batch.uidvalidity_changed ? 0 : cursor.last_uid;
  batch.cursor.last_uid = after;
  if (after >= kMaxUid) {
    session.logout();
    return batch;
  }

  CADRE_ASSIGN_OR_RETURN(TaggedReply searched,
                         session.command("UID SEARCH UID " + std::to_string(after + 1) + ":*"));
  if (searched.condition != "OK") {
    return refused(session, searched, "UID SEARCH failed", StatusCode::kFailedPrecondition);
  }
  std::vector<uint64_t> uids = search_results(searched.untagged);
  // "n:*" also matches the last message when every UID is below n.
  uids.erase(std::remove_if(uids.begin(), uids.end(), [&](uint64_t uid) { return uid <= after; }),
             uids.end());
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  if (uids.size() > static_cast<size_t>(limit)) uids.resize(static_cast<size_t>(limit));
  if (uids.empty()) {
    session.logout();
    return batch;
  }

  // In groups, so that a batch of large messages stops at kMaxBatchBytes
  // (the cursor then says where) instead of holding them all at once.
  size_t bytes_read = 0;
  for (size_t first = 0; first < uids.size() && bytes_read < kMaxBatchBytes; first += kFetchGroup) {
    std::vector<uint64_t> group(
        uids.begin() + static_cast<std::ptrdiff_t>(first),
        uids.begin() + static_cast<std::ptrdiff_t>(std::min(uids.size(), first + kFetchGroup)));
    CADRE_ASSIGN_OR_RETURN(
        TaggedReply fetched,
        session.command("UID FETCH " + imap_uid_set(group) + " (UID BODY.PEEK[]<0." +
                        std::to_string(kMaxMessageBytes) + ">)"));
    if (fetched.condition != "OK") {
      return refused(session, fetched, "UID FETCH failed", StatusCode::kFailedPrecondition);
    }
    std::map<uint64_t, std::string> messages = fetched_messages(fetched.untagged);
    for (uint64_t uid : group) {
      // A UID the server no longer has was expunged since the search: gone, skipped.
      auto found = messages.find(uid);
      if (found == messages.end()) continue;
      bytes_read += found->second.size();
      batch.messages.push_back(to_incoming(uid, found->second));
    }
    batch.cursor.last_uid = group.back();
  }
  session.logout();
  return batch;
}

}  // namespace cadre
