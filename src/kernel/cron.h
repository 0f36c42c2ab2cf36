// Cron schedules for triggers.
//
// Syntax: five fields, minute hour day-of-month month day-of-week, each a
// list (`,`) of `*`, values, ranges (`a-b`) and steps (`*/n`, `a-b/n`, `a/n`
// meaning a through the field's maximum). Months may be written jan..dec and
// days sun..sat (case-insensitive); day-of-week 7 is Sunday like 0. Macros:
// @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly.
//
// The day rule (as in Vixie cron): when both day-of-month and day-of-week
// are restricted (neither starts with `*`), a day matches if EITHER matches;
// when one of them starts with `*`, only the other one restricts.
//
// Time zones: a schedule is evaluated in an IANA zone (default UTC). A local
// time skipped by a daylight-saving jump does not fire that day; a local time
// that occurs twice fires once, at its first occurrence.
//
// Thread-safety: CronSchedule is immutable after parse; const methods are safe.
#pragma once

#include <bitset>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"

namespace cadre {

class CronSchedule {
 public:
  // Errors name the field and the text at fault, e.g.
  // "hour: value 24 is out of range 0-23 in '0 24 * * *'".
  static Result<CronSchedule> parse(std::string_view expression, std::string_view time_zone = "UTC");

  // The first fire time strictly after `after` (ms since epoch, whole
  // minutes), or nullopt if none exists within the next 5 years
  // (for example "0 0 30 2 *").
  std::optional<TimeMs> next_after(TimeMs after) const;

  const std::string& expression() const { return expression_; }
  const std::string& time_zone() const { return time_zone_; }

 private:
  std::string expression_;
  std::string time_zone_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // 1..31
  std::bitset<13> months_;         // 1..12
  std::bitset<7> days_of_week_;    // 0..6, Sunday = 0
  bool dom_restricted_ = false;
  bool dow_restricted_ = false;
  struct ZoneHolder;
  std::shared_ptr<const ZoneHolder> zone_;
};

}  // namespace cadre
