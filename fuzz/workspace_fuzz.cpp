// libFuzzer target for the workspace loaders: any bytes given to
// parse_playbook(), parse_agent(), load_config() and parse_policies() must yield diagnostics, never a crash,
// a hang or a sanitizer report. Deep nesting and alias expansion are capped
// by parse_yaml() (core/yaml_util.h) before any recursive walk. A playbook
// that parses must also survive its canonical JSON round trip unchanged,
// and so must an agent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agents/agent.h"
#include "agents/workspace.h"
#include "core/config_loader.h"
#include "policy/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  cadre::LoadOptions options;
  options.known_tools = {"http.get", "email.send"};
  cadre::Diagnostics diagnostics;
  cadre::PlaybookDef playbook =
      cadre::parse_playbook(text, "playbooks/fuzz.yaml", options, &diagnostics);
  for (const auto& d : diagnostics.items()) {
    if (d.line < 0 || d.column < 0) std::abort();
  }
  (void)diagnostics.to_string();

  cadre::Json snapshot = playbook.to_json();
  auto restored = cadre::PlaybookDef::from_json(snapshot);
  if (!restored.ok() || restored->to_json() != snapshot) std::abort();
  (void)playbook.version();

  cadre::Diagnostics agent_diagnostics;
  cadre::AgentDef agent = cadre::parse_agent(text, "agents/fuzz.yaml", "fuzz", options, &agent_diagnostics);
  (void)agent_diagnostics.to_string();
  cadre::Json agent_snapshot = agent.to_json();
  auto agent_restored = cadre::AgentDef::from_json(agent_snapshot);
  if (!agent_restored.ok() || agent_restored->to_json() != agent_snapshot) std::abort();

  cadre::Diagnostics config_diagnostics;
  (void)cadre::load_config(text, "cadre.yaml", &config_diagnostics);
  (void)config_diagnostics.to_status();

  // Whatever the rules say, evaluating them must not crash.
  cadre::Diagnostics policy_diagnostics;
  cadre::Policy policy(cadre::parse_policies(text, "policies.yaml", &policy_diagnostics));
  cadre::Json args = {{"amount", 120}, {"to", "a@b.c"}, {"tags", cadre::Json::array({"x"})}, {"n", nullptr}};
  (void)policy.check_tool({"ops", "", "refund it", "email.send", cadre::RiskClass::kIrreversible, args});
  (void)policy.check_tool({"", "digest", "", "log", cadre::RiskClass::kRead, cadre::Json::array()});
  (void)policy.check_model({"ops", "refund it", "large", 0.7});
  return 0;
}
