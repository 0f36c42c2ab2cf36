// The parts of IMAP4rev1 (RFC 3501) the reader speaks, without any I/O:
// framing a response (a line, or lines joined by literals "{n}" CRLF and n
// bytes), reading its values (atoms, quoted strings, literals, NIL,
// parenthesized lists), and writing quoted strings and UID sets.
//
// Bounded against a hostile server: responses and literals are capped by
// the caller, lists nest at most 32 deep.
//
// Thread-safety: pure functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace cadre {

// The length of the first complete response in `buffer`, its final CRLF
// included; 0 when more bytes are needed. resource_exhausted when the
// response would pass `max_bytes`.
Result<size_t> imap_response_length(std::string_view buffer, size_t max_bytes);

struct ImapValue {
  enum class Kind { kAtom, kString, kNil, kList };
  Kind kind = Kind::kAtom;
  std::string text;              // an atom as written ("BODY[]<0>"), a string's content
  std::vector<ImapValue> items;  // a list's values

  bool is_atom(std::string_view upper_case_text) const;  // any case
};

// The values of one response (as framed above), tag or "*" first.
// invalid_argument when it is not well formed.
Result<std::vector<ImapValue>> parse_imap_values(std::string_view response);

// `text` as an IMAP quoted string ("a \"b\"").
std::string imap_quote(std::string_view text);

// Ascending UIDs as a compact set: {3,4,5,9} -> "3:5,9".
std::string imap_uid_set(const std::vector<uint64_t>& ascending_uids);

}  // namespace cadre
