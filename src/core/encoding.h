// Small encodings that several modules need.
//
// Thread-safety: free functions.
#pragma once

#include <string>
#include <string_view>

namespace cadre {

// Standard base64 (with padding) of `bytes`.
std::string base64_encode(std::string_view bytes);

// Whether `text` is valid UTF-8, so that JSON (the journal's format) can carry it.
bool is_valid_utf8(const std::string& text);

}  // namespace cadre
