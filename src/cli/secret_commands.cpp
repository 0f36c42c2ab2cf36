#include "cli/command_groups.h"

namespace cadre {

void add_secret_commands(CLI::App&, const GlobalOptions&, int&) {}

}  // namespace cadre
