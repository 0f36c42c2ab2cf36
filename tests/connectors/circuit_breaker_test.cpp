// The circuit breaker: closed until enough outages in a row, open (refusing
// at once, saying when to try again) for its period, then one trial call at
// a time whose outcome closes or reopens it. Errors that are the caller's
// (a bad request) never open it.
#include "connectors/circuit_breaker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace cadre {
namespace {

const Status kDown = Status::Unavailable("HTTP 503 from billing");

TEST(CircuitBreaker, OpensAfterConsecutiveOutagesAndRefusesWithARetryAfter) {
  CircuitBreaker breaker({3, 10000});
  TimeMs now = 1000;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(breaker.admit("billing", now).ok());
    breaker.record(kDown, now);
  }
  ASSERT_TRUE(breaker.admit("billing", now).ok());
  breaker.record(Status::Ok(), now);  // a success resets the count
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(breaker.admit("billing", now).ok()) << i;
    breaker.record(kDown, now);
  }
  DurationMs retry_after = -1;
  Status refused = breaker.admit("billing", now + 4000, &retry_after);
  EXPECT_TRUE(refused.is(StatusCode::kUnavailable));
  EXPECT_EQ(retry_after, 6000);
  EXPECT_NE(refused.message().find("billing is failing"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("HTTP 503 from billing"), std::string::npos) << refused.message();
  BreakerSnapshot s = breaker.snapshot(now + 4000);
  EXPECT_EQ(s.state, BreakerState::kOpen);
  EXPECT_EQ(s.retry_at, now + 10000);
  EXPECT_EQ(s.calls, 6);
  EXPECT_EQ(s.failures, 5);
  EXPECT_NEAR(s.success_rate, 1.0 / 6, 1e-9);
  EXPECT_EQ(s.last_error, "unavailable: HTTP 503 from billing");
}

TEST(CircuitBreaker, HalfOpenLetsOneTrialThroughWhichClosesOrReopensIt) {
  CircuitBreaker breaker({1, 10000});
  ASSERT_TRUE(breaker.admit("crm", 0).ok());
  breaker.record(Status::DeadlineExceeded("no answer in 10 s"), 0);
  EXPECT_FALSE(breaker.admit("crm", 9999).ok());
  EXPECT_EQ(breaker.snapshot(10000).state, BreakerState::kHalfOpen);
  ASSERT_TRUE(breaker.admit("crm", 10000).ok()) << "the trial";
  EXPECT_FALSE(breaker.admit("crm", 10001).ok()) << "one trial at a time";
  breaker.record(kDown, 10002);  // the trial failed: open again for the full period
  EXPECT_FALSE(breaker.admit("crm", 20001).ok());
  ASSERT_TRUE(breaker.admit("crm", 20002).ok());
  breaker.record(Status::Ok(), 20003);
  EXPECT_EQ(breaker.snapshot(20003).state, BreakerState::kClosed);
  EXPECT_TRUE(breaker.admit("crm", 20004).ok());
  EXPECT_TRUE(breaker.admit("crm", 20004).ok()) << "closed: no limit on calls in flight";
}

TEST(CircuitBreaker, TheCallersMistakesDoNotOpenIt) {
  CircuitBreaker breaker({2, 10000});
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(breaker.admit("api", i).ok());
    breaker.record(Status::InvalidArgument("HTTP 422: missing field"), i);
  }
  BreakerSnapshot s = breaker.snapshot(10);
  EXPECT_EQ(s.state, BreakerState::kClosed);
  EXPECT_EQ(s.failures, 0);
  EXPECT_EQ(s.success_rate, 1.0);
  EXPECT_TRUE(counts_as_outage(Status::ResourceExhausted("429")));
  EXPECT_TRUE(counts_as_outage(Status::IOError("connection reset")));
  EXPECT_FALSE(counts_as_outage(Status::FailedPrecondition("401")));
}

TEST(CircuitBreaker, TheSuccessRateCoversTheLastHundredCalls) {
  CircuitBreaker breaker({1000, 1});
  for (int i = 0; i < 150; ++i) {
    ASSERT_TRUE(breaker.admit("x", i).ok());
    breaker.record(i < 50 ? kDown : Status::Ok(), i);
  }
  EXPECT_EQ(breaker.snapshot(150).success_rate, 1.0) << "the 50 early failures left the window";
  EXPECT_EQ(breaker.snapshot(150).calls, 150);
}

TEST(CircuitBreaker, ManyThreadsSeeOneConsistentState) {
  CircuitBreaker breaker({5, 60000});
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (breaker.admit("x", 1).ok()) {
          ++admitted;
          breaker.record(kDown, 1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  BreakerSnapshot s = breaker.snapshot(1);
  EXPECT_EQ(s.state, BreakerState::kOpen);
  EXPECT_EQ(s.calls, admitted.load());
  EXPECT_GE(admitted.load(), 5);
  EXPECT_LE(admitted.load(), 5 + 8) << "once open, only calls already admitted get through";
}

}  // namespace
}  // namespace cadre
