// The workspace's JSON API as data: every route's method, path, summary,
// whether it needs a caller and whether it changes state, its request
// schema, and its handler. The HTTP server (workspace_server.h) serves the
// table and the OpenAPI document is generated from the same table, so the
// two cannot disagree.
//
// Thread-safety: routes are built once; handlers run on the server's
// threads and must only call thread-safe module functions.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "core/status.h"

namespace cadre {

struct ApiRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> params;  // from the path: /objectives/{id}
  std::map<std::string, std::string> query;
  Json body;                                  // null when none
  std::string actor;                          // "api:TOKEN_NAME"
  TimeMs now = 0;
};

struct ApiResponse {
  int status = 200;
  Json body = Json::object();
};

using ApiHandler = std::function<ApiResponse(const ApiRequest&)>;

struct Route {
  std::string method;   // GET, POST, DELETE
  std::string path;     // OpenAPI template: /api/v1/objectives/{id}
  std::string summary;
  bool needs_auth = true;
  bool changes_state = false;  // browser sessions must carry the CSRF token
  Json request_schema;         // null: no body
  ApiHandler handler;
};

// An error as the API answers it: {"error": {"code", "message", "field"?}}
// with the HTTP status for the code (invalid_argument 400, not_found 404,
// conflict and failed_precondition 409, ...).
ApiResponse error_response(const Status& status, const std::string& field = "");

// The OpenAPI 3 document of `routes`.
Json openapi_document(const std::vector<Route>& routes, const std::string& version);

}  // namespace cadre
