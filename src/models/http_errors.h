// What the HTTP model providers share: where a request goes, and how a
// failed exchange becomes the Status codes provider.h promises. Messages
// name the provider and model (`who`) and never carry the API key.
#pragma once

#include <string>
#include <string_view>

#include "core/http_client.h"
#include "core/status.h"

namespace cadre {

// base_url (or the provider's default) joined with `path`, without a doubled '/'.
std::string endpoint_url(const std::string& base_url, std::string_view default_base,
                         std::string_view path);

// The API's explanation as it may be quoted: `message` if the body had one,
// else the body; at most 500 characters; every occurrence of the key and of
// any registered secret (core/redact.h) removed (an API may echo what it was
// sent).
std::string quoted_api_message(std::string message, const std::string& body,
                               const std::string& api_key);

// A non-2xx answer: 429 resource_exhausted, 401/403 failed_precondition (the
// key was refused), 5xx and 529 unavailable, other 4xx invalid_argument.
Status http_failure(const std::string& who, int http_status, const std::string& detail);

// A transport failure: a timeout stays deadline_exceeded; the rest are
// temporary (unavailable).
Status transport_failure(const std::string& who, const Status& status);

}  // namespace cadre
