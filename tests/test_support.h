// Helpers for tests: temporary folders and running the real `cadre` binary.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/json.h"

namespace cadre::testing {

// The exit codes of `cadre` (src/cli/cli_app.h).
constexpr int kExitOk = 0;
constexpr int kExitBadUsage = 2;
constexpr int kExitNotFound = 3;
constexpr int kExitWorkspaceErrors = 4;
constexpr int kExitRunFailed = 5;
constexpr int kExitConflict = 6;
constexpr int kExitBusy = 7;
constexpr int kExitNeedsOperator = 8;

// A fresh folder under the system temp dir, removed when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// The command's standard output as JSON; a test failure (and null) if it is not JSON.
Json json_of(const CommandResult& result);

// Polls `probe` every `every` until it is true or `timeout` has passed; returns its last answer.
bool eventually(const std::function<bool()>& probe,
                std::chrono::milliseconds timeout = std::chrono::seconds(10),
                std::chrono::milliseconds every = std::chrono::milliseconds(50));

// Runs the cadre binary with `args` in `cwd`, waiting for it to exit.
CommandResult run_cadre(const std::vector<std::string>& args, const std::filesystem::path& cwd = {});

// Runs `cadre -w WS args...` with `input` on its standard input.
CommandResult run_cadre_with_input(const std::vector<std::string>& args, const std::filesystem::path& ws,
                                   const std::string& input);

// Starts the cadre binary in the background (e.g. `serve`, given --port 0
// unless the args name a port); returns its pid.
// Its stdout/stderr go to `log_file`.
int spawn_cadre(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                const std::filesystem::path& log_file);

// Sends `signal` to pid and waits for it to exit; returns its exit status.
int stop_process(int pid, int signal);

std::string read_file(const std::filesystem::path& path);
// Whether `text` contains `part`.
bool contains(const std::string& text, const std::string& part);
void write_file(const std::filesystem::path& path, const std::string& content);

// The path of the cadre binary under test and of the source tree.
std::string cadre_binary();
std::filesystem::path source_dir();

}  // namespace cadre::testing
