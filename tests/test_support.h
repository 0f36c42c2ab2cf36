// Helpers for tests: temporary folders and running the real `cadre` binary.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace cadre::testing {

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

// Runs the cadre binary with `args` in `cwd`, waiting for it to exit.
CommandResult run_cadre(const std::vector<std::string>& args, const std::filesystem::path& cwd = {});

// Starts the cadre binary in the background (e.g. `serve`); returns its pid.
// Its stdout/stderr go to `log_file`.
int spawn_cadre(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                const std::filesystem::path& log_file);

// Sends `signal` to pid and waits for it to exit; returns its exit status.
int stop_process(int pid, int signal);

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& content);

// The path of the cadre binary under test and of the source tree.
std::string cadre_binary();
std::filesystem::path source_dir();

}  // namespace cadre::testing
