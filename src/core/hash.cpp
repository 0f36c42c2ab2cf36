#include "core/hash.h"

#include <sodium.h>

namespace cadre {

std::string sha256_hex(std::string_view data) {
  static const bool sodium_ready = sodium_init() >= 0;
  (void)sodium_ready;  // crypto_hash_sha256 needs no state; init only picks implementations
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof digest);
  for (unsigned char byte : digest) {
    out += kHex[byte >> 4];
    out += kHex[byte & 0xf];
  }
  return out;
}

}  // namespace cadre
