// Sending one email over SMTP with libcurl: smtp:// with STARTTLS (required
// unless require_tls is false) or smtps:// (TLS from the first byte), AUTH
// with the mechanisms the server offers when a username is given.
//
// A send is all or nothing: when the server refuses any recipient, nothing
// is sent. The Message-ID comes from the idempotency key
// (outgoing_message.h), so a retry after a crash or an uncertain outcome
// carries the same Message-ID and the receiving side can recognise it.
//
// Errors: invalid_argument (the message or the settings; header injection
// names the field), unavailable (no connection, reset, TLS handshake, a 4xx
// answer: try again later), deadline_exceeded (no answer within `timeout`:
// the message may or may not have been accepted), failed_precondition (login
// refused, STARTTLS required but not offered, certificate not trusted, a 5xx
// refusal), resource_exhausted (552: too large for the server). Messages
// name the server as smtp://host:port and never carry credentials.
//
// Thread-safety: send_email may be called from any thread; calls share
// nothing (one curl handle each).
#pragma once

#include <string>

#include "connectors/email/outgoing_message.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/json.h"
#include "core/result.h"

namespace cadre {

struct SmtpSettings {
  std::string url;                 // smtp://host:587 or smtps://host:465; a path is the EHLO name
  std::string username, password;  // empty username: no AUTH
  bool require_tls =
      true;  // smtp://: STARTTLS or fail. false (local relays only): STARTTLS when offered
  std::string ca_file;         // PEM CA bundle to trust (a self-signed server); empty: the system's
  DurationMs timeout = 30000;  // the whole exchange, connection included
};

// Sends `email`; returns {"message_id": "<…>", "accepted": [bare addresses],
// "server": "smtp://host:port", "response": the server's last answer}.
Result<Json> send_email(const SmtpSettings& settings, const OutgoingEmail& email,
                        const std::string& idempotency_key,
                        const Clock& clock = SystemClock::instance());

}  // namespace cadre
