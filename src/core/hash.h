// Content hashes: SHA-256 (libsodium) as lower-case hex.
#pragma once

#include <string>
#include <string_view>

namespace cadre {

// The full digest, 64 hex digits.
std::string sha256_hex(std::string_view data);

}  // namespace cadre
