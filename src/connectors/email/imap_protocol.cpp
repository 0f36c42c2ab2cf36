#include "connectors/email/imap_protocol.h"

#include <cctype>

#include "core/curl_util.h"

namespace cadre {
namespace {

constexpr int kMaxDepth = 32;

// The literal announced at the end of `line` ("… {123}" or "{123+}"), or -1.
int64_t literal_length(std::string_view line) {
  if (line.empty() || line.back() != '}') return -1;
  size_t open = line.rfind('{');
  if (open == std::string_view::npos) return -1;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  if (digits.empty() || digits.size() > 12) return -1;
  int64_t length = 0;
  for (char c : digits) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
    length = length * 10 + (c - '0');
  }
  return length;
}

class ValueParser {
 public:
  explicit ValueParser(std::string_view text) : text_(text) {}

  Result<std::vector<ImapValue>> parse_all() {
    std::vector<ImapValue> values;
    while (true) {
      skip_spaces();
      if (at_end()) return values;
      CADRE_ASSIGN_OR_RETURN(ImapValue value, parse_value(0));
      values.push_back(std::move(value));
    }
  }

 private:
  bool at_end() const {
    return at_ >= text_.size() || text_.substr(at_) == "\r\n" || text_.substr(at_) == "\n";
  }
  void skip_spaces() {
    while (at_ < text_.size() && text_[at_] == ' ') ++at_;
  }
  Status error(std::string_view what) const {
    return Status::InvalidArgument("IMAP response: " + std::string(what) + " at byte " +
                                   std::to_string(at_));
  }

  Result<ImapValue> parse_value(int depth) {
    if (depth > kMaxDepth) return error("lists nested too deep");
    char c = text_[at_];
    ImapValue value;
    if (c == '(') {
      ++at_;
      value.kind = ImapValue::Kind::kList;
      while (true) {
        skip_spaces();
        if (at_ >= text_.size()) return error("unterminated list");
        if (text_[at_] == ')') {
          ++at_;
          return value;
        }
        CADRE_ASSIGN_OR_RETURN(ImapValue item, parse_value(depth + 1));
        value.items.push_back(std::move(item));
      }
    }
    if (c == '"') {
      ++at_;
      value.kind = ImapValue::Kind::kString;
      while (at_ < text_.size() && text_[at_] != '"') {
        if (text_[at_] == '\\' && at_ + 1 < text_.size()) ++at_;
        if (text_[at_] == '\r' || text_[at_] == '\n') return error("line break in a quoted string");
        value.text += text_[at_++];
      }
      if (at_ >= text_.size()) return error("unterminated quoted string");
      ++at_;
      return value;
    }
    if (c == '{') {
      size_t close = text_.find('}', at_);
      if (close == std::string_view::npos) return error("unterminated literal length");
      int64_t length = literal_length(text_.substr(at_, close - at_ + 1));
      size_t data_start = close + 1;
      if (text_.substr(data_start, 2) == "\r\n") {
        data_start += 2;
      } else if (text_.substr(data_start, 1) == "\n") {
        data_start += 1;
      } else {
        length = -1;
      }
      if (length < 0 || data_start + static_cast<size_t>(length) > text_.size()) {
        return error("bad literal");
      }
      value.kind = ImapValue::Kind::kString;
      value.text = std::string(text_.substr(data_start, static_cast<size_t>(length)));
      at_ = data_start + static_cast<size_t>(length);
      return value;
    }
    if (c == ')') return error("unexpected ')'");
    // An atom; "[…]" and a following "<…>" belong to it (BODY[HEADER.FIELDS (A B)]<0>).
    size_t start = at_;
    while (at_ < text_.size()) {
      char d = text_[at_];
      if (d == ' ' || d == '(' || d == ')' || d == '\r' || d == '\n') break;
      if (d == '[') {
        size_t close = text_.find(']', at_);
        if (close == std::string_view::npos) return error("unterminated '['");
        at_ = close + 1;
        continue;
      }
      if (d == '<' && at_ > start && text_[at_ - 1] == ']') {
        size_t close = text_.find('>', at_);
        if (close == std::string_view::npos) return error("unterminated '<'");
        at_ = close + 1;
        continue;
      }
      ++at_;
    }
    value.text = std::string(text_.substr(start, at_ - start));
    if (value.text.empty()) return error("empty value");
    value.kind = lower_case(value.text) == "nil" ? ImapValue::Kind::kNil : ImapValue::Kind::kAtom;
    return value;
  }

  std::string_view text_;
  size_t at_ = 0;
};

}  // namespace

bool ImapValue::is_atom(std::string_view upper_case_text) const {
  if (kind != Kind::kAtom || text.size() != upper_case_text.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(text[i])) != upper_case_text[i]) return false;
  }
  return true;
}

Result<size_t> imap_response_length(std::string_view buffer, size_t max_bytes) {
  size_t at = 0;
  while (true) {
    size_t line_end = buffer.find('\n', at);
    if (line_end == std::string_view::npos) {
      if (buffer.size() > max_bytes) {
        return Status::ResourceExhausted("an IMAP response longer than " +
                                         std::to_string(max_bytes) + " bytes");
      }
      return size_t{0};
    }
    std::string_view line = buffer.substr(at, line_end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    int64_t literal = literal_length(line);
    if (literal < 0) {
      if (line_end + 1 > max_bytes) {
        return Status::ResourceExhausted("an IMAP response longer than " +
                                         std::to_string(max_bytes) + " bytes");
      }
      return line_end + 1;
    }
    if (static_cast<uint64_t>(literal) > max_bytes ||
        line_end + 1 + static_cast<size_t>(literal) > max_bytes) {
      return Status::ResourceExhausted("an IMAP response longer than " + std::to_string(max_bytes) +
                                       " bytes");
    }
    at = line_end + 1 + static_cast<size_t>(literal);
    if (at > buffer.size()) return size_t{0};
  }
}

Result<std::vector<ImapValue>> parse_imap_values(std::string_view response) {
  return ValueParser(response).parse_all();
}

std::string imap_quote(std::string_view text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

std::string imap_uid_set(const std::vector<uint64_t>& ascending_uids) {
  std::string set;
  for (size_t i = 0; i < ascending_uids.size();) {
    size_t j = i;
    while (j + 1 < ascending_uids.size() && ascending_uids[j + 1] == ascending_uids[j] + 1) ++j;
    if (!set.empty()) set += ',';
    set += std::to_string(ascending_uids[i]);
    if (j > i) set += ":" + std::to_string(ascending_uids[j]);
    i = j + 1;
  }
  return set;
}

}  // namespace cadre
