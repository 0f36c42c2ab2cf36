#include "cli/command_groups.h"

namespace cadre {

void add_audit_commands(CLI::App&, const GlobalOptions&, int&) {}

}  // namespace cadre
