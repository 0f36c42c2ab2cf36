// RateLimiter: token buckets by key (a tool name), shared by the workers of
// one process. A step that finds its bucket empty parks until the next
// token, so a rate limit never holds a worker thread.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "core/clock.h"

namespace cadre {

class RateLimiter {
 public:
  // `rate_per_second` <= 0 removes the limit for `key`.
  void configure(const std::string& key, double rate_per_second, int burst);

  // Takes a token and returns 0, or returns the time (> now) when one will be free.
  TimeMs acquire(const std::string& key, TimeMs now);

 private:
  struct Bucket {
    double rate = 0;   // tokens per millisecond
    double burst = 1;
    double tokens = 1;
    TimeMs updated = 0;
  };
  std::mutex mutex_;
  std::map<std::string, Bucket, std::less<>> buckets_;
};

}  // namespace cadre
