// libFuzzer target for CronSchedule: the input is a cron expression. The
// first byte also picks one of a few time zones (including ones with DST
// gaps, half-hour shifts and a skipped day) so that next_after is exercised
// around transitions. Whatever the input, parse must return a value or an
// error and next_after must terminate, without crashes or sanitizer reports.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kernel/cron.h"

namespace {

constexpr std::array<std::string_view, 6> kZones = {
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Australia/Lord_Howe",  // 30-minute DST shift
    "Pacific/Apia",         // skipped 30 December 2011 entirely
    "Asia/Kathmandu",       // +05:45
};

// Fixed instants around DST transitions, leap days and the ends of the
// supported range.
constexpr std::array<cadre::TimeMs, 7> kInstants = {
    0,                // 1970-01-01
    1774746000000,    // 2026-03-29T01:00:00Z, Paris springs forward
    1792890000000,    // 2026-10-25T01:00:00Z, Paris falls back
    1325239200000,    // 2011-12-30T10:00:00Z, Samoa's missing day
    1835395199999,    // 2028-02-28T23:59:59.999Z, before a leap day
    -62135596800000,  // 0001-01-01, the earliest supported instant
    253402300799999,  // 9999-12-31T23:59:59.999Z, the latest
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view expression(reinterpret_cast<const char*>(data), size);
  std::string_view zone = kZones[size == 0 ? 0 : data[0] % kZones.size()];
  auto schedule = cadre::CronSchedule::parse(expression, zone);
  if (!schedule.ok()) return 0;
  for (cadre::TimeMs instant : kInstants) {
    cadre::TimeMs t = instant;
    // Chain a few fires: each must be strictly later than the previous one.
    for (int i = 0; i < 3; ++i) {
      std::optional<cadre::TimeMs> next = schedule->next_after(t);
      if (!next) break;
      if (*next <= t || *next % 1000 != 0) __builtin_trap();
      t = *next;
    }
  }
  return 0;
}
