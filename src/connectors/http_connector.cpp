// http: a REST API declared without code. Each endpoint is the tool
// CONNECTOR.ENDPOINT; its path, query, headers and body are templates over
//   args             the call's arguments (checked against the endpoint's `args` schema)
//   idempotency_key  stable across retries and crashes of the step
// Values substituted into the path are percent-encoded, so an argument can
// never add a path segment or a query. Every request but GET and HEAD
// carries the idempotency header (Idempotency-Key unless configured).
//
// The answer: {status, body} where body is the parsed JSON (expect: json,
// the default: anything but a JSON media type is an error quoting what came),
// the text (expect: text), or either (expect: any); null for an empty body.
//
// Auth: bearer, basic, a header, or OAuth2 client credentials (the token is
// fetched from token_url with the client id and secret, kept until a minute
// before it expires, and fetched again after a 401).
#include <mutex>

#include "connectors/connector_types.h"
#include "core/encoding.h"
#include "connectors/http_call.h"
#include "core/template.h"

namespace cadre {
namespace {

// Every string leaf of `value` percent-encoded (for the path's scope).
Json escaped_strings(const Json& value) {
  if (value.is_string()) return url_escape(value.get<std::string>());
  if (!value.is_structured()) return value;
  Json out = value;
  for (auto& item : out) item = escaped_strings(item);
  return out;
}

std::string as_text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return dump_json(value);
}


bool is_json_media(const std::string& type) {
  return type == "application/json" || (type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0);
}

class HttpConnector final : public Connector {
 public:
  HttpConnector(ConnectorDef def, const ConnectorEnv& env) : def_(std::move(def)), secrets_(env.secrets) {}

  Result<std::vector<std::shared_ptr<Tool>>> open() override {
    std::vector<std::shared_ptr<Tool>> tools;
    std::vector<ToolSpec> specs = declared_tools(def_);
    for (size_t i = 0; i < specs.size(); ++i) {
      const HttpEndpointDef* endpoint = &def_.http.endpoints[i];
      tools.push_back(make_declared_tool(std::move(specs[i]),
                                         [this, endpoint](const ToolCall& call) { return call_endpoint(*endpoint, call); }));
    }
    return tools;
  }

 private:
  Result<std::string> resolve(const std::string& text, const std::string& field) const {
    return resolve_references(text, secrets_, def_.name + ": " + field);
  }

  Result<Json> call_endpoint(const HttpEndpointDef& endpoint, const ToolCall& call) {
    const std::string who = def_.name + "." + endpoint.name;
    CADRE_ASSIGN_OR_RETURN(HttpRequest request, build_request(endpoint, call, who));
    int http_status = 0;
    auto response = send_connector_request(request, call, who, &http_status);
    if (http_status == 401 && def_.http.auth.kind == HttpAuth::Kind::kOAuth2) {
      // The token may have been revoked or expired early: fetch a new one on the next attempt.
      forget_token();
      return Status::Unavailable(response.status().message() + " (a new OAuth2 token will be fetched)");
    }
    if (!response.ok()) return response.status();
    CADRE_ASSIGN_OR_RETURN(Json body, read_body(endpoint, *response, who));
    return Json{{"status", response->status}, {"body", body}};
  }

  Result<HttpRequest> build_request(const HttpEndpointDef& endpoint, const ToolCall& call, const std::string& who) {
    const Json scope = {{"args", call.args}, {"idempotency_key", call.idempotency_key}};
    HttpRequest request;
    request.method = endpoint.method;
    request.max_response_bytes = def_.http.max_response_bytes;
    Json path_scope = scope;
    path_scope["args"] = escaped_strings(call.args);
    CADRE_ASSIGN_OR_RETURN(Json path, render_template(Json(endpoint.path), path_scope));
    std::string base = def_.http.base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    request.url = base + as_text(path);
    CADRE_ASSIGN_OR_RETURN(Json query, render_template(endpoint.query, scope));
    std::string separator = request.url.find('?') == std::string::npos ? "?" : "&";
    for (const auto& [name, value] : query.items()) {
      if (value.is_null() || (value.is_string() && value.get<std::string>().empty())) continue;
      request.url += separator + url_escape(name) + "=" + url_escape(as_text(value));
      separator = "&";
    }
    for (const auto& [name, value] : def_.http.headers) {
      CADRE_ASSIGN_OR_RETURN(request.headers[name], resolve(value, "header " + name));
    }
    CADRE_ASSIGN_OR_RETURN(Json headers, render_template(endpoint.headers, scope));
    for (const auto& [name, value] : headers.items()) request.headers[name] = as_text(value);
    if (!endpoint.body.is_null()) {
      CADRE_ASSIGN_OR_RETURN(Json body, render_template(endpoint.body, scope));
      if (body.is_string()) {
        request.body = body.get<std::string>();
        if (!request.headers.count("Content-Type")) request.headers["Content-Type"] = "text/plain; charset=utf-8";
      } else {
        request.body = dump_json(body);
        request.headers["Content-Type"] = "application/json";
      }
    }
    if (endpoint.method != "GET" && endpoint.method != "HEAD" && !def_.http.idempotency_header.empty()) {
      request.headers[def_.http.idempotency_header] = call.idempotency_key;
    }
    if (endpoint.expect == "json") request.headers["Accept"] = "application/json";
    CADRE_RETURN_IF_ERROR(add_auth(request, call, who));
    return request;
  }

  Status add_auth(HttpRequest& request, const ToolCall& call, const std::string& who) {
    const HttpAuth& auth = def_.http.auth;
    switch (auth.kind) {
      case HttpAuth::Kind::kNone:
        return Status::Ok();
      case HttpAuth::Kind::kBearer: {
        CADRE_ASSIGN_OR_RETURN(std::string token, resolve(auth.token, "auth.token"));
        request.headers["Authorization"] = "Bearer " + token;
        return Status::Ok();
      }
      case HttpAuth::Kind::kBasic: {
        CADRE_ASSIGN_OR_RETURN(std::string password, resolve(auth.password, "auth.password"));
        request.headers["Authorization"] = "Basic " + base64_encode(auth.username + ":" + password);
        return Status::Ok();
      }
      case HttpAuth::Kind::kHeader: {
        CADRE_ASSIGN_OR_RETURN(request.headers[auth.header], resolve(auth.value, "auth.value"));
        return Status::Ok();
      }
      case HttpAuth::Kind::kOAuth2: {
        CADRE_ASSIGN_OR_RETURN(std::string token, oauth2_token(call, who));
        request.headers["Authorization"] = "Bearer " + token;
        return Status::Ok();
      }
    }
    return Status::Ok();
  }

  // The cached client-credentials token, or a new one.
  Result<std::string> oauth2_token(const ToolCall& call, const std::string& who) {
    const TimeMs now = call.clock ? call.clock->now_ms() : SystemClock::instance().now_ms();
    std::lock_guard lock(token_mutex_);
    if (!token_.empty() && now < token_expires_at_) return token_;
    const HttpAuth& auth = def_.http.auth;
    CADRE_ASSIGN_OR_RETURN(std::string secret, resolve(auth.client_secret, "auth.client_secret"));
    HttpRequest request;
    request.method = "POST";
    request.url = auth.token_url;
    request.max_response_bytes = 64 * 1024;
    request.headers["Content-Type"] = "application/x-www-form-urlencoded";
    request.headers["Accept"] = "application/json";
    request.headers["Authorization"] = "Basic " + base64_encode(url_escape(auth.client_id) + ":" + url_escape(secret));
    request.body = "grant_type=client_credentials";
    if (!auth.scope.empty()) request.body += "&scope=" + url_escape(auth.scope);
    CADRE_ASSIGN_OR_RETURN(HttpResponse response,
                           send_connector_request(request, call, who + ": OAuth2 token request"));
    auto parsed = parse_json(response.body, "the answer");
    if (!parsed.ok() || !parsed->is_object() || !(*parsed)["access_token"].is_string()) {
      return Status::FailedPrecondition(who + ": the OAuth2 token endpoint answered without an access_token: " +
                                        quoted_body(response.body));
    }
    token_ = (*parsed)["access_token"].get<std::string>();
    const int64_t lifetime_s = parsed->value("expires_in", int64_t{3600});
    token_expires_at_ = now + std::max<int64_t>(lifetime_s - 60, 1) * 1000;
    return token_;
  }

  void forget_token() {
    std::lock_guard lock(token_mutex_);
    token_.clear();
  }

  Result<Json> read_body(const HttpEndpointDef& endpoint, const HttpResponse& response, const std::string& who) {
    if (response.body.empty()) return Json();
    const std::string type = media_type(response);
    const bool json = is_json_media(type);
    if (endpoint.expect == "text" || (endpoint.expect == "any" && !json)) {
      if (!is_valid_utf8(response.body)) {
        return Status::FailedPrecondition(who + ": the answer (" + (type.empty() ? "no content type" : type) +
                                          ") is not UTF-8 text");
      }
      return Json(response.body);
    }
    if (endpoint.expect == "json" && !json) {
      return Status::FailedPrecondition(who + ": expected a JSON answer, got " +
                                        (type.empty() ? "no content type" : "'" + type + "'") + ": " +
                                        quoted_body(response.body));
    }
    auto parsed = parse_json(response.body, "the answer");
    if (!parsed.ok()) {
      return Status::FailedPrecondition(who + ": the answer is not valid JSON (" + parsed.status().message() +
                                        "): " + quoted_body(response.body));
    }
    return std::move(*parsed);
  }


  ConnectorDef def_;
  SecretResolver secrets_;
  std::mutex token_mutex_;
  std::string token_;
  TimeMs token_expires_at_ = 0;
};

}  // namespace

std::unique_ptr<Connector> make_http_connector(const ConnectorDef& def, const ConnectorEnv& env) {
  return std::make_unique<HttpConnector>(def, env);
}

}  // namespace cadre
