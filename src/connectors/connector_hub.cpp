#include "connectors/connector_hub.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "core/redact.h"

namespace cadre {

namespace {

constexpr DurationMs kHealthEvery = 1000;

// The connector's guard around one of its tools: breaker, timeout, health.
class GuardedTool final : public Tool {
 public:
  GuardedTool(std::shared_ptr<Tool> inner, std::shared_ptr<CircuitBreaker> breaker, DurationMs timeout,
              std::string connector, std::shared_ptr<std::atomic<TimeMs>> last_success, std::string rate_key)
      : inner_(std::move(inner)),
        spec_(inner_->spec()),
        breaker_(std::move(breaker)),
        timeout_(timeout),
        connector_(std::move(connector)),
        last_success_(std::move(last_success)) {
    spec_.rate_limit_key = std::move(rate_key);
  }

  const ToolSpec& spec() const override { return spec_; }

  Result<Json> invoke(const ToolCall& call) override {
    const Clock& clock = call.clock ? *call.clock : SystemClock::instance();
    TimeMs now = clock.now_ms();
    DurationMs wait = 0;
    Status admitted = breaker_->admit("connector '" + connector_ + "'", now, &wait);
    if (!admitted.ok()) {
      // The step comes back when a trial call may go, instead of hammering.
      if (call.retry_after != nullptr) *call.retry_after = wait;
      return admitted.with_context(spec_.name);
    }
    ToolCall bounded = call;
    if (bounded.deadline <= 0 || bounded.deadline > now + timeout_) bounded.deadline = now + timeout_;
    Result<Json> result = inner_->invoke(bounded);
    now = clock.now_ms();
    breaker_->record(result.status(), now);
    if (result.ok()) last_success_->store(now);
    return result;
  }

 private:
  std::shared_ptr<Tool> inner_;
  ToolSpec spec_;
  std::shared_ptr<CircuitBreaker> breaker_;
  DurationMs timeout_;
  std::string connector_;
  std::shared_ptr<std::atomic<TimeMs>> last_success_;
};

}  // namespace

struct ConnectorHub::Entry {
  ConnectorDef def;
  std::unique_ptr<Connector> connector;
  std::shared_ptr<CircuitBreaker> breaker;
  std::shared_ptr<std::atomic<TimeMs>> last_success = std::make_shared<std::atomic<TimeMs>>(0);
  bool opened = false;
  int tools = 0;
  std::string open_error;    // why it did not open (yet)
  TimeMs next_open = 0;      // when to try again
  TimeMs next_poll = 0;
  std::string poll_error;
  Json written;              // the health last written
};

std::string rate_limit_key(const ConnectorDef& def) { return "connector:" + def.name; }

Result<std::unique_ptr<ConnectorHub>> ConnectorHub::open(const std::vector<ConnectorDef>& defs, ConnectorEnv env,
                                                         ToolRegistry& registry) {
  std::unique_ptr<ConnectorHub> hub(new ConnectorHub());
  if (env.clock == nullptr) env.clock = &SystemClock::instance();
  hub->env_ = std::move(env);
  hub->registry_ = &registry;
  for (const auto& def : defs) {
    auto entry = std::make_unique<Entry>();
    entry->def = def;
    entry->breaker = std::make_shared<CircuitBreaker>(def.breaker);
    CADRE_ASSIGN_OR_RETURN(entry->connector, make_connector(def, hub->env_));
    Status opened = hub->open_entry(*entry);
    // A name clash is the workspace's mistake; anything else (a server that
    // does not start, or lists tools Cadre cannot take) is reported and retried.
    if (opened.is(StatusCode::kAlreadyExists)) return opened;
    hub->entries_.push_back(std::move(entry));
  }
  return hub;
}

Status ConnectorHub::open_entry(Entry& entry) {
  const TimeMs now = env_.clock->now_ms();
  auto tools = entry.connector->open();
  if (!tools.ok()) {
    std::lock_guard lock(state_mutex_);
    entry.open_error = redact(tools.status().message());
    entry.next_open = now + entry.def.breaker.open_for;
    spdlog::warn("{} is down: {} (trying again in {} s)", entry.def.where(), entry.open_error,
                 entry.def.breaker.open_for / 1000);
    return tools.status();
  }
  for (auto& tool : *tools) {
    auto guarded = std::make_shared<GuardedTool>(tool, entry.breaker, entry.def.timeout, entry.def.name,
                                                 entry.last_success,
                                                 entry.def.rate_per_second > 0 ? rate_limit_key(entry.def) : "");
    Status added = registry_->add(std::move(guarded));
    if (!added.ok()) return added.with_context(entry.def.where());
  }
  std::lock_guard lock(state_mutex_);
  entry.opened = true;
  entry.tools = static_cast<int>(tools->size());
  entry.open_error.clear();
  return Status::Ok();
}

ConnectorHub::~ConnectorHub() { stop(); }

void ConnectorHub::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void ConnectorHub::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  flush_health(true);
  for (auto& entry : entries_) entry->connector->close();
}

void ConnectorHub::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    const TimeMs now = env_.clock->now_ms();
    for (auto& entry : entries_) {
      if (!entry->opened && now >= entry->next_open) {
        if (open_entry(*entry).ok()) spdlog::info("{} is up: {} tools", entry->def.where(), entry->tools);
      }
      const DurationMs every = entry->connector->poll_every();
      if (entry->opened && every > 0 && now >= entry->next_poll) {
        Status polled = entry->connector->poll();
        entry->breaker->record(polled, env_.clock->now_ms());
        if (polled.ok()) entry->last_success->store(env_.clock->now_ms());
        std::string error = polled.ok() ? "" : redact(polled.message());
        if (!polled.ok()) spdlog::warn("{}: {}", entry->def.where(), error);
        std::lock_guard state(state_mutex_);
        entry->poll_error = std::move(error);
        entry->next_poll = env_.clock->now_ms() + every;
      }
    }
    flush_health(false);
    lock.lock();
    wake_.wait_for(lock, std::chrono::milliseconds(kHealthEvery), [this] { return stopping_; });
  }
}

Json ConnectorHub::health() const {
  Json out = Json::object();
  const TimeMs now = env_.clock->now_ms();
  std::lock_guard lock(state_mutex_);
  for (const auto& entry : entries_) {
    Json health = entry->breaker->snapshot(now).to_json();
    health["state"] = entry->opened ? health["state"] : Json("down");
    health["type"] = entry->def.type;
    health["tools"] = entry->tools;
    if (!entry->open_error.empty()) health["last_error"] = entry->open_error;
    if (!entry->poll_error.empty()) health["poll_error"] = entry->poll_error;
    const TimeMs success = entry->last_success->load();
    health["last_success_at"] = success > 0 ? Json(format_time_utc(success)) : Json(nullptr);
    out[entry->def.name] = health;
  }
  return out;
}

void ConnectorHub::flush_health(bool force) {
  if (env_.store == nullptr) return;
  const TimeMs now = env_.clock->now_ms();
  Json all = health();
  for (auto& entry : entries_) {
    Json health = all[entry->def.name];
    if (!force && health == entry->written) continue;
    entry->written = health;
    health["updated_at"] = format_time_utc(now);
    health["pid"] = static_cast<int64_t>(getpid());
    Status put = env_.store->put_connector_state(entry->def.name, "health", health, now);
    if (!put.ok()) spdlog::warn("{}: cannot record health: {}", entry->def.where(), put.message());
  }
}

Json connector_status(const ConnectorDef& def, const Json& health) {
  Json out = {{"name", def.name}, {"type", def.type}, {"declared_in", def.file + ":" + std::to_string(def.line)}};
  if (!def.description.empty()) out["description"] = def.description;
  if (health.is_object()) {
    out["health"] = health;
  } else {
    out["health"] = nullptr;
  }
  return out;
}

}  // namespace cadre
