// SecretStore: a workspace's secrets, encrypted at rest in its state folder
// (.cadre/), referenced from configuration as ${secret:NAME}.
//
// Files in the state folder:
//   secret.key    32 random bytes, mode 0600, made by the first set() when
//                 CADRE_SECRET_KEY is not set. Refused when group or others
//                 may read it, or when its size is not 32 bytes.
//   secrets.json  {"version": 1, "cipher": "xchacha20poly1305-ietf",
//                  "key_check": {nonce, ciphertext},
//                  "secrets": {NAME: {nonce, ciphertext, updated_at}}}
//                 (base64). Each value is sealed with XChaCha20-Poly1305
//                 under its own random nonce, with the name as additional
//                 data, so an entry moved under another name does not open.
//                 key_check seals nothing under a fixed label: it tells "wrong
//                 key" apart from "damaged entry", and keeps two keys from
//                 ever sealing entries of one file.
//   secrets.lock  held (flock) while a change is read, made and written.
// Writes go to a temporary file that is synced and renamed over the old one
// (mode 0600), so a crash leaves the old file or the new one.
//
// The key comes from the environment variable CADRE_SECRET_KEY when it is
// set (32 bytes as 64 hex digits or base64), else from secret.key. Key
// bytes and decrypted buffers are wiped after use. Error messages name the
// file, variable or secret and never hold a value or key.
//
// Thread-safety: a SecretStore holds only its folder; its methods may be
// called from any thread, and processes changing one store are serialized
// by the lock file.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace cadre {

inline constexpr char kSecretsFile[] = "secrets.json";
// A value may be at most this long (a key, a token, a certificate).
inline constexpr size_t kMaxSecretValueBytes = 64 * 1024;

struct SecretInfo {
  std::string name;
  TimeMs updated_at = 0;
};

class SecretStore {
 public:
  // The store in `state_dir` (a workspace's .cadre/). Nothing is read yet.
  explicit SecretStore(std::filesystem::path state_dir) : dir_(std::move(state_dir)) {}

  // Adds or replaces `name` (is_secret_name) with `value` (1 byte to
  // kMaxSecretValueBytes). Makes the key file when there is no key yet.
  Status set(std::string_view name, std::string_view value, TimeMs now);
  // The value; NotFound naming the secret when there is none.
  Result<std::string> get(std::string_view name) const;
  // NotFound when there is no such secret. Needs no key.
  Status remove(std::string_view name);
  // Names and update times, by name. Needs no key.
  Result<std::vector<SecretInfo>> list() const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

}  // namespace cadre
