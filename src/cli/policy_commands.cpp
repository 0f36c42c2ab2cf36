#include "cli/command_groups.h"

namespace cadre {

void add_policy_commands(CLI::App&, const GlobalOptions&, int&) {}

}  // namespace cadre
