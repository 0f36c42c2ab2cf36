// Clock: the one source of "now" for the kernel, as milliseconds since the
// Unix epoch (UTC). Production code uses SystemClock; tests drive a
// ManualClock so that timers, leases and cron fire exactly when they choose.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cadre {

using TimeMs = int64_t;  // milliseconds since the Unix epoch, UTC

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimeMs now_ms() const override;
  static SystemClock& instance();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimeMs start) : now_(start) {}
  TimeMs now_ms() const override { return now_.load(); }
  void set(TimeMs t) { now_.store(t); }
  void advance(TimeMs delta) { now_.fetch_add(delta); }

 private:
  std::atomic<TimeMs> now_;
};

// "2026-11-25T02:15:39.123Z"
std::string format_time_utc(TimeMs t);
// The UTC day of t: "2026-11-25".
std::string format_date_utc(TimeMs t);
// Midnight UTC of the day `t` falls in: where "today" starts for daily budgets.
inline TimeMs utc_day_start(TimeMs t) { return t - t % (24 * 3600 * 1000); }

// Parses an ISO 8601 instant: "2026-11-25T09:00:00Z", with an offset
// ("+01:00"), fractional seconds, or a date alone (midnight UTC).
Result<TimeMs> parse_time_utc(std::string_view text);

// Monotonic microseconds, for measuring durations only.
int64_t monotonic_us();

}  // namespace cadre
