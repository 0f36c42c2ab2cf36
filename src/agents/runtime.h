// Runtime: a workspace brought to life. Opens the workspace's store, fills
// the tool registry, registers the task handlers on a Kernel, and (for
// `cadre serve`) turns the playbooks' triggers into a TriggerScheduler.
// `cadre serve`, `cadre worker`, the tests and the benchmarks all start
// Cadre through this one class.
//
// Thread-safety: start/stop from one thread; store() and kernel() are
// thread-safe objects.
#pragma once

#include <memory>
#include <string>

#include "agents/agent_runner.h"
#include "agents/playbook_runner.h"
#include "agents/workspace.h"
#include "connectors/connector_hub.h"
#include "core/references.h"
#include "kernel/kernel.h"
#include "kernel/tool.h"
#include "kernel/trigger_scheduler.h"
#include "memory/memory.h"
#include "models/gateway.h"
#include "policy/policy.h"
#include "store/store.h"

namespace cadre {

// Where the workspace keeps its state: the folder of its database (.cadre/).
std::filesystem::path workspace_state_dir(const Workspace& workspace);

// The store named by the workspace's cadre.yaml (path relative to the root).
Result<std::unique_ptr<Store>> open_workspace_store(const Workspace& workspace);

// The built-in tools and memory's tools (connectors add theirs when the
// Runtime opens them). `memory` may be null where tools are only declared.
Result<std::unique_ptr<ToolRegistry>> make_tool_registry(Memory* memory = nullptr);

// What loading a workspace needs to know of the tools: names and argument schemas.
LoadOptions load_options_for(const ToolRegistry& tools);

struct RuntimeOptions {
  bool triggers = true;          // serve: yes; worker: no
  std::string record_models;     // non-empty: append every model exchange to this file (for replay)
  std::string worker_id;         // empty: host:pid:random
  const Clock* clock = nullptr;  // null: the system clock
  // The workspace's secrets when the caller loaded them already (a CLI
  // session); null: open() loads them.
  const SecretResolver* secrets = nullptr;
};

class Runtime {
 public:
  // Takes ownership of nothing but what it opens; `workspace` must outlive it.
  static Result<std::unique_ptr<Runtime>> open(const Workspace& workspace, RuntimeOptions options);
  ~Runtime();

  Status start();
  void stop();

  Store& store() { return *store_; }
  Kernel& kernel() { return *kernel_; }
  const ToolRegistry& tools() const { return *tools_; }
  ConnectorHub& connectors() { return *connectors_; }
  // The workspace's secrets as this runtime loaded them (inbound webhooks' keys).
  const SecretResolver& secrets() const { return secrets_; }
  ModelGateway& models() { return *gateway_; }
  Memory& memory() { return *memory_; }

 private:
  Runtime() = default;
  // What a trigger fire starts, from its template scope, source and dedupe key.
  using StartFn = std::function<Result<RunStarted>(const Json& context, const std::string& source,
                                                   const std::string& dedupe, TimeMs at)>;
  // The playbooks' and the agents' triggers, and memory compaction's.
  Status add_triggers();
  // Schedules one cron or event trigger; each fire calls `start` and wakes
  // the kernel. `where` names the definition in errors.
  Status add_trigger(const std::string& id, const TriggerDef& when, const std::string& where,
                     StartFn start);

  const Workspace* workspace_ = nullptr;
  RuntimeOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ToolRegistry> tools_;
  std::unique_ptr<ConnectorHub> connectors_;
  SecretResolver secrets_;
  std::unique_ptr<ModelGateway> gateway_;
  std::unique_ptr<Memory> memory_;
  std::unique_ptr<Policy> policy_;
  std::unique_ptr<AgentRunner> agents_;
  std::unique_ptr<Kernel> kernel_;
  std::unique_ptr<TriggerScheduler> triggers_;
};

}  // namespace cadre
