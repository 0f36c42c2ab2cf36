// ChildProcess: a program started with posix_spawn, either with pipes on its
// stdin, stdout and stderr (an MCP server on stdio) or with its output sent
// to a file (a server that listens on a port). The child starts in its own
// process group with a clean signal mask and default signal handlers, so a
// parent that blocks SIGTERM for sigwait (`cadre serve`) does not pass that
// on, and stop() reaches any process the child started.
//
// The child is reaped exactly once, by stop() or by reap_if_exited(): no
// zombie outlives the object, and no signal is ever sent to a pid already
// reaped (it may belong to another process by then).
//
// Thread-safety: pid(), the fds and exit_status() may be read from any
// thread; reap_if_exited(), stop() and close_stdin() are serialized inside.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/result.h"

namespace cadre {

struct ChildProcessOptions {
  std::vector<std::string> argv;      // argv[0] is looked up in PATH when it has no '/'
  std::vector<std::string> env;       // the whole environment, "NAME=value"
  std::filesystem::path working_dir;  // "" : the parent's
  // "" : stdin, stdout and stderr are pipes. Else stdout and stderr are
  // appended to this file and stdin reads /dev/null.
  std::filesystem::path output_file;
};

class ChildProcess {
 public:
  // Starts the program; unavailable when it cannot be started (not found, not
  // executable), naming argv[0] and the reason.
  static Result<std::unique_ptr<ChildProcess>> spawn(const ChildProcessOptions& options);

  ~ChildProcess();  // stop(0)
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Our ends of the pipes (-1 when the output goes to a file). stdin is
  // non-blocking; stdout and stderr are non-blocking too (read them after poll).
  int stdin_fd() const { return stdin_fd_; }
  int stdout_fd() const { return stdout_fd_; }
  int stderr_fd() const { return stderr_fd_; }

  // Closes our end of the child's stdin: a well-behaved server exits on EOF.
  void close_stdin();

  // If the child has exited, kills what is left of its process group, reaps
  // it and returns true. Never blocks.
  bool reap_if_exited();

  // Waits up to `timeout` for the child to exit on its own; true when it did (and is reaped).
  bool wait_for_exit(DurationMs timeout);

  // Closes stdin, waits `grace` for an exit, sends SIGTERM to the process
  // group, waits `grace` again, then SIGKILL; always reaps. Idempotent.
  void stop(DurationMs grace);

  // The wait status once reaped (see describe_exit).
  std::optional<int> exit_status() const;

  // "exited with status 1", "was killed by signal 9 (Killed)".
  static std::string describe_exit(int wait_status);

 private:
  ChildProcess() = default;
  void signal_group(int signal);  // caller holds mutex_, child not reaped

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  mutable std::mutex mutex_;
  std::optional<int> exit_status_;  // set once reaped
};

}  // namespace cadre
