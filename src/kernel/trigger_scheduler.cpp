#include "kernel/trigger_scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <deque>

namespace cadre {

TriggerScheduler::TriggerScheduler(Store& store, const Clock& clock, int max_catchup_fires)
    : store_(store), clock_(clock), max_catchup_fires_(max_catchup_fires), started_at_(clock.now_ms()) {}

TriggerScheduler::~TriggerScheduler() { stop(); }

Result<int> TriggerScheduler::tick() {
  CADRE_ASSIGN_OR_RETURN(int fired, fire_crons(clock_.now_ms()));
  CADRE_ASSIGN_OR_RETURN(int delivered, deliver_events());
  return fired + delivered;
}

Result<int> TriggerScheduler::fire_crons(TimeMs now) {
  int fired = 0;
  for (const auto& trigger : crons_) {
    CADRE_ASSIGN_OR_RETURN(TimeMs last, store_.trigger_last_fire(trigger.id));
    if (last == 0) {
      // First sight of this trigger: it starts counting from when we started.
      last = started_at_ - 1;
      CADRE_RETURN_IF_ERROR(store_.set_trigger_last_fire(trigger.id, last));
    }
    // Fires that came due while stopped (before started_at_): none skips
    // them without looking; latest keeps the last one; all keeps the last
    // max_catchup_fires_. The scan is bounded, so a long stop of a
    // frequent trigger costs at most kMaxScan schedule steps.
    constexpr int64_t kMaxScan = 2'000'000;
    std::deque<TimeMs> to_fire;
    TimeMs cursor = last;
    if (trigger.catchup == CatchupPolicy::kNone) {
      cursor = std::max(last, started_at_ - 1);
    } else {
      size_t keep = trigger.catchup == CatchupPolicy::kLatest ? 1 : static_cast<size_t>(max_catchup_fires_);
      int64_t missed = 0;
      while (missed < kMaxScan) {
        auto next = trigger.schedule.next_after(cursor);
        if (!next || *next >= started_at_ || *next > now) break;
        cursor = *next;
        ++missed;
        to_fire.push_back(*next);
        if (to_fire.size() > keep) to_fire.pop_front();
      }
      if (missed > static_cast<int64_t>(to_fire.size())) {
        spdlog::info("trigger {}: {} fire(s) missed while stopped; catching up {} (catchup: {})", trigger.id,
                     missed, to_fire.size(), trigger.catchup == CatchupPolicy::kLatest ? "latest" : "all");
      }
      cursor = std::max(cursor, std::min(started_at_ - 1, now));
    }
    // Fires due while running, on time.
    while (true) {
      auto next = trigger.schedule.next_after(cursor);
      if (!next || *next > now) break;
      cursor = *next;
      to_fire.push_back(*next);
    }
    for (TimeMs t : to_fire) {
      Status s = trigger.fire(t, "cron:" + trigger.id + ":" + std::to_string(t));
      if (!s.ok()) {
        spdlog::error("trigger {}: fire at {} failed: {}", trigger.id, format_time_utc(t), s.to_string());
        break;  // keep last_fire before it: retried on the next tick
      }
      ++fired;
      CADRE_RETURN_IF_ERROR(store_.set_trigger_last_fire(trigger.id, t));
    }
    if (to_fire.empty() && cursor > last) CADRE_RETURN_IF_ERROR(store_.set_trigger_last_fire(trigger.id, cursor));
  }
  return fired;
}

Result<int> TriggerScheduler::deliver_events() {
  int fired = 0;
  CADRE_ASSIGN_OR_RETURN(auto pending, store_.unprocessed_events(100));
  for (const auto& event : pending) {
    bool transient = false;
    std::string rejected;
    for (const auto& trigger : events_) {
      if (trigger.event != event.name) continue;
      Status s = trigger.fire(event, "event:" + event.id + ":" + trigger.id);
      if (s.ok()) {
        ++fired;
      } else if (s.is(StatusCode::kUnavailable) || s.is(StatusCode::kResourceExhausted) ||
                 s.is(StatusCode::kIOError)) {
        // The store could not take it now: the event stays pending and is tried again.
        spdlog::warn("trigger {}: event {} will be retried: {}", trigger.id, event.id, s.to_string());
        transient = true;
      } else {
        // The event cannot start this playbook (bad data): set it aside, visibly.
        spdlog::error("trigger {}: event {} rejected: {}", trigger.id, event.id, s.to_string());
        rejected += (rejected.empty() ? "" : "; ") + trigger.id + ": " + s.message();
      }
    }
    if (!transient) CADRE_RETURN_IF_ERROR(store_.mark_event_processed(event.id, rejected));
  }
  return fired;
}

Status TriggerScheduler::start(DurationMs period) {
  thread_ = std::thread([this, period] {
    while (true) {
      auto fired = tick();
      if (!fired.ok()) spdlog::warn("triggers: {}", fired.status().to_string());
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(period), [this] { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
    }
  });
  return Status::Ok();
}

void TriggerScheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TriggerScheduler::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_all();
}

}  // namespace cadre
