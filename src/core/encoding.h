// Small encodings that several modules need.
//
// Thread-safety: free functions.
#pragma once

#include <string>

namespace cadre {

// Standard base64 (with padding) of `bytes`.
std::string base64_encode(const std::string& bytes);

// Whether `text` is valid UTF-8, so that JSON (the journal's format) can carry it.
bool is_valid_utf8(const std::string& text);

}  // namespace cadre
