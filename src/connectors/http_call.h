// One HTTP request made by a connector's tool, and how its outcome becomes a
// Status the kernel's retries understand:
//   2xx          ok
//   408          deadline_exceeded        429   resource_exhausted (+ Retry-After)
//   5xx          unavailable (+ Retry-After on 503)
//   401, 403     failed_precondition (credentials refused)
//   404 not_found, 409 conflict, other 4xx invalid_argument
//   an answer larger than the limit: failed_precondition (repeating will not shrink it)
//   transport failures: a timeout deadline_exceeded, anything else (refused,
//   reset, an empty reply) unavailable
// Messages: "crm.create: POST http://host/path answered 500 Internal Server
// Error: <at most 300 characters of the body, secrets redacted>"; never
// headers, query strings or credentials.
//
// Thread-safety: free functions.
#pragma once

#include <string>

#include "core/http_client.h"
#include "kernel/tool.h"

namespace cadre {

// Sends `request`, its timeout cut to what is left of the call's deadline.
// `who` names the tool. A Retry-After is passed to call.retry_after.
// `status`, when given, receives the HTTP status of any answer (0: none came).
Result<HttpResponse> send_connector_request(HttpRequest request, const ToolCall& call, const std::string& who,
                                            int* status = nullptr);

// The start of a body as it may be quoted in an error (secrets redacted).
std::string quoted_body(const std::string& body);

// "application/json; charset=utf-8" -> "application/json"
std::string media_type(const HttpResponse& response);

// Percent-encodes `text` for a URL path segment or query component.
std::string url_escape(const std::string& text);

}  // namespace cadre
