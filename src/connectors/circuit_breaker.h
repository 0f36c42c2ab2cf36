// CircuitBreaker: keeps a connector from hammering a system that is down.
//
//   closed    calls go through; `failures_to_open` consecutive failures
//             that count (unavailable, deadline_exceeded, resource_exhausted,
//             io_error: the other side's trouble, not a bad request) open it
//   open      calls are refused at once with kUnavailable and the time they
//             may be tried again (a retry_after), for `open_for`
//   half-open after that, one trial call at a time goes through; a success
//             closes the circuit, a failure opens it again for `open_for`
//
// The snapshot feeds `cadre connectors`: state, last error, success rate
// over the last kWindow calls.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "core/duration.h"
#include "core/json.h"
#include "core/status.h"

namespace cadre {

struct BreakerSettings {
  int failures_to_open = 5;
  DurationMs open_for = 30000;
};

enum class BreakerState { kClosed, kOpen, kHalfOpen };
std::string_view to_string(BreakerState state);

// Whether `outcome` says the other side is in trouble (and so counts toward opening).
bool counts_as_outage(const Status& outcome);

struct BreakerSnapshot {
  BreakerState state = BreakerState::kClosed;
  int consecutive_failures = 0;
  int64_t calls = 0;           // since the process started
  int64_t failures = 0;        // of those, outages
  double success_rate = 1.0;   // over the last kWindow calls (1 when none)
  TimeMs retry_at = 0;         // open: when a trial call may go
  std::string last_error;
  TimeMs last_error_at = 0;

  Json to_json() const;
};

class CircuitBreaker {
 public:
  static constexpr int kWindow = 100;

  explicit CircuitBreaker(BreakerSettings settings = {}) : settings_(settings) {}

  // Ok when a call may go now. Otherwise kUnavailable naming `what` and when
  // to try again; `retry_after` (when given) is set to that wait.
  Status admit(const std::string& what, TimeMs now, DurationMs* retry_after = nullptr);
  // The outcome of a call admit() let through.
  void record(const Status& outcome, TimeMs now);

  BreakerSnapshot snapshot(TimeMs now) const;

 private:
  BreakerState state_at(TimeMs now) const;  // open turns half-open once open_for has passed

  const BreakerSettings settings_;
  mutable std::mutex mutex_;
  BreakerState state_ = BreakerState::kClosed;
  int consecutive_failures_ = 0;
  TimeMs opened_at_ = 0;
  bool trial_in_flight_ = false;
  int64_t calls_ = 0;
  int64_t failures_ = 0;
  std::array<bool, kWindow> window_{};  // true: the call succeeded (or failed for a reason that does not count)
  int window_size_ = 0;
  int window_next_ = 0;
  std::string last_error_;
  TimeMs last_error_at_ = 0;
};

}  // namespace cadre
