#include "kernel/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace cadre {

void RateLimiter::configure(const std::string& key, double rate_per_second, int burst) {
  std::lock_guard lock(mutex_);
  if (rate_per_second <= 0) {
    buckets_.erase(key);
    return;
  }
  Bucket b;
  b.rate = rate_per_second / 1000.0;
  b.burst = std::max(1, burst);
  b.tokens = b.burst;
  buckets_[key] = b;
}

TimeMs RateLimiter::acquire(const std::string& key, TimeMs now) {
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) return 0;
  Bucket& b = it->second;
  if (b.updated == 0) b.updated = now;
  b.tokens = std::min(b.burst, b.tokens + static_cast<double>(now - b.updated) * b.rate);
  b.updated = std::max(b.updated, now);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  auto wait = static_cast<TimeMs>(std::ceil((1.0 - b.tokens) / b.rate));
  return now + std::max<TimeMs>(wait, 1);
}

}  // namespace cadre
