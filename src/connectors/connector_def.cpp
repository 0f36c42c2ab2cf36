#include "connectors/connector_def.h"

#include <algorithm>

#include "core/json_schema.h"
#include "core/references.h"
#include "core/template.h"
#include "core/yaml_util.h"
#include "kernel/retry_policy_yaml.h"

namespace cadre {

std::string ConnectorDef::where() const {
  return "connector '" + name + "' (" + file + (line > 0 ? ":" + std::to_string(line) : "") + ")";
}

namespace {

constexpr int64_t kMaxBytes = int64_t{1} << 32;  // 4 GiB: anything above is a typo
const std::vector<std::string> kMethods = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};

bool is_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// Names a connector may not take: the prefixes of built-in tools.
const std::vector<std::string> kReservedNames = {"file", "memory", "log", "wait", "emit", "agent"};

std::optional<RiskClass> risk_from_name(std::string_view name) {
  if (name == "read") return RiskClass::kRead;
  if (name == "write") return RiskClass::kWrite;
  if (name == "irreversible") return RiskClass::kIrreversible;
  return std::nullopt;
}

class ConnectorParser {
 public:
  ConnectorParser(YamlReader& reader, std::string file) : reader_(reader), file_(std::move(file)) {}

  std::optional<ConnectorDef> parse(const YamlField& field, const std::string& name) {
    ConnectorDef def;
    def.name = name;
    def.file = file_;
    def.line = field.key_pos.line;
    if (!is_name(name)) {
      reader_.error(field.key_pos, field.path,
                    "'" + name + "' is not a valid connector name (a-z, 0-9, '_' and '-', starting with a letter)");
      return std::nullopt;
    }
    if (std::find(kReservedNames.begin(), kReservedNames.end(), name) != kReservedNames.end()) {
      reader_.error(field.key_pos, field.path, "'" + name + "' is reserved for built-in tools; choose another name");
      return std::nullopt;
    }
    const YAML::Node& node = field.value;
    if (!node.IsMap() || !node["type"]) {
      auto map = reader_.read_map(field, {});
      if (map) reader_.require(*map, "type");
      return std::nullopt;
    }
    std::string type = node["type"].IsScalar() ? node["type"].Scalar() : "";
    std::vector<std::string> common = {"type", "description", "timeout", "retry", "breaker", "rate_limit"};
    std::vector<std::string> own;
    if (type == "http") own = {"base_url", "auth", "headers", "idempotency_header", "max_response_bytes", "endpoints"};
    if (type == "webhook") own = {"url", "secret", "headers"};
    if (type == "email") own = {"smtp", "from", "imap"};
    if (type == "files") own = {"root", "read_only", "max_bytes"};
    if (type == "mcp") own = {"command", "env", "cwd", "url", "headers", "tools"};
    std::vector<std::string> allowed = common;
    allowed.insert(allowed.end(), own.begin(), own.end());
    auto map = reader_.read_map(field, allowed);
    if (!map) return std::nullopt;
    const int errors_before = reader_.error_count();
    if (own.empty()) {
      const YamlField* f = map->find("type");
      reader_.error(*f, "unknown connector type '" + type + "'" + did_you_mean(type, kConnectorTypes) +
                            " (use http, webhook, email, files or mcp)");
      return std::nullopt;
    }
    def.type = type;
    read_common(*map, &def);
    if (type == "http") read_http(*map, &def);
    if (type == "webhook") read_webhook(*map, &def);
    if (type == "email") read_email(*map, &def);
    if (type == "files") read_files(*map, &def);
    if (type == "mcp") read_mcp(*map, &def);
    if (reader_.error_count() != errors_before) return std::nullopt;
    return def;
  }

 private:
  void read_string(const YamlMap& map, std::string_view key, std::string* out, bool required = false) {
    const YamlField* f = required ? reader_.require(map, key) : map.find(key);
    if (f == nullptr) return;
    if (auto v = reader_.as_string(*f)) {
      if (v->empty()) {
        reader_.error(*f, "must not be empty");
      } else {
        *out = *v;
      }
    }
  }

  // A credential: only a reference, so cadre.yaml never holds the value itself.
  void read_credential(const YamlMap& map, std::string_view key, std::string* out, bool required = true) {
    const YamlField* f = required ? reader_.require(map, key) : map.find(key);
    if (f == nullptr) return;
    auto v = reader_.as_string(*f);
    if (!v) return;
    auto reference = parse_reference(*v, "");
    if (!reference.ok()) {
      reader_.error(*f, reference.status().message());
    } else if (!reference->has_value()) {
      reader_.error(*f, "must be a reference such as \"${secret:NAME}\" or \"${env:NAME}\" "
                        "(store the value with `cadre secret set NAME`), not the value itself");
    } else {
      *out = *v;
    }
  }

  // Values may mix text and references ("Bearer ${secret:T}"); every reference must parse.
  void read_string_map(const YamlMap& map, std::string_view key, std::map<std::string, std::string>* out) {
    const YamlField* f = map.find(key);
    if (f == nullptr) return;
    auto entries = reader_.read_map(*f, {});
    if (!entries) return;
    for (const auto& entry : entries->fields()) {
      if (auto v = reader_.as_string(entry)) {
        auto checked = resolve_references(*v, [](std::string_view) -> Result<std::string> { return std::string(); },
                                          entry.path);
        // Only syntax matters here: an unset variable is fine until a call is made.
        if (!checked.ok() && checked.status().is(StatusCode::kInvalidArgument)) {
          reader_.error(entry, checked.status().message());
          continue;
        }
        (*out)[entry.name] = *v;
      }
    }
  }

  void read_url(const YamlMap& map, std::string_view key, const std::vector<std::string>& schemes,
                std::string* out, bool required = true) {
    const YamlField* f = required ? reader_.require(map, key) : map.find(key);
    if (f == nullptr) return;
    auto v = reader_.as_string(*f);
    if (!v) return;
    for (const auto& scheme : schemes) {
      if (v->rfind(scheme + "://", 0) == 0 && v->size() > scheme.size() + 3) {
        *out = *v;
        return;
      }
    }
    std::string list;
    for (const auto& scheme : schemes) list += (list.empty() ? "" : ", ") + scheme + "://";
    reader_.error(*f, "must start with " + list + ", got '" + *v + "'");
  }

  void read_bytes(const YamlMap& map, std::string_view key, int64_t* out) {
    if (const YamlField* f = map.find(key)) {
      if (auto v = reader_.as_int(*f, 1, kMaxBytes)) *out = *v;
    }
  }

  void read_common(const YamlMap& map, ConnectorDef* def) {
    read_string(map, "description", &def->description);
    if (const YamlField* f = map.find("timeout")) {
      if (auto v = reader_.as_duration(*f, 1)) def->timeout = *v;
    }
    if (const YamlField* f = map.find("retry")) def->retry = read_retry_policy(reader_, *f);
    if (const YamlField* f = map.find("breaker")) {
      if (auto breaker = reader_.read_map(*f, {"failures", "open_for"})) {
        if (const YamlField* g = breaker->find("failures")) {
          if (auto v = reader_.as_int(*g, 1, 1000)) def->breaker.failures_to_open = static_cast<int>(*v);
        }
        if (const YamlField* g = breaker->find("open_for")) {
          if (auto v = reader_.as_duration(*g, 1)) def->breaker.open_for = *v;
        }
      }
    }
    if (const YamlField* f = map.find("rate_limit")) {
      if (auto rate = reader_.read_map(*f, {"per_second", "burst"})) {
        if (const YamlField* g = reader_.require(*rate, "per_second")) {
          if (auto v = reader_.as_number(*g, 0.001, 1e6)) def->rate_per_second = *v;
        }
        if (const YamlField* g = rate->find("burst")) {
          if (auto v = reader_.as_int(*g, 1, 1000000)) def->burst = static_cast<int>(*v);
        }
      }
    }
  }

  void read_http(const YamlMap& map, ConnectorDef* def) {
    HttpSettings& http = def->http;
    read_url(map, "base_url", {"http", "https"}, &http.base_url);
    read_string_map(map, "headers", &http.headers);
    if (const YamlField* f = map.find("idempotency_header")) {
      if (auto v = reader_.as_string(*f)) http.idempotency_header = *v;
    }
    read_bytes(map, "max_response_bytes", &http.max_response_bytes);
    if (const YamlField* f = map.find("auth")) read_auth(*f, &http.auth);
    const YamlField* endpoints = reader_.require(map, "endpoints");
    if (endpoints == nullptr) return;
    auto entries = reader_.read_map(*endpoints, {});
    if (!entries) return;
    if (entries->fields().empty()) reader_.error(*endpoints, "declare at least one endpoint");
    for (const auto& entry : entries->fields()) {
      if (!is_name(entry.name)) {
        reader_.error(entry.key_pos, entry.path,
                      "'" + entry.name + "' is not a valid endpoint name (a-z, 0-9, '_' and '-')");
        continue;
      }
      read_endpoint(entry, &http);
    }
  }

  void read_auth(const YamlField& field, HttpAuth* auth) {
    const YAML::Node& type_node = field.value.IsMap() ? field.value["type"] : YAML::Node();
    std::string type = type_node && type_node.IsScalar() ? type_node.Scalar() : "";
    std::vector<std::string> keys = {"type"};
    if (type == "bearer") keys.push_back("token");
    if (type == "basic") keys.insert(keys.end(), {"username", "password"});
    if (type == "header") keys.insert(keys.end(), {"name", "value"});
    if (type == "oauth2") keys.insert(keys.end(), {"token_url", "client_id", "client_secret", "scope"});
    auto map = reader_.read_map(field, keys);
    if (!map) return;
    const YamlField* t = reader_.require(*map, "type");
    if (t == nullptr) return;
    if (type == "bearer") {
      auth->kind = HttpAuth::Kind::kBearer;
      read_credential(*map, "token", &auth->token);
    } else if (type == "basic") {
      auth->kind = HttpAuth::Kind::kBasic;
      read_string(*map, "username", &auth->username, true);
      read_credential(*map, "password", &auth->password);
    } else if (type == "header") {
      auth->kind = HttpAuth::Kind::kHeader;
      read_string(*map, "name", &auth->header, true);
      read_credential(*map, "value", &auth->value);
    } else if (type == "oauth2") {
      auth->kind = HttpAuth::Kind::kOAuth2;
      read_url(*map, "token_url", {"http", "https"}, &auth->token_url);
      read_string(*map, "client_id", &auth->client_id, true);
      read_credential(*map, "client_secret", &auth->client_secret);
      read_string(*map, "scope", &auth->scope);
    } else {
      reader_.error(*t, "unknown auth type '" + type + "' (use bearer, basic, header or oauth2)");
    }
  }

  // Every string inside `value` must be a valid template over an endpoint's scope.
  void check_templates(const Json& value, const YamlField& field) {
    static const std::vector<std::string> kRoots = {"args", "idempotency_key"};
    if (value.is_string()) {
      Status status = check_template(value.get<std::string>());
      if (!status.ok()) {
        reader_.error(field, status.message());
        return;
      }
      auto roots = template_paths(value.get<std::string>());
      for (const auto& root : roots.ok() ? *roots : std::vector<std::string>{}) {
        if (std::find(kRoots.begin(), kRoots.end(), root) == kRoots.end()) {
          reader_.error(field, "unknown name '" + root + "' in template (an endpoint sees args and idempotency_key)" +
                                   did_you_mean(root, kRoots));
        }
      }
    } else if (value.is_structured()) {
      for (const auto& item : value) check_templates(item, field);
    }
  }

  void read_endpoint(const YamlField& field, HttpSettings* http) {
    auto map = reader_.read_map(field, {"description", "method", "path", "query", "headers", "body", "args",
                                        "risk", "idempotent", "expect"});
    if (!map) return;
    HttpEndpointDef endpoint;
    endpoint.name = field.name;
    read_string(*map, "description", &endpoint.description);
    if (const YamlField* f = map->find("method")) {
      if (auto v = reader_.as_string(*f)) {
        std::string method = *v;
        std::transform(method.begin(), method.end(), method.begin(), ::toupper);
        if (std::find(kMethods.begin(), kMethods.end(), method) == kMethods.end()) {
          reader_.error(*f, "unknown method '" + *v + "' (use GET, POST, PUT, PATCH, DELETE or HEAD)");
        } else {
          endpoint.method = method;
        }
      }
    }
    const bool safe = endpoint.method == "GET" || endpoint.method == "HEAD";
    endpoint.risk = safe ? RiskClass::kRead : RiskClass::kWrite;
    // PUT and DELETE are idempotent by HTTP's definition; POST and PATCH only if the API says so.
    endpoint.idempotent = endpoint.method != "POST" && endpoint.method != "PATCH";
    if (const YamlField* f = reader_.require(*map, "path")) {
      if (auto v = reader_.as_string(*f)) {
        endpoint.path = *v;
        check_templates(Json(*v), *f);
        if (!v->empty() && (*v)[0] != '/') reader_.error(*f, "must start with '/'");
      }
    }
    for (auto [key, out] : {std::pair{"query", &endpoint.query}, std::pair{"headers", &endpoint.headers}}) {
      if (const YamlField* f = map->find(key)) {
        if (auto entries = reader_.read_map(*f, {})) {
          *out = reader_.to_json(f->value, f->path);
          check_templates(*out, *f);
        }
      }
    }
    if (const YamlField* f = map->find("body")) {
      if (safe) reader_.error(*f, endpoint.method + " requests carry no body");
      endpoint.body = reader_.to_json(f->value, f->path);
      check_templates(endpoint.body, *f);
    }
    if (const YamlField* f = map->find("args")) {
      Json schema = reader_.to_json(f->value, f->path);
      auto errors = check_schema(schema);
      if (!errors.empty()) {
        reader_.error(*f, "not a valid JSON Schema: " + describe(errors));
      } else if (!schema.is_object() || schema.value("type", "") != "object") {
        reader_.error(*f, "must be a JSON Schema of type object");
      } else {
        endpoint.args = schema;
      }
    } else {
      endpoint.args = Json{{"type", "object"}};
    }
    if (const YamlField* f = map->find("risk")) {
      if (auto v = reader_.as_string(*f)) {
        if (auto risk = risk_from_name(*v)) {
          endpoint.risk = *risk;
        } else {
          reader_.error(*f, "unknown risk '" + *v + "' (use read, write or irreversible)");
        }
      }
    }
    if (const YamlField* f = map->find("idempotent")) {
      if (auto v = reader_.as_bool(*f)) endpoint.idempotent = *v;
    }
    if (const YamlField* f = map->find("expect")) {
      if (auto v = reader_.as_string(*f)) {
        if (*v != "json" && *v != "text" && *v != "any") {
          reader_.error(*f, "must be json, text or any, got '" + *v + "'");
        } else {
          endpoint.expect = *v;
        }
      }
    }
    http->endpoints.push_back(std::move(endpoint));
  }

  void read_webhook(const YamlMap& map, ConnectorDef* def) {
    read_url(map, "url", {"http", "https"}, &def->webhook.url);
    read_credential(map, "secret", &def->webhook.secret);
    read_string_map(map, "headers", &def->webhook.headers);
  }

  EmailServer read_email_server(const YamlMap& map, const std::vector<std::string>& schemes) {
    EmailServer server;
    read_url(map, "url", schemes, &server.url);
    read_string(map, "username", &server.username);
    if (!server.username.empty()) read_credential(map, "password", &server.password);
    if (const YamlField* f = map.find("require_tls")) {
      if (auto v = reader_.as_bool(*f)) server.require_tls = *v;
    }
    read_string(map, "ca_file", &server.ca_file);
    return server;
  }

  void read_email(const YamlMap& map, ConnectorDef* def) {
    static const std::vector<std::string> kServerKeys = {"url", "username", "password", "require_tls", "ca_file"};
    EmailSettings& email = def->email;
    if (const YamlField* f = map.find("smtp")) {
      if (auto smtp = reader_.read_map(*f, kServerKeys)) email.smtp = read_email_server(*smtp, {"smtp", "smtps"});
      if (const YamlField* from = reader_.require(map, "from")) {
        if (auto v = reader_.as_string(*from)) {
          if (v->find('@') == std::string::npos || v->find_first_of("\r\n") != std::string::npos) {
            reader_.error(*from, "must be an email address");
          } else {
            email.from = *v;
          }
        }
      }
    }
    if (const YamlField* f = map.find("imap")) {
      std::vector<std::string> keys = kServerKeys;
      keys.insert(keys.end(), {"every", "event", "max_per_poll"});
      if (auto imap = reader_.read_map(*f, keys)) {
        email.imap = read_email_server(*imap, {"imap", "imaps"});
        if (const YamlField* g = imap->find("every")) {
          if (auto v = reader_.as_duration(*g, 1000)) email.poll_every = *v;
        }
        read_string(*imap, "event", &email.event);
        if (const YamlField* g = imap->find("max_per_poll")) {
          if (auto v = reader_.as_int(*g, 1, 1000)) email.max_per_poll = static_cast<int>(*v);
        }
      }
    }
    if (!email.smtp && !email.imap) {
      reader_.error(map.fields().front(), "an email connector needs smtp (to send), imap (to receive) or both");
    }
  }

  void read_files(const YamlMap& map, ConnectorDef* def) {
    read_string(map, "root", &def->files.root, true);
    if (const YamlField* f = map.find("read_only")) {
      if (auto v = reader_.as_bool(*f)) def->files.read_only = *v;
    }
    read_bytes(map, "max_bytes", &def->files.max_bytes);
  }

  void read_mcp(const YamlMap& map, ConnectorDef* def) {
    McpSettings& mcp = def->mcp;
    const YamlField* command = map.find("command");
    const YamlField* url = map.find("url");
    if ((command == nullptr) == (url == nullptr)) {
      reader_.error(command ? *command : url ? *url : map.fields().front(),
                    "an mcp connector needs exactly one of command (stdio) or url (streamable HTTP)");
      return;
    }
    if (command) {
      if (auto v = reader_.as_string_list(*command)) {
        if (v->empty() || v->front().empty()) {
          reader_.error(*command, "must name the program to run");
        } else {
          mcp.command = *v;
        }
      }
      read_string_map(map, "env", &mcp.env);
      read_string(map, "cwd", &mcp.cwd);
    } else {
      read_url(map, "url", {"http", "https"}, &mcp.url);
      read_string_map(map, "headers", &mcp.headers);
    }
    if (const YamlField* f = map.find("tools")) {
      auto tools = reader_.read_map(*f, {});
      if (!tools) return;
      for (const auto& tool : tools->fields()) {
        auto fields = reader_.read_map(tool, {"enabled", "risk", "idempotent", "retry"});
        if (!fields) continue;
        McpToolOverride override;
        if (const YamlField* g = fields->find("enabled")) {
          if (auto v = reader_.as_bool(*g)) override.enabled = *v;
        }
        if (const YamlField* g = fields->find("risk")) {
          if (auto v = reader_.as_string(*g)) {
            override.risk = risk_from_name(*v);
            if (!override.risk) reader_.error(*g, "unknown risk '" + *v + "' (use read, write or irreversible)");
          }
        }
        if (const YamlField* g = fields->find("idempotent")) {
          if (auto v = reader_.as_bool(*g)) override.idempotent = *v;
        }
        if (const YamlField* g = fields->find("retry")) override.retry = read_retry_policy(reader_, *g);
        mcp.tools[tool.name] = override;
      }
    }
  }

  YamlReader& reader_;
  std::string file_;
};

}  // namespace

std::vector<ConnectorDef> parse_connectors_section(std::string_view cadre_yaml, const std::string& file,
                                                   Diagnostics* diagnostics) {
  std::vector<ConnectorDef> connectors;
  Diagnostics ignored;  // cadre.yaml's syntax errors are load_config's to report
  auto root = parse_yaml(cadre_yaml, file, &ignored);
  if (!root || !root->IsMap() || !(*root)["connectors"]) return connectors;
  YamlReader reader(file, diagnostics);
  YamlField section{"connectors", "connectors", yaml_pos((*root)["connectors"]), (*root)["connectors"]};
  if ((*root)["connectors"].IsNull()) return connectors;
  auto map = reader.read_map(section, {});
  if (!map) return connectors;
  ConnectorParser parser(reader, file);
  for (const auto& field : map->fields()) {
    if (auto def = parser.parse(field, field.name)) connectors.push_back(std::move(*def));
  }
  return connectors;
}

std::optional<ConnectorDef> parse_connector_file(std::string_view yaml_text, const std::string& file,
                                                 const std::string& name, Diagnostics* diagnostics) {
  auto root = parse_yaml(yaml_text, file, diagnostics);
  if (!root) return std::nullopt;
  YamlReader reader(file, diagnostics);
  YamlField field{name, "", yaml_pos(*root), *root};
  return ConnectorParser(reader, file).parse(field, name);
}

namespace {

Json string_property(std::string description) {
  return {{"type", "string"}, {"description", std::move(description)}};
}

}  // namespace

std::vector<ToolSpec> declared_tools(const ConnectorDef& connector) {
  std::vector<ToolSpec> tools;
  auto add = [&](std::string tool, std::string description, RiskClass risk, bool idempotent, Json schema) {
    ToolSpec spec;
    spec.name = connector.name + "." + tool;
    spec.description = std::move(description);
    spec.risk = risk;
    spec.idempotent = idempotent;
    spec.input_schema = std::move(schema);
    if (connector.retry) spec.retry = *connector.retry;
    tools.push_back(std::move(spec));
  };
  if (connector.type == "http") {
    for (const auto& endpoint : connector.http.endpoints) {
      std::string description = endpoint.description.empty()
                                    ? endpoint.method + " " + endpoint.path + " on " + connector.name
                                    : endpoint.description;
      add(endpoint.name, description, endpoint.risk, endpoint.idempotent, endpoint.args);
    }
  } else if (connector.type == "webhook") {
    add("send", "POST a signed event to " + connector.name + "'s webhook", RiskClass::kWrite, true,
        {{"type", "object"},
         {"properties", {{"event", string_property("the event's name")}, {"data", {{"description", "any JSON"}}}}},
         {"required", {"event"}},
         {"additionalProperties", false}});
  } else if (connector.type == "email") {
    if (connector.email.smtp) {
      Json addresses = {{"anyOf", {string_property("one address"), {{"type", "array"}, {"items", {{"type", "string"}}}}}}};
      // Mail cannot be recalled, and SMTP has no idempotency: a send in flight
      // at a crash is asked to a human, never repeated silently.
      add("send", "send an email from " + connector.email.from, RiskClass::kIrreversible, false,
          {{"type", "object"},
           {"properties",
            {{"to", addresses},
             {"cc", addresses},
             {"bcc", addresses},
             {"subject", string_property("the subject line")},
             {"text", string_property("the plain-text body")},
             {"reply_to", string_property("Reply-To address")},
             {"in_reply_to", string_property("Message-ID this answers")}}},
           {"required", {"to", "subject", "text"}},
           {"additionalProperties", false}});
    }
  } else if (connector.type == "files") {
    Json path_only = {{"type", "object"},
                      {"properties", {{"path", string_property("relative to the connector's root")}}},
                      {"required", {"path"}},
                      {"additionalProperties", false}};
    add("read", "read a text file under " + connector.name + "'s root", RiskClass::kRead, true, path_only);
    add("list", "list a folder under " + connector.name + "'s root", RiskClass::kRead, true,
        {{"type", "object"},
         {"properties",
          {{"path", string_property("folder relative to the root; default the root")},
           {"recursive", {{"type", "boolean"}}}}},
         {"additionalProperties", false}});
    if (!connector.files.read_only) {
      add("write", "replace a file under " + connector.name + "'s root", RiskClass::kWrite, true,
          {{"type", "object"},
           {"properties", {{"path", string_property("relative to the root")}, {"content", string_property("the text")}}},
           {"required", {"path", "content"}},
           {"additionalProperties", false}});
    }
  }
  return tools;
}

}  // namespace cadre
