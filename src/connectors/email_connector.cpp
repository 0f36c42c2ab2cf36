// email: sending over SMTP and receiving from an IMAP mailbox.
//
//   NAME.send {to, cc?, bcc?, subject, text, reply_to?, in_reply_to?}
//     -> {message_id, accepted, ...} (email/smtp_sender.h). Irreversible and
//     not idempotent: SMTP cannot take a message back or recognise a repeat,
//     so a send in flight at a crash becomes an approval item, never a
//     silent second send. The Message-ID comes from the step's idempotency
//     key, so a resend a human asks for carries the same one.
//
//   imap: every `every`, the messages after the kept cursor become events
//     named `event` (default email.received) with the message as data. An
//     event's id is derived from (connector, UIDVALIDITY, UID) and raising
//     one is idempotent by id, and the cursor is saved (connector_state,
//     key "imap.cursor") after the batch's events: a crash in between hands
//     out the same messages again under the same ids, so none is missed or
//     doubled.
#include <spdlog/spdlog.h>

#include "connectors/connector_types.h"
#include "connectors/email/imap_reader.h"
#include "connectors/email/smtp_sender.h"
#include "core/hash.h"

namespace cadre {
namespace {

constexpr int kMaxBatchesPerPoll = 20;
constexpr char kCursorKey[] = "imap.cursor";

std::vector<std::string> addresses(const Json& value) {
  std::vector<std::string> out;
  if (value.is_string()) out.push_back(value.get<std::string>());
  if (value.is_array()) {
    for (const auto& item : value)
      if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

class EmailConnector final : public Connector {
 public:
  EmailConnector(ConnectorDef def, ConnectorEnv env) : def_(std::move(def)), env_(std::move(env)) {}

  Result<std::vector<std::shared_ptr<Tool>>> open() override {
    std::vector<std::shared_ptr<Tool>> tools;
    for (ToolSpec& spec : declared_tools(def_)) {
      tools.push_back(make_declared_tool(std::move(spec), [this](const ToolCall& call) { return send(call); }));
    }
    return tools;
  }

  DurationMs poll_every() const override { return def_.email.imap ? def_.email.poll_every : 0; }

  Status poll() override {
    if (!def_.email.imap || env_.store == nullptr) return Status::Ok();
    ImapSettings settings;
    CADRE_RETURN_IF_ERROR(fill(*def_.email.imap, "imap", &settings.url, &settings.username, &settings.password,
                               &settings.require_tls, &settings.ca_file));
    settings.timeout = def_.timeout;
    CADRE_ASSIGN_OR_RETURN(Json saved, env_.store->connector_state(def_.name, kCursorKey));
    ImapCursor cursor;
    if (!saved.is_null()) {
      CADRE_ASSIGN_OR_RETURN(cursor, ImapCursor::from_json(saved));
    }
    for (int batch_number = 0; batch_number < kMaxBatchesPerPoll; ++batch_number) {
      CADRE_ASSIGN_OR_RETURN(ImapBatch batch, fetch_new_emails(settings, cursor, def_.email.max_per_poll));
      if (batch.uidvalidity_changed && cursor.uidvalidity != 0) {
        spdlog::warn("{}: the mailbox was recreated (UIDVALIDITY {} -> {}); reading it from the start",
                     def_.where(), cursor.uidvalidity, batch.cursor.uidvalidity);
      }
      for (const auto& message : batch.messages) {
        CADRE_RETURN_IF_ERROR(raise(batch.cursor.uidvalidity, message));
      }
      const bool moved = batch.cursor.uidvalidity != cursor.uidvalidity || batch.cursor.last_uid != cursor.last_uid;
      if (moved) {
        CADRE_RETURN_IF_ERROR(
            env_.store->put_connector_state(def_.name, kCursorKey, batch.cursor.to_json(), env_.clock->now_ms()));
      }
      cursor = batch.cursor;
      if (static_cast<int>(batch.messages.size()) < def_.email.max_per_poll) break;
    }
    return Status::Ok();
  }

 private:
  Status fill(const EmailServer& server, const std::string& which, std::string* url, std::string* username,
              std::string* password, bool* require_tls, std::string* ca_file) const {
    *url = server.url;
    *username = server.username;
    if (!server.password.empty()) {
      CADRE_ASSIGN_OR_RETURN(*password,
                             resolve_references(server.password, env_.secrets, def_.name + ": " + which + ".password"));
    }
    *require_tls = server.require_tls;
    if (!server.ca_file.empty()) {
      std::filesystem::path ca = server.ca_file;
      *ca_file = (ca.is_relative() ? env_.workspace_root / ca : ca).string();
    }
    return Status::Ok();
  }

  Status raise(uint64_t uidvalidity, const IncomingEmail& message) {
    const std::string identity =
        "imap|" + def_.name + "|" + std::to_string(uidvalidity) + "|" + std::to_string(message.uid);
    Json data = message.to_json();
    data["connector"] = def_.name;
    data["uidvalidity"] = uidvalidity;
    const TimeMs now = env_.clock->now_ms();
    EventRecord event{"evt_mail_" + sha256_hex(identity).substr(0, 32), def_.email.event, data,
                      "email:" + def_.name, now, false};
    return env_.store->emit_event(event);
  }

  Result<Json> send(const ToolCall& call) {
    const std::string who = def_.name + ".send";
    SmtpSettings settings;
    CADRE_RETURN_IF_ERROR(fill(*def_.email.smtp, "smtp", &settings.url, &settings.username, &settings.password,
                               &settings.require_tls, &settings.ca_file));
    settings.timeout = def_.timeout;
    if (call.deadline > 0) {
      const TimeMs now = call.clock ? call.clock->now_ms() : env_.clock->now_ms();
      if (call.deadline <= now) return Status::DeadlineExceeded(who + ": no time left to send");
      settings.timeout = std::min(settings.timeout, call.deadline - now);
    }
    OutgoingEmail email;
    email.from = def_.email.from;
    email.to = addresses(call.args.value("to", Json()));
    email.cc = addresses(call.args.value("cc", Json()));
    email.bcc = addresses(call.args.value("bcc", Json()));
    email.subject = call.args.value("subject", "");
    email.text = call.args.value("text", "");
    email.reply_to = call.args.value("reply_to", "");
    email.in_reply_to = call.args.value("in_reply_to", "");
    auto sent = send_email(settings, email, call.idempotency_key, call.clock ? *call.clock : *env_.clock);
    if (!sent.ok()) return sent.status().with_context(who);
    return sent;
  }

  ConnectorDef def_;
  ConnectorEnv env_;
};

}  // namespace

std::unique_ptr<Connector> make_email_connector(const ConnectorDef& def, const ConnectorEnv& env) {
  return std::make_unique<EmailConnector>(def, env);
}

}  // namespace cadre
