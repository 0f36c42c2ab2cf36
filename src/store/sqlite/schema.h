// The SQLite schema as an ordered list of migrations. The database's
// PRAGMA user_version is the number of migrations applied; a newer database
// than this build knows is refused rather than guessed at.
#pragma once

#include <string_view>
#include <vector>

namespace cadre::sqlite_schema {

// migrations()[i] upgrades a database from version i to i + 1.
const std::vector<std::string_view>& migrations();

}  // namespace cadre::sqlite_schema
