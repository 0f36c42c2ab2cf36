#include "connectors/mcp/stdio_transport.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "connectors/mcp/child_process.h"
#include "connectors/mcp/json_rpc.h"

namespace cadre {
namespace {

constexpr size_t kStderrKeptBytes = 8 * 1024;
constexpr size_t kStderrQuotedBytes = 600;
constexpr DurationMs kReplyWriteTimeout = 1000;  // answering a server's request or cancelling
constexpr DurationMs kExitWaitAfterEof = 500;    // for the exit status behind a closed stdout

// Writes all of `data` to the non-blocking `fd` before `deadline`. SIGPIPE is
// blocked in this thread meanwhile (and a pending one consumed), so a server
// that died turns into EPIPE here, not into the death of Cadre.
Status write_all_before(int fd, std::string_view data, McpDeadline deadline) {
  sigset_t pipe_only, previous;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
  Status result;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n >= 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      result = Status::Unavailable(std::string("cannot write to the server's stdin: ") +
                                   std::strerror(errno));
      break;
    }
    const DurationMs left = mcp_remaining_ms(deadline);
    pollfd p{fd, POLLOUT, 0};
    if (left == 0 || ::poll(&p, 1, static_cast<int>(left)) == 0) {
      result = Status::DeadlineExceeded("the server did not read its stdin before the deadline");
      break;
    }
  }
  sigset_t pending;
  sigpending(&pending);
  if (sigismember(&pending, SIGPIPE)) {
    timespec zero{0, 0};
    sigtimedwait(&pipe_only, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return result;
}

std::vector<std::string> child_environment(const StdioServerOptions& options) {
  std::map<std::string, std::string> env;
  for (const auto& name : options.inherit_env) {
    if (const char* value = std::getenv(name.c_str())) env[name] = value;
  }
  for (const auto& [name, value] : options.env) env[name] = value;
  std::vector<std::string> out;
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
  return out;
}

std::string_view trim_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.remove_suffix(1);
  }
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  return line;
}

}  // namespace

class StdioTransport::State {
 public:
  StdioServerOptions options;
  std::unique_ptr<ChildProcess> child;
  int wake_read = -1;  // the reader polls it; close() writes a byte to stop it
  int wake_write = -1;
  std::thread reader;

  std::mutex write_mutex;  // one message at a time on stdin
  bool stdin_closed = false;

  mutable std::mutex mutex;  // guards everything below
  std::condition_variable answered;
  int64_t next_id = 1;
  std::map<int64_t, std::optional<Result<Json>>> pending;
  std::optional<Status> gone;  // why the server can no longer answer
  bool closed = false;
  std::string stderr_ring;
  int64_t stray_lines = 0;
  std::string last_stray_line;
  int64_t notifications = 0;

  ~State() {
    if (wake_read >= 0) ::close(wake_read);
    if (wake_write >= 0) ::close(wake_write);
  }

  // --- writing ---

  Status write_message(const Json& message, McpDeadline deadline) {
    const std::string line = dump_json(message) + "\n";  // compact JSON holds no raw line break
    std::lock_guard<std::mutex> lock(write_mutex);
    if (stdin_closed) return Status::Unavailable("the server's stdin is closed");
    Status written = write_all_before(child->stdin_fd(), line, deadline);
    if (written.is(StatusCode::kDeadlineExceeded)) {
      // Part of a line may be out: the stream is no longer in step, so end it.
      stdin_closed = true;
      child->close_stdin();
      mark_gone(Status::Unavailable(
          "a message to the server could not be written whole before its deadline "
          "(the server stopped reading its stdin); the connection was closed"));
    }
    return written;
  }

  // --- the reader thread ---

  void run_reader() {
    std::string buffer;
    bool skipping = false;  // discarding the rest of an oversized line
    int stderr_fd = child->stderr_fd();
    for (;;) {
      pollfd fds[3] = {
          {child->stdout_fd(), POLLIN, 0}, {stderr_fd, POLLIN, 0}, {wake_read, POLLIN, 0}};
      if (::poll(fds, 3, -1) < 0) {
        if (errno == EINTR) continue;
        mark_gone(Status::Internal(std::string("cannot wait for the server's output: ") +
                                   std::strerror(errno)));
        return;
      }
      if (fds[2].revents) return;
      if (fds[1].revents && !read_stderr(stderr_fd)) stderr_fd = -1;
      if (fds[0].revents && !read_stdout(buffer, skipping)) {
        drain_stderr(stderr_fd);
        server_gone();
        return;
      }
    }
  }

  // Reads what stdout has; false at end of file.
  bool read_stdout(std::string& buffer, bool& skipping) {
    char chunk[64 * 1024];
    for (;;) {
      ssize_t n = ::read(child->stdout_fd(), chunk, sizeof chunk);
      if (n == 0) return false;
      if (n < 0) return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK;
      take_output(std::string_view(chunk, static_cast<size_t>(n)), buffer, skipping);
    }
  }

  void take_output(std::string_view bytes, std::string& buffer, bool& skipping) {
    while (!bytes.empty()) {
      size_t newline = bytes.find('\n');
      std::string_view piece = bytes.substr(0, newline);
      if (!skipping) buffer.append(piece);
      if (newline == std::string_view::npos) break;
      bytes.remove_prefix(newline + 1);
      if (!skipping) handle_line(buffer);
      buffer.clear();
      skipping = false;
    }
    if (buffer.size() > options.max_message_bytes) {
      fail_pending(Status::ResourceExhausted("the server sent a message larger than " +
                                             std::to_string(options.max_message_bytes) +
                                             " bytes (max_message_bytes); it was dropped"));
      buffer.clear();
      skipping = true;
    }
  }

  // Reads what stderr has into the ring; false at end of file or on error.
  bool read_stderr(int fd) {
    if (fd < 0) return false;
    char chunk[8 * 1024];
    for (;;) {
      ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n == 0) return false;
      if (n < 0) return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK;
      std::lock_guard<std::mutex> lock(mutex);
      stderr_ring.append(chunk, static_cast<size_t>(n));
      if (stderr_ring.size() > kStderrKeptBytes) {
        stderr_ring.erase(0, stderr_ring.size() - kStderrKeptBytes);
      }
    }
  }

  // A crashing server's last words may arrive just after its stdout closed.
  void drain_stderr(int fd) {
    const auto until = mcp_deadline_in(300);
    while (fd >= 0) {
      pollfd p{fd, POLLIN, 0};
      const DurationMs left = mcp_remaining_ms(until);
      if (left == 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return;
      if (!read_stderr(fd)) return;
    }
  }

  void handle_line(std::string_view raw) {
    std::string_view line = trim_line(raw);
    if (line.empty()) return;
    if (line.front() != '{' && line.front() != '[') {
      std::lock_guard<std::mutex> lock(mutex);
      ++stray_lines;
      last_stray_line = quote_excerpt(line, 200);
      return;
    }
    auto parsed = parse_json(line, "a message from the server");
    if (!parsed.ok()) {
      fail_pending(Status::Internal("the server wrote a line that is not valid JSON ('" +
                                    quote_excerpt(line, 120) + "'): " + parsed.status().message()));
      return;
    }
    if (parsed->is_array()) {
      for (const Json& message : *parsed) dispatch(message);
    } else {
      dispatch(*parsed);
    }
  }

  void dispatch(const Json& message) {
    JsonRpcMessage m = classify_json_rpc(message);
    switch (m.kind) {
      case JsonRpcKind::kResponse:
        deliver(m.id, message);
        return;
      case JsonRpcKind::kRequest:
        write_message(reply_to_server_request(message), mcp_deadline_in(kReplyWriteTimeout));
        return;
      case JsonRpcKind::kNotification: {
        std::lock_guard<std::mutex> lock(mutex);
        ++notifications;
        return;
      }
      case JsonRpcKind::kInvalid:
        if (m.id >= 0) {
          deliver(m.id, Status::Internal("the server's response to request " +
                                         std::to_string(m.id) + " is malformed: " + m.problem));
        } else {
          std::lock_guard<std::mutex> lock(mutex);
          ++stray_lines;
          last_stray_line = m.problem + ": " + quote_excerpt(dump_json(message), 160);
        }
        return;
    }
  }

  // Hands an outcome to the request waiting for `id`; a late answer (its
  // request gave up at its deadline) is dropped.
  void deliver(int64_t id, Result<Json> outcome) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = pending.find(id);
    if (it == pending.end() || it->second.has_value()) return;
    it->second.emplace(std::move(outcome));
    answered.notify_all();
  }

  void fail_pending(const Status& status) {
    std::lock_guard<std::mutex> lock(mutex);
    for (auto& [id, outcome] : pending) {
      if (!outcome) outcome.emplace(status);
    }
    answered.notify_all();
  }

  void mark_gone(const Status& status) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!gone) gone = status;
    }
    fail_pending(status);
  }

  void server_gone() {
    std::string why;
    if (child->wait_for_exit(kExitWaitAfterEof)) {
      why = "the server process " + ChildProcess::describe_exit(*child->exit_status());
    } else {
      why = "the server process closed its stdout";
    }
    bool closing;
    {
      std::lock_guard<std::mutex> lock(mutex);
      closing = closed;
    }
    if (closing) why += " (the connection was being closed)";
    std::string tail = stderr_excerpt();
    if (!tail.empty()) why += "; its stderr ends with: " + tail;
    mark_gone(Status::Unavailable(why));
  }

  // The end of stderr, starting at a line, on one line, for a message.
  std::string stderr_excerpt() const {
    std::string tail;
    {
      std::lock_guard<std::mutex> lock(mutex);
      tail = stderr_ring;
    }
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r' || tail.back() == ' '))
      tail.pop_back();
    if (tail.size() > kStderrQuotedBytes) {
      tail.erase(0, tail.size() - kStderrQuotedBytes);
      if (auto nl = tail.find('\n'); nl != std::string::npos && nl + 1 < tail.size())
        tail.erase(0, nl + 1);
      tail = "..." + tail;
    }
    std::string out;
    for (char c : tail) {
      if (c == '\n')
        out += " | ";
      else if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f)
        out += c;
    }
    return out;
  }

  std::string stray_note() const {
    std::lock_guard<std::mutex> lock(mutex);
    if (stray_lines == 0) return "";
    return " (the server also wrote " + std::to_string(stray_lines) +
           " line(s) to stdout that are not JSON-RPC messages; the last: '" + last_stray_line +
           "')";
  }
};

Result<std::unique_ptr<StdioTransport>> StdioTransport::start(const StdioServerOptions& options) {
  if (options.command.empty()) return Status::InvalidArgument("the MCP server's command is empty");
  auto state = std::make_shared<State>();
  state->options = options;
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) {
    return Status::ResourceExhausted(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  state->wake_read = wake[0];
  state->wake_write = wake[1];
  ChildProcessOptions child;
  child.argv = options.command;
  child.env = child_environment(options);
  child.working_dir = options.working_dir;
  CADRE_ASSIGN_OR_RETURN(state->child, ChildProcess::spawn(child));
  State* raw = state.get();
  state->reader = std::thread([raw] { raw->run_reader(); });
  return std::unique_ptr<StdioTransport>(new StdioTransport(std::move(state)));
}

StdioTransport::~StdioTransport() {
  close();
}

Result<Json> StdioTransport::request(std::string_view method, const Json& params,
                                     McpDeadline deadline) {
  State& s = *state_;
  const auto started = McpClock::now();
  int64_t id;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.closed) return Status::FailedPrecondition("the connection to the server is closed");
    if (s.gone) return *s.gone;
    id = s.next_id++;
    s.pending.emplace(id, std::nullopt);
  }
  Status sent = s.write_message(json_rpc_request(id, method, params), deadline);
  std::unique_lock<std::mutex> lock(s.mutex);
  if (!sent.ok()) {
    // A dead server shows first as a broken pipe; its exit status says more.
    s.answered.wait_until(lock, std::min(deadline, mcp_deadline_in(kExitWaitAfterEof + 500)),
                          [&] { return s.gone.has_value(); });
    s.pending.erase(id);
    return s.gone ? *s.gone : sent;
  }
  s.answered.wait_until(lock, deadline, [&] { return s.pending[id].has_value(); });
  std::optional<Result<Json>> outcome = std::move(s.pending[id]);
  s.pending.erase(id);
  lock.unlock();
  if (outcome) return std::move(*outcome);
  if (method != "initialize") {  // the protocol forbids cancelling initialize
    s.write_message(
        json_rpc_notification("notifications/cancelled",
                              {{"requestId", id}, {"reason", "the client's deadline passed"}}),
        mcp_deadline_in(kReplyWriteTimeout));
  }
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - started).count();
  return Status::DeadlineExceeded("no answer to " + std::string(method) + " within " +
                                  std::to_string(waited) + " ms" + s.stray_note());
}

Status StdioTransport::notify(std::string_view method, const Json& params, McpDeadline deadline) {
  State& s = *state_;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.closed) return Status::FailedPrecondition("the connection to the server is closed");
    if (s.gone) return *s.gone;
  }
  return s.write_message(json_rpc_notification(method, params), deadline);
}

void StdioTransport::close() {
  State& s = *state_;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.closed) return;
    s.closed = true;
  }
  {
    std::lock_guard<std::mutex> lock(s.write_mutex);
    s.stdin_closed = true;
    s.child->close_stdin();
  }
  s.child->stop(s.options.shutdown_grace);
  const char byte = 'x';
  while (::write(s.wake_write, &byte, 1) < 0 && errno == EINTR) {
  }
  if (s.reader.joinable()) s.reader.join();
  s.mark_gone(Status::Unavailable("the connection to the server was closed"));
}

std::string StdioTransport::describe() const {
  return "process '" + state_->options.command.front() + "' (pid " +
         std::to_string(state_->child->pid()) + ")";
}

int64_t StdioTransport::notifications_received() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->notifications;
}

int StdioTransport::pid() const {
  return state_->child->pid();
}

std::string StdioTransport::stderr_tail() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->stderr_ring;
}

}  // namespace cadre
