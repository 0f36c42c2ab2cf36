// TriggerScheduler: turns cron schedules and events into objectives.
//
// Cron: each trigger's last fire time is stored. Fires that came due while
// Cadre was stopped (before this scheduler started) follow the trigger's
// catch-up rule: `none` skips them, `latest` fires the most recent one once,
// `all` fires each (at most max_catchup_fires). Fires due while running fire
// on time. Every fire carries a dedupe key (trigger id and fire time), so a
// crash between starting the objective and recording the fire never starts
// it twice.
//
// Events: every stored event not yet processed is handed to each trigger
// listening for its name (dedupe key: event id and trigger id), then marked
// processed. An event a trigger cannot start from (its data does not fit the
// playbook's inputs) is marked processed with the error recorded, so it is
// visible in `cadre status` and never blocks later events; only a transient
// store error leaves it pending for the next pass.
//
// Thread-safety: add_* before start(); tick() from one thread at a time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/duration.h"
#include "kernel/cron.h"
#include "store/store.h"

namespace cadre {

enum class CatchupPolicy { kNone, kLatest, kAll };

struct CronTrigger {
  std::string id;  // stable name, e.g. "daily-digest#0"
  CronSchedule schedule;
  CatchupPolicy catchup = CatchupPolicy::kNone;
  // Starts the objective for one fire; `dedupe_key` makes it happen once.
  std::function<Status(TimeMs fire_time, const std::string& dedupe_key)> fire;
};

struct EventTrigger {
  std::string id;
  std::string event;  // the event name it listens for
  std::function<Status(const EventRecord& event, const std::string& dedupe_key)> fire;
};

class TriggerScheduler {
 public:
  TriggerScheduler(Store& store, const Clock& clock, int max_catchup_fires = 1000);
  ~TriggerScheduler();

  void add_cron(CronTrigger trigger) { crons_.push_back(std::move(trigger)); }
  void add_event(EventTrigger trigger) { events_.push_back(std::move(trigger)); }

  // One pass: fire what is due, hand out pending events. Returns how many
  // objectives the pass asked for.
  Result<int> tick();

  // Runs tick() in a thread every `period` (and sooner when wake() is called).
  Status start(DurationMs period);
  void stop();
  void wake();

 private:
  Result<int> fire_crons(TimeMs now);
  Result<int> deliver_events();

  Store& store_;
  const Clock& clock_;
  const int max_catchup_fires_;
  const TimeMs started_at_;
  std::vector<CronTrigger> crons_;
  std::vector<EventTrigger> events_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace cadre
