// Connectors through the real `cadre` binary, against real servers on
// 127.0.0.1 started by the tests:
//   - a faulty HTTP API (500, 429 with Retry-After, a hang, HTML instead of
//     JSON, a 10 MB body, connection resets): each gives a clear error after
//     the configured retries, the circuit opens, half-opens and closes again,
//     `cadre connectors` shows it, and `cadre serve` stays up throughout;
//   - a sink counting POSTs by Idempotency-Key while `cadre serve` is killed
//     (-9) ten times during a run of 100 POSTs: every item reaches the sink
//     under one key only, so the API can act on each exactly once;
//   - a signed webhook verified by the receiver with the shared secret;
//   - bearer auth from `cadre secret set`, and the secret redacted from an
//     error that echoes it;
//   - the files connector's read, write, list, and traversal refused;
//   - the MCP reference server from npm over stdio and streamable HTTP;
//   - `cadre check` naming the line of each connector mistake.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/json.h"
#include "core/webhook_signature.h"
#include "test_support.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::CommandResult;
using testing::contains;
using testing::eventually;
using testing::json_of;
using testing::kExitOk;
using testing::read_file;
using testing::run_cadre;
using testing::TempDir;
using testing::write_file;


// An HTTP API on 127.0.0.1 that misbehaves on purpose, and records what it saw.
class FaultyApi {
 public:
  FaultyApi() {
    http_.Get("/ok", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      ok_at.push_back(std::chrono::steady_clock::now());
      res.set_content(R"({"ok":true})", "application/json");
    });
    http_.Get("/fail", [this](const httplib::Request&, httplib::Response& res) {
      ++fail_calls;
      if (healthy) {
        res.set_content(R"({"recovered":true})", "application/json");
      } else {
        res.status = 500;
        res.set_content("boom: the database is on fire", "text/plain");
      }
    });
    http_.Get("/limited", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      limited_at.push_back(std::chrono::steady_clock::now());
      if (limited_at.size() == 1) {
        res.status = 429;
        res.set_header("Retry-After", "1");
        res.set_content("slow down", "text/plain");
      } else {
        res.set_content(R"({"ok":true})", "application/json");
      }
    });
    http_.Get("/hang", [this](const httplib::Request&, httplib::Response& res) {
      for (int i = 0; i < 50 && !stopping_; ++i) std::this_thread::sleep_for(100ms);
      res.set_content(R"({"late":true})", "application/json");
    });
    http_.Get("/html", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("<html><body>Maintenance</body></html>", "text/html");
    });
    http_.Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("[" + std::string(10 * 1024 * 1024, ' ') + "]", "application/json");
    });
    http_.Get("/secret", [](const httplib::Request& req, httplib::Response& res) {
      const std::string auth = req.get_header_value("Authorization");
      if (auth != "Bearer tok-12345-very-secret") {
        res.status = 401;
        res.set_content("bad credentials: you sent '" + auth + "'", "text/plain");
        return;
      }
      res.set_content(R"({"hello":"authorized"})", "application/json");
    });
    http_.Get("/echo-secret", [](const httplib::Request& req, httplib::Response& res) {
      res.status = 400;
      res.set_content("you sent " + req.get_header_value("Authorization"), "text/plain");
    });
    http_.Post("/sink", [this](const httplib::Request& req, httplib::Response& res) {
      std::this_thread::sleep_for(40ms);  // widens the window a crash can fall into
      const std::string key = req.get_header_value("Idempotency-Key");
      auto body = parse_json(req.body, "sink body");
      const std::string item = body.ok() ? dump_json((*body)["item"]) : "?";
      std::lock_guard lock(mutex_);
      ++requests_by_key[key];
      keys_by_item[item].insert(key);
      if (!acted.count(key)) acted[key] = item;  // an API honouring the key acts once per key
      res.set_content(R"({"stored":true})", "application/json");
    });
    http_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      hooks.push_back({req.get_header_value(kWebhookSignatureHeader), req.get_header_value("Idempotency-Key"),
                       req.body});
      res.status = 204;
    });
    port = http_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { http_.listen_after_bind(); });
    while (!http_.is_running()) std::this_thread::sleep_for(5ms);
    start_resetter();
  }
  ~FaultyApi() {
    stopping_ = true;
    http_.stop();
    if (thread_.joinable()) thread_.join();
    ::shutdown(reset_fd_, SHUT_RDWR);
    ::close(reset_fd_);
    if (resetter_.joinable()) resetter_.join();
  }

  int port = 0;
  int reset_port = 0;  // accepts and resets every connection
  std::atomic<bool> healthy{false};
  std::atomic<int> fail_calls{0};
  std::atomic<int> resets{0};
  std::mutex mutex_;
  std::vector<std::chrono::steady_clock::time_point> limited_at, ok_at;
  std::map<std::string, int> requests_by_key;
  std::map<std::string, std::set<std::string>> keys_by_item;
  std::map<std::string, std::string> acted;
  struct Hook {
    std::string signature, key, body;
  };
  std::vector<Hook> hooks;

 private:
  void start_resetter() {
    reset_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(reset_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(reset_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    reset_port = ntohs(addr.sin_port);
    ::listen(reset_fd_, 16);
    resetter_ = std::thread([this] {
      while (!stopping_) {
        int fd = ::accept(reset_fd_, nullptr, nullptr);
        if (fd < 0) return;
        char buffer[1024];
        (void)::recv(fd, buffer, sizeof buffer, 0);  // the request arrived; answer with a reset
        linger hard{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        ::close(fd);
        ++resets;
      }
    });
  }

  httplib::Server http_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  int reset_fd_ = -1;
  std::thread resetter_;
};

class Connectors : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(run_cadre({"init", ws_.string()}).exit_code, kExitOk); }
  void TearDown() override { stop_serving(); }

  CommandResult cadre(const std::vector<std::string>& args) { return run_cadre(args, ws_); }
  void config(const std::string& connectors, int workers = 4) {
    write_file(ws_ / "cadre.yaml", "name: connectors\n"
                                   "kernel: {workers: " + std::to_string(workers) +
                                       ", poll_interval: 50ms, heartbeat: 1s, lease: 3s, shutdown_grace: 2s}\n"
                                       "connectors:\n" + connectors);
  }
  void playbook(const std::string& name, const std::string& yaml) {
    write_file(ws_ / "playbooks" / (name + ".yaml"), yaml);
  }
  // A playbook of one step using `tool` with `with`.
  void one_step(const std::string& name, const std::string& tool, const std::string& with = "{}") {
    playbook(name, "description: " + name + "\nsteps:\n  - id: call\n    uses: " + tool + "\n    with: " + with + "\n");
  }
  void serve() {
    ASSERT_LT(server_, 0);
    server_ = testing::spawn_cadre({"serve"}, ws_, dir_.path() / ("serve-" + std::to_string(++logs_) + ".log"));
  }
  void stop_serving(int signal = SIGTERM) {
    if (server_ > 0) testing::stop_process(server_, signal);
    server_ = -1;
  }
  bool serving() const { return server_ > 0 && ::kill(server_, 0) == 0; }
  std::string start(const std::string& playbook, const std::vector<std::string>& inputs = {}) {
    std::vector<std::string> args = {"run", playbook, "--json"};
    for (const auto& input : inputs) args.insert(args.end(), {"--input", input});
    CommandResult r = cadre(args);
    EXPECT_EQ(r.exit_code, kExitOk) << r.err;
    return json_of(r).value("objective", std::string());
  }
  std::string state_of(const std::string& id) {
    Json t = json_of(cadre({"show", id, "--json"}));
    return t.is_object() ? t["objective"].value("state", "") : "";
  }
  // Runs the playbook to its end (succeeded or failed); returns `cadre show`'s text.
  std::string run_to_end(const std::string& playbook, const std::string& expected_state,
                         const std::vector<std::string>& inputs = {}) {
    const std::string id = start(playbook, inputs);
    EXPECT_TRUE(eventually([&] { return state_of(id) == "succeeded" || state_of(id) == "failed"; }, 60s, 100ms))
        << playbook << " did not end: " << cadre({"show", id}).out;
    EXPECT_EQ(state_of(id), expected_state) << cadre({"show", id}).out;
    return cadre({"show", id}).out;
  }
  Json health(const std::string& connector) {
    for (const auto& row : json_of(cadre({"connectors", "--json"}))) {
      if (row["name"] == connector) return row["health"];
    }
    return Json();
  }
  std::string circuit(const std::string& connector) {
    Json h = health(connector);
    return h.is_object() ? h.value("state", "") : "";
  }

  TempDir dir_;
  fs::path ws_ = dir_.path() / "ws";
  int server_ = -1;
  int logs_ = 0;
};

TEST_F(Connectors, EachFaultGivesAClearErrorAfterItsRetriesAndServeStaysUp) {
  FaultyApi api;
  const std::string base = "http://127.0.0.1:" + std::to_string(api.port);
  config("  flaky:\n"
         "    type: http\n"
         "    base_url: " + base + "\n"
         "    timeout: 700ms\n"
         "    retry: {attempts: 2, backoff: 100ms, max_backoff: 200ms}\n"
         "    breaker: {failures: 100, open_for: 1s}\n"
         "    max_response_bytes: 1048576\n"
         "    endpoints:\n"
         "      fail: {path: /fail}\n"
         "      limited: {path: /limited}\n"
         "      hang: {path: /hang}\n"
         "      html: {path: /html}\n"
         "      big: {path: /big}\n"
         "  resetting:\n"
         "    type: http\n"
         "    base_url: http://127.0.0.1:" + std::to_string(api.reset_port) + "\n"
         "    retry: {attempts: 3, backoff: 50ms, max_backoff: 100ms}\n"
         "    endpoints:\n"
         "      get: {path: /anything}\n");
  for (const char* tool : {"fail", "limited", "hang", "html", "big"}) one_step(tool, std::string("flaky.") + tool);
  one_step("reset", "resetting.get");
  ASSERT_EQ(cadre({"check"}).exit_code, kExitOk) << cadre({"check"}).out;
  serve();

  std::string shown = run_to_end("fail", "failed");
  EXPECT_TRUE(contains(shown, "GET http://127.0.0.1:" + std::to_string(api.port) +
                                  "/fail answered 500 Internal Server Error: boom: the database is on fire"))
      << shown;
  EXPECT_TRUE(contains(shown, "attempt 2 of 2")) << shown;
  EXPECT_EQ(api.fail_calls.load(), 2);

  shown = run_to_end("limited", "succeeded");
  {
    std::lock_guard lock(api.mutex_);
    ASSERT_EQ(api.limited_at.size(), 2u);
    EXPECT_GE(api.limited_at[1] - api.limited_at[0], 950ms) << "Retry-After: 1 was not honoured";
  }

  shown = run_to_end("hang", "failed");
  EXPECT_TRUE(contains(shown, "flaky.hang")) << shown;
  EXPECT_TRUE(contains(shown, "imeout") || contains(shown, "timed out")) << shown;

  shown = run_to_end("html", "failed");
  EXPECT_TRUE(contains(shown, "expected a JSON answer, got 'text/html': <html><body>Maintenance")) << shown;
  EXPECT_FALSE(contains(shown, "attempt 2")) << "a wrong content type is not retried: " << shown;

  shown = run_to_end("big", "failed");
  EXPECT_TRUE(contains(shown, "larger than 1048576 bytes")) << shown;

  shown = run_to_end("reset", "failed");
  EXPECT_TRUE(contains(shown, "resetting.get")) << shown;
  EXPECT_TRUE(contains(shown, "attempt 3 of 3")) << shown;
  EXPECT_EQ(api.resets.load(), 3);

  EXPECT_TRUE(serving()) << "cadre serve died";
  // fail 2, limited 2, hang 2, html 1, big 1; the last outage was the hang.
  EXPECT_TRUE(eventually([&] { return health("flaky").value("calls", 0) == 8; }, 5s, 100ms)) << health("flaky");
  EXPECT_TRUE(contains(health("flaky").value("last_error", ""), "flaky.hang")) << health("flaky");
  EXPECT_TRUE(eventually([&] { return health("resetting").value("failures", 0) == 3; }, 5s, 100ms))
      << health("resetting");
}

TEST_F(Connectors, TheCircuitOpensHalfOpensAndClosesAndCallsWaitInsteadOfHammering) {
  FaultyApi api;
  config("  flaky:\n"
         "    type: http\n"
         "    base_url: http://127.0.0.1:" + std::to_string(api.port) + "\n"
         "    retry: {attempts: 1}\n"
         "    breaker: {failures: 3, open_for: 2s}\n"
         "    endpoints:\n"
         "      fail: {path: /fail}\n");
  one_step("fail", "flaky.fail");
  serve();
  for (int i = 0; i < 3; ++i) run_to_end("fail", "failed");
  EXPECT_EQ(api.fail_calls.load(), 3);
  ASSERT_TRUE(eventually([&] { return circuit("flaky") == "open"; }, 5s, 100ms)) << health("flaky");
  // While open, calls are refused without reaching the API.
  std::string shown = run_to_end("fail", "failed");
  EXPECT_TRUE(contains(shown, "circuit")) << shown;
  EXPECT_EQ(api.fail_calls.load(), 3);

  api.healthy = true;
  ASSERT_TRUE(eventually([&] { return circuit("flaky") == "half-open"; }, 6s, 100ms)) << health("flaky");
  run_to_end("fail", "succeeded");
  EXPECT_TRUE(eventually([&] { return circuit("flaky") == "closed"; }, 5s, 100ms)) << health("flaky");
  const std::string listed = cadre({"connectors"}).out;
  EXPECT_TRUE(contains(listed, "flaky")) << listed;
  EXPECT_TRUE(contains(listed, "closed")) << listed;
  EXPECT_TRUE(serving());
}

TEST_F(Connectors, HundredPostsThroughTenKillsReachTheSinkUnderOneKeyEach) {
  FaultyApi api;
  config("  sink:\n"
         "    type: http\n"
         "    base_url: http://127.0.0.1:" + std::to_string(api.port) + "\n"
         "    retry: {attempts: 20, backoff: 50ms, max_backoff: 200ms}\n"
         "    endpoints:\n"
         "      store:\n"
         "        method: POST\n"
         "        path: /sink\n"
         "        idempotent: true\n"
         "        body: {item: \"{{ args.item }}\"}\n"
         "        args: {type: object, properties: {item: {type: integer}}, required: [item]}\n",
         2);
  playbook("post", "description: post many\n"
                   "inputs:\n  items: {type: array}\n"
                   "steps:\n"
                   "  - id: store\n"
                   "    uses: sink.store\n"
                   "    foreach: \"{{ input.items }}\"\n"
                   "    with: {item: \"{{ item }}\"}\n");
  Json items = Json::array();
  for (int i = 0; i < 100; ++i) items.push_back(i);
  CommandResult r = cadre({"run", "post", "--inputs-json", dump_json(Json{{"items", items}}), "--json"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const std::string id = json_of(r).value("objective", "");
  std::mt19937 rng(7);
  for (int kill = 0; kill < 10; ++kill) {
    serve();
    std::this_thread::sleep_for(std::chrono::milliseconds(250 + rng() % 300));
    stop_serving(SIGKILL);
  }
  serve();
  ASSERT_TRUE(eventually([&] { return state_of(id) == "succeeded"; }, 120s, 200ms)) << cadre({"show", id}).out;

  std::lock_guard lock(api.mutex_);
  int repeated = 0;
  for (const auto& [key, count] : api.requests_by_key) repeated += count - 1;
  EXPECT_EQ(api.keys_by_item.size(), 100u);
  for (const auto& [item, keys] : api.keys_by_item) {
    EXPECT_EQ(keys.size(), 1u) << "item " << item << " was sent under " << keys.size() << " keys";
  }
  EXPECT_EQ(api.acted.size(), 100u);
  std::cout << "[ figures  ] 100 POSTs, 10 kills: " << api.requests_by_key.size() << " keys, " << repeated
            << " repeated deliveries of a key (acted on once)\n";
}

TEST_F(Connectors, ARateLimitSpacesTheConnectorsCallsWithoutHoldingWorkers) {
  FaultyApi api;
  config("  paced:\n"
         "    type: http\n"
         "    base_url: http://127.0.0.1:" + std::to_string(api.port) + "\n"
         "    rate_limit: {per_second: 4, burst: 1}\n"
         "    endpoints:\n"
         "      ok: {path: /ok}\n");
  playbook("many", "description: many\ninputs:\n  n: {type: array}\nsteps:\n"
                   "  - id: call\n    uses: paced.ok\n    foreach: \"{{ input.n }}\"\n");
  serve();
  const std::string id = json_of(cadre({"run", "many", "--inputs-json", R"({"n":[1,2,3,4,5,6,7,8,9]})", "--json"}))
                             .value("objective", "");
  ASSERT_TRUE(eventually([&] { return state_of(id) == "succeeded"; }, 30s, 100ms)) << cadre({"show", id}).out;
  std::lock_guard lock(api.mutex_);
  ASSERT_EQ(api.ok_at.size(), 9u);
  // Nine calls at four a second with a burst of one: at least two seconds from first to last.
  EXPECT_GE(api.ok_at.back() - api.ok_at.front(), 1900ms);
}

TEST_F(Connectors, WebhooksAreSignedAndCarryTheStepsKey) {
  FaultyApi api;
  config("  notify:\n"
         "    type: webhook\n"
         "    url: http://127.0.0.1:" + std::to_string(api.port) + "/hook\n"
         "    secret: \"${secret:HOOK_KEY}\"\n");
  one_step("ping", "notify.send", "{event: order.paid, data: {order: 42}}");
  CommandResult set = testing::run_cadre_with_input({"secret", "set", "HOOK_KEY"}, ws_, "whsec-shared-987\n");
  ASSERT_EQ(set.exit_code, kExitOk) << set.err;
  serve();
  run_to_end("ping", "succeeded");
  std::lock_guard lock(api.mutex_);
  ASSERT_EQ(api.hooks.size(), 1u);
  const auto& hook = api.hooks[0];
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_TRUE(verify_webhook("whsec-shared-987", hook.signature, hook.body, now).ok()) << hook.signature;
  EXPECT_FALSE(verify_webhook("another-secret", hook.signature, hook.body, now).ok());
  Json body = *parse_json(hook.body, "hook");
  EXPECT_EQ(body["event"], "order.paid");
  EXPECT_EQ(body["data"]["order"], 42);
  EXPECT_EQ(body["id"], hook.key);
  EXPECT_FALSE(hook.key.empty());
}

TEST_F(Connectors, BearerAuthComesFromSecretsAndNeverShowsInErrors) {
  FaultyApi api;
  config("  crm:\n"
         "    type: http\n"
         "    base_url: http://127.0.0.1:" + std::to_string(api.port) + "\n"
         "    auth: {type: bearer, token: \"${secret:CRM_TOKEN}\"}\n"
         "    retry: {attempts: 1}\n"
         "    endpoints:\n"
         "      hello: {path: /secret}\n"
         "      leak: {path: /echo-secret}\n");
  one_step("hello", "crm.hello");
  one_step("leak", "crm.leak");
  ASSERT_EQ(testing::run_cadre_with_input({"secret", "set", "CRM_TOKEN"}, ws_, "tok-12345-very-secret\n").exit_code,
            kExitOk);
  serve();
  std::string shown = run_to_end("hello", "succeeded");
  shown = run_to_end("leak", "failed");
  EXPECT_TRUE(contains(shown, "answered 400 Bad Request: you sent Bearer [secret:CRM_TOKEN]")) << shown;
  EXPECT_FALSE(contains(shown, "tok-12345")) << shown;
  EXPECT_FALSE(contains(cadre({"connectors", "--json"}).out, "tok-12345"));
}

TEST_F(Connectors, FilesAreConfinedToTheirRoot) {
  write_file(ws_ / "shared" / "notes" / "a.txt", "alpha");
  write_file(dir_.path() / "outside.txt", "private");
  fs::create_symlink(dir_.path() / "outside.txt", ws_ / "shared" / "link.txt");
  config("  docs:\n    type: files\n    root: shared\n");
  playbook("copy", "description: copy\nsteps:\n"
                   "  - id: read\n    uses: docs.read\n    with: {path: notes/a.txt}\n"
                   "  - id: write\n    uses: docs.write\n"
                   "    with: {path: \"copies/b.txt\", content: \"{{ steps.read.output.content }}!\"}\n"
                   "  - id: list\n    uses: docs.list\n    with: {path: ., recursive: true}\n"
                   "  - id: keep\n    uses: file.write\n"
                   "    with: {path: listing.json, content: \"{{ steps.list.output.entries | json }}\"}\n");
  one_step("escape", "docs.read", "{path: ../outside.txt}");
  one_step("absolute", "docs.read", "{path: " + (dir_.path() / "outside.txt").string() + "}");
  one_step("link", "docs.read", "{path: link.txt}");
  serve();
  run_to_end("copy", "succeeded");
  EXPECT_EQ(read_file(ws_ / "shared" / "copies" / "b.txt"), "alpha!");
  const std::string listing = read_file(ws_ / "listing.json");
  EXPECT_TRUE(contains(listing, "\"notes/a.txt\"")) << listing;
  EXPECT_TRUE(contains(listing, "\"copies/b.txt\"")) << listing;
  EXPECT_TRUE(contains(run_to_end("escape", "failed"), "leads outside the root of connector 'docs'"));
  EXPECT_TRUE(contains(run_to_end("absolute", "failed"), "must be relative to the root of connector 'docs'"));
  EXPECT_TRUE(contains(run_to_end("link", "failed"), "leads outside the root of connector 'docs'"));
}

// The reference MCP server, as mcp_client_test finds it.
fs::path everything_entry() {
  return testing::source_dir() / "tests" / "peers" / "node_modules" / "@modelcontextprotocol" /
         "server-everything" / "dist" / "index.js";
}

TEST_F(Connectors, AnMcpServersToolsRunAsStepsOverStdioAndHttp) {
  ASSERT_TRUE(fs::exists(everything_entry())) << "run scripts/install-test-peers.sh";
  // The HTTP server: started by the test on a free port of 127.0.0.1.
  const fs::path port_file = dir_.path() / "mcp-port";
  const std::string command = "PORT=0 CADRE_PEER_PORT_FILE=" + port_file.string() + " node --require " +
                              (testing::source_dir() / "tests" / "peers" / "loopback-only.cjs").string() + " " +
                              everything_entry().string() + " streamableHttp > " +
                              (dir_.path() / "mcp-http.log").string() + " 2>&1 & echo $!";
  FILE* started = ::popen(command.c_str(), "r");
  ASSERT_NE(started, nullptr);
  int http_pid = 0;
  ASSERT_EQ(fscanf(started, "%d", &http_pid), 1);
  ::pclose(started);
  std::string port;
  ASSERT_TRUE(eventually([&] { return !(port = read_file(port_file)).empty(); }, 30s, 100ms));
  config("  tools:\n"
         "    type: mcp\n"
         "    command: [node, " + everything_entry().string() + ", stdio]\n"
         "  remote:\n"
         "    type: mcp\n"
         "    url: http://127.0.0.1:" + port + "/mcp\n"
         "    tools: {get-sum: {risk: read}}\n");
  playbook("mcp", "description: mcp\nsteps:\n"
                  "  - id: echo\n    uses: tools.echo\n    with: {message: hello over stdio}\n"
                  "  - id: sum\n    uses: remote.get-sum\n    with: {a: 2, b: 40}\n"
                  "  - id: keep\n    uses: file.write\n"
                  "    with: {path: out.txt, content: \"{{ steps.echo.output.content[0].text }} / "
                  "{{ steps.sum.output.content[0].text }}\"}\n");
  ASSERT_EQ(cadre({"check"}).exit_code, kExitOk) << cadre({"check"}).out;
  serve();
  run_to_end("mcp", "succeeded");
  const std::string out = read_file(ws_ / "out.txt");
  EXPECT_TRUE(contains(out, "hello over stdio")) << out;
  EXPECT_TRUE(contains(out, "42")) << out;
  EXPECT_TRUE(eventually([&] { return health("tools").value("tools", 0) > 5; }, 5s, 100ms)) << health("tools");
  EXPECT_TRUE(eventually([&] { return health("remote").value("calls", 0) >= 1; }, 5s, 100ms)) << health("remote");
  ::kill(http_pid, SIGTERM);
}

TEST_F(Connectors, CheckNamesTheLineOfEachMistake) {
  config("  one:\n"
         "    type: htp\n"
         "  two:\n"
         "    type: http\n"
         "    base_url: ftp://example.com\n"
         "    auth: {type: bearer, token: plain-text-token}\n"
         "    endpoints:\n"
         "      get: {path: nowhere, method: FETCH}\n"
         "  file:\n"
         "    type: files\n"
         "    root: x\n");
  one_step("bad", "two.missing");
  CommandResult check = cadre({"check"});
  EXPECT_NE(check.exit_code, kExitOk);
  const std::string& out = check.out + check.err;
  EXPECT_TRUE(contains(out, "cadre.yaml:5:11: connectors.one.type: unknown connector type 'htp' (did you mean 'http'?)"))
      << out;
  EXPECT_TRUE(contains(out, "cadre.yaml:8:15: connectors.two.base_url: must start with http://, https://")) << out;
  EXPECT_TRUE(contains(out, "connectors.two.auth.token: must be a reference such as")) << out;
  EXPECT_FALSE(contains(out, "plain-text-token")) << out;
  EXPECT_TRUE(contains(out, "connectors.two.endpoints.get.method: unknown method 'FETCH'")) << out;
  EXPECT_TRUE(contains(out, "connectors.two.endpoints.get.path: must start with '/'")) << out;
  EXPECT_TRUE(contains(out, "'file' is reserved for built-in tools")) << out;
  EXPECT_TRUE(contains(out, "unknown tool 'two.missing'")) << out;
}

}  // namespace
}  // namespace cadre
