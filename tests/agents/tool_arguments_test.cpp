// `cadre check` knows the tools' arguments: a step may pass only the
// arguments its tool declares and must pass the ones it requires.
#include <gtest/gtest.h>

#include "agents/runtime.h"
#include "agents/workspace.h"
#include "core/config_loader.h"

namespace cadre {
namespace {

std::string check(const std::string& yaml) {
  auto tools = make_tool_registry();
  Diagnostics diagnostics;
  parse_playbook(yaml, "playbooks/p.yaml", load_options_for(**tools), &diagnostics);
  return diagnostics.to_string();
}

TEST(ToolArguments, AMisspelledArgumentIsReportedWithTheLikelyName) {
  EXPECT_EQ(check("steps:\n"
                  "  - id: save\n"
                  "    uses: file.write\n"
                  "    with: {pth: out.txt, content: x}\n"),
            "playbooks/p.yaml:4:11: steps[0].with: tool file.write needs argument 'path'\n"
            "playbooks/p.yaml:4:12: steps[0].with.pth: unknown field (did you mean 'path'?)\n");
}

TEST(ToolArguments, AMissingRequiredArgumentIsReported) {
  EXPECT_EQ(check("steps:\n"
                  "  - id: say\n"
                  "    uses: log\n"),
            "playbooks/p.yaml:2:5: steps[0]: tool log needs argument 'message' (add with: {message: ...})\n");
}

TEST(ToolArguments, WaitAcceptsAnEvent) {
  EXPECT_EQ(check("steps:\n"
                  "  - id: paid\n"
                  "    uses: wait\n"
                  "    with: {event: invoice.paid}\n"),
            "");
}

}  // namespace
}  // namespace cadre

namespace cadre {
namespace {

TEST(ToolArguments, CadreYamlMayLimitOnlyKnownTools) {
  auto tools = make_tool_registry();
  Diagnostics diagnostics;
  load_config("tools:\n  file.apend: {rate_per_second: 5}\n", "cadre.yaml", &diagnostics, (*tools)->names());
  EXPECT_EQ(diagnostics.to_string(), "cadre.yaml:2:3: tools.file.apend: unknown field (did you mean 'file.append'?)\n");
}

}  // namespace
}  // namespace cadre
