// ConnectorDef: one connector as the workspace declares it, in cadre.yaml
//
//   connectors:
//     crm:
//       type: http
//       base_url: https://crm.example.com/api
//       auth: {type: bearer, token: "${secret:CRM_TOKEN}"}
//       timeout: 10s
//       retry: {attempts: 5, backoff: 1s}
//       breaker: {failures: 5, open_for: 30s}
//       rate_limit: {per_second: 5, burst: 10}
//       endpoints:
//         create_contact: {method: POST, path: /contacts, body: {name: "{{ args.name }}"}, args: {...}}
//
// or in connectors/NAME.yaml (the same mapping, without the name). Types:
// http, webhook, email, files, mcp; their fields are in docs/cli.md. Values
// that are credentials hold references (${secret:NAME}, ${env:NAME}),
// resolved when a call is made, never stored resolved.
//
// Every connector exposes tools named CONNECTOR.TOOL. Those of http,
// webhook, email and files follow from the declaration (declared_tools());
// an MCP server's are known only once it answers, so a workspace may name
// any tool under an mcp connector's name.
//
// Thread-safety: plain values; the parsers are free functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "connectors/circuit_breaker.h"
#include "connectors/mcp/mcp_tools.h"
#include "core/diagnostics.h"
#include "core/duration.h"
#include "core/json.h"
#include "kernel/retry_policy.h"
#include "kernel/tool.h"

namespace cadre {

struct HttpAuth {
  enum class Kind { kNone, kBearer, kBasic, kHeader, kOAuth2 };
  Kind kind = Kind::kNone;
  std::string token;                    // bearer
  std::string username, password;       // basic
  std::string header, value;            // header: any name and value
  std::string token_url, client_id, client_secret, scope;  // oauth2 client credentials
};

struct HttpEndpointDef {
  std::string name;            // the tool is CONNECTOR.NAME
  std::string description;
  std::string method = "GET";
  std::string path;            // template, joined to base_url
  Json query = Json::object(); // name -> template
  Json headers = Json::object();
  Json body;                   // template; null: no body
  Json args = Json::object();  // JSON Schema of the arguments (`args` in templates)
  RiskClass risk = RiskClass::kRead;
  bool idempotent = true;
  std::string expect = "json"; // json | text | any: what a successful answer must be
};

struct HttpSettings {
  std::string base_url;
  HttpAuth auth;
  std::map<std::string, std::string> headers;  // on every request (values may hold references)
  std::string idempotency_header = "Idempotency-Key";  // "" sends none
  int64_t max_response_bytes = 1024 * 1024;
  std::vector<HttpEndpointDef> endpoints;
};

struct WebhookSettings {
  std::string url;
  std::string secret;          // reference to the HMAC key
  std::map<std::string, std::string> headers;
};

struct EmailServer {
  std::string url;             // smtp://, smtps://, imap://HOST:PORT/MAILBOX, imaps://
  std::string username, password;
  bool require_tls = true;
  std::string ca_file;         // relative to the workspace
};

struct EmailSettings {
  std::optional<EmailServer> smtp;   // present: the tool CONNECTOR.send
  std::string from;
  std::optional<EmailServer> imap;   // present: new messages become events
  DurationMs poll_every = 60000;
  std::string event = "email.received";
  int max_per_poll = 50;
};

struct FilesSettings {
  std::string root;            // relative to the workspace, or absolute
  bool read_only = false;
  int64_t max_bytes = 10 * 1024 * 1024;  // one file read or written
};

struct McpSettings {
  std::vector<std::string> command;           // stdio: the server's command line
  std::map<std::string, std::string> env;     // stdio: values may hold references
  std::string cwd;                            // stdio: relative to the workspace
  std::string url;                            // streamable HTTP
  std::map<std::string, std::string> headers; // HTTP: values may hold references
  std::map<std::string, McpToolOverride> tools;
};

struct ConnectorDef {
  std::string name;
  std::string type;            // http | webhook | email | files | mcp
  std::string description;
  std::string file;            // where it was declared, for messages
  int line = 0;
  DurationMs timeout = 30000;  // one call
  std::optional<RetryPolicy> retry;  // empty: the type's default
  BreakerSettings breaker;
  double rate_per_second = 0;  // 0: unlimited
  int burst = 1;

  HttpSettings http;
  WebhookSettings webhook;
  EmailSettings email;
  FilesSettings files;
  McpSettings mcp;

  // "connector 'crm' (cadre.yaml:12)"
  std::string where() const;
};

inline const std::vector<std::string> kConnectorTypes = {"http", "webhook", "email", "files", "mcp"};

// The `connectors:` section of cadre.yaml (absent: none).
std::vector<ConnectorDef> parse_connectors_section(std::string_view cadre_yaml, const std::string& file,
                                                   Diagnostics* diagnostics);
// connectors/NAME.yaml: one connector named after the file.
std::optional<ConnectorDef> parse_connector_file(std::string_view yaml_text, const std::string& file,
                                                 const std::string& name, Diagnostics* diagnostics);

// The tools a connector declares (none for mcp, whose server lists them).
std::vector<ToolSpec> declared_tools(const ConnectorDef& connector);

}  // namespace cadre
