// Kernel: runs tasks from the Store on a pool of worker threads.
//
// A dispatcher thread claims due tasks (ready ones, timers that fired,
// running ones whose lease expired) only when a worker is free, so claimed
// work never waits behind a busy pool. Workers run each task's handler
// through a TaskContext (replaying its journal). A heartbeat thread renews
// the leases of tasks in flight and records this worker as alive. Waiting
// tasks hold no thread: the dispatcher sleeps until the store's next wake
// time, a local wake() or the poll interval (work written by other
// processes).
//
// At start, leases held by processes on this host that no longer exist are
// expired at once, so a restart after `kill -9` resumes without waiting for
// lease expiry. Leases of other hosts are left to expire.
//
// stop(): claims stop; running tasks get `shutdown_grace` to finish; after
// that each releases its task before its next tool step (same journal, any
// worker resumes it); waits park as usual.
//
// Thread-safety: start/stop from one thread; wake() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "kernel/rate_limiter.h"
#include "kernel/task_handler.h"
#include "store/store.h"

namespace cadre {

struct KernelStats {
  int64_t tasks_run = 0;        // handler invocations
  int64_t tasks_finished = 0;   // ended succeeded, skipped or failed
  int64_t leases_lost = 0;
  int in_flight = 0;
};

class Kernel {
 public:
  Kernel(Store& store, const Clock& clock, KernelConfig config, std::string worker_id = "");
  ~Kernel();

  // Before start(): which handler runs tasks of `kind`.
  void register_handler(const std::string& kind, std::shared_ptr<TaskHandler> handler);
  RateLimiter& rate_limiter() { return rate_limiter_; }
  // Before start(): the most tasks of each agent that may run at once.
  void set_agent_limits(AgentLimits limits) { agent_limits_ = std::move(limits); }

  Status start();
  void stop();
  // Work may be ready now (an objective was created in this process).
  void wake();

  const std::string& worker_id() const { return worker_id_; }
  KernelStats stats() const;

  // "host:pid:suffix": the worker identity used for leases.
  static std::string make_worker_id();

 private:
  void dispatch_loop();
  void worker_loop();
  void heartbeat_loop();
  // Runs the task; returns the dependent handed to this worker, if any.
  std::optional<TaskRecord> run_task(TaskRecord task);
  void recover_dead_local_workers();
  double next_random();
  // The kill switch as the store has it, read at most every poll interval.
  void refresh_pauses(TimeMs now);
  bool paused(const std::string& agent) const;

  Store& store_;
  const Clock& clock_;
  const KernelConfig config_;
  const std::string worker_id_;
  std::map<std::string, std::shared_ptr<TaskHandler>> handlers_;
  RateLimiter rate_limiter_;
  AgentLimits agent_limits_;
  mutable std::mutex pause_mutex_;
  std::set<std::string> paused_;           // "*" or agent names
  TimeMs pauses_read_at_ = 0;

  std::atomic<bool> stopping_{false};      // no new claims
  std::atomic<bool> release_now_{false};   // running tasks release at their next step
  std::atomic<bool> running_{false};

  mutable std::mutex mutex_;
  std::condition_variable dispatcher_wake_;
  std::condition_variable worker_wake_;
  std::condition_variable idle_;
  std::condition_variable heartbeat_wake_;
  std::deque<TaskRecord> queue_;           // claimed, waiting for a worker thread
  std::map<std::string, int64_t> in_flight_;  // task id -> fence
  int busy_ = 0;
  uint64_t wake_generation_ = 0;
  bool workers_exit_ = false;

  std::mutex random_mutex_;
  std::mt19937_64 rng_{std::random_device{}()};

  std::atomic<int64_t> tasks_run_{0};
  std::atomic<int64_t> tasks_finished_{0};
  std::atomic<int64_t> leases_lost_{0};

  std::thread dispatcher_;
  std::thread heartbeat_;
  std::vector<std::thread> workers_;
};

}  // namespace cadre
