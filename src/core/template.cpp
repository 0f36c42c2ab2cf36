// The template language of template.h: a lexer that hands out tokens on
// demand, a recursive-descent parser that builds a small syntax tree, and an
// evaluator over Json that borrows values from the scope instead of copying.
//
// Grammar, loosest binding first:
//   or_expr     := and_expr ("or" and_expr)*
//   and_expr    := comparison ("and" comparison)*
//   comparison  := unary [("==" | "!=" | "<" | "<=" | ">" | ">=") unary]
//   unary       := "not" unary | filtered
//   filtered    := primary ("|" name ["(" or_expr ")"])*
//   primary     := literal | path | "(" or_expr ")"
//   path        := name ("." name | "[" integer "]" | "[" string "]")*
// `not` binds tighter than a comparison, as `!` does in C: `not a == b` means
// `(not a) == b`. Filters bind tightest: `not x | length` negates the length.
// Comparisons do not chain (`a < b < c` is an error, write `a < b and b < c`).
//
// Robustness: every recursion is bounded. The parser counts nesting through
// parentheses, `not` and filter arguments; `and`, `or` and filter chains are
// stored flat, so the tree is never deeper than that count allows. Rendering
// counts JSON depth, and every byte a template produces (its literal text,
// interpolated values, typed values, text built by filters) is charged to one
// output budget per call. Strings without "{{" are not templates: they pass
// through untouched and count against no limit.
//
// Semantics the header leaves open: `default(x)` replaces null only (not ""
// or false) and evaluates x only then; `length` counts UTF-8 code points of a
// string; `upper` and `lower` change ASCII letters only; `and`, `or` and `not`
// yield booleans; `[-1]` indexes from the end.
#include "core/template.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <compare>
#include <cstdio>
#include <memory>
#include <unordered_set>

namespace cadre {
namespace {

constexpr size_t kMaxTemplateBytes = 64 * 1024;
constexpr int kMaxExpressionDepth = 64;
constexpr size_t kMaxOutputBytes = 1024 * 1024;
constexpr int kMaxRenderDepth = 64;

// ---------------------------------------------------------------------------
// Messages

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}
bool is_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// Text shown between quotes in a message: control bytes are escaped so the
// message stays one printable line.
std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    } else {
      out += ch;
    }
  }
  return out;
}

// The whole text when short, else a window around `offset`, so a 64 KiB
// template does not end up in a log line.
std::string excerpt(std::string_view text, size_t offset) {
  constexpr size_t kWhole = 120;
  constexpr size_t kSide = 50;
  if (text.size() <= kWhole) return "'" + escape(text) + "'";
  size_t begin = offset > kSide ? offset - kSide : 0;
  size_t end = std::min(text.size(), offset + kSide);
  while (begin < end && is_continuation(text[begin])) ++begin;
  while (end < text.size() && end > begin && is_continuation(text[end])) --end;
  std::string out = "'";
  if (begin > 0) out += "...";
  out += escape(text.substr(begin, end - begin));
  if (end < text.size()) out += "...";
  out += "'";
  return out;
}

// "column 7", or "line 2, column 3" in multi-line text. Columns count
// characters (UTF-8 code points) from 1, as editors show them.
std::string position(std::string_view text, size_t offset) {
  size_t line = 1;
  size_t column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else if (!is_continuation(text[i])) {
      ++column;
    }
  }
  std::string out;
  if (text.find('\n') != std::string_view::npos) out = "line " + std::to_string(line) + ", ";
  return out + "column " + std::to_string(column);
}

std::string located(std::string_view text, size_t offset, std::string_view what) {
  std::string out = position(text, offset);
  out += ": ";
  out += what;
  out += " in ";
  out += excerpt(text, offset);
  return out;
}

Status error_at(std::string_view text, size_t offset, std::string_view what) {
  return Status::InvalidArgument(located(text, offset, what));
}

Status limit_at(std::string_view text, size_t offset, std::string_view what) {
  return Status::ResourceExhausted(located(text, offset, what));
}

Status check_template_size(std::string_view text) {
  if (text.size() <= kMaxTemplateBytes) return Status::Ok();
  return Status::ResourceExhausted("template is " + std::to_string(text.size()) +
                                   " bytes, more than the limit of " +
                                   std::to_string(kMaxTemplateBytes));
}

const std::string& output_limit_message() {
  static const std::string kMessage =
      "rendered output exceeds the limit of " + std::to_string(kMaxOutputBytes) + " bytes";
  return kMessage;
}

// ---------------------------------------------------------------------------
// Syntax tree

enum class CompareOp { kEqual, kNotEqual, kLess, kLessEqual, kGreater, kGreaterEqual };

std::string_view compare_op_text(CompareOp op) {
  switch (op) {
    case CompareOp::kEqual:
      return "==";
    case CompareOp::kNotEqual:
      return "!=";
    case CompareOp::kLess:
      return "<";
    case CompareOp::kLessEqual:
      return "<=";
    case CompareOp::kGreater:
      return ">";
    case CompareOp::kGreaterEqual:
      return ">=";
  }
  return "?";
}

enum class FilterKind { kDefault, kUpper, kLower, kTrim, kJson, kLength };

struct FilterName {
  std::string_view name;
  FilterKind kind;
};

constexpr std::array<FilterName, 6> kFilters = {{
    {"default", FilterKind::kDefault},
    {"upper", FilterKind::kUpper},
    {"lower", FilterKind::kLower},
    {"trim", FilterKind::kTrim},
    {"json", FilterKind::kJson},
    {"length", FilterKind::kLength},
}};

std::string_view filter_text(FilterKind kind) {
  for (const FilterName& filter : kFilters) {
    if (filter.kind == kind) return filter.name;
  }
  return "?";
}

struct Node;
using NodePtr = std::unique_ptr<Node>;

struct PathStep {
  bool is_index = false;
  std::string key;
  int64_t index = 0;
  size_t offset = 0;  // of the key name or the '['
};

struct Filter {
  FilterKind kind = FilterKind::kDefault;
  size_t offset = 0;  // of the filter name
  NodePtr argument;   // default(...) only
};

enum class NodeKind { kLiteral, kPath, kNot, kAnd, kOr, kCompare, kFiltered };

struct Node {
  NodeKind kind = NodeKind::kLiteral;
  size_t offset = 0;
  Json literal;                      // kLiteral
  std::string root;                  // kPath
  std::vector<PathStep> steps;       // kPath
  CompareOp op = CompareOp::kEqual;  // kCompare
  // kNot: the operand; kAnd, kOr: two or more operands; kCompare: left and
  // right; kFiltered: the input of the first filter.
  std::vector<NodePtr> children;
  std::vector<Filter> filters;  // kFiltered
};

NodePtr make_node(NodeKind kind, size_t offset) {
  auto node = std::make_unique<Node>();
  node->kind = kind;
  node->offset = offset;
  return node;
}

// ---------------------------------------------------------------------------
// Lexer

enum class TokenKind {
  kEnd,    // end of the text
  kClose,  // "}}" (inside a template only)
  kName,
  kNumber,
  kString,
  kDot,
  kLeftBracket,
  kRightBracket,
  kLeftParen,
  kRightParen,
  kPipe,
  kCompare,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  size_t offset = 0;
  std::string_view text;  // the source slice
  Json value;             // kNumber, kString
  CompareOp op = CompareOp::kEqual;
};

class Lexer {
 public:
  Lexer(std::string_view text, size_t pos, bool in_template)
      : text_(text), pos_(pos), in_template_(in_template) {}

  size_t position() const { return pos_; }

  Result<Token> next() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
    Token token;
    token.offset = pos_;
    if (pos_ >= text_.size()) return finish(token, TokenKind::kEnd, 0);
    char c = text_[pos_];
    char after = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
    if (is_name_start(c)) {
      size_t end = pos_;
      while (end < text_.size() && is_name_char(text_[end])) ++end;
      return finish(token, TokenKind::kName, end - pos_);
    }
    if (is_digit(c) || (c == '-' && is_digit(after))) return number(token);
    switch (c) {
      case '"':
      case '\'':
        return string(token);
      case '.':
        return finish(token, TokenKind::kDot, 1);
      case '[':
        return finish(token, TokenKind::kLeftBracket, 1);
      case ']':
        return finish(token, TokenKind::kRightBracket, 1);
      case '(':
        return finish(token, TokenKind::kLeftParen, 1);
      case ')':
        return finish(token, TokenKind::kRightParen, 1);
      case '|':
        return finish(token, TokenKind::kPipe, 1);
      case '}':
        if (in_template_ && after == '}') return finish(token, TokenKind::kClose, 2);
        return error_at(text_, pos_, "unexpected '}'");
      case '{':
        if (after == '{') return error_at(text_, pos_, "'{{' inside an expression");
        return error_at(text_, pos_, "unexpected '{'");
      case '=':
        if (after == '=') return compare(token, CompareOp::kEqual, 2);
        return error_at(text_, pos_, "unexpected '=' (use '==' to compare)");
      case '!':
        if (after == '=') return compare(token, CompareOp::kNotEqual, 2);
        return error_at(text_, pos_, "unexpected '!' (use 'not')");
      case '<':
        if (after == '=') return compare(token, CompareOp::kLessEqual, 2);
        return compare(token, CompareOp::kLess, 1);
      case '>':
        if (after == '=') return compare(token, CompareOp::kGreaterEqual, 2);
        return compare(token, CompareOp::kGreater, 1);
      case '&':
        return error_at(text_, pos_, "unexpected '&' (use 'and')");
      default:
        break;
    }
    size_t length = 1;
    while (pos_ + length < text_.size() && is_continuation(text_[pos_ + length])) ++length;
    return error_at(text_, pos_,
                    "unexpected character '" + escape(text_.substr(pos_, length)) + "'");
  }

 private:
  Token finish(Token& token, TokenKind kind, size_t length) {
    token.kind = kind;
    token.text = text_.substr(pos_, length);
    pos_ += length;
    return std::move(token);
  }

  Token compare(Token& token, CompareOp op, size_t length) {
    token.op = op;
    return finish(token, TokenKind::kCompare, length);
  }

  Result<Token> number(Token& token) {
    size_t end = pos_;
    if (text_[end] == '-') ++end;
    while (end < text_.size() && is_digit(text_[end])) ++end;
    bool is_float = false;
    if (end + 1 < text_.size() && text_[end] == '.' && is_digit(text_[end + 1])) {
      is_float = true;
      end += 1;
      while (end < text_.size() && is_digit(text_[end])) ++end;
    }
    if (end < text_.size() && (text_[end] == 'e' || text_[end] == 'E')) {
      size_t exponent = end + 1;
      if (exponent < text_.size() && (text_[exponent] == '+' || text_[exponent] == '-')) {
        ++exponent;
      }
      if (exponent < text_.size() && is_digit(text_[exponent])) {
        is_float = true;
        end = exponent;
        while (end < text_.size() && is_digit(text_[end])) ++end;
      }
    }
    const char* first = text_.data() + pos_;
    const char* last = text_.data() + end;
    if (!is_float) {
      int64_t integer = 0;
      auto [ptr, ec] = std::from_chars(first, last, integer);
      if (ec == std::errc() && ptr == last) {
        token.value = integer;
        return finish(token, TokenKind::kNumber, end - pos_);
      }
      // Too large for 64 bits: read it as a floating-point number below.
    }
    double real = 0;
    auto [ptr, ec] = std::from_chars(first, last, real);
    if (ec != std::errc() || ptr != last) {
      return error_at(text_, pos_,
                      "number '" + escape(text_.substr(pos_, end - pos_)) + "' is out of range");
    }
    token.value = real;
    return finish(token, TokenKind::kNumber, end - pos_);
  }

  Result<Token> string(Token& token) {
    char quote = text_[pos_];
    std::string value;
    size_t i = pos_ + 1;
    while (true) {
      if (i >= text_.size()) return error_at(text_, pos_, "unterminated string");
      char c = text_[i];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        ++i;
        continue;
      }
      if (i + 1 >= text_.size()) return error_at(text_, pos_, "unterminated string");
      switch (text_[i + 1]) {
        case '\\':
          value += '\\';
          break;
        case '\'':
          value += '\'';
          break;
        case '"':
          value += '"';
          break;
        case 'n':
          value += '\n';
          break;
        case 't':
          value += '\t';
          break;
        case 'r':
          value += '\r';
          break;
        default: {
          size_t length = 1;
          while (i + 1 + length < text_.size() && is_continuation(text_[i + 1 + length])) {
            ++length;
          }
          return error_at(text_, i,
                          "unknown escape '\\" + escape(text_.substr(i + 1, length)) +
                              "' (use \\\\, \\', \\\", \\n, \\t or \\r)");
        }
      }
      i += 2;
    }
    token.value = std::move(value);
    return finish(token, TokenKind::kString, i + 1 - pos_);
  }

  std::string_view text_;
  size_t pos_;
  bool in_template_;
};

// ---------------------------------------------------------------------------
// Parser

// Parses one expression: inside a template it starts after "{{" and ends at
// the matching "}}" (found by the lexer, so "}}" inside a string literal does
// not end it); as a bare expression it runs to the end of the text.
class Parser {
 public:
  Parser(std::string_view text, size_t start, bool in_template, size_t open_offset)
      : text_(text),
        lexer_(text, start, in_template),
        in_template_(in_template),
        open_offset_(open_offset) {}

  Result<NodePtr> parse() {
    CADRE_RETURN_IF_ERROR(advance());
    if (at_end_of_expression()) return error_at(text_, token_.offset, "empty expression");
    CADRE_ASSIGN_OR_RETURN(NodePtr node, parse_or());
    if (!at_end_of_expression()) {
      if (token_.kind == TokenKind::kCompare) {
        return error_at(text_, token_.offset,
                        "comparisons cannot be chained (join them with 'and')");
      }
      return unexpected(in_template_ ? "'}}'" : "end of expression");
    }
    return node;
  }

  // The offset just after the closing "}}" once parse() succeeded.
  size_t end_offset() const { return lexer_.position(); }

 private:
  Status advance() {
    CADRE_ASSIGN_OR_RETURN(token_, lexer_.next());
    return Status::Ok();
  }

  bool at_end_of_expression() const {
    return token_.kind == (in_template_ ? TokenKind::kClose : TokenKind::kEnd);
  }

  bool at_name(std::string_view name) const {
    return token_.kind == TokenKind::kName && token_.text == name;
  }

  std::string describe_token() const {
    switch (token_.kind) {
      case TokenKind::kEnd:
        return "end of expression";
      case TokenKind::kClose:
        return "'}}'";
      default:
        break;
    }
    constexpr size_t kMaxShown = 40;
    std::string_view shown = token_.text.substr(0, kMaxShown);
    return "'" + escape(shown) + (shown.size() < token_.text.size() ? "...'" : "'");
  }

  Status unexpected(std::string_view expected) const {
    if (token_.kind == TokenKind::kEnd && in_template_) {
      return error_at(text_, open_offset_, "unclosed '{{'");
    }
    return error_at(text_, token_.offset,
                    "expected " + std::string(expected) + ", got " + describe_token());
  }

  Status enter() {
    if (++depth_ > kMaxExpressionDepth) {
      return limit_at(
          text_, token_.offset,
          "expression nested deeper than " + std::to_string(kMaxExpressionDepth) + " levels");
    }
    return Status::Ok();
  }

  Result<NodePtr> parse_or() { return parse_chain(NodeKind::kOr, "or"); }

  Result<NodePtr> parse_and() { return parse_chain(NodeKind::kAnd, "and"); }

  // `and` and `or` chains are kept flat (one node, many operands) so a long
  // chain does not make a deep tree.
  Result<NodePtr> parse_chain(NodeKind kind, std::string_view keyword) {
    size_t offset = token_.offset;
    CADRE_ASSIGN_OR_RETURN(NodePtr first, kind == NodeKind::kOr ? parse_and() : parse_comparison());
    if (!at_name(keyword)) return first;
    NodePtr chain = make_node(kind, offset);
    chain->children.push_back(std::move(first));
    while (at_name(keyword)) {
      CADRE_RETURN_IF_ERROR(advance());
      CADRE_ASSIGN_OR_RETURN(NodePtr next,
                             kind == NodeKind::kOr ? parse_and() : parse_comparison());
      chain->children.push_back(std::move(next));
    }
    return chain;
  }

  Result<NodePtr> parse_comparison() {
    CADRE_ASSIGN_OR_RETURN(NodePtr left, parse_unary());
    if (token_.kind != TokenKind::kCompare) return left;
    NodePtr node = make_node(NodeKind::kCompare, token_.offset);
    node->op = token_.op;
    CADRE_RETURN_IF_ERROR(advance());
    CADRE_ASSIGN_OR_RETURN(NodePtr right, parse_unary());
    node->children.push_back(std::move(left));
    node->children.push_back(std::move(right));
    if (token_.kind == TokenKind::kCompare) {
      return error_at(text_, token_.offset, "comparisons cannot be chained (join them with 'and')");
    }
    return node;
  }

  Result<NodePtr> parse_unary() {
    if (!at_name("not")) return parse_filtered();
    NodePtr node = make_node(NodeKind::kNot, token_.offset);
    CADRE_RETURN_IF_ERROR(enter());
    CADRE_RETURN_IF_ERROR(advance());
    CADRE_ASSIGN_OR_RETURN(NodePtr operand, parse_unary());
    --depth_;
    node->children.push_back(std::move(operand));
    return node;
  }

  Result<NodePtr> parse_filtered() {
    CADRE_ASSIGN_OR_RETURN(NodePtr input, parse_primary());
    if (token_.kind != TokenKind::kPipe) return input;
    NodePtr node = make_node(NodeKind::kFiltered, input->offset);
    node->children.push_back(std::move(input));
    while (token_.kind == TokenKind::kPipe) {
      CADRE_RETURN_IF_ERROR(advance());
      if (token_.kind != TokenKind::kName) return unexpected("a filter name after '|'");
      Filter filter;
      filter.offset = token_.offset;
      const FilterName* known = nullptr;
      for (const FilterName& candidate : kFilters) {
        if (candidate.name == token_.text) known = &candidate;
      }
      if (known == nullptr) {
        return error_at(text_, token_.offset, "unknown filter '" + escape(token_.text) + "'");
      }
      filter.kind = known->kind;
      CADRE_RETURN_IF_ERROR(advance());
      if (filter.kind == FilterKind::kDefault) {
        if (token_.kind != TokenKind::kLeftParen) {
          return error_at(text_, filter.offset, "filter 'default' needs a value: default(x)");
        }
        CADRE_RETURN_IF_ERROR(enter());
        CADRE_RETURN_IF_ERROR(advance());
        CADRE_ASSIGN_OR_RETURN(filter.argument, parse_or());
        --depth_;
        if (token_.kind != TokenKind::kRightParen) return unexpected("')'");
        CADRE_RETURN_IF_ERROR(advance());
      } else if (token_.kind == TokenKind::kLeftParen) {
        return error_at(text_, token_.offset,
                        "filter '" + std::string(known->name) + "' takes no arguments");
      }
      node->filters.push_back(std::move(filter));
    }
    return node;
  }

  Result<NodePtr> parse_primary() {
    switch (token_.kind) {
      case TokenKind::kNumber:
      case TokenKind::kString: {
        NodePtr node = make_node(NodeKind::kLiteral, token_.offset);
        node->literal = std::move(token_.value);
        CADRE_RETURN_IF_ERROR(advance());
        return node;
      }
      case TokenKind::kLeftParen: {
        CADRE_RETURN_IF_ERROR(enter());
        CADRE_RETURN_IF_ERROR(advance());
        CADRE_ASSIGN_OR_RETURN(NodePtr inner, parse_or());
        --depth_;
        if (token_.kind != TokenKind::kRightParen) return unexpected("')'");
        CADRE_RETURN_IF_ERROR(advance());
        return inner;
      }
      case TokenKind::kName:
        break;
      default:
        return unexpected("an expression");
    }
    if (at_name("and") || at_name("or") || at_name("not")) return unexpected("an expression");
    if (at_name("true") || at_name("false") || at_name("null")) {
      NodePtr node = make_node(NodeKind::kLiteral, token_.offset);
      if (!at_name("null")) node->literal = at_name("true");
      CADRE_RETURN_IF_ERROR(advance());
      return node;
    }
    return parse_path();
  }

  Result<NodePtr> parse_path() {
    NodePtr node = make_node(NodeKind::kPath, token_.offset);
    node->root = std::string(token_.text);
    CADRE_RETURN_IF_ERROR(advance());
    while (true) {
      if (token_.kind == TokenKind::kDot) {
        CADRE_RETURN_IF_ERROR(advance());
        if (token_.kind != TokenKind::kName) return unexpected("a name after '.'");
        PathStep step;
        step.key = std::string(token_.text);
        step.offset = token_.offset;
        node->steps.push_back(std::move(step));
        CADRE_RETURN_IF_ERROR(advance());
      } else if (token_.kind == TokenKind::kLeftBracket) {
        PathStep step;
        step.offset = token_.offset;
        CADRE_RETURN_IF_ERROR(advance());
        if (token_.kind == TokenKind::kString) {
          step.key = token_.value.get<std::string>();
        } else if (token_.kind == TokenKind::kNumber && token_.value.is_number_integer()) {
          step.is_index = true;
          step.index = token_.value.get<int64_t>();
        } else {
          return unexpected("an integer index or a quoted key inside '[ ]'");
        }
        CADRE_RETURN_IF_ERROR(advance());
        if (token_.kind != TokenKind::kRightBracket) return unexpected("']'");
        CADRE_RETURN_IF_ERROR(advance());
        node->steps.push_back(std::move(step));
      } else {
        return node;
      }
    }
  }

  std::string_view text_;
  Lexer lexer_;
  bool in_template_;
  size_t open_offset_;
  Token token_;
  int depth_ = 0;
};

// A template split into literal text and expressions.
struct Segment {
  std::string_view literal;  // when expression is null
  NodePtr expression;
  size_t offset = 0;  // of the literal, or of the "{{"
};

struct ParsedTemplate {
  std::vector<Segment> segments;
  // Exactly one expression with only whitespace around it: renders typed.
  bool single_expression = false;
};

bool is_blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), is_space);
}

Result<ParsedTemplate> parse_template(std::string_view text) {
  CADRE_RETURN_IF_ERROR(check_template_size(text));
  ParsedTemplate parsed;
  size_t expressions = 0;
  bool blank_literals = true;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("{{", pos);
    size_t literal_end = open == std::string_view::npos ? text.size() : open;
    if (literal_end > pos) {
      Segment literal;
      literal.literal = text.substr(pos, literal_end - pos);
      literal.offset = pos;
      blank_literals = blank_literals && is_blank(literal.literal);
      parsed.segments.push_back(std::move(literal));
    }
    if (open == std::string_view::npos) break;
    Parser parser(text, open + 2, /*in_template=*/true, open);
    Segment expression;
    CADRE_ASSIGN_OR_RETURN(expression.expression, parser.parse());
    expression.offset = open;
    parsed.segments.push_back(std::move(expression));
    ++expressions;
    pos = parser.end_offset();
  }
  parsed.single_expression = expressions == 1 && blank_literals;
  return parsed;
}

// ---------------------------------------------------------------------------
// Evaluation

const Json& null_json() {
  static const Json kNull;
  return kNull;
}

// An expression's value: borrowed from the scope or the syntax tree when it
// can be, so reading a large step output does not copy it.
class Value {
 public:
  static Value borrow(const Json& json) {
    Value value;
    value.borrowed_ = &json;
    return value;
  }
  static Value own(Json json) {
    Value value;
    value.owned_ = std::move(json);
    return value;
  }

  const Json& get() const { return borrowed_ != nullptr ? *borrowed_ : owned_; }
  Json take() && { return borrowed_ != nullptr ? *borrowed_ : std::move(owned_); }

 private:
  const Json* borrowed_ = nullptr;
  Json owned_;
};

bool truthy(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return false;
    case Json::value_t::boolean:
      return value.get<bool>();
    case Json::value_t::number_integer:
      return value.get<int64_t>() != 0;
    case Json::value_t::number_unsigned:
      return value.get<uint64_t>() != 0;
    case Json::value_t::number_float:
      return value.get<double>() != 0.0;
    case Json::value_t::string:
      return !value.get_ref<const std::string&>().empty();
    case Json::value_t::array:
    case Json::value_t::object:
      return !value.empty();
    default:
      return true;
  }
}

// Roughly the size of `value` serialized, computed without recursion and
// without building the text; stops counting once past `cap`.
size_t estimate_size(const Json& value, size_t cap) {
  size_t total = 0;
  std::vector<const Json*> pending{&value};
  while (!pending.empty() && total <= cap) {
    const Json* current = pending.back();
    pending.pop_back();
    switch (current->type()) {
      case Json::value_t::object:
        total += 2;
        for (auto it = current->begin(); it != current->end() && total <= cap; ++it) {
          total += it.key().size() + 4;
          pending.push_back(&it.value());
        }
        break;
      case Json::value_t::array:
        total += 2;
        for (auto it = current->begin(); it != current->end() && total <= cap; ++it) {
          total += 1;
          pending.push_back(&*it);
        }
        break;
      case Json::value_t::string:
        total += current->get_ref<const std::string&>().size() + 2;
        break;
      case Json::value_t::boolean:
        total += 5;
        break;
      case Json::value_t::null:
        total += 4;
        break;
      default:
        total += dump_json(*current).size();
        break;
    }
  }
  return total;
}

// Counts the bytes expressions produce in one call against kMaxOutputBytes.
class OutputBudget {
 public:
  size_t remaining() const { return kMaxOutputBytes - used_; }
  bool charge(size_t bytes) {
    if (bytes > remaining()) return false;
    used_ += bytes;
    return true;
  }

 private:
  size_t used_ = 0;
};

size_t count_code_points(const std::string& text) {
  return static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return !is_continuation(c); }));
}

std::partial_ordering compare_numbers(const Json& left, const Json& right) {
  if (left.is_number_integer() && right.is_number_integer() && !left.is_number_unsigned() &&
      !right.is_number_unsigned()) {
    return left.get<int64_t>() <=> right.get<int64_t>();
  }
  if (left.is_number_unsigned() && right.is_number_unsigned()) {
    return left.get<uint64_t>() <=> right.get<uint64_t>();
  }
  // Mixed kinds: a long double holds every 64-bit integer exactly on the
  // platforms Cadre targets, so int vs float compares by value.
  auto widen = [](const Json& number) -> long double {
    if (number.is_number_unsigned()) return static_cast<long double>(number.get<uint64_t>());
    if (number.is_number_integer()) return static_cast<long double>(number.get<int64_t>());
    return static_cast<long double>(number.get<double>());
  };
  return widen(left) <=> widen(right);
}

class Evaluator {
 public:
  Evaluator(const Json& scope, std::string_view text, OutputBudget& budget)
      : scope_(scope), text_(text), budget_(budget) {}

  // Recursion follows the syntax tree, whose depth the parser bounded.
  Result<Value> eval(const Node& node) {
    switch (node.kind) {
      case NodeKind::kLiteral:
        return Value::borrow(node.literal);
      case NodeKind::kPath:
        return eval_path(node);
      case NodeKind::kNot: {
        CADRE_ASSIGN_OR_RETURN(Value operand, eval(*node.children[0]));
        return Value::own(!truthy(operand.get()));
      }
      case NodeKind::kAnd:
      case NodeKind::kOr: {
        bool is_and = node.kind == NodeKind::kAnd;
        for (const NodePtr& child : node.children) {
          CADRE_ASSIGN_OR_RETURN(Value operand, eval(*child));
          // Short-circuit: the remaining operands are not evaluated, so
          // their type errors do not matter.
          if (truthy(operand.get()) != is_and) return Value::own(!is_and);
        }
        return Value::own(is_and);
      }
      case NodeKind::kCompare:
        return eval_compare(node);
      case NodeKind::kFiltered: {
        CADRE_ASSIGN_OR_RETURN(Value value, eval(*node.children[0]));
        for (const Filter& filter : node.filters) {
          CADRE_ASSIGN_OR_RETURN(value, apply_filter(filter, std::move(value)));
        }
        return value;
      }
    }
    return Status::Internal("unknown template node");
  }

 private:
  Result<Value> eval_path(const Node& node) {
    // A missing key or index anywhere yields null, so `| default(x)` can
    // stand in for it; reading through a string or number is a type error.
    if (!scope_.is_object()) return Value::borrow(null_json());
    auto root = scope_.find(node.root);
    if (root == scope_.end()) return Value::borrow(null_json());
    const Json* current = &*root;
    for (const PathStep& step : node.steps) {
      if (current->is_null()) return Value::borrow(null_json());
      if (step.is_index) {
        if (!current->is_array()) {
          return error_at(text_, step.offset,
                          "cannot index " + std::string(current->type_name()) + " with [" +
                              std::to_string(step.index) + "]");
        }
        int64_t size = static_cast<int64_t>(current->size());
        int64_t index = step.index < 0 ? step.index + size : step.index;
        if (index < 0 || index >= size) return Value::borrow(null_json());
        current = &(*current)[static_cast<size_t>(index)];
      } else {
        if (!current->is_object()) {
          return error_at(
              text_, step.offset,
              "cannot read '" + escape(step.key) + "' of " + std::string(current->type_name()));
        }
        auto it = current->find(step.key);
        if (it == current->end()) return Value::borrow(null_json());
        current = &*it;
      }
    }
    return Value::borrow(*current);
  }

  Result<Value> eval_compare(const Node& node) {
    CADRE_ASSIGN_OR_RETURN(Value left_value, eval(*node.children[0]));
    CADRE_ASSIGN_OR_RETURN(Value right_value, eval(*node.children[1]));
    const Json& left = left_value.get();
    const Json& right = right_value.get();
    if (node.op == CompareOp::kEqual) return Value::own(left == right);
    if (node.op == CompareOp::kNotEqual) return Value::own(left != right);
    std::partial_ordering order = std::partial_ordering::unordered;
    if (left.is_number() && right.is_number()) {
      order = compare_numbers(left, right);
    } else if (left.is_string() && right.is_string()) {
      order = left.get_ref<const std::string&>() <=> right.get_ref<const std::string&>();
    } else {
      return error_at(text_, node.offset,
                      "cannot compare " + std::string(left.type_name()) + " with " +
                          std::string(right.type_name()) + " using '" +
                          std::string(compare_op_text(node.op)) + "'");
    }
    switch (node.op) {
      case CompareOp::kLess:
        return Value::own(order < 0);
      case CompareOp::kLessEqual:
        return Value::own(order <= 0);
      case CompareOp::kGreater:
        return Value::own(order > 0);
      case CompareOp::kGreaterEqual:
        return Value::own(order >= 0);
      default:
        break;
    }
    return Status::Internal("unknown comparison");
  }

  Status type_error(const Filter& filter, std::string_view needs, const Json& got) const {
    return error_at(text_, filter.offset,
                    "filter '" + std::string(filter_text(filter.kind)) + "' needs " +
                        std::string(needs) + ", got " + std::string(got.type_name()));
  }

  Status charge(size_t bytes, size_t offset) {
    if (budget_.charge(bytes)) return Status::Ok();
    return limit_at(text_, offset, output_limit_message());
  }

  Result<Value> apply_filter(const Filter& filter, Value input) {
    const Json& value = input.get();
    switch (filter.kind) {
      case FilterKind::kDefault:
        // Lazy: the fallback is evaluated only when it is used.
        if (!value.is_null()) return input;
        return eval(*filter.argument);
      case FilterKind::kUpper:
      case FilterKind::kLower:
      case FilterKind::kTrim: {
        if (!value.is_string()) return type_error(filter, "a string", value);
        const std::string& text = value.get_ref<const std::string&>();
        size_t begin = 0;
        size_t end = text.size();
        if (filter.kind == FilterKind::kTrim) {
          while (begin < end && is_space(text[begin])) ++begin;
          while (end > begin && is_space(text[end - 1])) --end;
        }
        // Charged before the copy so a huge string is refused, not copied.
        CADRE_RETURN_IF_ERROR(charge(end - begin, filter.offset));
        std::string result = text.substr(begin, end - begin);
        // upper and lower change ASCII letters only: other bytes, and so
        // every UTF-8 sequence, stay as they are.
        if (filter.kind == FilterKind::kUpper) {
          for (char& c : result) {
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
          }
        } else if (filter.kind == FilterKind::kLower) {
          for (char& c : result) {
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
          }
        }
        return Value::own(std::move(result));
      }
      case FilterKind::kJson: {
        // Estimated first so a huge value is refused before it is serialized.
        if (estimate_size(value, budget_.remaining()) > budget_.remaining()) {
          return limit_at(text_, filter.offset, output_limit_message());
        }
        std::string text = dump_json(value);
        CADRE_RETURN_IF_ERROR(charge(text.size(), filter.offset));
        return Value::own(std::move(text));
      }
      case FilterKind::kLength:
        if (value.is_string()) {
          return Value::own(count_code_points(value.get_ref<const std::string&>()));
        }
        if (value.is_array() || value.is_object()) return Value::own(value.size());
        return type_error(filter, "a string, array or object", value);
    }
    return Status::Internal("unknown filter");
  }

  const Json& scope_;
  std::string_view text_;
  OutputBudget& budget_;
};

// ---------------------------------------------------------------------------
// Rendering

// Where a string sits inside the value being rendered, for error messages:
// a chain of keys and indexes from the root, built only when an error occurs.
struct Location {
  const Location* parent = nullptr;
  const std::string* key = nullptr;  // null for an array element
  size_t index = 0;
};

bool is_plain_name(const std::string& key) {
  return !key.empty() && is_name_start(key[0]) && std::all_of(key.begin(), key.end(), is_name_char);
}

std::string describe_location(const Location* where) {
  std::vector<const Location*> chain;
  for (; where != nullptr; where = where->parent) chain.push_back(where);
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const Location& step = **it;
    if (step.key == nullptr) {
      out += "[" + std::to_string(step.index) + "]";
    } else if (is_plain_name(*step.key)) {
      if (!out.empty()) out += ".";
      out += *step.key;
    } else {
      out += "[\"" + escape(*step.key) + "\"]";
    }
  }
  return out;
}

Status at_location(const Status& status, const Location* where) {
  if (where == nullptr) return status;
  return status.with_context(describe_location(where));
}

// Appends the text form of `value` to `out`: strings as they are, null as
// nothing, anything else as compact JSON. The budget is checked before any
// large text is copied or built.
Status append_text(const Json& value, std::string& out, OutputBudget& budget, std::string_view text,
                   size_t offset) {
  if (value.is_null()) return Status::Ok();
  if (value.is_string()) {
    const std::string& string = value.get_ref<const std::string&>();
    if (!budget.charge(string.size())) return limit_at(text, offset, output_limit_message());
    out += string;
    return Status::Ok();
  }
  if (estimate_size(value, budget.remaining()) > budget.remaining()) {
    return limit_at(text, offset, output_limit_message());
  }
  std::string json = dump_json(value);
  if (!budget.charge(json.size())) return limit_at(text, offset, output_limit_message());
  out += json;
  return Status::Ok();
}

Result<Json> render_string(std::string_view text, const Json& scope, OutputBudget& budget) {
  CADRE_ASSIGN_OR_RETURN(ParsedTemplate parsed, parse_template(text));
  Evaluator evaluator(scope, text, budget);
  if (parsed.single_expression) {
    for (const Segment& segment : parsed.segments) {
      if (segment.expression == nullptr) continue;
      CADRE_ASSIGN_OR_RETURN(Value value, evaluator.eval(*segment.expression));
      if (!budget.charge(estimate_size(value.get(), budget.remaining()))) {
        return limit_at(text, segment.offset, output_limit_message());
      }
      return std::move(value).take();
    }
  }
  std::string out;
  for (const Segment& segment : parsed.segments) {
    if (segment.expression == nullptr) {
      if (!budget.charge(segment.literal.size())) {
        return limit_at(text, segment.offset, output_limit_message());
      }
      out += segment.literal;
      continue;
    }
    CADRE_ASSIGN_OR_RETURN(Value value, evaluator.eval(*segment.expression));
    CADRE_RETURN_IF_ERROR(append_text(value.get(), out, budget, text, segment.offset));
  }
  return Json(std::move(out));
}

Result<Json> render_value(const Json& value, const Json& scope, int depth, const Location* where,
                          OutputBudget& budget) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    // Strings without "{{" are not templates: they pass through untouched
    // and do not count against any limit.
    if (text.find("{{") == std::string::npos) return value;
    Result<Json> rendered = render_string(text, scope, budget);
    if (!rendered.ok()) return at_location(rendered.status(), where);
    return rendered;
  }
  if (!value.is_array() && !value.is_object()) return value;
  if (depth >= kMaxRenderDepth) {
    return at_location(Status::ResourceExhausted("JSON nested deeper than " +
                                                 std::to_string(kMaxRenderDepth) + " levels"),
                       where);
  }
  Json out = value.is_array() ? Json::array() : Json::object();
  size_t index = 0;
  for (auto it = value.begin(); it != value.end(); ++it, ++index) {
    Location child;
    child.parent = where;
    child.index = index;
    if (value.is_object()) child.key = &it.key();
    CADRE_ASSIGN_OR_RETURN(Json rendered, render_value(*it, scope, depth + 1, &child, budget));
    if (value.is_array()) {
      out.push_back(std::move(rendered));
    } else {
      out[it.key()] = std::move(rendered);
    }
  }
  return out;
}

Result<NodePtr> parse_expression(std::string_view expression) {
  CADRE_RETURN_IF_ERROR(check_template_size(expression));
  Parser parser(expression, 0, /*in_template=*/false, 0);
  return parser.parse();
}

void collect_roots(const Node& node, std::vector<std::string>& roots,
                   std::unordered_set<std::string>& seen) {
  if (node.kind == NodeKind::kPath && seen.insert(node.root).second) roots.push_back(node.root);
  for (const NodePtr& child : node.children) collect_roots(*child, roots, seen);
  for (const Filter& filter : node.filters) {
    if (filter.argument != nullptr) collect_roots(*filter.argument, roots, seen);
  }
}

}  // namespace

Result<Json> render_template(const Json& value, const Json& scope) {
  OutputBudget budget;
  return render_value(value, scope, 0, nullptr, budget);
}

Result<Json> evaluate_expression(std::string_view expression, const Json& scope) {
  CADRE_ASSIGN_OR_RETURN(NodePtr node, parse_expression(expression));
  OutputBudget budget;
  Evaluator evaluator(scope, expression, budget);
  CADRE_ASSIGN_OR_RETURN(Value value, evaluator.eval(*node));
  return std::move(value).take();
}

Result<bool> evaluate_condition(std::string_view condition, const Json& scope) {
  if (condition.find("{{") == std::string_view::npos) {
    CADRE_ASSIGN_OR_RETURN(Json value, evaluate_expression(condition, scope));
    return truthy(value);
  }
  CADRE_ASSIGN_OR_RETURN(ParsedTemplate parsed, parse_template(condition));
  if (!parsed.single_expression) {
    // Interpolating "{{ a }} == 1" would give the always-true string "5 == 1".
    return Status::InvalidArgument(
        "a condition must be one expression, written 'a == 1' or '{{ a == 1 }}', not " +
        excerpt(condition, 0));
  }
  OutputBudget budget;
  Evaluator evaluator(scope, condition, budget);
  for (const Segment& segment : parsed.segments) {
    if (segment.expression == nullptr) continue;
    CADRE_ASSIGN_OR_RETURN(Value value, evaluator.eval(*segment.expression));
    return truthy(value.get());
  }
  return Status::Internal("condition without an expression");
}

Status check_template(std::string_view text) {
  if (text.find("{{") == std::string_view::npos) return Status::Ok();
  Result<ParsedTemplate> parsed = parse_template(text);
  return parsed.ok() ? Status::Ok() : parsed.status();
}

Result<std::vector<std::string>> template_paths(std::string_view text) {
  std::vector<std::string> roots;
  if (text.find("{{") == std::string_view::npos) return roots;
  CADRE_ASSIGN_OR_RETURN(ParsedTemplate parsed, parse_template(text));
  std::unordered_set<std::string> seen;
  for (const Segment& segment : parsed.segments) {
    if (segment.expression != nullptr) collect_roots(*segment.expression, roots, seen);
  }
  return roots;
}

}  // namespace cadre
