#include "connectors/mcp/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace cadre {
namespace {

// The fds of one pipe; closed when destroyed unless released.
struct Pipe {
  int read_end = -1;
  int write_end = -1;
  ~Pipe() {
    if (read_end >= 0) ::close(read_end);
    if (write_end >= 0) ::close(write_end);
  }
  int release_read() { return std::exchange(read_end, -1); }
  int release_write() { return std::exchange(write_end, -1); }
};

Status open_pipe(Pipe& pipe) {
  int fds[2];
  // Close-on-exec: a pipe end inherited by another child would keep this one's stdin open.
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Status::ResourceExhausted(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  pipe.read_end = fds[0];
  pipe.write_end = fds[1];
  return Status::Ok();
}

void set_non_blocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// posix_spawn's attribute and file-action objects, destroyed on every path.
struct SpawnSetup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnSetup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

// Own process group, nothing blocked, every catchable signal at its default.
void reset_signals(posix_spawnattr_t& attr) {
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(const ChildProcessOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return Status::InvalidArgument("no program to start (the command is empty)");
  }
  const std::string& program = options.argv[0];
  if (!options.working_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(options.working_dir, ec)) {
      return Status::InvalidArgument("cannot start '" + program + "': working folder " +
                                     options.working_dir.string() + " does not exist");
    }
  }
  SpawnSetup setup;
  reset_signals(setup.attr);
  Pipe in, out, err;
  const bool piped = options.output_file.empty();
  if (piped) {
    CADRE_RETURN_IF_ERROR(open_pipe(in));
    CADRE_RETURN_IF_ERROR(open_pipe(out));
    CADRE_RETURN_IF_ERROR(open_pipe(err));
    posix_spawn_file_actions_adddup2(&setup.actions, in.read_end, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&setup.actions, out.write_end, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&setup.actions, err.write_end, STDERR_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&setup.actions, STDOUT_FILENO, options.output_file.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&setup.actions, STDOUT_FILENO, STDERR_FILENO);
  }
  if (!options.working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&setup.actions, options.working_dir.c_str());
  }
  std::vector<char*> argv = c_strings(options.argv);
  std::vector<char*> envp = c_strings(options.env);
  pid_t pid = -1;
  int rc =
      ::posix_spawnp(&pid, program.c_str(), &setup.actions, &setup.attr, argv.data(), envp.data());
  if (rc != 0) {
    return Status::Unavailable("cannot start '" + program + "': " + std::strerror(rc));
  }
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->pid_ = pid;
  if (piped) {
    child->stdin_fd_ = in.release_write();
    child->stdout_fd_ = out.release_read();
    child->stderr_fd_ = err.release_read();
    set_non_blocking(child->stdin_fd_);
    set_non_blocking(child->stdout_fd_);
    set_non_blocking(child->stderr_fd_);
  }
  return child;
}

ChildProcess::~ChildProcess() {
  stop(0);
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  if (stderr_fd_ >= 0) ::close(stderr_fd_);
}

void ChildProcess::close_stdin() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

void ChildProcess::signal_group(int signal) {
  // The unreaped leader holds the group id, so it cannot name anyone else's group yet.
  if (::kill(-pid_, signal) != 0) ::kill(pid_, signal);
}

bool ChildProcess::reap_if_exited() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (exit_status_) return true;
  if (pid_ <= 0) return false;
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  // Peek without reaping: while the leader is a zombie its group id is still ours to signal.
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
      info.si_pid == 0) {
    return false;
  }
  ::kill(-pid_, SIGKILL);  // whatever the server started dies with it
  int status = 0;
  pid_t reaped;
  do {
    reaped = ::waitpid(pid_, &status, 0);
  } while (reaped < 0 && errno == EINTR);
  exit_status_ = reaped == pid_ ? status : 0;
  return true;
}

bool ChildProcess::wait_for_exit(DurationMs timeout) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout);
  while (!reap_if_exited()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void ChildProcess::stop(DurationMs grace) {
  close_stdin();
  if (wait_for_exit(grace)) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!exit_status_ && pid_ > 0) signal_group(SIGTERM);
  }
  if (wait_for_exit(grace)) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!exit_status_ && pid_ > 0) signal_group(SIGKILL);
  }
  wait_for_exit(60 * 1000);  // SIGKILL cannot be refused; only an uninterruptible sleep delays it
}

std::optional<int> ChildProcess::exit_status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return exit_status_;
}

std::string ChildProcess::describe_exit(int wait_status) {
  if (WIFEXITED(wait_status))
    return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    const char* name = ::strsignal(sig);
    return "was killed by signal " + std::to_string(sig) +
           (name ? std::string(" (") + name + ")" : "");
  }
  return "ended (wait status " + std::to_string(wait_status) + ")";
}

}  // namespace cadre
