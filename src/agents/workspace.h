// Workspace: a folder holding one business's definitions.
//
//   cadre.yaml        settings (WorkspaceConfig) and connectors
//   connectors/*.yaml one connector each, named after the file
//   agents/*.yaml     roles (AgentDef, agents/agent.h)
//   playbooks/*.yaml  declared processes (PlaybookDef)
//   policies.yaml     rules, approval defaults, plan approval (policy/policy.h)
//   .cadre/           database and keys; never committed (.cadre/.gitignore)
//
// Loading validates every file and collects every problem as a Diagnostic
// (file:line:column: field.path: what is wrong) instead of stopping at the
// first one.
//
// Thread-safety: a loaded Workspace is an immutable value.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agents/playbook.h"
#include "connectors/connector_def.h"
#include "core/config.h"
#include "core/diagnostics.h"
#include "core/result.h"
#include "policy/policy.h"

namespace cadre {

struct LoadOptions {
  // Tool names a step's `uses` may name (built-ins and connectors). A step
  // naming another tool is a diagnostic. `agent.NAME` is checked against the
  // files in agents/.
  std::vector<std::string> known_tools;
  // JSON Schemas of tools' arguments by tool name: a step's `with` may use
  // only the schema's properties and must give its required ones.
  std::map<std::string, Json> tool_schemas;
  // "NAME." of connectors whose tools are known only at run time (mcp): any
  // tool under such a prefix is accepted. Workspace::load adds these itself.
  std::vector<std::string> tool_prefixes;
};

// Whether `options` knows the tool `name` (by name or by prefix).
bool is_known_tool(const LoadOptions& options, const std::string& name);

struct AgentDef;

struct Workspace {
  std::filesystem::path root;
  WorkspaceConfig config;
  std::map<std::string, PlaybookDef> playbooks;   // by name
  std::map<std::string, std::shared_ptr<const AgentDef>> agents;  // by name
  PolicyConfig policies;                          // policies.yaml (defaults when absent)
  std::vector<ConnectorDef> connectors;           // cadre.yaml connectors: and connectors/*.yaml

  // The agent named `name`, or null.
  const AgentDef* find_agent(const std::string& name) const;

  // Loads and validates everything under `root`. Problems go to
  // `diagnostics`; the result is an error only when any were found (its
  // message lists them all) or `root` is not a workspace.
  static Result<Workspace> load(const std::filesystem::path& root, const LoadOptions& options,
                                Diagnostics* diagnostics);

  // Finds the workspace root: `explicit_dir` if given, else the first of the
  // current directory and its parents that holds cadre.yaml.
  static Result<std::filesystem::path> locate(const std::string& explicit_dir);
};

// Parses one playbook from YAML text; `file` is used in diagnostics.
// Returns the playbook even when diagnostics were added (best effort), so
// callers decide; check diagnostics->empty().
PlaybookDef parse_playbook(std::string_view yaml_text, const std::string& file,
                           const LoadOptions& options, Diagnostics* diagnostics);

// Writes a new workspace into `dir` (created if missing; refused if it
// already holds cadre.yaml). `example` names a bundled example ("" for a
// minimal workspace). The list of bundled examples is example_names().
Status init_workspace(const std::filesystem::path& dir, const std::string& example);
std::vector<std::string> example_names();

}  // namespace cadre
