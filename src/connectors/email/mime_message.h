// Reading an Internet message (RFC 5322 + MIME) for what an agent needs: the
// top-level headers, and the text of the body as UTF-8.
//
// The text is the first inline text/plain part found walking the MIME tree
// in order; in multipart/alternative the text/plain alternative is taken
// over the others; when there is no text/plain at all, the first inline
// text/html part with its markup stripped. Attachments (Content-Disposition:
// attachment) and attached messages (message/rfc822) are skipped.
// Transfer encodings (base64, quoted-printable) and charsets are decoded
// (mime_codecs.h); line breaks in the text are "\n".
//
// Hand-written rather than GMime: Cadre needs one read-only path (headers,
// one text part), which is a few hundred lines, while libgmime-3.0 would
// bring GLib, GObject and GPGME into every binary. The parser is lenient
// (a truncated or malformed message still yields what can be read) and
// bounded: nesting depth 16, 256 parts, 1,000 headers per part.
//
// Thread-safety: pure functions; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cadre {

struct MimeHeader {
  std::string name;   // as written
  std::string value;  // unfolded and trimmed, encoded words not decoded
};

struct MimeMessage {
  std::vector<MimeHeader> headers;  // the top-level ones, in order
  std::string text;                 // the body text, UTF-8, "\n" line breaks
  bool text_truncated = false;      // text was cut at the cap given

  // The first header named `name` (any case), raw; empty when absent.
  std::string header(std::string_view name) const;
  // The same with RFC 2047 encoded words decoded (UTF-8).
  std::string decoded_header(std::string_view name) const;
};

constexpr size_t kDefaultMaxTextBytes = 256 * 1024;

MimeMessage parse_mime_message(std::string_view raw, size_t max_text_bytes = kDefaultMaxTextBytes);

// Text of an HTML document: tags dropped, <script>, <style> and <head>
// contents dropped, block elements and <br> as line breaks, entities
// decoded, runs of whitespace collapsed.
std::string html_to_text(std::string_view html);

}  // namespace cadre
