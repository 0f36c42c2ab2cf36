// Connector: one external system as tools. Each type (http, webhook,
// email, files, mcp) implements this from its ConnectorDef; ConnectorHub
// puts every tool behind the connector's guard (timeout, circuit breaker,
// health) and into the ToolRegistry.
//
// Thread-safety: tools may be invoked from any worker thread; open(),
// poll() and close() are called by the hub, one at a time.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "connectors/connector_def.h"
#include "core/clock.h"
#include "core/references.h"
#include "kernel/tool.h"
#include "store/store.h"

namespace cadre {

// What connectors need from the process that runs them.
struct ConnectorEnv {
  std::filesystem::path workspace_root;
  SecretResolver secrets;          // resolves ${secret:NAME} in credentials; may be empty
  const Clock* clock = nullptr;
  Store* store = nullptr;          // health, cursors, events; null: nothing kept
};

class Connector {
 public:
  virtual ~Connector() = default;
  // The connector's tools. An error means the system could not be reached
  // (an MCP server that does not start); the hub tries again later.
  virtual Result<std::vector<std::shared_ptr<Tool>>> open() = 0;
  // Background work while serving (an IMAP mailbox's poll): how often, 0 for none.
  virtual DurationMs poll_every() const { return 0; }
  virtual Status poll() { return Status::Ok(); }
  virtual void close() {}
};

// The connector for `def.type`.
Result<std::unique_ptr<Connector>> make_connector(const ConnectorDef& def, const ConnectorEnv& env);

}  // namespace cadre
