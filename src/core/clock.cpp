#include "core/clock.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include <cctz/time_zone.h>

namespace cadre {

TimeMs SystemClock::now_ms() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

SystemClock& SystemClock::instance() {
  static SystemClock clock;
  return clock;
}

std::string format_date_utc(TimeMs t) { return format_time_utc(t).substr(0, 10); }

std::string format_time_utc(TimeMs t) {
  time_t secs = static_cast<time_t>(t / 1000);
  int ms = static_cast<int>(t % 1000);
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  struct tm tm_utc {};
  gmtime_r(&secs, &tm_utc);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm_utc.tm_year + 1900,
                tm_utc.tm_mon + 1, tm_utc.tm_mday, tm_utc.tm_hour, tm_utc.tm_min, tm_utc.tm_sec, ms);
  return buf;
}

Result<TimeMs> parse_time_utc(std::string_view text) {
  const std::string input(text);
  const auto utc = cctz::utc_time_zone();
  std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds> tp;
  for (const char* format : {"%Y-%m-%dT%H:%M:%E*S%Ez", "%Y-%m-%dT%H:%M:%E*SZ", "%Y-%m-%dT%H:%M%Ez",
                             "%Y-%m-%dT%H:%MZ", "%Y-%m-%d %H:%M:%E*S%Ez", "%Y-%m-%d"}) {
    if (cctz::parse(format, input, utc, &tp)) return static_cast<TimeMs>(tp.time_since_epoch().count());
  }
  return Status::InvalidArgument("'" + input + "' is not a time; write it like 2026-11-25T09:00:00Z or "
                                 "2026-11-25T10:00:00+01:00");
}

int64_t monotonic_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace cadre
