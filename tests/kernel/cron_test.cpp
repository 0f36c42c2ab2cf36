// Specification of CronSchedule. The core is a table of expectations derived
// by hand from the rules in cron.h (not from the implementation): each row is
// an expression, a zone, an instant and the next fire time after it.
//
// Calendar facts used below: 2026-01-01 is a Thursday, so 2026-01-04 is a
// Sunday and 2026-01-05 a Monday. Europe/Paris is UTC+1 (CET) in winter and
// UTC+2 (CEST) in summer; in 2026 it springs forward on Sun 29 March at
// 01:00Z (02:00 CET becomes 03:00 CEST) and falls back on Sun 25 October at
// 01:00Z (03:00 CEST becomes 02:00 CET). America/New_York is UTC-5 (EST) /
// UTC-4 (EDT); in 2026 it springs forward on Sun 8 March at 07:00Z (02:00 EST
// becomes 03:00 EDT) and falls back on Sun 1 November at 06:00Z (02:00 EDT
// becomes 01:00 EST).

#include "kernel/cron.h"

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace cadre {
namespace {

// "2026-01-01T00:00:00Z" -> ms since the epoch.
TimeMs iso_to_ms(const std::string& text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  char zulu = 0;
  int fields = std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d%c", &year, &month, &day, &hour, &minute,
                           &second, &zulu);
  EXPECT_EQ(fields, 7) << text;
  EXPECT_EQ(zulu, 'Z') << text;
  const auto tp = cctz::convert(cctz::civil_second(year, month, day, hour, minute, second),
                                cctz::utc_time_zone());
  return static_cast<TimeMs>(tp.time_since_epoch().count()) * 1000;
}

// ms since the epoch -> "2026-01-01T00:00:00Z" (the table's format), with
// ".mmm" appended when the instant is not a whole second.
std::string ms_to_iso(TimeMs ms) {
  const auto tp = cctz::time_point<cctz::seconds>(cctz::seconds(ms / 1000));
  std::string text = cctz::format("%Y-%m-%dT%H:%M:%SZ", tp, cctz::utc_time_zone());
  if (ms % 1000 != 0) text += " (+" + std::to_string(ms % 1000) + "ms)";
  return text;
}

std::string describe(const std::optional<TimeMs>& t) {
  return t ? ms_to_iso(*t) : "none";
}

struct Row {
  const char* expression;
  const char* zone;
  const char* after;
  const char* expected;  // nullptr: no fire within 5 years
};

const Row kRows[] = {
    // --- minute ---
    {"* * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"},  // strictly after
    {"* * * * *", "UTC", "2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z"},  // mid-minute
    {"5 * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"},
    {"5 * * * *", "UTC", "2026-01-01T00:05:00Z", "2026-01-01T01:05:00Z"},
    {"0,30 * * * *", "UTC", "2026-01-01T00:10:00Z", "2026-01-01T00:30:00Z"},
    {"10-12 * * * *", "UTC", "2026-01-01T00:11:00Z", "2026-01-01T00:12:00Z"},
    {"10-12 * * * *", "UTC", "2026-01-01T00:12:00Z", "2026-01-01T01:10:00Z"},
    {"*/15 * * * *", "UTC", "2026-01-01T00:16:00Z", "2026-01-01T00:30:00Z"},
    {"*/15 * * * *", "UTC", "2026-01-01T00:46:00Z", "2026-01-01T01:00:00Z"},
    // 5-20/5 is 5,10,15,20.
    {"5-20/5 * * * *", "UTC", "2026-01-01T00:11:00Z", "2026-01-01T00:15:00Z"},
    {"5-20/5 * * * *", "UTC", "2026-01-01T00:20:00Z", "2026-01-01T01:05:00Z"},
    // 10/20 runs from 10 to the field's end: 10,30,50.
    {"10/20 * * * *", "UTC", "2026-01-01T00:31:00Z", "2026-01-01T00:50:00Z"},
    {"10/20 * * * *", "UTC", "2026-01-01T00:50:00Z", "2026-01-01T01:10:00Z"},
    {"1-3,58-59 * * * *", "UTC", "2026-01-01T00:03:00Z", "2026-01-01T00:58:00Z"},

    // --- hour ---
    {"30 9 * * *", "UTC", "2026-01-01T10:00:00Z", "2026-01-02T09:30:00Z"},
    // 9-17/4 is 9,13,17.
    {"0 9-17/4 * * *", "UTC", "2026-01-01T13:00:00Z", "2026-01-01T17:00:00Z"},
    {"0 9-17/4 * * *", "UTC", "2026-01-01T17:00:00Z", "2026-01-02T09:00:00Z"},
    {"0 22/1 * * *", "UTC", "2026-01-01T23:00:00Z", "2026-01-02T22:00:00Z"},
    {"15 */6 * * *", "UTC", "2026-01-01T06:16:00Z", "2026-01-01T12:15:00Z"},

    // --- day of month, month ends ---
    {"0 0 15 * *", "UTC", "2026-01-15T00:00:00Z", "2026-02-15T00:00:00Z"},
    {"0 0 1,15 * *", "UTC", "2026-01-02T00:00:00Z", "2026-01-15T00:00:00Z"},
    // February has no 31st: the next 31st after January's is March's...
    {"0 0 31 * *", "UTC", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z"},
    // ... and April has none either, so May.
    {"0 0 31 * *", "UTC", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"},
    // */10 in day-of-month is 1,11,21,31 (day-of-week is *, so it applies).
    {"0 0 */10 * *", "UTC", "2026-01-21T00:00:00Z", "2026-01-31T00:00:00Z"},
    {"0 0 */10 * *", "UTC", "2026-01-31T00:00:00Z", "2026-02-01T00:00:00Z"},

    // --- month, names ---
    {"0 0 1 JAN *", "UTC", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
    {"0 0 1 jun-aug *", "UTC", "2026-07-02T00:00:00Z", "2026-08-01T00:00:00Z"},
    {"0 0 1 jun-aug *", "UTC", "2026-08-01T00:00:00Z", "2027-06-01T00:00:00Z"},
    // */3 in month is 1,4,7,10.
    {"0 0 1 */3 *", "UTC", "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z"},
    // 2/5 in month is 2,7,12.
    {"0 0 1 2/5 *", "UTC", "2026-02-01T00:00:00Z", "2026-07-01T00:00:00Z"},
    {"0 0 1 2/5 *", "UTC", "2026-07-01T00:00:00Z", "2026-12-01T00:00:00Z"},
    {"0 0 1 Feb,dec *", "UTC", "2026-02-01T00:00:00Z", "2026-12-01T00:00:00Z"},

    // --- day of week, names, 7 as Sunday ---
    // From Thursday 1 January the next Sunday is the 4th.
    {"0 0 * * 0", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"0 0 * * sun", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    // From Friday the 2nd, Saturday and Sunday are skipped: Monday the 5th.
    {"0 0 * * MON-fri", "UTC", "2026-01-02T00:00:00Z", "2026-01-05T00:00:00Z"},
    {"0 0 * * 1-5", "UTC", "2026-01-02T12:00:00Z", "2026-01-05T00:00:00Z"},
    // 5-7 is Fri, Sat, Sun; from Sunday the 4th the next is Friday the 9th.
    {"0 0 * * 5-7", "UTC", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"},
    // */2 is Sun, Tue, Thu, Sat; from Thursday the 1st: Saturday the 3rd.
    {"0 0 * * */2", "UTC", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z"},
    // 1/2 is Mon, Wed, Fri (it stops at Saturday, 7 is only an alias), so
    // from Friday the 2nd the next is Monday the 5th, not Sunday the 4th.
    {"0 0 * * 1/2", "UTC", "2026-01-02T00:00:00Z", "2026-01-05T00:00:00Z"},
    // Mondays of February: the first is the 2nd.
    {"0 0 * feb mon", "UTC", "2026-01-01T00:00:00Z", "2026-02-02T00:00:00Z"},

    // --- the day rule ---
    // Both restricted: the 13th OR a Friday. From the 1st, Friday the 2nd...
    {"0 0 13 * 5", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
    // ... and from Friday the 9th, Tuesday the 13th comes before Friday 16th.
    {"0 0 13 * 5", "UTC", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z"},
    {"0 0 13 * 5", "UTC", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z"},
    // Only day-of-week restricted: Fridays only, the 13th does not count.
    {"0 0 * * 5", "UTC", "2026-01-09T00:00:00Z", "2026-01-16T00:00:00Z"},
    // Only day-of-month restricted: the 13th whatever its weekday.
    {"0 0 13 * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-13T00:00:00Z"},
    {"0 0 13 * *", "UTC", "2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"},
    // "*/2" starts with '*', so day-of-month is unrestricted: every Friday,
    // including the even-dated 16th (Vixie's AND would give the 23rd, an OR
    // the 11th).
    {"0 0 */2 * 5", "UTC", "2026-01-09T00:00:00Z", "2026-01-16T00:00:00Z"},
    // Likewise "*/2" in day-of-week steps aside: the 13th of each month. From
    // Tuesday 13 January, Thursday the 15th is not a fire; Friday 13 Feb is.
    {"0 0 13 * */2", "UTC", "2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"},
    // The 1st OR a Monday: from Monday 26 January, Sunday 1 February.
    {"0 0 1 * mon", "UTC", "2026-01-26T00:00:00Z", "2026-02-01T00:00:00Z"},
    {"0 0 1 * mon", "UTC", "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z"},

    // --- macros ---
    {"@yearly", "UTC", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
    {"@annually", "UTC", "2026-06-15T08:00:00Z", "2027-01-01T00:00:00Z"},
    {"@monthly", "UTC", "2026-01-15T00:00:00Z", "2026-02-01T00:00:00Z"},
    {"@weekly", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},  // Sunday
    {"@daily", "UTC", "2026-01-01T12:00:00Z", "2026-01-02T00:00:00Z"},
    {"@midnight", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
    {"@hourly", "UTC", "2026-01-01T12:30:00Z", "2026-01-01T13:00:00Z"},
    {"  @HOURLY\t", "UTC", "2026-01-01T12:00:00Z", "2026-01-01T13:00:00Z"},

    // --- leap years and impossible dates ---
    {"0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
    {"0 0 29 2 *", "UTC", "2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z"},
    // 2100 is not a leap year, and 2104-02-29 is more than 5 years away.
    {"0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", nullptr},
    {"0 12 28-31 2 *", "UTC", "2028-02-28T12:00:00Z", "2028-02-29T12:00:00Z"},
    {"0 12 28-31 2 *", "UTC", "2026-02-28T12:00:00Z", "2027-02-28T12:00:00Z"},
    {"0 0 30 2 *", "UTC", "2026-01-01T00:00:00Z", nullptr},
    {"0 0 31 4,6,9,11 *", "UTC", "2026-01-01T00:00:00Z", nullptr},
    // February 30th never exists, but as Monday is restricted too the OR
    // rule still fires on Mondays in February.
    {"0 0 30 2 mon", "UTC", "2026-01-01T00:00:00Z", "2026-02-02T00:00:00Z"},

    // --- year rollover ---
    {"0 0 1 1 *", "UTC", "2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z"},
    {"*/15 * * * *", "UTC", "2026-12-31T23:50:00Z", "2027-01-01T00:00:00Z"},
    {"59 23 31 12 *", "UTC", "2026-01-01T00:00:00Z", "2026-12-31T23:59:00Z"},
    {"59 23 31 12 *", "UTC", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z"},

    // --- time zones without a transition nearby ---
    // 09:00 CET is 08:00Z; 09:00 CEST is 07:00Z.
    {"0 9 * * *", "Europe/Paris", "2026-01-01T00:00:00Z", "2026-01-01T08:00:00Z"},
    {"0 9 * * *", "Europe/Paris", "2026-07-01T00:00:00Z", "2026-07-01T07:00:00Z"},
    // 00:00Z on 1 January is still 31 December 19:00 in New York; local
    // midnight is 05:00Z.
    {"0 0 * * *", "America/New_York", "2026-01-01T00:00:00Z", "2026-01-01T05:00:00Z"},
    // The weekday is the local one: Thursday 23:00 EST is Friday 04:00Z.
    {"0 23 * * thu", "America/New_York", "2026-01-01T00:00:00Z", "2026-01-02T04:00:00Z"},
    // Friday 10:00 EST: next weekday 09:00 is Monday 5th, 14:00Z.
    {"0 9 * * 1-5", "America/New_York", "2026-01-02T15:00:00Z", "2026-01-05T14:00:00Z"},
    // Half-hour offset: midnight IST (UTC+5:30) on 2 January is 18:30Z on the 1st.
    {"0 0 * * *", "Asia/Kolkata", "2026-01-01T00:00:00Z", "2026-01-01T18:30:00Z"},

    // --- Europe/Paris spring forward (02:00-02:59 local does not exist) ---
    // 02:30 on the 29th is skipped; the next is 02:30 CEST on the 30th.
    {"30 2 * * *", "Europe/Paris", "2026-03-28T02:00:00Z", "2026-03-30T00:30:00Z"},
    // 03:00 CEST exists: 01:00Z, the instant of the jump.
    {"0 3 * * *", "Europe/Paris", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
    // From 01:45 CET, 02:00 and 02:30 are skipped, 03:00 CEST is 01:00Z.
    {"*/30 * * * *", "Europe/Paris", "2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z"},
    // --- Europe/Paris fall back (02:00-02:59 local happens twice) ---
    // First occurrence: 02:30 CEST is 00:30Z.
    {"30 2 * * *", "Europe/Paris", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"},
    // Not again at 01:30Z (02:30 CET): the next is the 26th, 02:30 CET.
    {"30 2 * * *", "Europe/Paris", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
    // Hourly from 02:00 CEST (00:00Z): 02:00 CET (01:00Z) is the second
    // occurrence and does not fire, so the next is 03:00 CET, 02:00Z.
    {"0 * * * *", "Europe/Paris", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"},
    // From inside the second occurrence (02:15 CET, 01:15Z), 02:45 has
    // already fired at its first occurrence (00:45Z): next day, 01:45Z.
    {"45 2 * * *", "Europe/Paris", "2026-10-25T01:15:00Z", "2026-10-26T01:45:00Z"},

    // --- America/New_York spring forward (02:00-02:59 local does not exist) ---
    // 02:30 on the 8th is skipped; 02:30 EDT on the 9th is 06:30Z.
    {"30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-09T06:30:00Z"},
    // 02:00 itself is the first skipped minute.
    {"0 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-09T06:00:00Z"},
    // 01:59 EST still exists: 06:59Z.
    {"59 1 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T06:59:00Z"},
    // --- America/New_York fall back (01:00-01:59 local happens twice) ---
    // First occurrence: 01:30 EDT is 05:30Z.
    {"30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z"},
    // Not at 06:30Z (01:30 EST); the 2nd, 01:30 EST, is 06:30Z a day later.
    {"30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
    // Every 30 minutes from 01:30 EDT (05:30Z): 01:00 EST and 01:30 EST are
    // second occurrences, so the next is 02:00 EST, 07:00Z.
    {"*/30 * * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z"},
};

class CronTableTest : public ::testing::TestWithParam<Row> {};

TEST_P(CronTableTest, NextFireMatchesHandDerivation) {
  const Row& row = GetParam();
  auto schedule = CronSchedule::parse(row.expression, row.zone);
  ASSERT_TRUE(schedule.ok()) << schedule.status().to_string();
  std::optional<TimeMs> next = schedule->next_after(iso_to_ms(row.after));
  std::optional<TimeMs> expected;
  if (row.expected != nullptr) expected = iso_to_ms(row.expected);
  EXPECT_EQ(describe(next), describe(expected))
      << "'" << row.expression << "' in " << row.zone << " after " << row.after;
}

INSTANTIATE_TEST_SUITE_P(Table, CronTableTest, ::testing::ValuesIn(kRows));

TEST(CronScheduleTest, KeepsExpressionAndZone) {
  auto schedule = CronSchedule::parse("*/5 * * * *", "Europe/Paris");
  ASSERT_TRUE(schedule.ok());
  EXPECT_EQ(schedule->expression(), "*/5 * * * *");
  EXPECT_EQ(schedule->time_zone(), "Europe/Paris");
}

TEST(CronScheduleTest, DefaultZoneIsUtc) {
  auto schedule = CronSchedule::parse("0 9 * * *");
  ASSERT_TRUE(schedule.ok());
  EXPECT_EQ(schedule->time_zone(), "UTC");
  EXPECT_EQ(describe(schedule->next_after(iso_to_ms("2026-01-01T00:00:00Z"))),
            "2026-01-01T09:00:00Z");
}

TEST(CronScheduleTest, SubSecondAfterStillRoundsToTheNextMinute) {
  auto schedule = CronSchedule::parse("* * * * *");
  ASSERT_TRUE(schedule.ok());
  TimeMs almost = iso_to_ms("2026-01-01T00:00:59Z") + 999;
  EXPECT_EQ(describe(schedule->next_after(almost)), "2026-01-01T00:01:00Z");
  TimeMs just_after = iso_to_ms("2026-01-01T00:01:00Z") + 1;
  EXPECT_EQ(describe(schedule->next_after(just_after)), "2026-01-01T00:02:00Z");
}

TEST(CronScheduleTest, BeforeTheEpoch) {
  auto schedule = CronSchedule::parse("0 0 1 1 *");
  ASSERT_TRUE(schedule.ok());
  EXPECT_EQ(describe(schedule->next_after(iso_to_ms("1969-12-31T23:59:59Z") + 500)),
            "1970-01-01T00:00:00Z");
}

// Walking a schedule by feeding each fire time back in lists its fires.
TEST(CronScheduleTest, SuccessiveFiresOfTheDayRule) {
  auto schedule = CronSchedule::parse("0 0 13 * 5");
  ASSERT_TRUE(schedule.ok());
  std::vector<std::string> fires;
  TimeMs t = iso_to_ms("2026-01-31T00:00:00Z");
  for (int i = 0; i < 6; ++i) {
    auto next = schedule->next_after(t);
    ASSERT_TRUE(next.has_value());
    fires.push_back(ms_to_iso(*next));
    t = *next;
  }
  // Fridays of February 2026 are the 6th, 13th (also the 13th: fires once),
  // 20th and 27th; then Friday 6 March and Friday 13 March.
  EXPECT_EQ(fires, (std::vector<std::string>{"2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z",
                                             "2026-02-20T00:00:00Z", "2026-02-27T00:00:00Z",
                                             "2026-03-06T00:00:00Z", "2026-03-13T00:00:00Z"}));
}

// A schedule that never fires is answered quickly, not by stepping minutes.
TEST(CronScheduleTest, ImpossibleScheduleIsFast) {
  auto schedule = CronSchedule::parse("* * 31 2 *", "America/New_York");
  ASSERT_TRUE(schedule.ok());
  int64_t start = monotonic_us();
  for (int i = 0; i < 100; ++i)
    EXPECT_FALSE(schedule->next_after(iso_to_ms("2026-01-01T00:00:00Z")));
  EXPECT_LT(monotonic_us() - start, 2'000'000);
}

TEST(CronScheduleTest, InstantsOutsideYearsOneToNineThousandHaveNoFire) {
  auto schedule = CronSchedule::parse("* * * * *");
  ASSERT_TRUE(schedule.ok());
  EXPECT_FALSE(schedule->next_after(INT64_MAX));
  EXPECT_FALSE(schedule->next_after(INT64_MIN));
}

// --- parse errors: each names the field at fault and the text ---

struct ErrorRow {
  const char* expression;
  const char* zone;
  const char* field;     // the message starts with "<field>: "
  const char* fragment;  // and contains this text
};

const ErrorRow kErrorRows[] = {
    // wrong field count
    {"* * * *", "UTC", "expression", "expected 5 fields"},
    {"* * * * * *", "UTC", "expression", "got 6"},
    {"", "UTC", "expression", "empty"},
    {"   \t ", "UTC", "expression", "empty"},
    // out of range, one per field
    {"60 * * * *", "UTC", "minute", "value 60 is out of range 0-59"},
    {"0 24 * * *", "UTC", "hour", "value 24 is out of range 0-23"},
    {"0 0 0 * *", "UTC", "day-of-month", "value 0 is out of range 1-31"},
    {"0 0 32 * *", "UTC", "day-of-month", "value 32 is out of range 1-31"},
    {"0 0 1 13 *", "UTC", "month", "value 13 is out of range 1-12"},
    {"0 0 1 0 *", "UTC", "month", "value 0 is out of range 1-12"},
    {"0 0 * * 8", "UTC", "day-of-week", "value 8 is out of range 0-7"},
    {"99999999999999999999 * * * *", "UTC", "minute", "value 99999999999999999999 is out"},
    {"0 0-24 * * *", "UTC", "hour", "value 24"},
    // empty list items
    {"1,,2 * * * *", "UTC", "minute", "empty list item"},
    {"0 ,5 * * *", "UTC", "hour", "empty list item"},
    {"0 0 5, * *", "UTC", "day-of-month", "empty list item"},
    // step 0 and other bad steps
    {"*/0 * * * *", "UTC", "minute", "step 0"},
    {"0 0 1-10/0 * *", "UTC", "day-of-month", "step 0"},
    {"*/61 * * * *", "UTC", "minute", "step 61 is out of range 1-60"},
    {"0 0 * */x *", "UTC", "month", "invalid step 'x'"},
    {"*/ * * * *", "UTC", "minute", "invalid step ''"},
    {"*/2/3 * * * *", "UTC", "minute", "invalid step '2/3'"},
    // reversed ranges
    {"0 5-2 * * *", "UTC", "hour", "range 5-2 is reversed"},
    {"0 0 * dec-jan *", "UTC", "month", "range dec-jan is reversed"},
    {"0 0 * * fri-mon", "UTC", "day-of-week", "range fri-mon is reversed"},
    // garbage
    {"x * * * *", "UTC", "minute", "names are not allowed, got 'x'"},
    {"1x * * * *", "UTC", "minute", "invalid value '1x'"},
    {"0 0 L * *", "UTC", "day-of-month", "'L'"},
    {"0 0 * * mon#2", "UTC", "day-of-week", "invalid value 'mon#2'"},
    {"0 0 ? * *", "UTC", "day-of-month", "invalid value '?'"},
    {"1- * * * *", "UTC", "minute", "invalid item '1-'"},
    {"-1 * * * *", "UTC", "minute", "invalid item '-1'"},
    {"1-2-3 * * * *", "UTC", "minute", "invalid value '2-3'"},
    {"** * * * *", "UTC", "minute", "invalid value '**'"},
    {"0 0 * * \xff", "UTC", "day-of-week", "invalid value '\\xff'"},
    {"0 0 * january *", "UTC", "month", "unknown name 'january'"},
    {"0 0 * * jan", "UTC", "day-of-week", "unknown name 'jan'"},
    {"0 0 * mon *", "UTC", "month", "unknown name 'mon'"},
    // macros
    {"@reboot", "UTC", "expression", "unknown macro '@reboot'"},
    {"@daily 5", "UTC", "expression", "macro must stand alone"},
    // time zones
    {"* * * * *", "Mars/Olympus_Mons", "time zone", "'Mars/Olympus_Mons'"},
    {"* * * * *", "", "time zone", "unknown time zone ''"},
    {"* * * * *", "../../etc/passwd", "time zone", "'../../etc/passwd'"},
    {"* * * * *", "/usr/share/zoneinfo/UTC", "time zone", "unknown time zone"},
};

class CronErrorTest : public ::testing::TestWithParam<ErrorRow> {};

TEST_P(CronErrorTest, NamesTheFieldAndText) {
  const ErrorRow& row = GetParam();
  auto schedule = CronSchedule::parse(row.expression, row.zone);
  ASSERT_FALSE(schedule.ok()) << "'" << row.expression << "' parsed";
  EXPECT_EQ(schedule.status().code(), StatusCode::kInvalidArgument);
  const std::string& message = schedule.status().message();
  EXPECT_EQ(message.rfind(std::string(row.field) + ": ", 0), 0u) << message;
  EXPECT_NE(message.find(row.fragment), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(Errors, CronErrorTest, ::testing::ValuesIn(kErrorRows));

TEST(CronParseErrorTest, MessageQuotesTheWholeExpression) {
  auto schedule = CronSchedule::parse("0 24 * * *");
  ASSERT_FALSE(schedule.ok());
  EXPECT_EQ(schedule.status().message(), "hour: value 24 is out of range 0-23 in '0 24 * * *'");
}

TEST(CronParseErrorTest, OverlyLongInput) {
  std::string at_limit = "0 0 * * *" + std::string(256 - 9, ' ');
  ASSERT_EQ(at_limit.size(), 256u);
  EXPECT_TRUE(CronSchedule::parse(at_limit).ok());

  std::string too_long = at_limit + " ";
  auto schedule = CronSchedule::parse(too_long);
  ASSERT_FALSE(schedule.ok());
  EXPECT_EQ(schedule.status().message(), "expression: longer than 256 characters (257)");
}

}  // namespace
}  // namespace cadre
