// RetryPolicy: how often and how soon a failed step is tried again.
// The delay before attempt n+1 is min(cap, initial * multiplier^(n-1)); with
// full jitter the actual delay is uniform in [0, that]. A Retry-After given
// by the failing call raises the delay to at least that value. Only errors
// whose code is listed in `retry_on` are retried.
//
// Thread-safety: a plain value.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "core/duration.h"
#include "core/json.h"
#include "core/status.h"

namespace cadre {

struct RetryPolicy {
  int max_attempts = 3;                 // total attempts, including the first
  DurationMs initial_backoff = 1000;    // before the second attempt
  double multiplier = 2.0;
  DurationMs max_backoff = 5 * 60 * 1000;
  bool jitter = true;                   // full jitter
  std::vector<StatusCode> retry_on = {StatusCode::kUnavailable, StatusCode::kDeadlineExceeded,
                                      StatusCode::kResourceExhausted};

  bool retries(StatusCode code) const;

  // Delay before attempt `next_attempt` (2 for the first retry). `rng_value`
  // in [0,1) draws the jitter; `retry_after` (or -1) is the server's wish.
  DurationMs delay_before(int next_attempt, double rng_value, DurationMs retry_after = -1) const;

  Json to_json() const;
  static RetryPolicy from_json(const Json& j);  // missing fields keep defaults
};

// "unavailable" -> kUnavailable; false if the name is unknown.
bool status_code_from_name(std::string_view name, StatusCode* out);

}  // namespace cadre
