#include "server/api.h"

namespace cadre {

namespace {

int http_status_for(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kConflict:
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    default: return 500;
  }
}

}  // namespace

ApiResponse error_response(const Status& status, const std::string& field) {
  Json error = {{"code", std::string(status_code_name(status.code()))}, {"message", status.message()}};
  if (!field.empty()) error["field"] = field;
  return {http_status_for(status.code()), Json{{"error", error}}};
}

Json openapi_document(const std::vector<Route>& routes, const std::string& version) {
  Json paths = Json::object();
  for (const auto& route : routes) {
    std::string method = route.method;
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    Json operation = {{"summary", route.summary},
                      {"responses", {{"200", {{"description", "OK"}}}, {"default", {{"description", "an error"}}}}}};
    if (!route.needs_auth) operation["security"] = Json::array();
    Json parameters = Json::array();
    for (size_t at = route.path.find('{'); at != std::string::npos; at = route.path.find('{', at + 1)) {
      const std::string name = route.path.substr(at + 1, route.path.find('}', at) - at - 1);
      parameters.push_back({{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
    }
    if (!parameters.empty()) operation["parameters"] = parameters;
    if (!route.request_schema.is_null()) {
      operation["requestBody"] = {{"required", true},
                                  {"content", {{"application/json", {{"schema", route.request_schema}}}}}};
    }
    paths[route.path][method] = operation;
  }
  return {{"openapi", "3.0.3"},
          {"info", {{"title", "Cadre workspace API"}, {"version", version}}},
          {"components",
           {{"securitySchemes",
             {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}},
              {"session", {{"type", "apiKey"}, {"in", "cookie"}, {"name", "cadre_session"}}}}}}},
          {"security", Json::array({{{"bearer", Json::array()}}, {{"session", Json::array()}}})},
          {"paths", paths}};
}

}  // namespace cadre
