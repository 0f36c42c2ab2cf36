// Signing and verifying webhooks: the outbound `webhook` connector signs
// what it sends, and the server's inbound webhooks verify what they get,
// with the same code.
//
// Header (kWebhookSignatureHeader): "t=UNIX_SECONDS,v1=HEX", where HEX is
// HMAC-SHA256 (libsodium) keyed with the shared secret over
// "UNIX_SECONDS.BODY". The timestamp is signed too, so an old request
// cannot be replayed with a fresh time, and a receiver refuses requests
// older (or further in the future) than its tolerance. Several v1= values
// may be given (a secret being rotated); any that matches is accepted.
//
// Messages never contain the secret or a computed signature.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace cadre {

inline constexpr char kWebhookSignatureHeader[] = "Cadre-Signature";

// The header value for `body` sent at `unix_seconds`.
std::string sign_webhook(std::string_view secret, int64_t unix_seconds, std::string_view body);

// Ok when `header` carries a signature of `body` by `secret` made within
// `tolerance_seconds` of `now_unix_seconds`. kInvalidArgument for a
// malformed header; kFailedPrecondition for a stale time or no match.
Status verify_webhook(std::string_view secret, std::string_view header, std::string_view body,
                      int64_t now_unix_seconds, int64_t tolerance_seconds = 300);

}  // namespace cadre
