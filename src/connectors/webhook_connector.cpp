// webhook: NAME.send {event, data?} POSTs
//   {"id": IDEMPOTENCY_KEY, "event": ..., "data": ..., "sent_at": ISO time}
// as JSON, signed in the Cadre-Signature header (core/webhook_signature.h:
// HMAC-SHA256 over "SECONDS.BODY" with the connector's secret), with the
// same id in Idempotency-Key. A retry or a resend after a crash carries the
// same id, so the receiver can drop duplicates; the tool is idempotent.
#include "connectors/connector_types.h"
#include "connectors/http_call.h"
#include "core/webhook_signature.h"

namespace cadre {
namespace {

class WebhookConnector final : public Connector {
 public:
  WebhookConnector(ConnectorDef def, const ConnectorEnv& env) : def_(std::move(def)), secrets_(env.secrets) {}

  Result<std::vector<std::shared_ptr<Tool>>> open() override {
    std::vector<std::shared_ptr<Tool>> tools;
    for (ToolSpec& spec : declared_tools(def_)) {
      tools.push_back(make_declared_tool(std::move(spec), [this](const ToolCall& call) { return send(call); }));
    }
    return tools;
  }

 private:
  Result<Json> send(const ToolCall& call) {
    const std::string who = def_.name + ".send";
    CADRE_ASSIGN_OR_RETURN(std::string secret, resolve_references(def_.webhook.secret, secrets_, who + ": secret"));
    const TimeMs now = call.clock ? call.clock->now_ms() : SystemClock::instance().now_ms();
    Json payload = {{"id", call.idempotency_key},
                    {"event", call.args.value("event", "")},
                    {"data", call.args.value("data", Json())},
                    {"sent_at", format_time_utc(now)}};
    HttpRequest request;
    request.method = "POST";
    request.url = def_.webhook.url;
    request.body = dump_json(payload);
    request.max_response_bytes = 64 * 1024;
    for (const auto& [name, value] : def_.webhook.headers) {
      CADRE_ASSIGN_OR_RETURN(request.headers[name], resolve_references(value, secrets_, who + ": header " + name));
    }
    request.headers["Content-Type"] = "application/json";
    request.headers["Idempotency-Key"] = call.idempotency_key;
    request.headers[kWebhookSignatureHeader] = sign_webhook(secret, now / 1000, request.body);
    CADRE_ASSIGN_OR_RETURN(HttpResponse response, send_connector_request(std::move(request), call, who));
    return Json{{"id", call.idempotency_key}, {"status", response.status}};
  }

  ConnectorDef def_;
  SecretResolver secrets_;
};

}  // namespace

std::unique_ptr<Connector> make_webhook_connector(const ConnectorDef& def, const ConnectorEnv& env) {
  return std::make_unique<WebhookConnector>(def, env);
}

}  // namespace cadre
