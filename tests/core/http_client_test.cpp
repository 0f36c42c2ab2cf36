// http_send over real loopback HTTP: an HTTP answer of any status is a value,
// transport failures are classified errors, and no message ever carries the
// credentials a request was sent with.
#include "core/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"

namespace cadre {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// An httplib server on 127.0.0.1 and a port the kernel picks. Routes are
// added through server() before start().
class LoopbackServer {
 public:
  LoopbackServer() = default;
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;
  ~LoopbackServer() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  httplib::Server& server() { return server_; }

  void start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op until the accept loop runs, so wait for it.
    auto deadline = steady_clock::now() + std::chrono::seconds(5);
    while (!server_.is_running() && steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    ASSERT_TRUE(server_.is_running());
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

// A loopback port nothing listens on: bound, never listened on, then closed.
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

// Answers one request on a loopback port with `answer`, written as is, and
// keeps the raw request head: for what httplib hides (it drops empty request
// headers and cannot send interim 1xx responses).
class RawCapture {
 public:
  explicit RawCapture(std::string answer = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
      : answer_(std::move(answer)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 1) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "could not listen on loopback";
      return;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve_one(); });
  }
  ~RawCapture() {
    ::shutdown(listener_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
  }

  int port() const { return port_; }
  // The request line and headers, once the request has been answered.
  std::string head() {
    if (thread_.joinable()) thread_.join();
    return head_;
  }

 private:
  void serve_one() {
    int connection = ::accept(listener_, nullptr, nullptr);
    if (connection < 0) return;
    std::string received;
    char buffer[4096];
    while (received.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(connection, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      received.append(buffer, static_cast<size_t>(n));
    }
    head_ = received.substr(0, received.find("\r\n\r\n") + 2);  // each line keeps its CRLF
    (void)::send(connection, answer_.data(), answer_.size(), MSG_NOSIGNAL);
    ::close(connection);
  }

  std::string answer_;
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string head_;
};

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::string http_date(int64_t ms) {
  time_t seconds = static_cast<time_t>(ms / 1000);
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  char text[64];
  strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return text;
}

HttpResponse with_retry_after(const std::string& value) {
  HttpResponse response;
  response.status = 429;
  response.headers["retry-after"] = value;
  return response;
}

TEST(HttpSend, ReturnsStatusLowerCasedHeadersAndBody) {
  LoopbackServer loopback;
  loopback.server().Get("/hello", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("X-Mixed-Case", "Value Kept As Sent");
    res.set_content("hello there", "text/plain");
  });
  loopback.start();

  HttpRequest request;
  request.method = "GET";
  request.url = loopback.url("/hello");
  auto response = http_send(request);

  ASSERT_TRUE(response.ok()) << response.status().to_string();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello there");
  EXPECT_EQ(response->headers["x-mixed-case"], "Value Kept As Sent");
  EXPECT_EQ(response->headers["content-type"], "text/plain");
  EXPECT_EQ(response->headers.count("X-Mixed-Case"), 0u);
  EXPECT_GE(response->elapsed_ms, 0);
}

TEST(HttpSend, PostDeliversTheBodyAndEveryRequestHeader) {
  LoopbackServer loopback;
  std::mutex mutex;
  httplib::Request seen;
  loopback.server().Post("/v1/chat", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mutex);
    seen = req;
    res.set_content(R"({"ok":true})", "application/json");
  });
  loopback.start();

  HttpRequest request;
  request.url = loopback.url("/v1/chat?mode=fast");
  request.headers["Content-Type"] = "application/json";
  request.headers["Authorization"] = "Bearer sk-test";
  request.body = R"({"prompt":"hi"})";
  auto response = http_send(request);

  ASSERT_TRUE(response.ok()) << response.status().to_string();
  EXPECT_EQ(response->body, R"({"ok":true})");
  std::lock_guard lock(mutex);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.body, R"({"prompt":"hi"})");
  EXPECT_EQ(seen.get_param_value("mode"), "fast");
  EXPECT_EQ(seen.get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(seen.get_header_value("Authorization"), "Bearer sk-test");
  EXPECT_FALSE(seen.has_header("Expect"));
}

TEST(HttpSend, SendsAHeaderWithAnEmptyValue) {
  RawCapture capture;
  HttpRequest request;
  request.method = "GET";
  request.url = "http://127.0.0.1:" + std::to_string(capture.port()) + "/";
  request.headers["X-Empty"] = "";
  auto response = http_send(request);

  ASSERT_TRUE(response.ok()) << response.status().to_string();
  EXPECT_EQ(response->status, 204);
  EXPECT_NE(capture.head().find("\r\nX-Empty:\r\n"), std::string::npos) << capture.head();
}

TEST(HttpSend, KeepsOnlyTheFinalResponsesHeaders) {
  RawCapture capture(
      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\nX-Stage: early\r\n\r\n"
      "HTTP/1.1 200 OK\r\nX-Stage: final\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
  HttpRequest request;
  request.method = "GET";
  request.url = "http://127.0.0.1:" + std::to_string(capture.port()) + "/";
  auto response = http_send(request);

  ASSERT_TRUE(response.ok()) << response.status().to_string();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ok");
  EXPECT_EQ(response->headers["x-stage"], "final");
  EXPECT_EQ(response->headers.count("link"), 0u);
}

TEST(HttpSend, SendsEachMethodAsWritten) {
  LoopbackServer loopback;
  std::mutex mutex;
  std::vector<std::string> seen;
  auto record = [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mutex);
    seen.push_back(req.method + " " + req.body);
    res.status = 204;
  };
  loopback.server().Get("/thing", record);
  loopback.server().Put("/thing", record);
  loopback.server().Patch("/thing", record);
  loopback.server().Delete("/thing", record);
  loopback.start();

  struct Case {
    std::string method;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"GET", ""}, {"HEAD", ""}, {"PUT", "new"}, {"PATCH", "part"}, {"DELETE", ""}};
  for (const auto& c : cases) {
    HttpRequest request;
    request.method = c.method;
    request.url = loopback.url("/thing");
    request.body = c.body;
    auto response = http_send(request);
    ASSERT_TRUE(response.ok()) << c.method << ": " << response.status().to_string();
    EXPECT_EQ(response->status, 204) << c.method;
  }
  std::lock_guard lock(mutex);
  EXPECT_EQ(seen, (std::vector<std::string>{"GET ", "HEAD ", "PUT new", "PATCH part", "DELETE "}));
}

TEST(HttpSend, AnErrorStatusIsAnAnswerNotAFailure) {
  LoopbackServer loopback;
  loopback.server().Post("/busy", [](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_header("Retry-After", "7");
    res.set_content(R"({"error":"overloaded"})", "application/json");
  });
  loopback.start();

  HttpRequest request;
  request.url = loopback.url("/busy");
  auto response = http_send(request);

  ASSERT_TRUE(response.ok()) << response.status().to_string();
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->body, R"({"error":"overloaded"})");
  EXPECT_EQ(retry_after_ms(*response, SystemClock::instance().now_ms()), 7000);
}

TEST(HttpSend, FollowsNoRedirects) {
  LoopbackServer loopback;
  std::atomic<int> target_hits{0};
  loopback.server().Get(
      "/old", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/new"); });
  loopback.server().Get("/new", [&](const httplib::Request&, httplib::Response& res) {
    ++target_hits;
    res.set_content("moved", "text/plain");
  });
  loopback.start();

  HttpRequest request;
  request.method = "GET";
  request.url = loopback.url("/old");
  auto response = http_send(request);

  ASSERT_TRUE(response.ok()) << response.status().to_string();
  EXPECT_EQ(response->status, 302);
  EXPECT_EQ(response->headers["location"], "/new");
  EXPECT_EQ(target_hits.load(), 0);
}

TEST(HttpSend, ARepeatedResponseHeaderKeepsItsLastValue) {
  LoopbackServer loopback;
  loopback.server().Get("/twice", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("X-Twice", "first");
    res.set_header("X-Twice", "second");
  });
  loopback.start();

  HttpRequest request;
  request.method = "GET";
  request.url = loopback.url("/twice");
  auto response = http_send(request);

  ASSERT_TRUE(response.ok()) << response.status().to_string();
  EXPECT_EQ(response->headers["x-twice"], "second");
}

TEST(HttpSend, ARefusedConnectionIsUnavailable) {
  HttpRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1/chat";
  auto response = http_send(request);

  ASSERT_FALSE(response.ok());
  EXPECT_TRUE(response.status().is(StatusCode::kUnavailable)) << response.status().to_string();
  EXPECT_NE(response.status().message().find(request.url), std::string::npos)
      << response.status().message();
}

TEST(HttpSend, NoAnswerWithinTheTimeoutIsDeadlineExceeded) {
  LoopbackServer loopback;
  std::atomic<bool> released{false};
  loopback.server().Post("/slow", [&](const httplib::Request&, httplib::Response& res) {
    // Waits for the test (or 5 s) so the server can shut down promptly.
    auto give_up = steady_clock::now() + std::chrono::seconds(5);
    while (!released && steady_clock::now() < give_up)
      std::this_thread::sleep_for(milliseconds(10));
    res.set_content("late", "text/plain");
  });
  loopback.start();

  HttpRequest request;
  request.url = loopback.url("/slow");
  request.timeout = 200;
  auto started = steady_clock::now();
  auto response = http_send(request);
  auto waited = std::chrono::duration_cast<milliseconds>(steady_clock::now() - started);
  released = true;

  ASSERT_FALSE(response.ok());
  EXPECT_TRUE(response.status().is(StatusCode::kDeadlineExceeded)) << response.status().to_string();
  EXPECT_GE(waited.count(), 150);
  EXPECT_LT(waited.count(), 2000);
}

TEST(HttpSend, ErrorMessagesCarryNoCredentialsOrQuery) {
  LoopbackServer loopback;
  std::atomic<bool> released{false};
  loopback.server().Get("/slow", [&](const httplib::Request&, httplib::Response&) {
    auto give_up = steady_clock::now() + std::chrono::seconds(5);
    while (!released && steady_clock::now() < give_up)
      std::this_thread::sleep_for(milliseconds(10));
  });
  loopback.start();

  const std::string refused_base = "127.0.0.1:" + std::to_string(closed_port()) + "/v1/models";
  const std::string slow_base = "127.0.0.1:" + std::to_string(loopback.port()) + "/slow";
  for (const std::string& base : {refused_base, slow_base}) {
    HttpRequest request;
    request.method = "GET";
    request.url = "http://alice:hunter2@" + base + "?api_key=query-secret";
    request.headers["Authorization"] = "Bearer sk-very-secret";
    request.headers["X-Api-Key"] = "header-secret";
    request.timeout = 200;
    auto response = http_send(request);

    ASSERT_FALSE(response.ok()) << base;
    const std::string& message = response.status().message();
    EXPECT_NE(message.find("http://" + base), std::string::npos) << message;
    for (const char* secret :
         {"sk-very-secret", "header-secret", "hunter2", "alice", "query-secret"}) {
      EXPECT_EQ(message.find(secret), std::string::npos) << secret << " in: " << message;
    }
  }
  released = true;
}

TEST(HttpSend, RefusesHeaderValuesWithLineBreaksWithoutQuotingThem) {
  HttpRequest request;
  request.url = "http://127.0.0.1:1/";
  request.headers["Authorization"] = "Bearer sk-secret\r\nX-Injected: yes";
  auto response = http_send(request);

  ASSERT_FALSE(response.ok());
  EXPECT_TRUE(response.status().is(StatusCode::kInvalidArgument)) << response.status().to_string();
  EXPECT_NE(response.status().message().find("Authorization"), std::string::npos);
  EXPECT_EQ(response.status().message().find("sk-secret"), std::string::npos);
}

TEST(HttpSend, RefusesAMethodThatIsNotAToken) {
  HttpRequest request;
  request.method = "GET /other HTTP/1.1\r\n";
  request.url = "http://127.0.0.1:1/";
  auto response = http_send(request);

  ASSERT_FALSE(response.ok());
  EXPECT_TRUE(response.status().is(StatusCode::kInvalidArgument)) << response.status().to_string();
}

TEST(HttpSend, SpeaksOnlyHttp) {
  HttpRequest request;
  request.method = "GET";
  request.url = "file:///etc/hostname";
  auto response = http_send(request);

  ASSERT_FALSE(response.ok());
  EXPECT_TRUE(response.status().is(StatusCode::kIOError)) << response.status().to_string();
}

TEST(HttpSend, ServesManyThreadsAtOnce) {
  LoopbackServer loopback;
  loopback.server().Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(req.body, "text/plain");
  });
  loopback.start();

  // Four, not more: httplib's listen backlog is 5, and a dropped SYN costs a 1 s retry.
  constexpr int kThreads = 4;
  constexpr int kRequestsEach = 10;
  std::atomic<int> echoed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequestsEach; ++i) {
        HttpRequest request;
        request.url = loopback.url("/echo");
        request.body = "thread " + std::to_string(t) + " request " + std::to_string(i);
        auto response = http_send(request);
        if (response.ok() && response->status == 200 && response->body == request.body) ++echoed;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(echoed.load(), kThreads * kRequestsEach);
}

TEST(RetryAfter, ReadsSecondsAndHttpDates) {
  const int64_t now = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
  struct Case {
    std::string value;
    DurationMs expected;
  };
  const std::vector<Case> cases = {
      {"0", 0},
      {"120", 120'000},
      {" 5 ", 5'000},
      {http_date(now + 30'000), 30'000},
      {"Tue, 14 Nov 2023 22:14:20 GMT", 60'000},
      {"Tuesday, 14-Nov-23 22:14:20 GMT", 60'000},  // RFC 850, obsolete but allowed
      {"Tue Nov 14 22:14:20 2023", 60'000},         // asctime, obsolete but allowed
      {http_date(now - 3'600'000), 0},              // in the past: retry now, never negative
      {"", -1},
      {"soon", -1},
      {"-5", -1},
      {"1.5", -1},
      {"99999999999999999999999", -1},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(retry_after_ms(with_retry_after(c.value), now), c.expected) << "'" << c.value << "'";
  }
}

TEST(RetryAfter, IsMinusOneWithoutTheHeader) {
  HttpResponse response;
  response.headers["content-type"] = "application/json";
  EXPECT_EQ(retry_after_ms(response, 0), -1);
}

TEST(RetryAfter, FindsTheHeaderInAnyCase) {
  HttpResponse response;
  response.headers["Retry-After"] = "3";
  EXPECT_EQ(retry_after_ms(response, 0), 3000);
}

TEST(RedactUrl, KeepsSchemeHostPortAndPathOnly) {
  struct Case {
    std::string url;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"https://api.example.com/v1/chat", "https://api.example.com/v1/chat"},
      {"https://api.example.com:8443/v1/chat?key=abc&x=1", "https://api.example.com:8443/v1/chat"},
      {"https://user:pass@api.example.com/v1", "https://api.example.com/v1"},
      {"https://token@api.example.com?key=1", "https://api.example.com"},
      {"http://a:b@c@host:1/p#fragment", "http://host:1/p"},
      {"http://[::1]:8080/x?y", "http://[::1]:8080/x"},
      {"http://host/path/with@at?q", "http://host/path/with@at"},
      {"localhost:11434/api?secret", "localhost:11434/api"},
      {"", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(redact_url(c.url), c.expected) << c.url;
}

}  // namespace
}  // namespace cadre
