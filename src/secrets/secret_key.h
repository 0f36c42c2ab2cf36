// SecretKey: the 32-byte key that seals a workspace's secrets, and where it
// comes from: the environment variable CADRE_SECRET_KEY (64 hex digits or
// base64) when set, else the file secret.key in the state folder (32 raw
// bytes, mode 0600). The bytes are wiped when the SecretKey goes away.
//
// Errors name the variable or the file and what is wrong with it, never the
// value.
//
// Thread-safety: a SecretKey is a value; load_secret_key may be called from
// any thread (creating the file is atomic: O_EXCL, then link into place).
#pragma once

#include <sodium.h>

#include <array>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cadre {

inline constexpr size_t kSecretKeyBytes = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
// The environment variable that carries the key instead of the file.
inline constexpr char kSecretKeyEnv[] = "CADRE_SECRET_KEY";
// The key file's name in the state folder.
inline constexpr char kSecretKeyFile[] = "secret.key";

class SecretKey {
 public:
  SecretKey() = default;
  ~SecretKey() { sodium_memzero(bytes_.data(), bytes_.size()); }
  SecretKey(const SecretKey&) = default;
  SecretKey& operator=(const SecretKey&) = default;

  unsigned char* data() { return bytes_.data(); }
  const unsigned char* data() const { return bytes_.data(); }
  // Where it came from, for messages: "CADRE_SECRET_KEY" or the file's path.
  const std::string& source() const { return source_; }
  void set_source(std::string source) { source_ = std::move(source); }

 private:
  std::array<unsigned char, kSecretKeyBytes> bytes_{};
  std::string source_;
};

enum class KeyMissing {
  kFail,    // no key anywhere: FailedPrecondition saying how to give one
  kCreate,  // no key anywhere: make secret.key
};

// The key from CADRE_SECRET_KEY or `state_dir`/secret.key.
Result<SecretKey> load_secret_key(const std::filesystem::path& state_dir, KeyMissing missing);

// The 32 bytes written as 64 hex digits or base64 (standard or URL-safe,
// padding optional). `what` names the source in errors.
Result<SecretKey> decode_secret_key(std::string_view text, std::string_view what);

}  // namespace cadre
