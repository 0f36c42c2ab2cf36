#include "connectors/circuit_breaker.h"

#include <algorithm>

#include "core/clock.h"

namespace cadre {

std::string_view to_string(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed: return "closed";
    case BreakerState::kOpen: return "open";
    case BreakerState::kHalfOpen: return "half-open";
  }
  return "closed";
}

bool counts_as_outage(const Status& outcome) {
  return outcome.is(StatusCode::kUnavailable) || outcome.is(StatusCode::kDeadlineExceeded) ||
         outcome.is(StatusCode::kResourceExhausted) || outcome.is(StatusCode::kIOError);
}

Json BreakerSnapshot::to_json() const {
  Json j = {{"state", to_string(state)},
            {"consecutive_failures", consecutive_failures},
            {"calls", calls},
            {"failures", failures},
            {"success_rate", success_rate},
            {"last_error", last_error.empty() ? Json(nullptr) : Json(last_error)},
            {"last_error_at", last_error_at > 0 ? Json(format_time_utc(last_error_at)) : Json(nullptr)}};
  if (state == BreakerState::kOpen) j["retry_at"] = format_time_utc(retry_at);
  return j;
}

BreakerState CircuitBreaker::state_at(TimeMs now) const {
  if (state_ == BreakerState::kOpen && now >= opened_at_ + settings_.open_for) return BreakerState::kHalfOpen;
  return state_;
}

Status CircuitBreaker::admit(const std::string& what, TimeMs now, DurationMs* retry_after) {
  std::lock_guard lock(mutex_);
  state_ = state_at(now);
  DurationMs wait = 0;
  if (state_ == BreakerState::kOpen) {
    wait = opened_at_ + settings_.open_for - now;
  } else if (state_ == BreakerState::kHalfOpen) {
    if (!trial_in_flight_) {
      trial_in_flight_ = true;  // this call is the trial
      return Status::Ok();
    }
    wait = std::min<DurationMs>(settings_.open_for, 1000);  // look again soon: the trial decides
  } else {
    return Status::Ok();
  }
  if (retry_after != nullptr) *retry_after = wait;
  return Status::Unavailable(what + " is failing (circuit open after " + std::to_string(consecutive_failures_) +
                             " failures in a row; last: " + last_error_ + "); next try in " + format_duration(wait));
}

void CircuitBreaker::record(const Status& outcome, TimeMs now) {
  std::lock_guard lock(mutex_);
  const bool outage = counts_as_outage(outcome);
  ++calls_;
  window_[window_next_] = !outage;
  window_next_ = (window_next_ + 1) % kWindow;
  window_size_ = std::min(window_size_ + 1, kWindow);
  const bool was_trial = trial_in_flight_;
  trial_in_flight_ = false;
  if (!outage) {
    consecutive_failures_ = 0;
    state_ = BreakerState::kClosed;
    return;
  }
  ++failures_;
  ++consecutive_failures_;
  last_error_ = outcome.to_string();
  last_error_at_ = now;
  if (was_trial || consecutive_failures_ >= settings_.failures_to_open) {
    state_ = BreakerState::kOpen;
    opened_at_ = now;
  }
}

BreakerSnapshot CircuitBreaker::snapshot(TimeMs now) const {
  std::lock_guard lock(mutex_);
  BreakerSnapshot s;
  s.state = state_at(now);
  s.consecutive_failures = consecutive_failures_;
  s.calls = calls_;
  s.failures = failures_;
  if (window_size_ > 0) {
    int ok = 0;
    for (int i = 0; i < window_size_; ++i) ok += window_[i] ? 1 : 0;
    s.success_rate = static_cast<double>(ok) / window_size_;
  }
  if (s.state == BreakerState::kOpen) s.retry_at = opened_at_ + settings_.open_for;
  s.last_error = last_error_;
  s.last_error_at = last_error_at_;
  return s;
}

}  // namespace cadre
