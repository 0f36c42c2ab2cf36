#include "connectors/email/mime_message.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <optional>

#include "connectors/email/mime_codecs.h"
#include "core/curl_util.h"

namespace cadre {
namespace {

constexpr int kMaxDepth = 16;
constexpr int kMaxParts = 256;
constexpr size_t kMaxHeaders = 1000;
constexpr size_t kMaxHeaderValue = 64 * 1024;

struct Entity {
  std::vector<MimeHeader> headers;
  std::string_view body;
};

std::string find_header(const std::vector<MimeHeader>& headers, std::string_view name) {
  const std::string wanted = lower_case(name);
  for (const auto& header : headers) {
    if (lower_case(header.name) == wanted) return header.value;
  }
  return {};
}

// Splits an entity into its headers and its body. Lines end in CRLF or LF;
// the first empty line ends the headers; a header's continuation lines
// start with a space or a tab. A line that is neither a header nor a
// continuation ends the headers too (a lenient reading of broken mail).
Entity split_entity(std::string_view raw) {
  Entity entity;
  size_t at = 0;
  while (at < raw.size()) {
    size_t line_end = raw.find('\n', at);
    size_t next = line_end == std::string_view::npos ? raw.size() : line_end + 1;
    std::string_view line =
        raw.substr(at, (line_end == std::string_view::npos ? raw.size() : line_end) - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      at = next;
      break;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      if (!entity.headers.empty()) {
        std::string& value = entity.headers.back().value;
        if (value.size() < kMaxHeaderValue) {
          value += ' ';
          value += trim_space(line);
        }
      }
      at = next;
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 ||
        line.substr(0, colon).find_first_of(" \t") != std::string_view::npos) {
      break;  // the body starts here
    }
    if (entity.headers.size() < kMaxHeaders) {
      entity.headers.push_back(
          {std::string(line.substr(0, colon)), std::string(trim_space(line.substr(colon + 1)))});
    }
    at = next;
  }
  for (auto& header : entity.headers) {
    if (header.value.size() > kMaxHeaderValue) header.value.resize(kMaxHeaderValue);
    header.value = std::string(trim_space(header.value));
  }
  entity.body = raw.substr(std::min(at, raw.size()));
  return entity;
}

// "type/subtype; name=value; name="quoted value"" (RFC 2045 5.1), names
// lower-cased. RFC 2231 "name*=charset'lang'%XX" values are decoded to
// bytes; continuations (name*0, name*1) are joined.
struct ContentType {
  std::string type = "text";
  std::string subtype = "plain";
  std::map<std::string, std::string> params;
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
        hex_digit(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_params(std::string_view text) {
  std::map<std::string, std::string> params;
  std::map<std::string, std::map<int, std::string>> continued;
  size_t at = 0;
  while (at < text.size()) {
    size_t semicolon = text.find(';', at);
    if (semicolon == std::string_view::npos) break;
    at = semicolon + 1;
    while (at < text.size() && (text[at] == ' ' || text[at] == '\t')) ++at;
    size_t equals = text.find('=', at);
    if (equals == std::string_view::npos) break;
    std::string name = lower_case(trim_space(text.substr(at, equals - at)));
    at = equals + 1;
    while (at < text.size() && (text[at] == ' ' || text[at] == '\t')) ++at;
    std::string value;
    if (at < text.size() && text[at] == '"') {
      ++at;
      while (at < text.size() && text[at] != '"') {
        if (text[at] == '\\' && at + 1 < text.size()) ++at;
        value += text[at++];
      }
      ++at;  // the closing quote
    } else {
      size_t end = text.find(';', at);
      if (end == std::string_view::npos) end = text.size();
      value = std::string(trim_space(text.substr(at, end - at)));
      at = end;
    }
    // RFC 2231: name*=charset'language'percent-encoded, name*N(*)=part.
    bool extended = !name.empty() && name.back() == '*';
    if (extended) {
      name.pop_back();
      size_t first = value.find('\'');
      size_t second = first == std::string::npos ? first : value.find('\'', first + 1);
      if (second != std::string::npos) value = value.substr(second + 1);
      value = percent_decode(value);
    }
    if (size_t star = name.find('*'); star != std::string::npos) {
      int index = 0;
      for (char c : name.substr(star + 1)) {
        if (!std::isdigit(static_cast<unsigned char>(c)) || index > 1000) break;
        index = index * 10 + (c - '0');
      }
      continued[name.substr(0, star)][index] = value;
      continue;
    }
    params[name] = value;
  }
  for (const auto& [name, pieces] : continued) {
    if (params.count(name)) continue;
    std::string joined;
    for (const auto& [index, piece] : pieces) joined += piece;
    params[name] = joined;
  }
  return params;
}

ContentType parse_content_type(const std::string& value) {
  ContentType content_type;
  std::string_view text = value;
  size_t end = text.find(';');
  std::string media = lower_case(trim_space(text.substr(0, end)));
  size_t slash = media.find('/');
  if (slash != std::string::npos && slash > 0 && slash + 1 < media.size()) {
    content_type.type = media.substr(0, slash);
    content_type.subtype = media.substr(slash + 1);
  }
  if (end != std::string_view::npos) content_type.params = parse_params(text.substr(end));
  return content_type;
}

bool is_attachment(const std::vector<MimeHeader>& headers) {
  std::string disposition = lower_case(find_header(headers, "Content-Disposition"));
  return disposition.rfind("attachment", 0) == 0;
}

std::string decoded_body(const Entity& entity, const ContentType& content_type) {
  std::string encoding = lower_case(find_header(entity.headers, "Content-Transfer-Encoding"));
  std::string bytes;
  if (encoding == "base64") {
    bytes = base64_decode(entity.body);
  } else if (encoding == "quoted-printable") {
    bytes = quoted_printable_decode(entity.body);
  } else {
    bytes = std::string(entity.body);
  }
  auto charset = content_type.params.find("charset");
  return to_utf8(bytes, charset == content_type.params.end() ? "" : charset->second);
}

// The parts of a multipart body: what lies between "--boundary" lines, up to
// "--boundary--" (or the end, when the message was cut).
std::vector<std::string_view> split_multipart(std::string_view body, const std::string& boundary) {
  std::vector<std::string_view> parts;
  const std::string delimiter = "--" + boundary;
  size_t part_start = std::string_view::npos;
  size_t at = 0;
  while (at <= body.size()) {
    size_t line_end = body.find('\n', at);
    if (line_end == std::string_view::npos) line_end = body.size();
    std::string_view line = body.substr(at, line_end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.rfind(delimiter, 0) == 0) {
      std::string_view rest = trim_space(line.substr(delimiter.size()));
      const bool closing = rest.rfind("--", 0) == 0;
      if (rest.empty() || closing) {
        if (part_start != std::string_view::npos) {
          // The line break before a delimiter belongs to the delimiter.
          size_t part_end = at;
          if (part_end > part_start && body[part_end - 1] == '\n') --part_end;
          if (part_end > part_start && body[part_end - 1] == '\r') --part_end;
          parts.push_back(body.substr(part_start, part_end - part_start));
          if (parts.size() >= static_cast<size_t>(kMaxParts)) return parts;
        }
        if (closing) return parts;
        part_start = line_end + 1;
      }
    }
    if (line_end == body.size()) break;
    at = line_end + 1;
  }
  if (part_start != std::string_view::npos && part_start < body.size()) {
    parts.push_back(body.substr(part_start));
  }
  return parts;
}

struct Found {
  std::string text;
  bool html = false;
};

struct Walk {
  int parts_seen = 0;
};

// The best text under `entity`: plain text over HTML, the first in order.
std::optional<Found> find_text(const Entity& entity, int depth, Walk& walk) {
  if (depth > kMaxDepth || ++walk.parts_seen > kMaxParts) return std::nullopt;
  std::string content_type_header = find_header(entity.headers, "Content-Type");
  ContentType content_type = parse_content_type(content_type_header);
  if (content_type.type == "multipart") {
    auto boundary = content_type.params.find("boundary");
    if (boundary == content_type.params.end() || boundary->second.empty()) return std::nullopt;
    std::optional<Found> html;
    for (std::string_view part : split_multipart(entity.body, boundary->second)) {
      std::optional<Found> found = find_text(split_entity(part), depth + 1, walk);
      if (!found) continue;
      if (!found->html) return found;
      if (!html) html = std::move(found);
    }
    return html;
  }
  if (content_type.type != "text" || is_attachment(entity.headers)) return std::nullopt;
  if (content_type.subtype == "plain") return Found{decoded_body(entity, content_type), false};
  if (content_type.subtype == "html") return Found{decoded_body(entity, content_type), true};
  return std::nullopt;
}

std::string with_unix_line_breaks(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += '\n';
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

// --- HTML ---------------------------------------------------------------

void append_code_point(std::string& out, uint32_t code_point) {
  if (code_point == 0 || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    code_point = 0xFFFD;
  }
  append_utf8(out, code_point);
}

// Decodes the entity at html[at] ('&'); returns how many bytes it used (0: not one).
size_t decode_entity(std::string_view html, size_t at, std::string& out) {
  size_t end = html.find(';', at);
  if (end == std::string_view::npos || end - at > 10) return 0;
  std::string_view name = html.substr(at + 1, end - at - 1);
  if (!name.empty() && name[0] == '#') {
    uint32_t code_point = 0;
    bool hex = name.size() > 1 && (name[1] == 'x' || name[1] == 'X');
    std::string_view digits = name.substr(hex ? 2 : 1);
    if (digits.empty()) return 0;
    for (char c : digits) {
      int value = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                  : hex && std::isxdigit(static_cast<unsigned char>(c))
                      ? (std::tolower(static_cast<unsigned char>(c)) - 'a' + 10)
                      : -1;
      if (value < 0 || code_point > 0x10FFFF) return 0;
      code_point = code_point * (hex ? 16 : 10) + static_cast<uint32_t>(value);
    }
    append_code_point(out, code_point);
    return end - at + 1;
  }
  static const std::map<std::string_view, uint32_t> kNamed = {
      {"amp", '&'},       {"lt", '<'},       {"gt", '>'},       {"quot", '"'},
      {"apos", '\''},     {"nbsp", ' '},     {"copy", 0xA9},    {"reg", 0xAE},
      {"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013}, {"rsquo", 0x2019},
      {"lsquo", 0x2018},  {"rdquo", 0x201D}, {"ldquo", 0x201C}, {"euro", 0x20AC},
      {"trade", 0x2122},  {"bull", 0x2022}};
  auto found = kNamed.find(name);
  if (found == kNamed.end()) return 0;
  append_code_point(out, found->second);
  return end - at + 1;
}

// Where "</tag" starts at or after `from`, any case; npos when nowhere.
size_t find_close_tag(std::string_view html, size_t from, std::string_view tag) {
  for (size_t at = html.find("</", from); at != std::string_view::npos;
       at = html.find("</", at + 2)) {
    if (lower_case(html.substr(at + 2, tag.size())) == tag) return at;
  }
  return std::string_view::npos;
}

bool is_block_tag(std::string_view tag) {
  static const char* const kBlocks[] = {"br", "p",     "div",        "tr",  "li", "h1",
                                        "h2", "h3",    "h4",         "h5",  "h6", "ul",
                                        "ol", "table", "blockquote", "pre", "hr"};
  for (const char* block : kBlocks) {
    if (tag == block) return true;
  }
  return false;
}

}  // namespace

std::string MimeMessage::header(std::string_view name) const {
  return find_header(headers, name);
}

std::string MimeMessage::decoded_header(std::string_view name) const {
  return decode_header_words(find_header(headers, name));
}

MimeMessage parse_mime_message(std::string_view raw, size_t max_text_bytes) {
  MimeMessage message;
  Entity top = split_entity(raw);
  Walk walk;
  std::optional<Found> found = find_text(top, 0, walk);
  message.headers = std::move(top.headers);
  if (found) {
    std::string text = found->html ? html_to_text(found->text) : with_unix_line_breaks(found->text);
    std::string_view kept = truncate_utf8(text, max_text_bytes);
    message.text_truncated = kept.size() < text.size();
    message.text = std::string(kept);
  }
  return message;
}

std::string html_to_text(std::string_view html) {
  std::string out;
  out.reserve(html.size() / 2);
  bool pending_space = false;
  int pending_breaks = 0;
  auto put_text = [&](std::string_view piece) {
    if (pending_breaks > 0 && !out.empty()) {
      out.append(static_cast<size_t>(std::min(pending_breaks, 2)), '\n');
    } else if (pending_space && !out.empty() && out.back() != '\n') {
      out += ' ';
    }
    pending_breaks = 0;
    pending_space = false;
    out += piece;
  };
  size_t at = 0;
  while (at < html.size()) {
    char c = html[at];
    if (c == '<') {
      if (html.substr(at, 4) == "<!--") {
        size_t end = html.find("-->", at + 4);
        at = end == std::string_view::npos ? html.size() : end + 3;
        continue;
      }
      size_t end = html.find('>', at);
      if (end == std::string_view::npos) break;
      std::string_view inside = html.substr(at + 1, end - at - 1);
      bool closing = !inside.empty() && inside[0] == '/';
      if (closing) inside.remove_prefix(1);
      size_t name_end = inside.find_first_of(" \t\r\n/>");
      std::string tag = lower_case(inside.substr(0, name_end));
      at = end + 1;
      if (!closing && (tag == "script" || tag == "style" || tag == "head" || tag == "title")) {
        // Skip to the matching close tag (case-insensitive).
        size_t close_at = find_close_tag(html, at, tag);
        if (close_at == std::string_view::npos) break;
        size_t close_end = html.find('>', close_at);
        at = close_end == std::string_view::npos ? html.size() : close_end + 1;
        continue;
      }
      if (is_block_tag(tag)) {
        pending_breaks += (tag == "p" || tag == "table" || tag == "blockquote") && closing ? 2 : 1;
        if (tag == "br") pending_breaks = std::max(pending_breaks, 1);
      } else if (tag == "td" || tag == "th") {
        pending_space = true;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      pending_space = true;
      ++at;
      continue;
    }
    if (c == '&') {
      std::string decoded;
      size_t used = decode_entity(html, at, decoded);
      if (used > 0) {
        put_text(decoded);
        at += used;
        continue;
      }
    }
    put_text(std::string_view(&html[at], 1));
    ++at;
  }
  return out;
}

}  // namespace cadre
