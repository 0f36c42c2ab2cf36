#include "server/auth.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "core/hash.h"

namespace cadre {
namespace {

constexpr std::string_view kTokenPrefix = "cadre_";
constexpr size_t kRandomBytes = 32;
// 32 bytes in unpadded base64url.
constexpr size_t kRandomChars = 43;

Status ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  return ready ? Status::Ok() : Status::Internal("libsodium failed to initialize");
}

// 32 random bytes as unpadded base64url (43 characters).
Result<std::string> random_text() {
  CADRE_RETURN_IF_ERROR(ensure_sodium());
  unsigned char raw[kRandomBytes];
  char text[sodium_base64_ENCODED_LEN(kRandomBytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  randombytes_buf(raw, sizeof raw);
  sodium_bin2base64(text, sizeof text, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  std::string out(text);
  sodium_memzero(raw, sizeof raw);
  sodium_memzero(text, sizeof text);
  return out;
}

bool is_base64url(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

// The shape of what create_api_token makes; anything else is refused
// before the store is asked.
bool looks_like_token(std::string_view token) {
  return token.size() == kTokenPrefix.size() + kRandomChars && token.starts_with(kTokenPrefix) &&
         is_base64url(token.substr(kTokenPrefix.size()));
}

bool looks_like_random_text(std::string_view text) {
  return text.size() == kRandomChars && is_base64url(text);
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// "Bearer TOKEN" (the scheme in any case) -> TOKEN; "" otherwise.
std::string_view bearer_token(std::string_view authorization) {
  authorization = trim(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return {};
  }
  std::string_view rest = authorization.substr(kScheme.size());
  if (rest.front() != ' ' && rest.front() != '\t') return {};
  return trim(rest);
}

// The value of the first cadre_session cookie in a Cookie header value.
std::string_view session_cookie(std::string_view cookie_header) {
  while (!cookie_header.empty()) {
    size_t end = cookie_header.find(';');
    std::string_view pair = trim(cookie_header.substr(0, end));
    cookie_header =
        end == std::string_view::npos ? std::string_view() : cookie_header.substr(end + 1);
    size_t equals = pair.find('=');
    if (equals == std::string_view::npos) continue;
    if (trim(pair.substr(0, equals)) != kSessionCookieName) continue;
    std::string_view value = trim(pair.substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    return value;
  }
  return {};
}

// Equal hex digests, in time that does not depend on where they differ.
bool same_hash(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Records a use of `token` at most once a minute: the stored time says
// whether a minute has passed, and this process remembers its own recent
// writes so that a burst of concurrent requests writes once.
void note_use(Store& store, const ApiTokenRecord& token, TimeMs now) {
  // Within a minute either way: requests handled out of order count as one.
  auto recent = [now](TimeMs t) { return std::llabs(now - t) < kTokenTouchInterval; };
  if (recent(token.last_used_at)) return;
  {
    static std::mutex mutex;
    static std::unordered_map<std::string, TimeMs> last_write;
    std::lock_guard<std::mutex> lock(mutex);
    auto found = last_write.find(token.token_hash);
    if (found != last_write.end() && recent(found->second)) return;
    if (last_write.size() >= 4096)
      last_write.clear();  // bounded; the store's condition still holds
    last_write[token.token_hash] = now;
  }
  Status touched = store.touch_api_token(token.token_hash, now, kTokenTouchInterval);
  // Bookkeeping only: a busy database must not turn a valid caller away.
  if (!touched.ok())
    spdlog::debug("api token {}: last use not recorded: {}", token.name, touched.to_string());
}

AuditEntry session_audit(TimeMs now, const std::string& token_name, const std::string& action,
                         Json data = Json::object()) {
  return audit_entry(now, "api:" + token_name, action, token_name, std::move(data));
}

Result<std::optional<ApiTokenRecord>> active_token(Store& store, std::string_view token) {
  if (!looks_like_token(token)) return std::optional<ApiTokenRecord>();
  CADRE_ASSIGN_OR_RETURN(auto found, store.api_token_by_hash(sha256_hex(token)));
  if (!found || found->revoked_at != 0) return std::optional<ApiTokenRecord>();
  return found;
}

}  // namespace

bool is_token_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

Result<std::string> create_api_token(Store& store, const std::string& name,
                                     const std::string& actor, TimeMs now) {
  if (!is_token_name(name)) {
    return Status::InvalidArgument(
        "a token name is lower-case letters, digits, '_', '.' and '-' (1 to 64 characters)");
  }
  CADRE_ASSIGN_OR_RETURN(std::string random, random_text());
  std::string token = std::string(kTokenPrefix) + random;
  sodium_memzero(random.data(), random.size());
  ApiTokenRecord record;
  record.name = name;
  record.token_hash = sha256_hex(token);
  record.created_by = actor;
  record.created_at = now;
  AuditEntry audit = audit_entry(now, actor, "token.created", name);
  Status stored = store.put_api_token(record, &audit);
  if (!stored.ok()) {
    sodium_memzero(token.data(), token.size());
    return stored;
  }
  return token;
}

Result<std::vector<TokenInfo>> list_api_tokens(Store& store) {
  CADRE_ASSIGN_OR_RETURN(auto records, store.api_tokens());
  std::vector<TokenInfo> tokens;
  tokens.reserve(records.size());
  for (const auto& r : records)
    tokens.push_back({r.name, r.created_by, r.created_at, r.last_used_at, r.revoked_at});
  return tokens;
}

Status revoke_api_token(Store& store, const std::string& name, const std::string& actor,
                        TimeMs now) {
  if (!is_token_name(name))
    return Status::NotFound("there is no token " + name + " (cadre token ls)");
  AuditEntry audit = audit_entry(now, actor, "token.revoked", name);
  return store.revoke_api_token(name, now, &audit).status();
}

Result<std::optional<Principal>> authenticate(Store& store, std::string_view authorization,
                                              std::string_view cookie, TimeMs now) {
  using Found = std::optional<Principal>;
  if (!trim(authorization).empty()) {
    CADRE_ASSIGN_OR_RETURN(auto token, active_token(store, bearer_token(authorization)));
    if (!token) return Found();
    note_use(store, *token, now);
    Principal principal;
    principal.token_name = token->name;
    return Found(std::move(principal));
  }
  std::string_view session_id = session_cookie(cookie);
  if (!looks_like_random_text(session_id)) return Found();
  const std::string session_hash = sha256_hex(session_id);
  CADRE_ASSIGN_OR_RETURN(auto session, store.api_session(session_hash));
  if (!session) return Found();
  if (now >= session->session.expires_at) {
    // Gone for good: delete it now rather than wait for the next login's sweep.
    auto deleted = store.delete_api_session(session_hash);
    if (!deleted.ok())
      spdlog::debug("expired session not deleted: {}", deleted.status().to_string());
    return Found();
  }
  note_use(store, session->token, now);
  Principal principal;
  principal.token_name = session->token.name;
  principal.via_session = true;
  principal.session_hash = session_hash;
  return Found(std::move(principal));
}

Result<NewSession> open_session(Store& store, std::string_view token, TimeMs now,
                                DurationMs lifetime, bool secure_cookie) {
  if (lifetime < 1000) return Status::InvalidArgument("a session lasts at least a second");
  CADRE_ASSIGN_OR_RETURN(auto found, active_token(store, trim(token)));
  if (!found) return Status::FailedPrecondition("invalid token");
  NewSession session;
  CADRE_ASSIGN_OR_RETURN(session.cookie_value, random_text());
  CADRE_ASSIGN_OR_RETURN(session.csrf_token, random_text());
  session.expires_at = now + lifetime;
  ApiSessionRecord record;
  record.session_hash = sha256_hex(session.cookie_value);
  record.token_hash = found->token_hash;
  record.csrf_hash = sha256_hex(session.csrf_token);
  record.created_at = now;
  record.expires_at = session.expires_at;
  AuditEntry audit =
      session_audit(now, found->name, "session.opened", Json{{"expires_at", session.expires_at}});
  Status stored = store.put_api_session(record, kMaxSessionsPerToken, &audit);
  // Revoked between the check above and the insert.
  if (stored.is(StatusCode::kFailedPrecondition))
    return Status::FailedPrecondition("invalid token");
  CADRE_RETURN_IF_ERROR(stored);
  note_use(store, *found, now);
  session.set_cookie = std::string(kSessionCookieName) + "=" + session.cookie_value +
                       "; Path=/; Max-Age=" + std::to_string(lifetime / 1000) +
                       "; HttpOnly; SameSite=Strict" + (secure_cookie ? "; Secure" : "");
  return session;
}

Status check_csrf(Store& store, const Principal& principal, std::string_view csrf_header) {
  if (!principal.via_session) return Status::Ok();
  csrf_header = trim(csrf_header);
  if (csrf_header.empty()) return Status::FailedPrecondition("missing X-CSRF-Token header");
  CADRE_ASSIGN_OR_RETURN(auto session, store.api_session(principal.session_hash));
  if (!session) return Status::FailedPrecondition("the session has ended; log in again");
  // Both sides hashed: equal lengths, and the comparison's time says
  // nothing about the stored token.
  if (!same_hash(sha256_hex(csrf_header), session->session.csrf_hash))
    return Status::FailedPrecondition("wrong X-CSRF-Token header");
  return Status::Ok();
}

Result<std::string> renew_csrf_token(Store& store, const Principal& principal) {
  if (!principal.via_session)
    return Status::FailedPrecondition("a CSRF token belongs to a browser session");
  CADRE_ASSIGN_OR_RETURN(std::string csrf, random_text());
  CADRE_ASSIGN_OR_RETURN(bool renewed,
                         store.set_api_session_csrf(principal.session_hash, sha256_hex(csrf)));
  if (!renewed) return Status::FailedPrecondition("the session has ended; log in again");
  return csrf;
}

Status close_session(Store& store, const Principal& principal, TimeMs now) {
  if (!principal.via_session) return Status::Ok();
  if (now == 0) now = SystemClock::instance().now_ms();
  AuditEntry audit = session_audit(now, principal.token_name, "session.closed");
  return store.delete_api_session(principal.session_hash, &audit).status();
}

std::string clear_session_cookie(bool secure_cookie) {
  return std::string(kSessionCookieName) +
         "=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Strict" +
         (secure_cookie ? "; Secure" : "");
}

}  // namespace cadre
