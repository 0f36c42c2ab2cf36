#include "kernel/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace cadre {

bool RetryPolicy::retries(StatusCode code) const {
  return std::find(retry_on.begin(), retry_on.end(), code) != retry_on.end();
}

DurationMs RetryPolicy::delay_before(int next_attempt, double rng_value, DurationMs retry_after) const {
  double exponent = std::max(0, next_attempt - 2);
  double base = static_cast<double>(initial_backoff) * std::pow(multiplier, exponent);
  double capped = std::min(base, static_cast<double>(max_backoff));
  if (jitter) capped *= std::clamp(rng_value, 0.0, 1.0);
  auto delay = static_cast<DurationMs>(capped);
  if (retry_after >= 0) delay = std::max(delay, retry_after);
  return delay;
}

Json RetryPolicy::to_json() const {
  Json codes = Json::array();
  for (auto c : retry_on) codes.push_back(std::string(status_code_name(c)));
  return {{"max_attempts", max_attempts}, {"initial_backoff_ms", initial_backoff},
          {"multiplier", multiplier},     {"max_backoff_ms", max_backoff},
          {"jitter", jitter},             {"retry_on", codes}};
}

RetryPolicy RetryPolicy::from_json(const Json& j) {
  RetryPolicy p;
  if (!j.is_object()) return p;
  p.max_attempts = j.value("max_attempts", p.max_attempts);
  p.initial_backoff = j.value("initial_backoff_ms", p.initial_backoff);
  p.multiplier = j.value("multiplier", p.multiplier);
  p.max_backoff = j.value("max_backoff_ms", p.max_backoff);
  p.jitter = j.value("jitter", p.jitter);
  if (j.contains("retry_on") && j["retry_on"].is_array()) {
    p.retry_on.clear();
    for (const auto& name : j["retry_on"]) {
      StatusCode code;
      if (name.is_string() && status_code_from_name(name.get<std::string>(), &code)) p.retry_on.push_back(code);
    }
  }
  return p;
}

bool status_code_from_name(std::string_view name, StatusCode* out) {
  for (int i = 0; i <= static_cast<int>(StatusCode::kSuspended); ++i) {
    auto code = static_cast<StatusCode>(i);
    if (status_code_name(code) == name) {
      *out = code;
      return true;
    }
  }
  return false;
}

}  // namespace cadre
