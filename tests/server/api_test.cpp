// The workspace API over real HTTP on 127.0.0.1: `cadre serve --port 0` in
// a workspace, a token made with `cadre token create`, and a plain HTTP
// client. Every route the OpenAPI document lists exists and refuses a caller
// without credentials; sessions carry an HttpOnly, SameSite=Strict cookie and
// need the CSRF token to change anything; oversized, malformed and
// schema-breaking bodies get clear 4xx answers naming the field; and an
// approval answered through the API lets its run finish.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "core/json.h"
#include "core/webhook_signature.h"
#include "test_support.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::contains;
using testing::eventually;
using testing::kExitOk;
using testing::read_file;
using testing::run_cadre;
using testing::TempDir;
using testing::write_file;

constexpr char kNeedsApproval[] =
    "description: Send a note\n"
    "inputs:\n  text: {type: string, default: hello}\n"
    "steps:\n"
    "  - id: send\n    uses: file.append\n    with: {path: outbox/sent.log, content: \"{{ input.text }}\"}\n";

class Api : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(run_cadre({"init", ws_.string()}).exit_code, kExitOk);
    write_file(ws_ / "cadre.yaml",
               "name: api\nkernel: {workers: 2, poll_interval: 50ms, heartbeat: 1s, lease: 3s, shutdown_grace: 1s}\n"
               "server: {hooks: {shop: {secret: \"${secret:SHOP_HOOK}\", event: order.paid, tolerance: 1m}}}\n"
               "metrics: {storage_usd_per_gib: 1000000}\n");
    write_file(ws_ / "playbooks" / "paid.yaml",
               "description: Record a paid order\ntriggers:\n  - event: order.paid\n"
               "    inputs: {order: \"{{ event.data.order }}\"}\n"
               "inputs:\n  order: {type: string}\n"
               "steps:\n  - id: note\n    uses: file.append\n    with: {path: paid.log, content: \"{{ input.order }}\"}\n");
    ASSERT_EQ(testing::run_cadre_with_input({"secret", "set", "SHOP_HOOK"}, ws_, "hook-key-1\n").exit_code, kExitOk);
    write_file(ws_ / "playbooks" / "send.yaml", kNeedsApproval);
    write_file(ws_ / "policies.yaml",
               "rules:\n  - name: outbox\n    match: {tool: file.append, args: {path: {matches: \"outbox/*\"}}}\n"
               "    decision: require_approval\n    reason: the founder reads what goes out\n");
    auto created = run_cadre({"token", "create", "tests"}, ws_);
    ASSERT_EQ(created.exit_code, kExitOk) << created.err;
    token_ = created.out.substr(created.out.find_last_of(" \n", created.out.size() - 2) + 1);
    while (!token_.empty() && (token_.back() == '\n' || token_.back() == ' ')) token_.pop_back();
    server_ = testing::spawn_cadre({"serve"}, ws_, dir_.path() / "serve.log");
    ASSERT_TRUE(eventually([&] { return fs::exists(ws_ / ".cadre" / "server.json"); }, 15s))
        << read_file(dir_.path() / "serve.log.err");
    Json where = *parse_json(read_file(ws_ / ".cadre" / "server.json"), "server.json");
    port_ = where["port"].get<int>();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_read_timeout(10, 0);
  }
  void TearDown() override {
    if (server_ > 0) testing::stop_process(server_, SIGTERM);
  }

  httplib::Headers bearer() const { return {{"Authorization", "Bearer " + token_}}; }
  static Json body_of(const httplib::Result& r) {
    if (!r) return Json();
    return parse_json(r->body, "answer").value_or(Json());
  }

  TempDir dir_;
  fs::path ws_ = dir_.path() / "ws";
  std::string token_;
  int server_ = -1;
  int port_ = 0;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(Api, EveryDocumentedRouteExistsAndRefusesCallersWithoutCredentials) {
  auto doc = client_->Get("/api/v1/openapi.json");
  ASSERT_TRUE(doc);
  ASSERT_EQ(doc->status, 200);
  Json openapi = body_of(doc);
  EXPECT_EQ(openapi["openapi"], "3.0.3");
  int checked = 0;
  for (const auto& [path, operations] : openapi["paths"].items()) {
    std::string concrete = path;
    for (size_t at = concrete.find('{'); at != std::string::npos; at = concrete.find('{')) {
      concrete.replace(at, concrete.find('}', at) - at + 1, "nosuchthing");
    }
    for (const auto& [method, operation] : operations.items()) {
      const bool open = operation.contains("security") && operation["security"].empty();
      httplib::Result anonymous = method == "get"      ? client_->Get(concrete.c_str())
                                  : method == "delete" ? client_->Delete(concrete.c_str())
                                                       : client_->Post(concrete.c_str(), "{}", "application/json");
      ASSERT_TRUE(anonymous) << method << " " << path;
      if (!open) {
        EXPECT_EQ(anonymous->status, 401) << method << " " << path << ": " << anonymous->body;
      }
      httplib::Result known = method == "get"      ? client_->Get(concrete.c_str(), bearer())
                              : method == "delete" ? client_->Delete(concrete.c_str(), bearer())
                                                   : client_->Post(concrete.c_str(), bearer(), "{}", "application/json");
      ASSERT_TRUE(known) << method << " " << path;
      EXPECT_FALSE(contains(known->body, "no such route")) << method << " " << path << " is documented but not served";
      EXPECT_LT(known->status, 500) << method << " " << path << ": " << known->body;
      ++checked;
    }
  }
  EXPECT_GE(checked, 25);
  // And nothing is served that is not documented: an unknown route is a JSON 404.
  auto unknown = client_->Get("/api/v1/not-a-route", bearer());
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(body_of(unknown)["error"]["code"], "not_found");
}

TEST_F(Api, WrongAndRevokedTokensAreRefused) {
  auto wrong = client_->Get("/api/v1/status", httplib::Headers{{"Authorization", "Bearer cadre_not-a-token"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(wrong->get_header_value("WWW-Authenticate"), "Bearer");
  auto good = client_->Get("/api/v1/status", bearer());
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200);
  ASSERT_EQ(run_cadre({"token", "revoke", "tests"}, ws_).exit_code, kExitOk);
  auto revoked = client_->Get("/api/v1/status", bearer());
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->status, 401);
}

TEST_F(Api, ABrowserSessionNeedsTheCsrfTokenToChangeAnything) {
  auto login = client_->Post("/api/v1/session", dump_json(Json{{"token", token_}}), "application/json");
  ASSERT_TRUE(login);
  ASSERT_EQ(login->status, 200) << login->body;
  const std::string cookie = login->get_header_value("Set-Cookie");
  EXPECT_TRUE(contains(cookie, "HttpOnly")) << cookie;
  EXPECT_TRUE(contains(cookie, "SameSite=Strict")) << cookie;
  const std::string csrf = body_of(login)["csrf_token"].get<std::string>();
  const httplib::Headers session = {{"Cookie", cookie.substr(0, cookie.find(';'))}};

  auto read = client_->Get("/api/v1/agents", session);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 200) << "reading needs no CSRF token";
  auto forged = client_->Post("/api/v1/pause", session, "{}", "application/json");
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 403) << forged->body;
  httplib::Headers wrong = session;
  wrong.emplace("X-CSRF-Token", "not-the-token");
  auto mistaken = client_->Post("/api/v1/pause", wrong, "{}", "application/json");
  ASSERT_TRUE(mistaken);
  EXPECT_EQ(mistaken->status, 403);
  httplib::Headers with = session;
  with.emplace("X-CSRF-Token", csrf);
  auto paused = client_->Post("/api/v1/pause", with, R"({"reason":"lunch"})", "application/json");
  ASSERT_TRUE(paused);
  EXPECT_EQ(paused->status, 200) << paused->body;
  EXPECT_TRUE(contains(run_cadre({"status"}, ws_).out, "lunch"));

  auto logout = client_->Delete("/api/v1/session", with);
  ASSERT_TRUE(logout);
  EXPECT_EQ(logout->status, 200);
  auto after = client_->Get("/api/v1/agents", session);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 401);
}

TEST_F(Api, ASignedWebhookBecomesOneEventAndForgeriesAreRefused) {
  const std::string body = R"({"order": "A-17"})";
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  const httplib::Headers signed_headers = {{kWebhookSignatureHeader, sign_webhook("hook-key-1", now, body)}};
  auto first = client_->Post("/hooks/shop", signed_headers, body, "application/json");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 202) << first->body;
  auto again = client_->Post("/hooks/shop", signed_headers, body, "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 202);
  EXPECT_EQ(body_of(again)["event"], body_of(first)["event"]) << "a delivery sent twice is one event";

  auto forged = client_->Post("/hooks/shop", httplib::Headers{{kWebhookSignatureHeader, sign_webhook("guess", now, body)}},
                              body, "application/json");
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 401);
  auto stale = client_->Post("/hooks/shop",
                             httplib::Headers{{kWebhookSignatureHeader, sign_webhook("hook-key-1", now - 600, body)}},
                             body, "application/json");
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->status, 401) << "older than the hook's tolerance";
  auto unsigned_post = client_->Post("/hooks/shop", body, "application/json");
  ASSERT_TRUE(unsigned_post);
  EXPECT_NE(unsigned_post->status, 202);
  auto unknown = client_->Post("/hooks/nobody", signed_headers, body, "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);

  ASSERT_TRUE(eventually([&] { return read_file(ws_ / "paid.log") == "A-17\n"; }, 15s)) << read_file(ws_ / "paid.log");
  std::this_thread::sleep_for(1500ms);  // a second trigger pass finds nothing new
  EXPECT_EQ(read_file(ws_ / "paid.log"), "A-17\n");
}

TEST_F(Api, ManualWorkMovesCoverageAndMetricsAreScrapedWithAToken) {
  auto run = client_->Post("/api/v1/playbooks/paid/runs", bearer(), R"({"inputs": {"order": "B-2"}})",
                           "application/json");
  ASSERT_TRUE(run);
  ASSERT_EQ(run->status, 201) << run->body;
  const std::string objective = body_of(run)["objective"];
  ASSERT_TRUE(eventually([&] {
    return body_of(client_->Get(("/api/v1/objectives/" + objective).c_str(), bearer()))["objective"]["state"] ==
           "succeeded";
  }, 15s));
  auto logged = client_->Post("/api/v1/manual-work", bearer(),
                              R"({"description": "answered a refund email by hand", "minutes": 10})", "application/json");
  ASSERT_TRUE(logged);
  ASSERT_EQ(logged->status, 201) << logged->body;
  auto bad = client_->Post("/api/v1/manual-work", bearer(), R"({"description": "x", "minutes": -3})",
                           "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(body_of(bad)["error"]["field"], "/minutes");
  Json figures = body_of(client_->Get("/api/v1/metrics?days=7", bearer()));
  ASSERT_TRUE(figures.contains("overall")) << figures;
  EXPECT_EQ(figures["overall"]["automation"]["runs"], 1) << figures["overall"];
  EXPECT_EQ(figures["overall"]["automation"]["manual"], 1) << figures["overall"];
  EXPECT_DOUBLE_EQ(figures["overall"]["automation"]["coverage"].get<double>(), 0.5);
  // The journal's storage is priced as cadre.yaml says: a finished run costs something.
  EXPECT_EQ(figures["prices"]["storage_usd_per_gib"], 1000000.0) << figures["prices"];
  EXPECT_GT(figures["overall"]["cost"]["storage_usd"].get<double>(), 0.0) << figures["overall"]["cost"];

  auto anonymous = client_->Get("/metrics");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  auto scraped = client_->Get("/metrics", bearer());
  ASSERT_TRUE(scraped);
  ASSERT_EQ(scraped->status, 200);
  EXPECT_TRUE(contains(scraped->get_header_value("Content-Type"), "text/plain; version=0.0.4"));
  EXPECT_TRUE(contains(scraped->body, "# TYPE cadre_")) << scraped->body.substr(0, 500);
}

TEST_F(Api, BadBodiesGetClearErrorsNamingTheField) {
  auto malformed = client_->Post("/api/v1/objectives", bearer(), "{\"text\": ", "application/json");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
  EXPECT_EQ(body_of(malformed)["error"]["field"], "body");
  auto wrong = client_->Post("/api/v1/objectives", bearer(), R"({"text": 42})", "application/json");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 400);
  EXPECT_EQ(body_of(wrong)["error"]["field"], "/text");
  auto big = client_->Post("/api/v1/objectives", bearer(), "{\"text\": \"" + std::string(2 << 20, 'x') + "\"}",
                           "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(body_of(big)["error"]["code"], "resource_exhausted");
  auto limit = client_->Get("/api/v1/objectives?limit=zero", bearer());
  ASSERT_TRUE(limit);
  EXPECT_EQ(limit->status, 400);
  EXPECT_EQ(body_of(limit)["error"]["field"], "limit");
  auto status = client_->Get("/api/v1/status", bearer());
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200) << "the server is still up";
}

TEST_F(Api, AnApprovalEditedThroughTheApiLetsTheRunFinish) {
  auto run = client_->Post("/api/v1/playbooks/send/runs", bearer(), R"({"inputs": {"text": "draft"}})",
                           "application/json");
  ASSERT_TRUE(run);
  ASSERT_EQ(run->status, 201) << run->body;
  const std::string objective = body_of(run)["objective"];
  Json items;
  ASSERT_TRUE(eventually([&] {
    items = body_of(client_->Get("/api/v1/approvals", bearer()));
    return items.is_array() && !items.empty();
  }, 15s));
  const std::string id = items[0]["id"];
  auto bad = client_->Post(("/api/v1/approvals/" + id + "/approve").c_str(), bearer(), R"({"args": {"path": 3}})",
                           "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  auto approved = client_->Post(("/api/v1/approvals/" + id + "/approve").c_str(), bearer(),
                                R"({"args": {"path": "outbox/sent.log", "content": "final"}, "note": "reworded"})",
                                "application/json");
  ASSERT_TRUE(approved);
  ASSERT_EQ(approved->status, 200) << approved->body;
  EXPECT_EQ(body_of(approved)["answered_by"], "api:tests");
  ASSERT_TRUE(eventually([&] {
    return body_of(client_->Get(("/api/v1/objectives/" + objective).c_str(), bearer()))["objective"]["state"] ==
           "succeeded";
  }, 15s));
  EXPECT_EQ(read_file(ws_ / "outbox" / "sent.log"), "final\n");
  auto twice = client_->Post(("/api/v1/approvals/" + id + "/reject").c_str(), bearer(), R"({"reason": "late"})",
                             "application/json");
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->status, 409) << twice->body;
}

}  // namespace
}  // namespace cadre
