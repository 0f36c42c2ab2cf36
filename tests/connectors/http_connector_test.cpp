// The http connector and the hub's guard, against a real HTTP server on
// 127.0.0.1: requests built from templates (path arguments escaped, empty
// query values left out, the idempotency header on writes only), answers
// read as the endpoint expects, OAuth2 client credentials fetched once and
// again after a 401, and the guard's timeout and open circuit.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "connectors/connector.h"
#include "connectors/connector_def.h"
#include "connectors/connector_hub.h"
#include "core/diagnostics.h"

namespace cadre {
namespace {

using namespace std::chrono_literals;

class Api {
 public:
  Api() {
    // Recorded before the handler answers, so a test that got its answer finds the request here.
    http_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
      std::lock_guard lock(mutex);
      seen.push_back(req);
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http_.Get(R"(/items/(.*))", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(Json{{"raw_path", req.path}, {"query", req.params.size()}}.dump(), "application/json");
    });
    http_.Post("/items", [](const httplib::Request& req, httplib::Response& res) {
      res.status = 201;
      res.set_content(req.body, "application/json");
    });
    http_.Get("/text", [](const httplib::Request&, httplib::Response& res) { res.set_content("plain words", "text/plain"); });
    http_.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(1500ms);
      res.set_content("{}", "application/json");
    });
    http_.Get("/down", [](const httplib::Request&, httplib::Response& res) {
      res.status = 503;
      res.set_content("maintenance", "text/plain");
    });
    http_.Post("/token", [this](const httplib::Request& req, httplib::Response& res) {
      ++tokens_issued;
      token_auth = req.get_header_value("Authorization");
      token_body = req.body;
      res.set_content(Json{{"access_token", "tok-" + std::to_string(tokens_issued.load())}, {"expires_in", 3600}}.dump(),
                      "application/json");
    });
    http_.Get("/me", [this](const httplib::Request& req, httplib::Response& res) {
      if (req.get_header_value("Authorization") != "Bearer tok-" + std::to_string(valid_token.load())) {
        res.status = 401;
        res.set_content("expired", "text/plain");
        return;
      }
      res.set_content(R"({"me":"ok"})", "application/json");
    });
    port = http_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { http_.listen_after_bind(); });
    while (!http_.is_running()) std::this_thread::sleep_for(5ms);
  }
  ~Api() {
    http_.stop();
    thread_.join();
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port); }
  httplib::Request last() {
    std::lock_guard lock(mutex);
    return seen.empty() ? httplib::Request() : seen.back();
  }
  size_t count() {
    std::lock_guard lock(mutex);
    return seen.size();
  }

  int port = 0;
  std::atomic<int> tokens_issued{0};
  std::atomic<int> valid_token{1};
  std::string token_auth, token_body;
  std::mutex mutex;
  std::vector<httplib::Request> seen;

 private:
  httplib::Server http_;
  std::thread thread_;
};

ConnectorDef parse(const std::string& yaml) {
  Diagnostics diagnostics;
  auto def = parse_connector_file(yaml, "connectors/api.yaml", "api", &diagnostics);
  EXPECT_TRUE(diagnostics.empty()) << diagnostics.to_status().message();
  return def.value_or(ConnectorDef{});
}

class HttpConnectorTest : public ::testing::Test {
 protected:
  void open(const std::string& yaml, SecretResolver secrets = {}) {
    ConnectorDef def = parse(yaml);
    ConnectorEnv env{".", std::move(secrets), &SystemClock::instance(), nullptr};
    auto hub = ConnectorHub::open({def}, env, registry_);
    ASSERT_TRUE(hub.ok()) << hub.status().to_string();
    hub_ = std::move(*hub);
  }
  Result<Json> call(const std::string& tool, Json args, const std::string& key = "tsk_1-1") {
    auto found = registry_.find(tool);
    if (!found) return Status::NotFound(tool);
    ToolCall call{std::move(args), key, 1, 0, ".", &SystemClock::instance(), &retry_after_, {}};
    return found->invoke(call);
  }

  Api api_;
  ToolRegistry registry_;
  std::unique_ptr<ConnectorHub> hub_;
  DurationMs retry_after_ = -1;
};

TEST_F(HttpConnectorTest, PathArgumentsAreEscapedAndEmptyQueryValuesLeftOut) {
  open("type: http\nbase_url: " + api_.base() + "/\nendpoints:\n"
       "  get: {path: \"/items/{{ args.id }}\", query: {q: \"{{ args.q }}\", page: \"{{ args.page }}\"}}\n");
  auto got = call("api.get", {{"id", "a/b?c=d"}, {"q", "x y&z"}});
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ((*got)["status"], 200);
  // One path segment, decoded by the server: the '/' and '?' did not split it.
  EXPECT_EQ((*got)["body"]["raw_path"], "/items/a/b?c=d");
  EXPECT_EQ((*got)["body"]["query"], 1);
  const httplib::Request seen = api_.last();
  EXPECT_EQ(seen.get_param_value("q"), "x y&z");
  EXPECT_FALSE(seen.has_param("page"));
  EXPECT_FALSE(seen.has_header("Idempotency-Key")) << "a GET carries no idempotency key";
}

TEST_F(HttpConnectorTest, WritesCarryTheIdempotencyKeyAndATypedJsonBody) {
  open("type: http\nbase_url: " + api_.base() + "\nendpoints:\n"
       "  create: {method: post, path: /items, body: {name: \"{{ args.name }}\", seats: \"{{ args.seats }}\"}}\n");
  auto made = call("api.create", {{"name", "Acme"}, {"seats", 3}}, "tsk_9-4");
  ASSERT_TRUE(made.ok()) << made.status().to_string();
  EXPECT_EQ((*made)["status"], 201);
  EXPECT_EQ((*made)["body"], (Json{{"name", "Acme"}, {"seats", 3}}));
  EXPECT_EQ(api_.last().get_header_value("Idempotency-Key"), "tsk_9-4");
  EXPECT_EQ(api_.last().get_header_value("Content-Type"), "application/json");
  ToolSpec spec = registry_.find("api.create")->spec();
  EXPECT_EQ(spec.risk, RiskClass::kWrite);
  EXPECT_FALSE(spec.idempotent) << "POST is idempotent only when declared so";
}

TEST_F(HttpConnectorTest, AnswersAreReadAsTheEndpointExpects) {
  open("type: http\nbase_url: " + api_.base() + "\nendpoints:\n"
       "  text: {path: /text, expect: text}\n"
       "  strict: {path: /text}\n"
       "  any: {path: /text, expect: any}\n");
  EXPECT_EQ((*call("api.text", Json::object()))["body"], "plain words");
  EXPECT_EQ((*call("api.any", Json::object()))["body"], "plain words");
  auto strict = call("api.strict", Json::object());
  EXPECT_TRUE(strict.status().is(StatusCode::kFailedPrecondition));
  EXPECT_NE(strict.status().message().find("expected a JSON answer, got 'text/plain': plain words"), std::string::npos)
      << strict.status().message();
}

TEST_F(HttpConnectorTest, OAuth2TokensAreFetchedOnceAndAgainAfterA401) {
  SecretResolver secrets = [](std::string_view name) -> Result<std::string> {
    if (name == "CLIENT_SECRET") return std::string("s3cr3t");
    return Status::NotFound(std::string(name));
  };
  open("type: http\nbase_url: " + api_.base() + "\n"
       "auth: {type: oauth2, token_url: " + api_.base() + "/token, client_id: cadre, "
       "client_secret: \"${secret:CLIENT_SECRET}\", scope: read}\n"
       "endpoints:\n  me: {path: /me}\n",
       secrets);
  ASSERT_TRUE(call("api.me", Json::object()).ok());
  ASSERT_TRUE(call("api.me", Json::object()).ok());
  EXPECT_EQ(api_.tokens_issued.load(), 1);
  EXPECT_EQ(api_.token_auth, "Basic Y2FkcmU6czNjcjN0");  // cadre:s3cr3t
  EXPECT_EQ(api_.token_body, "grant_type=client_credentials&scope=read");
  api_.valid_token = 2;  // the server revoked the first token
  auto refused = call("api.me", Json::object());
  EXPECT_TRUE(refused.status().is(StatusCode::kUnavailable)) << refused.status().to_string();
  EXPECT_TRUE(call("api.me", Json::object()).ok());
  EXPECT_EQ(api_.tokens_issued.load(), 2);
}

TEST_F(HttpConnectorTest, TheGuardCutsSlowCallsAndAnOpenCircuitRefusesAtOnce) {
  open("type: http\nbase_url: " + api_.base() + "\ntimeout: 300ms\nbreaker: {failures: 2, open_for: 1m}\n"
       "endpoints:\n  slow: {path: /slow}\n  down: {path: /down}\n");
  auto slow = call("api.slow", Json::object());
  EXPECT_TRUE(slow.status().is(StatusCode::kDeadlineExceeded)) << slow.status().to_string();
  auto down = call("api.down", Json::object());
  EXPECT_TRUE(down.status().is(StatusCode::kUnavailable)) << down.status().to_string();
  EXPECT_NE(down.status().message().find("answered 503 Service Unavailable: maintenance"), std::string::npos);
  const size_t requests = api_.count();
  auto refused = call("api.down", Json::object());
  EXPECT_TRUE(refused.status().is(StatusCode::kUnavailable));
  EXPECT_NE(refused.status().message().find("connector 'api'"), std::string::npos) << refused.status().message();
  EXPECT_GT(retry_after_, 50000) << "an open circuit asks the step to come back when it may try again";
  EXPECT_EQ(api_.count(), requests) << "an open circuit does not reach the API";
  Json health = hub_->health()["api"];
  EXPECT_EQ(health["state"], "open");
  EXPECT_EQ(health["failures"], 2);
}

TEST(ConnectorDefTest, DeclaredToolsFollowTheDeclaration) {
  Diagnostics diagnostics;
  auto connectors = parse_connectors_section(
      "connectors:\n"
      "  mail:\n"
      "    type: email\n"
      "    smtp: {url: \"smtp://127.0.0.1:2525\", username: me, password: \"${secret:SMTP}\"}\n"
      "    from: me@example.com\n"
      "  docs: {type: files, root: shared, read_only: true}\n"
      "  hook: {type: webhook, url: \"http://127.0.0.1:9/x\", secret: \"${env:HOOK}\"}\n"
      "  srv: {type: mcp, url: \"http://127.0.0.1:9/mcp\", tools: {danger: {risk: irreversible}}}\n",
      "cadre.yaml", &diagnostics);
  ASSERT_TRUE(diagnostics.empty()) << diagnostics.to_status().message();
  ASSERT_EQ(connectors.size(), 4u);
  auto names = [](const ConnectorDef& def) {
    std::vector<std::string> out;
    for (const auto& spec : declared_tools(def)) out.push_back(spec.name + ":" + std::string(to_string(spec.risk)));
    return out;
  };
  EXPECT_EQ(names(connectors[0]), std::vector<std::string>{"mail.send:irreversible"});
  EXPECT_EQ(names(connectors[1]), (std::vector<std::string>{"docs.read:read", "docs.list:read"}));
  EXPECT_EQ(names(connectors[2]), std::vector<std::string>{"hook.send:write"});
  EXPECT_TRUE(names(connectors[3]).empty());
  EXPECT_EQ(connectors[3].mcp.tools.at("danger").risk, RiskClass::kIrreversible);
}

TEST(ConnectorDefTest, MistakesAreDiagnosedWithTheirPlace) {
  Diagnostics diagnostics;
  parse_connectors_section("connectors:\n"
                           "  m: {type: email}\n"
                           "  s: {type: mcp, command: [node], url: \"http://x\"}\n"
                           "  h:\n"
                           "    type: http\n"
                           "    base_url: http://x\n"
                           "    retry: {attempts: 0}\n"
                           "    breaker: {failures: 0}\n"
                           "    endpoints:\n"
                           "      a: {path: \"/{{ args.id \", args: {type: string}}\n"
                           "      b: {path: /b, query: {q: \"{{ input.q }}\"}}\n",
                           "cadre.yaml", &diagnostics);
  const std::string all = diagnostics.to_status().message();
  EXPECT_NE(all.find("an email connector needs smtp (to send), imap (to receive) or both"), std::string::npos) << all;
  EXPECT_NE(all.find("exactly one of command (stdio) or url"), std::string::npos) << all;
  EXPECT_NE(all.find("cadre.yaml:7:"), std::string::npos) << all;
  EXPECT_NE(all.find("connectors.h.breaker.failures"), std::string::npos) << all;
  EXPECT_NE(all.find("connectors.h.endpoints.a.path"), std::string::npos) << all;
  EXPECT_NE(all.find("must be a JSON Schema of type object"), std::string::npos) << all;
  EXPECT_NE(all.find("cadre.yaml:11:28: connectors.h.endpoints.b.query: unknown name 'input' in template (an "
                     "endpoint sees args and idempotency_key)"),
            std::string::npos)
      << all;
}

}  // namespace
}  // namespace cadre
