#include "agents/workspace_secrets.h"

#include <spdlog/spdlog.h>

#include "agents/runtime.h"
#include "secrets/secret_resolver.h"

namespace cadre {

Result<SecretResolver> load_workspace_secrets(const Workspace& workspace, Store& store,
                                              const Clock& clock) {
  SecretStore secrets(workspace_state_dir(workspace));
  auto audit_use = [&store, &clock](const std::string& name) {
    AuditEntry entry;
    entry.at = clock.now_ms();
    entry.actor = "system";
    entry.action = "secret.used";
    entry.subject = name;  // the name only, never the value
    Result<AuditEntry> appended = store.audit().append(std::move(entry));
    if (!appended.ok()) {
      spdlog::warn("audit: could not record the use of secret {}: {}", name,
                   appended.status().to_string());
    }
  };
  Result<SecretResolver> loaded = load_secrets(secrets, audit_use);
  if (!loaded.ok()) return loaded.status().with_context("secrets");
  return loaded;
}

}  // namespace cadre
