// CronSchedule: parsing of five-field expressions and the search for the next
// fire time. The search walks civil (local) days, skipping whole months and
// non-matching days, and only inside a matching day looks at hours and
// minutes; each candidate is mapped to an instant through the zone, so the
// daylight-saving rules fall out of cctz's civil lookup.

#include "kernel/cron.h"

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace cadre {

struct CronSchedule::ZoneHolder {
  cctz::time_zone zone;
};

namespace {

constexpr size_t kMaxExpressionLength = 256;
constexpr size_t kMaxZoneNameLength = 128;
constexpr int kSearchYears = 5;

// Inputs outside years 1..9999 get no fire time: it keeps civil arithmetic
// and the seconds-to-milliseconds conversion far from int64 overflow.
constexpr TimeMs kMinAfter = -62135596800000;  // 0001-01-01T00:00:00Z
constexpr TimeMs kMaxAfter = 253402300799999;  // 9999-12-31T23:59:59.999Z

constexpr std::array<std::string_view, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                          "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> kDayNames = {"sun", "mon", "tue", "wed",
                                                       "thu", "fri", "sat"};

struct FieldSpec {
  std::string_view name;
  int min;
  int max;  // highest value accepted in the text (7 for day-of-week)
  // Where `*` and `a/n` stop. For day-of-week this is 6: 7 is only an alias
  // of Sunday, and "1/2" should mean Mon, Wed, Fri rather than add Sunday.
  int open_max;
  std::span<const std::string_view> names;  // empty when the field has none
  int first_name_value;                     // value of names[0]
};

constexpr FieldSpec kMinute{"minute", 0, 59, 59, {}, 0};
constexpr FieldSpec kHour{"hour", 0, 23, 23, {}, 0};
constexpr FieldSpec kDayOfMonth{"day-of-month", 1, 31, 31, {}, 0};
constexpr FieldSpec kMonth{"month", 1, 12, 12, kMonthNames, 1};
constexpr FieldSpec kDayOfWeek{"day-of-week", 0, 7, 6, kDayNames, 0};

struct Macro {
  std::string_view name;
  std::string_view fields;
};

constexpr std::array<Macro, 7> kMacros = {{
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
}};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = to_lower(c);
  return out;
}

// Error messages echo user text; escape bytes that would garble a log line.
std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

std::vector<std::string_view> split_fields(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  return fields;
}

Status expression_error(std::string_view problem, std::string_view expression) {
  return Status::InvalidArgument("expression: " + std::string(problem) + " in '" +
                                 printable(expression) + "'");
}

Status field_error(const FieldSpec& spec, std::string_view problem, std::string_view expression) {
  return Status::InvalidArgument(std::string(spec.name) + ": " + std::string(problem) + " in '" +
                                 printable(expression) + "'");
}

std::string range_text(int low, int high) {
  return std::to_string(low) + "-" + std::to_string(high);
}

// Parses a bare decimal number; anything over 4 digits is reported as out of
// range by the caller, which keeps the arithmetic free of overflow.
std::optional<int> parse_number(std::string_view text) {
  if (text.empty() || text.size() > 4) return std::nullopt;
  int value = 0;
  for (char c : text) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

bool all_digits(std::string_view text) {
  for (char c : text) {
    if (!is_digit(c)) return false;
  }
  return !text.empty();
}

bool all_alpha(std::string_view text) {
  for (char c : text) {
    if (!is_alpha(c)) return false;
  }
  return !text.empty();
}

// One value of an item: a number in the field's range or, for month and
// day-of-week, a three-letter name. `item` is the whole list item, for context.
Result<int> parse_value(std::string_view text, std::string_view item, const FieldSpec& spec,
                        std::string_view expression) {
  if (text.empty()) {
    return field_error(spec, "invalid item '" + printable(item) + "'", expression);
  }
  if (all_digits(text)) {
    std::optional<int> value = parse_number(text);
    if (!value || *value < spec.min || *value > spec.max) {
      return field_error(
          spec, "value " + std::string(text) + " is out of range " + range_text(spec.min, spec.max),
          expression);
    }
    return *value;
  }
  if (all_alpha(text)) {
    if (spec.names.empty()) {
      return field_error(spec, "names are not allowed, got '" + std::string(text) + "'",
                         expression);
    }
    const std::string name = lowercase(text);
    for (size_t i = 0; i < spec.names.size(); ++i) {
      if (spec.names[i] == name) return spec.first_name_value + static_cast<int>(i);
    }
    return field_error(spec, "unknown name '" + std::string(text) + "'", expression);
  }
  return field_error(spec, "invalid value '" + printable(text) + "'", expression);
}

// Adds the values of one list item (`*`, `v`, `a-b`, each optionally `/n`)
// to `mask`, bit i standing for value i.
Status parse_item(std::string_view item, const FieldSpec& spec, std::string_view expression,
                  uint64_t* mask) {
  if (item.empty()) return field_error(spec, "empty list item", expression);

  std::string_view base = item;
  int step = 1;
  bool has_step = false;
  if (size_t slash = item.find('/'); slash != std::string_view::npos) {
    base = item.substr(0, slash);
    std::string_view step_text = item.substr(slash + 1);
    if (!all_digits(step_text)) {
      return field_error(spec, "invalid step '" + printable(step_text) + "'", expression);
    }
    // A step wider than the field can still be written (it selects only the
    // start), but beyond that it is a typo rather than a schedule.
    const int span = spec.open_max - spec.min + 1;
    std::optional<int> value = parse_number(step_text);
    if (value && *value == 0) return field_error(spec, "step 0 is not allowed", expression);
    if (!value || *value > span) {
      return field_error(
          spec, "step " + std::string(step_text) + " is out of range " + range_text(1, span),
          expression);
    }
    step = *value;
    has_step = true;
  }

  int low = 0;
  int high = 0;
  if (base == "*") {
    low = spec.min;
    high = spec.open_max;
  } else if (size_t dash = base.find('-'); dash != std::string_view::npos) {
    CADRE_ASSIGN_OR_RETURN(low, parse_value(base.substr(0, dash), item, spec, expression));
    CADRE_ASSIGN_OR_RETURN(high, parse_value(base.substr(dash + 1), item, spec, expression));
    if (low > high) {
      return field_error(spec, "range " + printable(base) + " is reversed (start after end)",
                         expression);
    }
  } else {
    CADRE_ASSIGN_OR_RETURN(low, parse_value(base, item, spec, expression));
    // `a/n` runs from a to the field's end; a lone 7 in day-of-week is kept.
    high = has_step ? std::max(low, spec.open_max) : low;
  }
  for (int value = low; value <= high; value += step) *mask |= uint64_t{1} << value;
  return Status::Ok();
}

Result<uint64_t> parse_field(std::string_view field, const FieldSpec& spec,
                             std::string_view expression) {
  uint64_t mask = 0;
  size_t start = 0;
  while (true) {
    size_t comma = field.find(',', start);
    std::string_view item = field.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    CADRE_RETURN_IF_ERROR(parse_item(item, spec, expression, &mask));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return mask;
}

template <size_t N>
std::bitset<N> to_bitset(uint64_t mask) {
  std::bitset<N> bits;
  for (size_t i = 0; i < N; ++i) bits[i] = ((mask >> i) & 1) != 0;
  return bits;
}

// IANA names use letters, digits and "/_-+". Refusing anything else (notably
// '.') keeps a configured name from reaching files outside the zone database.
bool plausible_zone_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxZoneNameLength || name.front() == '/') return false;
  for (char c : name) {
    if (!is_alpha(c) && !is_digit(c) && c != '/' && c != '_' && c != '-' && c != '+') {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<CronSchedule> CronSchedule::parse(std::string_view expression, std::string_view time_zone) {
  if (expression.size() > kMaxExpressionLength) {
    return Status::InvalidArgument("expression: longer than " +
                                   std::to_string(kMaxExpressionLength) + " characters (" +
                                   std::to_string(expression.size()) + ")");
  }
  std::vector<std::string_view> fields = split_fields(expression);
  if (fields.empty()) return Status::InvalidArgument("expression: empty");

  if (fields.front().front() == '@') {
    if (fields.size() != 1) return expression_error("a macro must stand alone", expression);
    const std::string name = lowercase(fields.front());
    const Macro* found = nullptr;
    for (const Macro& macro : kMacros) {
      if (macro.name == name) found = &macro;
    }
    if (found == nullptr) {
      return expression_error("unknown macro '" + printable(fields.front()) +
                                  "' (expected @yearly, @annually, @monthly, @weekly, "
                                  "@daily, @midnight or @hourly)",
                              expression);
    }
    fields = split_fields(found->fields);
  }
  if (fields.size() != 5) {
    return expression_error("expected 5 fields (minute hour day-of-month month day-of-week), got " +
                                std::to_string(fields.size()),
                            expression);
  }

  CronSchedule schedule;
  CADRE_ASSIGN_OR_RETURN(uint64_t minutes, parse_field(fields[0], kMinute, expression));
  CADRE_ASSIGN_OR_RETURN(uint64_t hours, parse_field(fields[1], kHour, expression));
  CADRE_ASSIGN_OR_RETURN(uint64_t days_of_month, parse_field(fields[2], kDayOfMonth, expression));
  CADRE_ASSIGN_OR_RETURN(uint64_t months, parse_field(fields[3], kMonth, expression));
  CADRE_ASSIGN_OR_RETURN(uint64_t days_of_week, parse_field(fields[4], kDayOfWeek, expression));
  if (days_of_week & (uint64_t{1} << 7)) days_of_week |= 1;  // 7 is Sunday

  schedule.minutes_ = to_bitset<60>(minutes);
  schedule.hours_ = to_bitset<24>(hours);
  schedule.days_of_month_ = to_bitset<32>(days_of_month);
  schedule.months_ = to_bitset<13>(months);
  schedule.days_of_week_ = to_bitset<7>(days_of_week);
  schedule.dom_restricted_ = fields[2].front() != '*';
  schedule.dow_restricted_ = fields[4].front() != '*';

  auto holder = std::make_shared<ZoneHolder>();
  if (!plausible_zone_name(time_zone) ||
      !cctz::load_time_zone(std::string(time_zone), &holder->zone)) {
    return Status::InvalidArgument("time zone: unknown time zone '" + printable(time_zone) + "'");
  }
  schedule.zone_ = std::move(holder);
  schedule.expression_ = std::string(expression);
  schedule.time_zone_ = std::string(time_zone);
  return schedule;
}

std::optional<TimeMs> CronSchedule::next_after(TimeMs after) const {
  if (after < kMinAfter || after > kMaxAfter) return std::nullopt;
  // A default-constructed schedule has no zone; evaluate it in UTC.
  const cctz::time_zone zone = zone_ ? zone_->zone : cctz::utc_time_zone();

  int64_t after_seconds = after / 1000;
  if (after % 1000 < 0) --after_seconds;  // floor, not truncation, before 1970
  const cctz::civil_second start =
      cctz::convert(cctz::time_point<cctz::seconds>(cctz::seconds(after_seconds)), zone);
  const cctz::civil_second limit(start.year() + kSearchYears, start.month(), start.day(),
                                 start.hour(), start.minute(), start.second());
  const cctz::civil_day first_day(start);
  const cctz::civil_day last_day(limit);

  // The day rule: with both day fields restricted either may match; a field
  // written with a leading `*` steps aside for a restricted one; when both
  // start with `*` both apply (so "*/2" in day-of-month alone still counts).
  auto day_matches = [this](const cctz::civil_day& day) {
    const bool dom = days_of_month_[day.day()];
    const bool dow = days_of_week_[(static_cast<int>(cctz::get_weekday(day)) + 1) % 7];
    if (dom_restricted_ && dow_restricted_) return dom || dow;
    if (dom_restricted_) return dom;
    if (dow_restricted_) return dow;
    return dom && dow;
  };

  // Candidates are visited in increasing local time. Starting at the local
  // minute of `after` (not later) is what lets the first occurrence of a
  // repeated hour be found when `after` lies just before it.
  cctz::civil_day day = first_day;
  while (day <= last_day) {
    if (!months_[day.month()]) {
      day = cctz::civil_day(cctz::civil_month(day) + 1);
      continue;
    }
    if (!day_matches(day)) {
      ++day;
      continue;
    }
    const bool is_first_day = day == first_day;
    for (int hour = is_first_day ? start.hour() : 0; hour < 24; ++hour) {
      if (!hours_[hour]) continue;
      const int first_minute = (is_first_day && hour == start.hour()) ? start.minute() : 0;
      for (int minute = first_minute; minute < 60; ++minute) {
        if (!minutes_[minute]) continue;
        const cctz::civil_second local(day.year(), day.month(), day.day(), hour, minute, 0);
        if (local > limit) return std::nullopt;
        const cctz::time_zone::civil_lookup lookup = zone.lookup(local);
        // Skipped by a jump forward: this local time does not happen today.
        if (lookup.kind == cctz::time_zone::civil_lookup::SKIPPED) continue;
        // `pre` is the only instant when unique and the first one when
        // repeated; a second occurrence is never a fire time, so a candidate
        // whose first occurrence is not after `after` is passed over.
        const TimeMs fire = static_cast<TimeMs>(lookup.pre.time_since_epoch().count()) * 1000;
        if (fire > after) return fire;
      }
    }
    ++day;
  }
  return std::nullopt;
}

}  // namespace cadre
