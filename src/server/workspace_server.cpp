#include "server/workspace_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "core/hash.h"
#include "core/json_schema.h"
#include "core/webhook_signature.h"
#include "server/auth.h"
#include "server/metrics.h"
#include "server/prometheus.h"

namespace cadre {

namespace {

constexpr char kApiVersion[] = "1";

void send_json(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(dump_json(body), "application/json");
}

void send(httplib::Response& res, const ApiResponse& answer) { send_json(res, answer.status, answer.body); }

ApiResponse unauthenticated() {
  return {401, {{"error",
                 {{"code", "unauthenticated"},
                  {"message", "a bearer token (cadre token create NAME) or a session is required"}}}}};
}

// "/api/v1/objectives/{id}" -> the regex "/api/v1/objectives/([^/]+)" and {"id"}.
std::string path_regex(const std::string& path, std::vector<std::string>* names) {
  std::string regex;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '{') {
      const size_t end = path.find('}', i);
      names->push_back(path.substr(i + 1, end - i - 1));
      regex += "([^/]+)";
      i = end;
    } else if (std::string_view(".+*?()[]^$|\\").find(path[i]) != std::string_view::npos) {
      regex += std::string("\\") + path[i];
    } else {
      regex += path[i];
    }
  }
  return regex;
}

}  // namespace

WorkspaceServer::WorkspaceServer(ApiContext context, ServerOptions options)
    : context_(context), options_(std::move(options)), http_(std::make_unique<httplib::Server>()) {}

WorkspaceServer::~WorkspaceServer() { stop(); }

Status WorkspaceServer::start() {
  install_routes();
  const std::string where = options_.bind + ":" + std::to_string(options_.port);
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.bind);
    if (port_ <= 0) return Status::Unavailable("cannot listen on " + options_.bind + " (any port)");
  } else {
    if (!http_->bind_to_port(options_.bind, options_.port)) {
      return Status::Unavailable("cannot listen on " + where +
                                 " (in use, or not an address of this machine); choose another with --port/--bind");
    }
    port_ = options_.port;
  }
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  spdlog::info("workspace API on http://{}:{}/api/v1 (OpenAPI: /api/v1/openapi.json)", options_.bind, port_);
  return Status::Ok();
}

void WorkspaceServer::stop() {
  if (!thread_.joinable()) return;
  http_->stop();
  thread_.join();
}

void WorkspaceServer::install_routes() {
  httplib::Server& http = *http_;
  const int threads = options_.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http.set_payload_max_length(static_cast<size_t>(options_.max_body_bytes));
  const int64_t max_body = options_.max_body_bytes;
  http.set_error_handler([max_body](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string message = req.method + " " + req.path + ": no such route";
    std::string code = "not_found";
    if (res.status == 413) {
      message = "the request body is larger than " + std::to_string(max_body) + " bytes";
      code = "resource_exhausted";
    } else if (res.status != 404) {
      message = req.method + " " + req.path + ": HTTP " + std::to_string(res.status);
      code = "invalid_argument";
    }
    send_json(res, res.status, {{"error", {{"code", code}, {"message", message}}}});
  });
  http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr failure) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("{} {}: unexpected failure: {}", req.method, req.path, what);
    send_json(res, 500, {{"error", {{"code", "internal"}, {"message", "an unexpected failure (logged)"}}}});
  });

  routes_ = api_routes(context_);
  const bool secure_cookie = options_.secure_cookie;
  Store* store = context_.store;
  const Clock* clock = context_.clock ? context_.clock : &SystemClock::instance();

  // The session routes (login, whoami, logout) and the OpenAPI document.
  std::vector<Route> own;
  own.push_back({"POST", "/api/v1/session", "Log in with a token: a session cookie and a CSRF token", false, true,
                 Json{{"type", "object"},
                      {"properties", {{"token", {{"type", "string"}}}}},
                      {"required", {"token"}},
                      {"additionalProperties", false}},
                 nullptr});
  own.push_back({"GET", "/api/v1/session", "Who is calling; a fresh CSRF token for a session", true, false, nullptr,
                 nullptr});
  own.push_back({"DELETE", "/api/v1/session", "Log out", true, true, nullptr, nullptr});
  own.push_back({"GET", "/api/v1/openapi.json", "This document", false, false, nullptr, nullptr});
  own.push_back({"GET", "/metrics", "The metrics in Prometheus's text format (a bearer token is required)", true,
                 false, nullptr, nullptr});
  own.push_back({"POST", "/hooks/{name}",
                 "An inbound webhook (server.hooks): signed in the Cadre-Signature header (t=SECONDS,v1=HMAC-SHA256 "
                 "of SECONDS.BODY); raised as one event",
                 false, true, Json{{"description", "any JSON"}}, nullptr});
  std::vector<Route> all = own;
  all.insert(all.end(), routes_.begin(), routes_.end());
  auto openapi = std::make_shared<Json>(openapi_document(all, kApiVersion));

  http.Get("/api/v1/openapi.json",
           [openapi](const httplib::Request&, httplib::Response& res) { send_json(res, 200, *openapi); });

  http.Post("/api/v1/session", [store, clock, secure_cookie](const httplib::Request& req, httplib::Response& res) {
    auto body = parse_json(req.body, "body");
    if (!body.ok() || !body->is_object() || !(*body)["token"].is_string()) {
      send(res, error_response(Status::InvalidArgument("body: expected {\"token\": \"cadre_...\"}"), "token"));
      return;
    }
    auto session = open_session(*store, (*body)["token"].get<std::string>(), clock->now_ms(),
                                kDefaultSessionLifetime, secure_cookie);
    if (!session.ok()) {
      if (session.status().is(StatusCode::kFailedPrecondition)) {
        send(res, unauthenticated());
      } else {
        send(res, error_response(session.status()));
      }
      return;
    }
    res.set_header("Set-Cookie", session->set_cookie);
    send_json(res, 200, {{"csrf_token", session->csrf_token}, {"expires_at", format_time_utc(session->expires_at)}});
  });

  // Who calls `req`: nullopt after answering 401 (or 500).
  auto caller = [store, clock](const httplib::Request& req, httplib::Response& res) -> std::optional<Principal> {
    auto who = authenticate(*store, req.get_header_value("Authorization"), req.get_header_value("Cookie"),
                            clock->now_ms());
    if (!who.ok()) {
      send(res, error_response(who.status()));
      return std::nullopt;
    }
    if (!who->has_value()) {
      res.set_header("WWW-Authenticate", "Bearer");
      send(res, unauthenticated());
      return std::nullopt;
    }
    return **who;
  };

  http.Get("/api/v1/session", [store, caller](const httplib::Request& req, httplib::Response& res) {
    auto who = caller(req, res);
    if (!who) return;
    Json body = {{"token", who->token_name}, {"session", who->via_session}};
    if (who->via_session) {
      auto csrf = renew_csrf_token(*store, *who);
      if (!csrf.ok()) {
        send(res, error_response(csrf.status()));
        return;
      }
      body["csrf_token"] = *csrf;
    }
    send_json(res, 200, body);
  });

  http.Delete("/api/v1/session", [store, clock, caller, secure_cookie](const httplib::Request& req,
                                                                      httplib::Response& res) {
    auto who = caller(req, res);
    if (!who) return;
    Status closed = close_session(*store, *who, clock->now_ms());
    if (!closed.ok()) {
      send(res, error_response(closed));
      return;
    }
    res.set_header("Set-Cookie", clear_session_cookie(secure_cookie));
    send_json(res, 200, {{"logged_out", who->via_session}});
  });

  install_hooks();

  // Prometheus scrapes with a bearer token (authorization: {credentials: TOKEN}).
  const Workspace* workspace = context_.workspace;
  http.Get("/metrics", [store, clock, caller, workspace](const httplib::Request& req, httplib::Response& res) {
    if (!caller(req, res)) return;
    auto figures = compute_metrics(*store, *workspace, clock->now_ms(), metrics_options(*workspace));
    if (!figures.ok()) {
      send(res, error_response(figures.status()));
      return;
    }
    res.set_header("Cache-Control", "no-store");
    res.set_content(render_prometheus(*figures), "text/plain; version=0.0.4; charset=utf-8");
  });

  for (const Route& route : routes_) {
    std::vector<std::string> names;
    const std::string pattern = path_regex(route.path, &names);
    auto handle = [route, names, store, clock, caller](const httplib::Request& req, httplib::Response& res) {
      ApiRequest request;
      request.method = route.method;
      request.path = req.path;
      request.now = clock->now_ms();
      if (route.needs_auth) {
        auto who = caller(req, res);
        if (!who) return;
        if (who->via_session && route.changes_state) {
          Status csrf = check_csrf(*store, *who, req.get_header_value("X-CSRF-Token"));
          if (!csrf.ok()) {
            send_json(res, 403, {{"error", {{"code", "forbidden"}, {"message", csrf.message()}}}});
            return;
          }
        }
        request.actor = who->actor();
      }
      for (size_t i = 0; i < names.size() && i + 1 < req.matches.size(); ++i) {
        request.params[names[i]] = req.matches[i + 1].str();
      }
      for (const auto& [name, value] : req.params) request.query.emplace(name, value);
      if (!route.request_schema.is_null()) {
        auto body = req.body.empty() ? Result<Json>(Json::object()) : parse_json(req.body, "body");
        if (!body.ok()) {
          send(res, error_response(body.status(), "body"));
          return;
        }
        auto errors = validate_json(route.request_schema, *body);
        if (!errors.empty()) {
          const std::string field = errors.front().path.empty() ? "body" : errors.front().path;
          send(res, error_response(Status::InvalidArgument("body: " + describe(errors)), field));
          return;
        }
        request.body = std::move(*body);
      } else if (!req.body.empty()) {
        send(res, error_response(Status::InvalidArgument("body: this route takes no body"), "body"));
        return;
      }
      send(res, route.handler(request));
    };
    if (route.method == "GET") http.Get(pattern, handle);
    if (route.method == "POST") http.Post(pattern, handle);
    if (route.method == "DELETE") http.Delete(pattern, handle);
  }
}

// POST /hooks/NAME: a signed delivery becomes one event. The event's id is
// derived from the hook and the signature header, so a delivery sent again
// (a sender's retry, or a replay within the tolerance) is raised once.
void WorkspaceServer::install_hooks() {
  const ApiContext context = context_;
  const Clock* clock = context_.clock ? context_.clock : &SystemClock::instance();
  http_->Post(R"(/hooks/([a-z0-9._-]+))", [context, clock](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1].str();
    const auto& hooks = context.workspace->config.server.hooks;
    auto hook = hooks.find(name);
    if (hook == hooks.end()) {
      send(res, error_response(Status::NotFound("there is no hook '" + name + "' (server.hooks in cadre.yaml)")));
      return;
    }
    auto secret = resolve_references(hook->second.secret, context.secrets, "server.hooks." + name + ".secret");
    if (!secret.ok()) {
      spdlog::error("hook {}: {}", name, secret.status().message());
      send(res, error_response(Status::Unavailable("hook '" + name + "' cannot check signatures: its secret is missing")));
      return;
    }
    const TimeMs now = clock->now_ms();
    const std::string signature = req.get_header_value(kWebhookSignatureHeader);
    Status verified = verify_webhook(*secret, signature, req.body, now / 1000, hook->second.tolerance / 1000);
    if (!verified.ok()) {
      send_json(res, 401, {{"error", {{"code", "unauthenticated"}, {"message", verified.message()}}}});
      return;
    }
    auto data = parse_json(req.body, "body");
    if (!data.ok()) {
      send(res, error_response(data.status(), "body"));
      return;
    }
    EventRecord event{"evt_hook_" + sha256_hex(name + "|" + signature).substr(0, 32), hook->second.event,
                      std::move(*data), "webhook:" + name, now, false};
    Status raised = context.store->emit_event(event);
    if (!raised.ok()) {
      send(res, error_response(raised));
      return;
    }
    send_json(res, 202, {{"event", event.id}, {"name", event.name}});
  });
}

}  // namespace cadre
