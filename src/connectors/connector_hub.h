// ConnectorHub: the workspace's connectors, brought up in one process.
//
// open() builds every connector and registers its tools, each wrapped by
// the connector's guard:
//   - the circuit breaker (connector_def breaker:): an open circuit refuses
//     calls at once with kUnavailable and a Retry-After, so steps park
//     instead of hammering a system that is down;
//   - the timeout: a call's deadline is at most `timeout` away;
//   - the rate limit, through the kernel's RateLimiter (rate_limit_key()).
// A connector that cannot open (an MCP server that does not start) does not
// stop the others: it is reported down and tried again every `open_for`.
//
// Health (state, calls, success rate, last error) is written to the store
// (connector_state, key "health") at most every second while serving, so
// `cadre connectors` in another process shows it.
//
// Thread-safety: tools are called from any thread; open/start/stop from one.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connectors/connector.h"

namespace cadre {

// The RateLimiter bucket of a connector's tools.
std::string rate_limit_key(const ConnectorDef& def);

// How `cadre connectors` shows one connector: its declaration and the health
// last written by a process running it (null when none has).
Json connector_status(const ConnectorDef& def, const Json& health);

class ConnectorHub {
 public:
  static Result<std::unique_ptr<ConnectorHub>> open(const std::vector<ConnectorDef>& defs, ConnectorEnv env,
                                                    ToolRegistry& registry);
  ~ConnectorHub();

  // Starts the background thread: polls, retries of connectors that did not
  // open, health writes.
  void start();
  // Stops it, writes health a last time and closes every connector.
  void stop();

  // {name: health} as written to the store.
  Json health() const;

 private:
  struct Entry;
  ConnectorHub() = default;
  Status open_entry(Entry& entry);
  void run();
  void flush_health(bool force);

  ConnectorEnv env_;
  ToolRegistry* registry_ = nullptr;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::thread thread_;
  mutable std::mutex state_mutex_;  // entries' state, written by the thread, read by health()
  std::mutex mutex_;                // stopping_
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace cadre
