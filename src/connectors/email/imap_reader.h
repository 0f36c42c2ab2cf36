// Reading new mail from one IMAP mailbox, read-only and resumable.
//
// A caller keeps an ImapCursor (the mailbox's UIDVALIDITY and the last UID
// it has seen) and asks for what came after it. Each call is one session:
// libcurl connects and logs in (imap:// with STARTTLS, required unless
// require_tls is false, or imaps://), then the mailbox is opened with
// EXAMINE (read-only) and messages are fetched with BODY.PEEK, so nothing is
// ever marked \Seen, moved or deleted.
//
// Exactly-once delivery is the caller's part: persist the returned cursor
// after handling the batch. A batch handed out again (a crash before the
// cursor was saved) holds the same messages with the same UIDs. When the
// mailbox's UIDVALIDITY is not the cursor's (the mailbox was recreated, UIDs
// mean something else now), the batch says so and starts from the first
// message of the new validity.
//
// Each message is read up to its first MiB; the text is the text/plain part
// (or stripped HTML) decoded to UTF-8 and capped at 256 KiB (mime_message.h).
// A batch also ends early once about 16 MiB have been read (the cursor says
// where, so the next call goes on from there).
//
// Errors: invalid_argument (settings), unavailable (no connection, reset,
// TLS handshake), deadline_exceeded (`timeout` for the whole call passed),
// failed_precondition (login refused, STARTTLS required but not offered,
// certificate not trusted), not_found (no such mailbox), resource_exhausted
// (a response past the caps). Messages name the server as imap://host:port,
// never the credentials.
//
// Thread-safety: fetch_new_emails may be called from any thread; calls
// share nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/json.h"
#include "core/result.h"

namespace cadre {

struct ImapSettings {
  std::string url;  // imap://host:143/MAILBOX or imaps://host:993/MAILBOX; no mailbox: INBOX
  std::string username, password;  // required
  bool require_tls =
      true;  // imap://: STARTTLS or fail. false (local test servers only): STARTTLS when offered
  std::string ca_file;         // PEM CA bundle to trust (a self-signed server); empty: the system's
  DurationMs timeout = 30000;  // the whole call
};

struct ImapCursor {
  uint64_t uidvalidity = 0;  // 0: never read
  uint64_t last_uid = 0;     // every message with a UID up to this one has been handed out

  Json to_json() const;
  static Result<ImapCursor> from_json(const Json& json);
};

struct IncomingEmail {
  uint64_t uid = 0;
  std::string message_id;             // "<…>" as sent; may be empty
  std::string from, to, cc, subject;  // headers, encoded words decoded (UTF-8)
  std::string in_reply_to;            // raw header, for threading replies
  std::string date;        // ISO 8601 UTC when the Date header parses, else the header as is
  std::string text;        // body text, UTF-8, "\n" line breaks
  bool truncated = false;  // the message or its text was longer than what was read

  Json to_json() const;
};

struct ImapBatch {
  ImapCursor cursor;                    // to persist once the messages are handled
  std::vector<IncomingEmail> messages;  // UID order, at most `limit`
  bool uidvalidity_changed = false;     // the mailbox was recreated; this batch starts it afresh
};

constexpr int kMaxImapFetchLimit = 1000;

// The messages with a UID after `cursor.last_uid` (all of them when the
// UIDVALIDITY changed), at most `limit` (1..kMaxImapFetchLimit), in UID order.
Result<ImapBatch> fetch_new_emails(const ImapSettings& settings, const ImapCursor& cursor,
                                   int limit);

}  // namespace cadre
