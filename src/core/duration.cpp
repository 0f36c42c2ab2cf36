// Parsing and formatting of durations (see duration.h). The text is a bare
// integer (seconds) or a sequence of <whole number><unit> parts with units
// written largest first, each at most once: "1h30m", "2d", "250ms". The strict
// order keeps every duration with one spelling, so "30m1h" or "1m1m" are
// refused rather than silently summed.
#include "core/duration.h"

#include <array>
#include <cstdio>
#include <limits>

namespace cadre {
namespace {

constexpr DurationMs kMaxDuration = std::numeric_limits<DurationMs>::max();
constexpr std::string_view kUnitHint = "use ms, s, m, h or d";
// Long garbage is cut in messages so a pasted file cannot flood a log line.
constexpr size_t kMaxQuoted = 64;

struct Unit {
  std::string_view name;
  DurationMs ms;
};

// Largest first: the index is the unit's rank for the ordering rule.
constexpr std::array<Unit, 5> kUnits = {{
    {"d", 24LL * 60 * 60 * 1000},
    {"h", 60LL * 60 * 1000},
    {"m", 60LL * 1000},
    {"s", 1000},
    {"ms", 1},
}};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Quotes `text` for an error message: control bytes are escaped so the
// message stays one printable line.
std::string quote(std::string_view text) {
  std::string out = "'";
  size_t shown = text.size() > kMaxQuoted ? kMaxQuoted : text.size();
  for (size_t i = 0; i < shown; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (shown < text.size()) out += "...";
  out += "'";
  return out;
}

// "<what> in '<text>'", then an optional hint in parentheses.
Status invalid(std::string what, std::string_view text, std::string_view hint = {}) {
  std::string message = what + " in " + quote(text);
  if (!hint.empty()) {
    message += " (";
    message += hint;
    message += ")";
  }
  return Status::InvalidArgument(std::move(message));
}

Status too_large(std::string_view text) {
  return invalid("value too large", text, "the limit is " + std::to_string(kMaxDuration) + "ms");
}

}  // namespace

Result<DurationMs> parse_duration(std::string_view text) {
  std::string_view body = text;
  size_t leading = 0;  // trimmed spaces, so positions in messages count in `text`
  while (!body.empty() && is_space(body.front())) {
    body.remove_prefix(1);
    ++leading;
  }
  while (!body.empty() && is_space(body.back())) body.remove_suffix(1);
  if (body.empty()) {
    return Status::InvalidArgument("empty duration (write e.g. 250ms, 30s, 5m, 1h30m or 2d)");
  }
  if (body.front() == '-') {
    return invalid("negative value", text, "durations cannot be negative");
  }

  DurationMs total = 0;
  size_t previous_rank = 0;
  bool has_previous = false;
  size_t pos = 0;
  while (pos < body.size()) {
    if (!is_digit(body[pos])) {
      if (is_letter(body[pos])) {
        return invalid("missing number before '" + std::string(1, body[pos]) + "'", text);
      }
      return invalid("unexpected " + quote(body.substr(pos, 1)) + " at position " +
                         std::to_string(leading + pos + 1),
                     text);
    }
    size_t number_start = pos;
    DurationMs number = 0;
    for (; pos < body.size() && is_digit(body[pos]); ++pos) {
      int digit = body[pos] - '0';
      if (number > (kMaxDuration - digit) / 10) return too_large(text);
      number = number * 10 + digit;
    }
    std::string_view digits = body.substr(number_start, pos - number_start);

    if (pos == body.size() && number_start == 0) {
      // A bare integer means seconds.
      if (number > kMaxDuration / 1000) return too_large(text);
      return number * 1000;
    }
    if (pos < body.size() && (body[pos] == '.' || body[pos] == ',')) {
      return invalid("fraction", text, "write whole units, e.g. 1h30m instead of 1.5h");
    }

    size_t unit_start = pos;
    while (pos < body.size() && is_letter(body[pos])) ++pos;
    std::string_view unit_name = body.substr(unit_start, pos - unit_start);
    if (unit_name.empty()) {
      if (pos == body.size()) {
        return invalid("missing unit after '" + std::string(digits) + "'", text, kUnitHint);
      }
      return invalid("unexpected " + quote(body.substr(pos, 1)) + " at position " +
                         std::to_string(leading + pos + 1),
                     text);
    }

    size_t rank = kUnits.size();
    for (size_t i = 0; i < kUnits.size(); ++i) {
      if (kUnits[i].name == unit_name) rank = i;
    }
    if (rank == kUnits.size()) {
      return invalid("unknown unit " + quote(unit_name), text, kUnitHint);
    }
    if (has_previous && rank <= previous_rank) {
      return invalid("unit '" + std::string(unit_name) + "' after '" +
                         std::string(kUnits[previous_rank].name) + "'",
                     text, "write each unit once, largest first, e.g. 1h30m");
    }
    has_previous = true;
    previous_rank = rank;

    DurationMs factor = kUnits[rank].ms;
    if (number > kMaxDuration / factor) return too_large(text);
    DurationMs part = number * factor;
    if (total > kMaxDuration - part) return too_large(text);
    total += part;
  }
  return total;
}

std::string format_duration(DurationMs ms) {
  if (ms == 0) return "0s";
  std::string out;
  // Unsigned so that the most negative value can be negated.
  uint64_t rest = static_cast<uint64_t>(ms);
  if (ms < 0) {
    out += '-';
    rest = 0 - rest;
  }
  for (const Unit& unit : kUnits) {
    uint64_t size = static_cast<uint64_t>(unit.ms);
    uint64_t count = rest / size;
    if (count == 0) continue;
    out += std::to_string(count);
    out += unit.name;
    rest -= count * size;
  }
  return out;
}

}  // namespace cadre
