#include "core/webhook_signature.h"

#include <sodium.h>

#include <array>
#include <charconv>
#include <optional>
#include <vector>

namespace cadre {
namespace {

using Mac = std::array<unsigned char, crypto_auth_hmacsha256_BYTES>;

Mac hmac(std::string_view secret, int64_t unix_seconds, std::string_view body) {
  const std::string prefix = std::to_string(unix_seconds) + ".";
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(prefix.data()), prefix.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(body.data()), body.size());
  Mac mac;
  crypto_auth_hmacsha256_final(&state, mac.data());
  sodium_memzero(&state, sizeof state);
  return mac;
}

std::string to_hex(const Mac& mac) {
  std::string hex(mac.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), mac.data(), mac.size());
  hex.pop_back();
  return hex;
}

bool from_hex(std::string_view hex, Mac* out) {
  size_t length = 0;
  return hex.size() == out->size() * 2 &&
         sodium_hex2bin(out->data(), out->size(), hex.data(), hex.size(), nullptr, &length, nullptr) == 0 &&
         length == out->size();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

std::string sign_webhook(std::string_view secret, int64_t unix_seconds, std::string_view body) {
  (void)sodium_init();  // idempotent; HMAC itself needs no random source
  return "t=" + std::to_string(unix_seconds) + ",v1=" + to_hex(hmac(secret, unix_seconds, body));
}

Status verify_webhook(std::string_view secret, std::string_view header, std::string_view body,
                      int64_t now_unix_seconds, int64_t tolerance_seconds) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialize");
  std::optional<int64_t> timestamp;
  std::vector<Mac> signatures;
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view part = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = part.substr(0, eq), value = part.substr(eq + 1);
    if (key == "t") {
      int64_t t = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), t);
      if (ec != std::errc() || end != value.data() + value.size())
        return Status::InvalidArgument(std::string(kWebhookSignatureHeader) + ": t is not a number of seconds");
      timestamp = t;
    } else if (key == "v1") {
      Mac mac;
      if (!from_hex(value, &mac))
        return Status::InvalidArgument(std::string(kWebhookSignatureHeader) + ": v1 is not 64 hex digits");
      signatures.push_back(mac);
    }
  }
  if (!timestamp || signatures.empty()) {
    return Status::InvalidArgument(std::string(kWebhookSignatureHeader) + " must be \"t=SECONDS,v1=HEX\"");
  }
  const int64_t age = now_unix_seconds - *timestamp;
  if (age > tolerance_seconds || -age > tolerance_seconds) {
    std::string when = age > 0 ? std::to_string(age) + " s ago" : std::to_string(-age) + " s in the future";
    return Status::FailedPrecondition("the webhook was signed " + when + "; at most " +
                                      std::to_string(tolerance_seconds) +
                                      " s either way is accepted (a replay, or a clock that is off)");
  }
  const Mac expected = hmac(secret, *timestamp, body);
  for (const auto& mac : signatures) {
    if (sodium_memcmp(mac.data(), expected.data(), mac.size()) == 0) return Status::Ok();
  }
  return Status::FailedPrecondition("the webhook's signature does not match its body (wrong secret, or altered)");
}

}  // namespace cadre
