// WorkspaceServer: the workspace's HTTP server in `cadre serve`, on one
// port (127.0.0.1:7400 unless told otherwise), over cpp-httplib:
//
//   GET  /api/v1/openapi.json   the OpenAPI 3 document (no auth)
//   POST /api/v1/session        {token} -> a browser session: HttpOnly,
//                               SameSite=Strict cookie + a CSRF token
//   GET  /api/v1/session        who is calling, and a fresh CSRF token
//   DELETE /api/v1/session      logout
//   /api/v1/...                 api_routes.h, each behind auth:
//                               a bearer token, or the session cookie (plus
//                               X-CSRF-Token on state changes)
//   POST /hooks/NAME            inbound webhooks (server.hooks in cadre.yaml):
//                               HMAC-signed, within a replay window -> events
//
// Every answer is JSON; errors are {"error": {code, message, field?}}.
// Bodies over `max_body_bytes` get 413, malformed JSON 400 naming where,
// a body that breaks the route's schema 400 naming the field; no handler
// failure takes the server down (an unexpected one is a 500, logged).
//
// Thread-safety: start/stop from one thread; requests are served by a
// pool of threads.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "server/api_routes.h"

namespace httplib {
class Server;
}

namespace cadre {

struct ServerOptions {
  std::string bind = "127.0.0.1";
  int port = 7400;                  // 0: any free port (tests)
  int64_t max_body_bytes = 1 << 20;
  int threads = 8;
  bool secure_cookie = false;       // behind HTTPS: cookies get Secure
};

class WorkspaceServer {
 public:
  WorkspaceServer(ApiContext context, ServerOptions options);
  ~WorkspaceServer();

  // Binds and serves in the background. An address in use or not
  // available is kUnavailable naming it.
  Status start();
  void stop();
  int port() const { return port_; }

 private:
  void install_routes();
  void install_hooks();

  ApiContext context_;
  ServerOptions options_;
  std::vector<Route> routes_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace cadre
