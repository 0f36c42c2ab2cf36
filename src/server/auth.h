// Who may call the workspace server: API tokens, browser sessions, CSRF.
//
// An API token ("cadre_" + 32 random bytes, base64url) is shown once, when
// it is made, and stored only as its SHA-256 hash; a caller presents it as
// "Authorization: Bearer TOKEN" and is found by that hash, so no stored
// secret is ever compared byte by byte with what a caller sends. The web UI
// logs in with a token and gets a session: a random id in an HttpOnly,
// SameSite=Strict cookie and a CSRF token the UI sends back as
// "X-CSRF-Token" on every state-changing request; both are stored hashed
// too. Revoking a token ends its sessions at once. Token values appear in
// no log, error, audit entry or database row.
//
// Token create/revoke and session open/close are audited by token name.
//
// Thread-safety: every function may be called from any thread (the Store
// is thread-safe; the "last used" throttle is guarded by a mutex).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/duration.h"
#include "core/result.h"
#include "store/store.h"

namespace cadre {

// The session cookie's name, and the header that carries the CSRF token.
inline constexpr std::string_view kSessionCookieName = "cadre_session";
inline constexpr std::string_view kCsrfHeaderName = "X-CSRF-Token";
// The default lifetime of a browser session (fixed, not sliding).
inline constexpr DurationMs kDefaultSessionLifetime = 12LL * 3600 * 1000;
// last_used_at is written at most this often per token.
inline constexpr DurationMs kTokenTouchInterval = 60 * 1000;
// Sessions a token may hold at once; opening one more ends the oldest.
inline constexpr int kMaxSessionsPerToken = 64;

struct TokenInfo {
  std::string name;
  std::string created_by;  // "operator:USER"
  TimeMs created_at = 0;
  TimeMs last_used_at = 0;  // 0: never (precise to a minute)
  TimeMs revoked_at = 0;    // 0: active
};

// Token names: [a-z0-9_.-]{1,64}.
bool is_token_name(std::string_view name);

// A new token for `name`, returned once and never stored. kInvalidArgument
// for a bad name; kAlreadyExists if an active token has that name (a
// revoked name may be reused: its row is replaced).
Result<std::string> create_api_token(Store& store, const std::string& name,
                                     const std::string& actor, TimeMs now);

// Every token, active and revoked, by name (never a value or a hash).
Result<std::vector<TokenInfo>> list_api_tokens(Store& store);

// Revokes the active token `name` and ends its sessions. kNotFound when no
// active token has that name (none, or already revoked).
Status revoke_api_token(Store& store, const std::string& name, const std::string& actor,
                        TimeMs now);

// The caller of a request.
struct Principal {
  std::string token_name;
  bool via_session = false;  // a browser session: state changes need the CSRF token
  std::string session_hash;  // when via_session
  std::string actor() const { return "api:" + token_name; }
};

// The caller from an Authorization header value ("Bearer TOKEN") or, when
// that is empty, from the cadre_session cookie in a Cookie header value.
// A non-empty Authorization that is not a valid bearer token is not
// rescued by a cookie. nullopt: no valid credentials (missing, malformed,
// unknown, revoked, expired session): the server answers 401. An error
// only when the store fails. Writes the token's last_used_at at most once
// a minute; deletes an expired session it is shown.
Result<std::optional<Principal>> authenticate(Store& store, std::string_view authorization,
                                              std::string_view cookie, TimeMs now);

struct NewSession {
  std::string cookie_value;  // the session id: only in the cookie
  std::string csrf_token;    // for the UI to send back as X-CSRF-Token
  TimeMs expires_at = 0;
  std::string set_cookie;  // the whole Set-Cookie header value
};

// Login: a valid token opens a session (random id and CSRF token, stored
// hashed; expired sessions are deleted on the way). kFailedPrecondition
// "invalid token" for anything else. `secure_cookie` adds Secure (HTTPS).
Result<NewSession> open_session(Store& store, std::string_view token, TimeMs now,
                                DurationMs lifetime = kDefaultSessionLifetime,
                                bool secure_cookie = false);

// For a via_session caller of a state-changing route: the X-CSRF-Token
// header must match the session's (hashes compared in constant time).
// Bearer callers need none. kFailedPrecondition when missing or wrong, or
// when the session ended meanwhile: the server answers 403.
Status check_csrf(Store& store, const Principal& principal, std::string_view csrf_header);

// A fresh CSRF token for a session (the UI lost its copy, e.g. on reload:
// only the hash is kept). kFailedPrecondition for a bearer caller or a
// session that ended.
Result<std::string> renew_csrf_token(Store& store, const Principal& principal);

// Logout: ends the caller's session (nothing for a bearer caller). `now`
// stamps the audit entry (0: the system clock).
Status close_session(Store& store, const Principal& principal, TimeMs now = 0);

// A Set-Cookie value that makes the browser drop the session cookie.
std::string clear_session_cookie(bool secure_cookie = false);

}  // namespace cadre
