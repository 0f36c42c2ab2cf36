#include "connectors/email/mime_codecs.h"

#include <iconv.h>

#include <array>
#include <cerrno>
#include <cstdint>

#include "core/curl_util.h"

namespace cadre {
namespace {

constexpr char kHexDigits[] = "0123456789ABCDEF";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;  // '-' and '_': the URL-safe alphabet, seen in the wild
  if (c == '/' || c == '_') return 63;
  return -1;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}


// The length of the valid UTF-8 sequence at text[at], or 0 when there is none
// (overlong forms, surrogates and code points past U+10FFFF are invalid).
size_t utf8_sequence_length(std::string_view text, size_t at) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(at);
  if (lead < 0x80) return 1;
  size_t length;
  uint32_t min;
  uint32_t code_point;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, min = 0x80, code_point = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, min = 0x800, code_point = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, min = 0x10000, code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(at + i) & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(at + i) & 0x3F);
  }
  if (code_point < min || code_point > 0x10FFFF) return 0;
  if (code_point >= 0xD800 && code_point <= 0xDFFF) return 0;
  return length;
}

std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    size_t length = utf8_sequence_length(bytes, i);
    if (length == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(bytes.substr(i, length));
      i += length;
    }
  }
  return out;
}

// windows-1252's 0x80..0x9F; 0 where it leaves a byte undefined.
constexpr std::array<uint16_t, 32> kWindows1252High = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

std::string windows1252_to_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 4);
  for (char c : bytes) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (byte >= 0x80 && byte < 0xA0) {
      uint16_t mapped = kWindows1252High[byte - 0x80];
      if (mapped == 0) {
        out += kReplacement;
      } else {
        append_utf8(out, mapped);
      }
    } else {
      append_utf8(out, byte);
    }
  }
  return out;
}

// Through glibc's iconv; false when it does not know the charset.
bool iconv_to_utf8(std::string_view bytes, const std::string& charset, std::string& out) {
  iconv_t converter = iconv_open("UTF-8", charset.c_str());
  if (converter == reinterpret_cast<iconv_t>(-1)) return false;
  out.clear();
  out.reserve(bytes.size() * 2);
  std::string input(bytes);
  char* in = input.data();
  size_t in_left = input.size();
  std::array<char, 4096> buffer;
  while (true) {
    char* out_pointer = buffer.data();
    size_t out_left = buffer.size();
    size_t done = iconv(converter, in_left > 0 ? &in : nullptr, in_left > 0 ? &in_left : nullptr,
                        &out_pointer, &out_left);
    out.append(buffer.data(), buffer.size() - out_left);
    if (done != static_cast<size_t>(-1)) {
      if (in_left == 0) break;
      continue;
    }
    if (errno == E2BIG) continue;
    // EILSEQ (an invalid sequence) or EINVAL (cut short at the end): one byte lost.
    out += kReplacement;
    if (in_left == 0) break;
    ++in;
    --in_left;
    if (in_left == 0) break;
  }
  iconv_close(converter);
  return true;
}

std::string normalized_charset(std::string_view charset) {
  std::string name = lower_case(trim_space(charset));
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
    name = name.substr(1, name.size() - 2);
  }
  return name;
}

}  // namespace

void append_utf8(std::string& out, uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

std::string base64_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t group = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    int value = base64_value(c);
    if (value < 0) continue;
    group = (group << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((group >> bits) & 0xFF);
    }
  }
  return out;
}

std::string quoted_printable_encode(std::string_view text) {
  constexpr size_t kMaxLine = 76;
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  size_t line_length = 0;
  auto emit = [&](std::string_view piece) {
    // A soft break when the piece and a possible final '=' would not fit.
    if (line_length + piece.size() > kMaxLine - 1) {
      out += "=\r\n";
      line_length = 0;
    }
    out += piece;
    line_length += piece.size();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    unsigned char byte = static_cast<unsigned char>(c);
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      out += "\r\n";
      line_length = 0;
      ++i;
      continue;
    }
    const bool at_line_end =
        i + 1 == text.size() || (text[i + 1] == '\r' && i + 2 < text.size() && text[i + 2] == '\n');
    const bool literal =
        (byte >= 33 && byte <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    if (literal) {
      emit(std::string_view(&c, 1));
    } else {
      char escaped[3] = {'=', kHexDigits[byte >> 4], kHexDigits[byte & 15]};
      emit(std::string_view(escaped, 3));
    }
  }
  return out;
}

std::string quoted_printable_decode(std::string_view text, bool q_encoding) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '_' && q_encoding) {
      out += ' ';
    } else if (c != '=') {
      out += c;
    } else if (i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      // A soft break: '=' then optional trailing whitespace then the line break.
      size_t j = i + 1;
      while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
      if (j < text.size() && text[j] == '\r') ++j;
      if (j < text.size() && text[j] == '\n') {
        i = j;
      } else if (j == text.size()) {
        i = j - 1;
      } else {
        out += '=';  // not an escape: keep it, as RFC 2045 suggests
      }
    }
  }
  return out;
}

std::string encode_header_words(std::string_view utf8) {
  // 39 bytes → 52 base64 characters → a 64-character word, so that even the
  // first, after "Subject: ", stays within 78 columns.
  constexpr size_t kBytesPerWord = 39;
  std::string out;
  size_t start = 0;
  while (start < utf8.size()) {
    size_t end = start;
    while (end < utf8.size()) {
      size_t length = utf8_sequence_length(utf8, end);
      if (length == 0) length = 1;
      if (end + length - start > kBytesPerWord && end > start) break;
      end += length;
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64_encode(utf8.substr(start, end - start)) + "?=";
    start = end;
  }
  return out;
}

std::string decode_header_words(std::string_view value) {
  std::string out;
  // Adjacent words in one charset are decoded together: encoders do split a
  // multi-byte character across two words.
  std::string pending_bytes;
  std::string pending_charset;
  auto flush = [&] {
    if (!pending_charset.empty() || !pending_bytes.empty()) {
      out += to_utf8(pending_bytes, pending_charset);
    }
    pending_bytes.clear();
    pending_charset.clear();
  };
  auto raw_text = [](std::string_view raw) {
    return is_valid_utf8(raw) ? std::string(raw) : windows1252_to_utf8(raw);
  };

  size_t consumed = 0;  // value[..consumed) is in `out` or pending
  size_t search = 0;
  bool after_word = false;
  while (true) {
    size_t start = value.find("=?", search);
    if (start == std::string_view::npos) break;
    // =?charset?encoding?text?=
    size_t charset_end = value.find('?', start + 2);
    size_t encoding_end =
        charset_end == std::string_view::npos ? charset_end : value.find('?', charset_end + 1);
    size_t text_end =
        encoding_end == std::string_view::npos ? encoding_end : value.find("?=", encoding_end + 1);
    char encoding = 0;
    std::string_view encoded;
    if (text_end != std::string_view::npos && encoding_end == charset_end + 2 &&
        charset_end > start + 2) {
      encoded = value.substr(encoding_end + 1, text_end - encoding_end - 1);
      if (encoded.find_first_of(" \t\r\n") == std::string_view::npos) {
        encoding = static_cast<char>(value[charset_end + 1] | 0x20);
      }
    }
    if (encoding != 'b' && encoding != 'q') {
      search = start + 2;  // not a word: plain text
      continue;
    }
    std::string_view between = value.substr(consumed, start - consumed);
    const bool only_space = between.find_first_not_of(" \t\r\n") == std::string_view::npos;
    if (!(after_word && only_space)) {
      flush();
      out += raw_text(between);
    }
    std::string charset = normalized_charset(value.substr(start + 2, charset_end - start - 2));
    if (size_t star = charset.find('*'); star != std::string::npos) charset.resize(star);
    if (charset != pending_charset) flush();
    pending_charset = charset;
    pending_bytes +=
        encoding == 'b' ? base64_decode(encoded) : quoted_printable_decode(encoded, true);
    after_word = true;
    consumed = search = text_end + 2;
  }
  flush();
  out += raw_text(value.substr(consumed));
  return out;
}

bool is_valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t length = utf8_sequence_length(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

bool is_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::string to_utf8(std::string_view bytes, std::string_view charset) {
  const std::string name = normalized_charset(charset);
  if (name == "utf-8" || name == "utf8") return sanitize_utf8(bytes);
  if (name.empty() || name == "us-ascii" || name == "ascii" || name == "ansi_x3.4-1968") {
    // Mislabelled 8-bit text is common; UTF-8 is the likelier intent.
    return is_valid_utf8(bytes) ? std::string(bytes) : windows1252_to_utf8(bytes);
  }
  if (name == "iso-8859-1" || name == "iso8859-1" || name == "iso_8859-1" || name == "latin1" ||
      name == "latin-1" || name == "l1" || name == "cp819" || name == "windows-1252" ||
      name == "cp1252") {
    return windows1252_to_utf8(bytes);
  }
  if (is_ascii(bytes)) return std::string(bytes);  // the same in every ASCII-based charset
  std::string converted;
  if (iconv_to_utf8(bytes, name, converted)) return sanitize_utf8(converted);
  return is_valid_utf8(bytes) ? std::string(bytes) : windows1252_to_utf8(bytes);
}

std::string_view truncate_utf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  // Back off continuation bytes, then drop the cut lead byte.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace cadre
