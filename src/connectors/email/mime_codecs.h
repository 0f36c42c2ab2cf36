// The byte-level encodings of Internet mail, both ways: base64,
// quoted-printable, RFC 2047 encoded words in headers, and charsets to UTF-8.
// Shared by the message Cadre composes (outgoing_message.h) and the messages
// it reads (mime_message.h).
//
// Decoders are lenient, as mail readers must be: malformed input is passed
// through or replaced by U+FFFD, never refused. Encoders produce only what
// RFC 2045/2047 allow (lines of at most 76 characters, words of at most 75).
//
// Thread-safety: pure functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/encoding.h"

namespace cadre {

// Base64 encoding is core/encoding.h's. Decoding skips line breaks and
// other characters outside the alphabet; stops at '='.
std::string base64_decode(std::string_view text);

// Appends `code_point` as UTF-8 (the caller checks it is a scalar value).
void append_utf8(std::string& out, uint32_t code_point);

// A body in quoted-printable (RFC 2045 6.7): `text` has CRLF line breaks,
// which stay hard breaks; longer lines get soft breaks ("=" CRLF).
std::string quoted_printable_encode(std::string_view text);
// `q_encoding`: the variant of encoded words (RFC 2047 4.2), where '_' is a space.
std::string quoted_printable_decode(std::string_view text, bool q_encoding = false);

// Non-ASCII header text as UTF-8 "B" encoded words, each at most 75
// characters, joined by CRLF SP (a fold). Whole UTF-8 characters per word.
std::string encode_header_words(std::string_view utf8);
// A raw header value with its RFC 2047 encoded words decoded, as UTF-8.
// Whitespace between adjacent encoded words is dropped (RFC 2047 6.2); raw
// 8-bit text is kept when it is UTF-8 and read as Latin-1 otherwise.
std::string decode_header_words(std::string_view value);

bool is_valid_utf8(std::string_view text);
bool is_ascii(std::string_view text);
// `bytes` in `charset` (a MIME charset name, any case) as UTF-8. UTF-8,
// US-ASCII, ISO-8859-1 and windows-1252 are decoded here (ISO-8859-1 as its
// superset windows-1252, as browsers do), any other charset through iconv.
// An unknown charset is read as UTF-8 when valid, else as windows-1252.
// Invalid sequences become U+FFFD.
std::string to_utf8(std::string_view bytes, std::string_view charset);

// At most `max_bytes` of `text`, cut before a UTF-8 character that would not fit.
std::string_view truncate_utf8(std::string_view text, size_t max_bytes);

}  // namespace cadre
