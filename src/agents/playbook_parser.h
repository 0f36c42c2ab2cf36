// Internal to agents/: parsing one playbook with what the surrounding
// workspace knows. parse_playbook() (agents/workspace.h) is this without a
// workspace; Workspace::load() also passes the agent names from agents/*.yaml
// so that `uses: agent.NAME` is checked, and reads back where the name was
// written to report duplicate names across files.
//
// Thread-safety: a free function without shared state.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agents/workspace.h"
#include "core/yaml_util.h"

namespace cadre {

// Tools every workspace has, whatever LoadOptions::known_tools lists.
const std::vector<std::string>& builtin_tool_names();

struct PlaybookContext {
  // Agent names from agents/*.yaml; null when unknown (then any well-formed
  // `agent.NAME` is accepted).
  const std::vector<std::string>* agent_names = nullptr;
  // Out: where `name:` was written ({0, 0} when it came from the file name).
  YamlPos name_pos;
};

// The when of a trigger entry (cron, timezone, catchup, event) from its
// map; what it starts (playbook inputs, an agent's objective) is read by the
// caller.
TriggerDef read_trigger_schedule(YamlReader& reader, const YamlMap& map, const YamlField& item);

PlaybookDef parse_playbook_in_context(std::string_view yaml_text, const std::string& file,
                                      const LoadOptions& options, PlaybookContext* context,
                                      Diagnostics* diagnostics);

}  // namespace cadre
