#include "kernel/kernel.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "core/id.h"

namespace cadre {
namespace {

constexpr int kClaimBatch = 64;

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// Parses "host:pid:suffix"; false if the worker id is not of that form.
bool parse_worker_id(const std::string& id, std::string* host, pid_t* pid) {
  auto first = id.find(':');
  auto second = id.find(':', first == std::string::npos ? first : first + 1);
  if (first == std::string::npos || second == std::string::npos) return false;
  *host = id.substr(0, first);
  try {
    *pid = static_cast<pid_t>(std::stol(id.substr(first + 1, second - first - 1)));
  } catch (const std::exception&) {
    return false;
  }
  return *pid > 0;
}

}  // namespace

std::string Kernel::make_worker_id() {
  std::string suffix = new_id("w").substr(2 + 10, 6);  // random part of a fresh id
  return host_name() + ":" + std::to_string(getpid()) + ":" + suffix;
}

Kernel::Kernel(Store& store, const Clock& clock, KernelConfig config, std::string worker_id)
    : store_(store),
      clock_(clock),
      config_(std::move(config)),
      worker_id_(worker_id.empty() ? make_worker_id() : std::move(worker_id)) {}

Kernel::~Kernel() { stop(); }

void Kernel::register_handler(const std::string& kind, std::shared_ptr<TaskHandler> handler) {
  handlers_[kind] = std::move(handler);
}

double Kernel::next_random() {
  std::lock_guard lock(random_mutex_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

void Kernel::recover_dead_local_workers() {
  auto owners = store_.lease_owners();
  if (!owners.ok()) {
    spdlog::warn("cannot list lease owners: {}", owners.status().to_string());
    return;
  }
  const std::string me = host_name();
  for (const auto& owner : *owners) {
    std::string host;
    pid_t pid = 0;
    if (owner == worker_id_ || !parse_worker_id(owner, &host, &pid) || host != me) continue;
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    Status s = store_.expire_leases(owner, clock_.now_ms());
    if (s.ok()) {
      spdlog::info("worker {} is gone; its tasks are resumed now", owner);
    } else {
      spdlog::warn("cannot expire leases of {}: {}", owner, s.to_string());
    }
  }
}

Status Kernel::start() {
  if (running_.exchange(true)) return Status::FailedPrecondition("kernel already started");
  if (config_.workers < 1) return Status::InvalidArgument("kernel.workers must be at least 1");
  recover_dead_local_workers();
  Json info = {{"pid", getpid()}, {"host", host_name()}, {"workers", config_.workers}};
  Status hb = store_.heartbeat_worker(worker_id_, info, clock_.now_ms());
  if (!hb.ok()) return hb.with_context("cannot register worker");
  for (int i = 0; i < config_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
  dispatcher_ = std::thread([this] { dispatch_loop(); });
  heartbeat_ = std::thread([this] { heartbeat_loop(); });
  return Status::Ok();
}

void Kernel::stop() {
  if (!running_.load()) return;
  stopping_ = true;
  wake();
  if (dispatcher_.joinable()) dispatcher_.join();
  {
    // Give running tasks the grace period to finish; then they release.
    std::unique_lock lock(mutex_);
    idle_.wait_for(lock, std::chrono::milliseconds(config_.shutdown_grace), [this] { return busy_ == 0; });
    release_now_ = true;
    workers_exit_ = true;
  }
  worker_wake_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  // Claimed tasks no worker started go back, ready for anyone.
  std::deque<TaskRecord> unstarted;
  {
    std::lock_guard lock(mutex_);
    unstarted.swap(queue_);
  }
  for (const auto& task : unstarted) {
    (void)store_.commit({task.id, task.fence}, {TaskReleased{clock_.now_ms()}});
  }
  {
    std::lock_guard lock(mutex_);
    in_flight_.clear();
  }
  heartbeat_wake_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
  (void)store_.remove_worker(worker_id_);
  running_ = false;
}

void Kernel::wake() {
  {
    std::lock_guard lock(mutex_);
    ++wake_generation_;
  }
  dispatcher_wake_.notify_one();
}

KernelStats Kernel::stats() const {
  std::lock_guard lock(mutex_);
  return {tasks_run_.load(), tasks_finished_.load(), leases_lost_.load(), busy_};
}

void Kernel::dispatch_loop() {
  pthread_setname_np(pthread_self(), "cadre-dispatch");
  while (!stopping_) {
    int free_slots;
    uint64_t generation;
    {
      std::unique_lock lock(mutex_);
      dispatcher_wake_.wait(lock, [this] {
        return stopping_ || busy_ + static_cast<int>(queue_.size()) < config_.workers;
      });
      if (stopping_) return;
      free_slots = config_.workers - busy_ - static_cast<int>(queue_.size());
      generation = wake_generation_;
    }
    int want = std::min(free_slots, kClaimBatch);
    TimeMs now = clock_.now_ms();
    refresh_pauses(now);
    AgentLimits limits = agent_limits_;
    bool all_paused;
    {
      std::lock_guard lock(pause_mutex_);
      all_paused = paused_.count("*") > 0;
      for (const auto& agent : paused_) limits[agent] = 0;  // claimed by no one while paused
    }
    auto claimed = all_paused ? Result<std::vector<TaskRecord>>(std::vector<TaskRecord>{})
                              : store_.claim_tasks(worker_id_, want, now, config_.lease, limits);
    if (!claimed.ok()) {
      spdlog::warn("claiming tasks failed: {}", claimed.status().to_string());
    } else if (!claimed->empty()) {
      {
        std::lock_guard lock(mutex_);
        for (auto& task : *claimed) {
          in_flight_[task.id] = task.fence;
          queue_.push_back(std::move(task));
        }
      }
      worker_wake_.notify_all();
      if (static_cast<int>(claimed->size()) == want) continue;  // there may be more
    }
    // Nothing more is due: sleep until the next timer, a wake(), or the poll
    // interval. Tasks due now that the claim left (paused, or at their
    // agent's limit) wait for a wake() or a poll, not a busy loop.
    TimeMs deadline = now + config_.poll_interval;
    if (claimed.ok()) {
      auto next = store_.next_wake_time(now);
      if (next.ok() && *next > 0) deadline = std::min(deadline, std::max(*next, now + 1));
    }
    std::unique_lock lock(mutex_);
    dispatcher_wake_.wait_for(lock, std::chrono::milliseconds(std::max<TimeMs>(deadline - now, 1)),
                              [&] { return stopping_ || wake_generation_ != generation; });
  }
}

void Kernel::refresh_pauses(TimeMs now) {
  {
    std::lock_guard lock(pause_mutex_);
    if (now - pauses_read_at_ < config_.poll_interval) return;
    pauses_read_at_ = now;
  }
  auto pauses = store_.pauses();
  if (!pauses.ok()) {
    spdlog::warn("reading the kill switch failed: {}", pauses.status().to_string());
    return;
  }
  std::set<std::string> targets;
  for (const auto& p : *pauses) targets.insert(p.target);
  std::lock_guard lock(pause_mutex_);
  paused_ = std::move(targets);
}

bool Kernel::paused(const std::string& agent) const {
  std::lock_guard lock(pause_mutex_);
  return paused_.count("*") > 0 || (!agent.empty() && paused_.count(agent) > 0);
}

void Kernel::worker_loop() {
  pthread_setname_np(pthread_self(), "cadre-worker");
  while (true) {
    TaskRecord task;
    {
      std::unique_lock lock(mutex_);
      worker_wake_.wait(lock, [this] { return workers_exit_ || !queue_.empty(); });
      if (queue_.empty()) return;  // exiting
      task = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    std::optional<TaskRecord> next = std::move(task);
    while (next) {
      std::string id = next->id;
      std::optional<TaskRecord> handed = run_task(std::move(*next));
      std::lock_guard lock(mutex_);
      in_flight_.erase(id);
      if (handed) in_flight_[handed->id] = handed->fence;
      next = std::move(handed);
    }
    {
      std::lock_guard lock(mutex_);
      --busy_;
      ++wake_generation_;  // a finished task may have made others ready
    }
    dispatcher_wake_.notify_one();
    idle_.notify_all();
  }
}

std::optional<TaskRecord> Kernel::run_task(TaskRecord task) {
  tasks_run_.fetch_add(1);
  std::vector<StepRecord> journal;
  if (task.claims > 1) {  // only an earlier claim can have journaled steps
    auto steps = store_.get_steps(task.id);
    if (!steps.ok()) {
      spdlog::warn("task {}: cannot read its journal: {}", task.id, steps.status().to_string());
      return std::nullopt;  // the lease expires and another claim tries again
    }
    journal = std::move(steps).value();
  }
  TaskEnvironment env{&store_,       &clock_,   &config_,
                      &rate_limiter_, &release_now_, [this] { return next_random(); },
                      worker_id_,     config_.lease, [this](const TaskRecord& t) { return paused(t.agent); }};
  auto handler = handlers_.find(task.kind);
  TaskContext context(std::move(env), task, std::move(journal));
  Result<Json> result = handler == handlers_.end()
                            ? Result<Json>(Status::FailedPrecondition("no handler for tasks of kind '" + task.kind + "'"))
                            : handler->second->run(context);
  Status finished = context.finish(result);
  if (finished.is(StatusCode::kConflict) || result.status().is(StatusCode::kConflict)) {
    leases_lost_.fetch_add(1);
    spdlog::info("task {}: lease lost to another worker; stopped", task.id);
  } else if (!finished.ok()) {
    spdlog::error("task {}: cannot record its outcome: {}", task.id, finished.to_string());
  } else if (!result.ok() && !result.status().is(StatusCode::kSuspended)) {
    tasks_finished_.fetch_add(1);
    spdlog::info("task {} ({}) failed: {}", task.id, task.key, result.status().to_string());
  } else if (result.ok()) {
    tasks_finished_.fetch_add(1);
  }
  if (stopping_) {
    // No new work at shutdown: give a handed-off task straight back.
    if (auto next = context.take_handoff()) (void)store_.commit({next->id, next->fence}, {TaskReleased{clock_.now_ms()}});
    return std::nullopt;
  }
  return context.take_handoff();
}

void Kernel::heartbeat_loop() {
  pthread_setname_np(pthread_self(), "cadre-heartbeat");
  while (true) {
    {
      std::unique_lock lock(mutex_);
      heartbeat_wake_.wait_for(lock, std::chrono::milliseconds(config_.heartbeat),
                                [this] { return workers_exit_ && in_flight_.empty(); });
      if (workers_exit_ && in_flight_.empty()) return;
    }
    std::vector<TaskRef> refs;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [id, fence] : in_flight_) refs.push_back({id, fence});
    }
    TimeMs now = clock_.now_ms();
    if (!refs.empty()) {
      auto lost = store_.renew_leases(worker_id_, refs, now + config_.lease);
      if (!lost.ok()) spdlog::warn("renewing leases failed: {}", lost.status().to_string());
    }
    Json info = {{"pid", getpid()}, {"host", host_name()}, {"workers", config_.workers}};
    (void)store_.heartbeat_worker(worker_id_, info, now);
  }
}

}  // namespace cadre
