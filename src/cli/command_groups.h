// Command groups that add their own subcommands to the `cadre` tree. Each
// lives in its own file; `code` receives the exit code of the command run.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace cadre {

// cadre secret set|ls|rm (secret_commands.cpp)
void add_secret_commands(CLI::App& app, const GlobalOptions& global, int& code);
// cadre audit verify|log|head, cadre trace OBJECTIVE (audit_commands.cpp)
void add_audit_commands(CLI::App& app, const GlobalOptions& global, int& code);
// cadre connectors (connector_commands.cpp)
void add_connector_commands(CLI::App& app, const GlobalOptions& global, int& code);
// cadre token create|ls|revoke (token_commands.cpp)
void add_token_commands(CLI::App& app, const GlobalOptions& global, int& code);
// cadre log-manual, cadre metrics (metrics_commands.cpp)
void add_metrics_commands(CLI::App& app, const GlobalOptions& global, int& code);
// cadre approvals|approve|reject, cadre pause|resume (policy_commands.cpp)
void add_policy_commands(CLI::App& app, const GlobalOptions& global, int& code);

}  // namespace cadre
