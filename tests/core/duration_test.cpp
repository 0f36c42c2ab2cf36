// Specification of durations as written in workspace files (core/duration.h):
// what is accepted, what each mistake is told, and the shortest form printed.
#include "core/duration.h"

#include <gtest/gtest.h>

#include <limits>

namespace cadre {
namespace {

constexpr DurationMs kSecond = 1000;
constexpr DurationMs kMinute = 60 * kSecond;
constexpr DurationMs kHour = 60 * kMinute;
constexpr DurationMs kDay = 24 * kHour;

DurationMs parsed(std::string_view text) {
  Result<DurationMs> result = parse_duration(text);
  EXPECT_TRUE(result.ok()) << text << ": " << result.status().to_string();
  return result.ok() ? *result : -1;
}

std::string error_of(std::string_view text) {
  Result<DurationMs> result = parse_duration(text);
  EXPECT_FALSE(result.ok()) << text << " parsed as " << (result.ok() ? *result : 0);
  if (result.ok()) return "";
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << text;
  return result.status().message();
}

TEST(ParseDuration, EachUnit) {
  EXPECT_EQ(parsed("250ms"), 250);
  EXPECT_EQ(parsed("30s"), 30 * kSecond);
  EXPECT_EQ(parsed("5m"), 5 * kMinute);
  EXPECT_EQ(parsed("3h"), 3 * kHour);
  EXPECT_EQ(parsed("2d"), 2 * kDay);
}

TEST(ParseDuration, BareIntegerMeansSeconds) {
  EXPECT_EQ(parsed("45"), 45 * kSecond);
  EXPECT_EQ(parsed("0"), 0);
  EXPECT_EQ(parsed("007"), 7 * kSecond);
}

TEST(ParseDuration, CombinedUnitsAddUp) {
  EXPECT_EQ(parsed("1h30m"), kHour + 30 * kMinute);
  EXPECT_EQ(parsed("1d2h3m4s5ms"), kDay + 2 * kHour + 3 * kMinute + 4 * kSecond + 5);
  EXPECT_EQ(parsed("1m500ms"), kMinute + 500);
  EXPECT_EQ(parsed("90s"), 90 * kSecond);  // a part may exceed the next unit
}

TEST(ParseDuration, ZeroAndSurroundingSpaces) {
  EXPECT_EQ(parsed("0s"), 0);
  EXPECT_EQ(parsed("0ms"), 0);
  EXPECT_EQ(parsed("  5m\t"), 5 * kMinute);
}

TEST(ParseDuration, LargestValues) {
  EXPECT_EQ(parsed("9223372036854775807ms"), std::numeric_limits<DurationMs>::max());
  EXPECT_EQ(parsed("106751991167d"), 106751991167 * kDay);
}

TEST(ParseDuration, EmptyIsRefused) {
  EXPECT_EQ(error_of(""), "empty duration (write e.g. 250ms, 30s, 5m, 1h30m or 2d)");
  EXPECT_EQ(error_of("   "), "empty duration (write e.g. 250ms, 30s, 5m, 1h30m or 2d)");
}

TEST(ParseDuration, UnknownUnitNamesTheUnit) {
  EXPECT_EQ(error_of("5x"), "unknown unit 'x' in '5x' (use ms, s, m, h or d)");
  EXPECT_EQ(error_of("5min"), "unknown unit 'min' in '5min' (use ms, s, m, h or d)");
  EXPECT_EQ(error_of("5S"), "unknown unit 'S' in '5S' (use ms, s, m, h or d)");
  EXPECT_EQ(error_of("1h5us"), "unknown unit 'us' in '1h5us' (use ms, s, m, h or d)");
}

TEST(ParseDuration, NegativeIsRefused) {
  EXPECT_EQ(error_of("-5s"), "negative value in '-5s' (durations cannot be negative)");
  EXPECT_EQ(error_of("-1"), "negative value in '-1' (durations cannot be negative)");
}

TEST(ParseDuration, FractionIsRefused) {
  EXPECT_EQ(error_of("1.5h"), "fraction in '1.5h' (write whole units, e.g. 1h30m instead of 1.5h)");
  EXPECT_EQ(error_of("0,5s"), "fraction in '0,5s' (write whole units, e.g. 1h30m instead of 1.5h)");
}

TEST(ParseDuration, MissingPieces) {
  EXPECT_EQ(error_of("1h30"), "missing unit after '30' in '1h30' (use ms, s, m, h or d)");
  EXPECT_EQ(error_of("h"), "missing number before 'h' in 'h'");
  EXPECT_EQ(error_of("1hm"), "unknown unit 'hm' in '1hm' (use ms, s, m, h or d)");
}

TEST(ParseDuration, UnitsGoLargestFirstAndOnce) {
  EXPECT_EQ(error_of("30m1h"),
            "unit 'h' after 'm' in '30m1h' (write each unit once, largest first, e.g. 1h30m)");
  EXPECT_EQ(error_of("1m1m"),
            "unit 'm' after 'm' in '1m1m' (write each unit once, largest first, e.g. 1h30m)");
  EXPECT_EQ(error_of("5ms1s"),
            "unit 's' after 'ms' in '5ms1s' (write each unit once, largest first, e.g. 1h30m)");
}

TEST(ParseDuration, GarbageNamesThePosition) {
  EXPECT_EQ(error_of("5 s"), "unexpected ' ' at position 2 in '5 s'");
  EXPECT_EQ(error_of(" 1h+5m"), "unexpected '+' at position 4 in ' 1h+5m'");
  EXPECT_EQ(error_of("+5s"), "unexpected '+' at position 1 in '+5s'");
  EXPECT_EQ(error_of("abc"), "missing number before 'a' in 'abc'");
  // Control bytes are escaped so the message stays printable.
  EXPECT_EQ(error_of(std::string_view("5\x01", 2)), "unexpected '\\x01' at position 2 in '5\\x01'");
}

TEST(ParseDuration, LongTextIsCutInTheMessage) {
  std::string text(200, '9');
  text += "x";
  std::string message = error_of(text);
  EXPECT_EQ(message.find(text), std::string::npos);
  EXPECT_NE(message.find("..."), std::string::npos);
}

TEST(ParseDuration, OverflowIsRefused) {
  const std::string hint = " (the limit is 9223372036854775807ms)";
  EXPECT_EQ(error_of("9223372036854775808ms"), "value too large in '9223372036854775808ms'" + hint);
  EXPECT_EQ(error_of("9223372036854776"), "value too large in '9223372036854776'" + hint);
  EXPECT_EQ(error_of("106751991168d"), "value too large in '106751991168d'" + hint);
  EXPECT_EQ(error_of("99999999999999999999999s"),
            "value too large in '99999999999999999999999s'" + hint);
  // Each part fits, the sum does not.
  EXPECT_EQ(error_of("106751991167d1000000000000ms"),
            "value too large in '106751991167d1000000000000ms'" + hint);
}

TEST(FormatDuration, ShortestExactForm) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(250), "250ms");
  EXPECT_EQ(format_duration(30 * kSecond), "30s");
  EXPECT_EQ(format_duration(90 * kSecond), "1m30s");
  EXPECT_EQ(format_duration(1500), "1s500ms");
  EXPECT_EQ(format_duration(kHour), "1h");
  EXPECT_EQ(format_duration(kDay), "1d");
  EXPECT_EQ(format_duration(kDay + kHour + kMinute + kSecond + 1), "1d1h1m1s1ms");
  EXPECT_EQ(format_duration(48 * kHour), "2d");
}

TEST(FormatDuration, NegativeValuesAreMarked) {
  EXPECT_EQ(format_duration(-1500), "-1s500ms");
  EXPECT_EQ(format_duration(std::numeric_limits<DurationMs>::min()), "-106751991167d7h12m55s808ms");
}

TEST(FormatDuration, ParsesBackToTheSameValue) {
  for (DurationMs ms :
       {DurationMs{0}, DurationMs{1}, DurationMs{999}, DurationMs{1000}, DurationMs{61001},
        kDay - 1, 3 * kDay + 7, std::numeric_limits<DurationMs>::max()}) {
    EXPECT_EQ(parsed(format_duration(ms)), ms) << format_duration(ms);
  }
}

}  // namespace
}  // namespace cadre
