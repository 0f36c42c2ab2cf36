// StdioTransport: an MCP server run as a child process, speaking JSON-RPC as
// one JSON message per line on its stdin and stdout; its stderr is its log,
// of which the last 8 KiB are kept to explain a failure.
//
// One reader thread reads stdout and stderr: it hands each response to the
// request waiting for it, answers the server's own requests (see
// mcp_transport.h) and counts notifications. Lines that do not start with '{'
// or '[' are taken as stray log output (a spec-breaking server printing a
// banner) and only remembered; a line that starts like JSON but does not
// parse means the stream is damaged, and every pending request fails with
// internal. When the server's stdout ends (it exited or crashed), every
// pending and later request fails with unavailable, quoting its exit status
// and the end of its stderr.
//
// The child sees only the environment variables named in `inherit_env` plus
// `env`: an MCP server is third-party code and must not see Cadre's keys.
//
// Thread-safety: as McpTransport.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "connectors/mcp/mcp_transport.h"

namespace cadre {

struct StdioServerOptions {
  std::vector<std::string> command;        // {"node", "server.js", "stdio"}; [0] looked up in PATH
  std::map<std::string, std::string> env;  // set in the child (over inherited ones)
  std::vector<std::string> inherit_env = {"HOME", "LOGNAME", "PATH",   "SHELL",  "TERM",
                                          "USER", "LANG",    "LC_ALL", "TMPDIR", "TZ"};
  std::filesystem::path working_dir;            // "" : Cadre's own
  size_t max_message_bytes = 10 * 1024 * 1024;  // one line from the server
  DurationMs shutdown_grace = 2000;             // after closing stdin, and again after SIGTERM
};

class StdioTransport final : public McpTransport {
 public:
  // Starts the server. Unavailable when it cannot be started.
  static Result<std::unique_ptr<StdioTransport>> start(const StdioServerOptions& options);
  ~StdioTransport() override;

  Result<Json> request(std::string_view method, const Json& params, McpDeadline deadline) override;
  Status notify(std::string_view method, const Json& params, McpDeadline deadline) override;
  void close() override;
  std::string describe() const override;
  int64_t notifications_received() const override;

  // The server's process id (until close()) and the end of its stderr.
  int pid() const;
  std::string stderr_tail() const;

  class State;  // shared with the reader thread

 private:
  explicit StdioTransport(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace cadre
