// Triggers: cron fires on time while running, missed fires follow the
// catch-up rule after a stop, each fire happens once even when recording it
// fails, and events reach every trigger listening for their name.
#include "kernel/trigger_scheduler.h"

#include <gtest/gtest.h>

#include <set>

#include "test_support.h"

namespace cadre {
namespace {

constexpr TimeMs kMinute = 60'000;
// 2026-11-25T00:00:00Z
constexpr TimeMs kMidnight = 1'795'564'800'000;

class TriggerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.path = (dir_.path() / "cadre.db").string();
    store_ = std::move(open_sqlite_store(options)).value();
  }

  // An hourly trigger that records its fires (deduplicated like objectives are).
  CronTrigger hourly(CatchupPolicy catchup) {
    CronTrigger t{"pb#0", *CronSchedule::parse("0 * * * *"), catchup, nullptr};
    t.fire = [this](TimeMs at, const std::string& key) {
      if (!seen_keys_.insert(key).second) return Status::Ok();
      fires_.push_back(at);
      return Status::Ok();
    };
    return t;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::vector<TimeMs> fires_;
  std::set<std::string> seen_keys_;
};

TEST_F(TriggerTest, FiresOnTimeWhileRunningAndNeverTwiceForOneTime) {
  ManualClock clock(kMidnight + 30 * kMinute);
  TriggerScheduler scheduler(*store_, clock);
  scheduler.add_cron(hourly(CatchupPolicy::kNone));
  ASSERT_TRUE(scheduler.tick().ok());
  EXPECT_TRUE(fires_.empty());
  clock.set(kMidnight + 60 * kMinute);
  ASSERT_EQ(*scheduler.tick(), 1);
  ASSERT_EQ(*scheduler.tick(), 0);
  clock.set(kMidnight + 150 * kMinute);  // 02:30: 02:00 is due
  ASSERT_EQ(*scheduler.tick(), 1);
  EXPECT_EQ(fires_, (std::vector<TimeMs>{kMidnight + 60 * kMinute, kMidnight + 120 * kMinute}));
}

// The process ran until 00:30, stopped, and starts again at 05:30: 01:00
// through 05:00 (five fires) were missed.
class CatchupTest : public TriggerTest {
 protected:
  void run_until_stop() {
    ManualClock clock(kMidnight + 30 * kMinute);
    TriggerScheduler before(*store_, clock);
    before.add_cron(hourly(CatchupPolicy::kNone));
    ASSERT_TRUE(before.tick().ok());
  }
  std::vector<TimeMs> restart_with(CatchupPolicy policy) {
    run_until_stop();
    ManualClock clock(kMidnight + 330 * kMinute);
    TriggerScheduler after(*store_, clock);
    after.add_cron(hourly(policy));
    EXPECT_TRUE(after.tick().ok());
    return fires_;
  }
};

TEST_F(CatchupTest, NoneSkipsWhatWasMissed) { EXPECT_TRUE(restart_with(CatchupPolicy::kNone).empty()); }

TEST_F(CatchupTest, LatestFiresTheMostRecentMissedTimeOnce) {
  EXPECT_EQ(restart_with(CatchupPolicy::kLatest), (std::vector<TimeMs>{kMidnight + 300 * kMinute}));
}

TEST_F(CatchupTest, AllFiresEveryMissedTimeInOrder) {
  std::vector<TimeMs> expected;
  for (int h = 1; h <= 5; ++h) expected.push_back(kMidnight + h * 60 * kMinute);
  EXPECT_EQ(restart_with(CatchupPolicy::kAll), expected);
}

TEST_F(TriggerTest, ALongStopOfAFrequentTriggerCatchesUpOnceOrAtMostTheCap) {
  for (CatchupPolicy policy : {CatchupPolicy::kLatest, CatchupPolicy::kAll}) {
    fires_.clear();
    seen_keys_.clear();
    std::string id = policy == CatchupPolicy::kLatest ? "latest#0" : "all#0";
    ASSERT_TRUE(store_->set_trigger_last_fire(id, kMidnight).ok());
    ManualClock clock(kMidnight + 3 * 24 * 60 * kMinute + 30'000);  // 4320 minutes later
    TriggerScheduler scheduler(*store_, clock, /*max_catchup_fires=*/100);
    CronTrigger t{id, *CronSchedule::parse("* * * * *"), policy, nullptr};
    t.fire = [this](TimeMs at, const std::string& key) {
      if (seen_keys_.insert(key).second) fires_.push_back(at);
      return Status::Ok();
    };
    scheduler.add_cron(t);
    ASSERT_TRUE(scheduler.tick().ok());
    ASSERT_TRUE(scheduler.tick().ok());
    const TimeMs last_missed = kMidnight + 3 * 24 * 60 * kMinute;
    if (policy == CatchupPolicy::kLatest) {
      EXPECT_EQ(fires_, (std::vector<TimeMs>{last_missed}));
    } else {
      ASSERT_EQ(fires_.size(), 100u);
      EXPECT_EQ(fires_.front(), last_missed - 99 * kMinute);
      EXPECT_EQ(fires_.back(), last_missed);
    }
  }
}

TEST_F(TriggerTest, AFireWhoseObjectiveFailedToStartIsTriedAgain) {
  ManualClock clock(kMidnight + 30 * kMinute);
  TriggerScheduler scheduler(*store_, clock);
  int attempts = 0;
  CronTrigger t = hourly(CatchupPolicy::kNone);
  auto record = t.fire;
  t.fire = [&](TimeMs at, const std::string& key) {
    if (++attempts == 1) return Status::Unavailable("database busy");
    return record(at, key);
  };
  scheduler.add_cron(t);
  ASSERT_TRUE(scheduler.tick().ok());
  clock.set(kMidnight + 61 * kMinute);
  ASSERT_EQ(*scheduler.tick(), 0);
  ASSERT_EQ(*scheduler.tick(), 1);
  EXPECT_EQ(fires_, (std::vector<TimeMs>{kMidnight + 60 * kMinute}));
}

TEST_F(TriggerTest, EventsReachEveryMatchingTriggerOnce) {
  ManualClock clock(kMidnight);
  TriggerScheduler scheduler(*store_, clock);
  std::vector<std::string> got;
  for (const char* id : {"a#0", "b#0"}) {
    scheduler.add_event({id, "invoice.paid", [&got, id](const EventRecord& e, const std::string& key) {
                           got.push_back(std::string(id) + " " + e.id + " " + key);
                           return Status::Ok();
                         }});
  }
  scheduler.add_event({"c#0", "other", [&got](const EventRecord&, const std::string&) {
                         got.push_back("wrong");
                         return Status::Ok();
                       }});
  ASSERT_TRUE(store_->emit_event({"evt_1", "invoice.paid", Json{{"n", 1}}, "test", kMidnight, false}).ok());
  ASSERT_EQ(*scheduler.tick(), 2);
  ASSERT_EQ(*scheduler.tick(), 0) << "a processed event is not delivered again";
  EXPECT_EQ(got, (std::vector<std::string>{"a#0 evt_1 event:evt_1:a#0", "b#0 evt_1 event:evt_1:b#0"}));
}

}  // namespace
}  // namespace cadre
