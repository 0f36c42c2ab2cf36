// `cadre serve` and `cadre worker`: start the runtime (and, for serve, the
// workspace server), then wait for SIGTERM or SIGINT and stop gracefully
// (running tasks finish within the grace period, or release their leases
// for the next start). serve writes where it listens to .cadre/server.json.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <fstream>
#include <iostream>

#include "agents/runtime.h"
#include "cli/commands.h"
#include "core/json.h"
#include "server/workspace_server.h"

namespace cadre {

namespace {

// .cadre/server.json: where this serve listens, for the tools that look.
std::filesystem::path server_file(const Workspace& workspace) { return workspace_state_dir(workspace) / "server.json"; }

}  // namespace

int cmd_serve(const GlobalOptions& global, const ServeArgs& args) {
  const bool triggers = !args.worker;
  // Block the stop signals in every thread; this one waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Diagnostics diagnostics;
  auto root = Workspace::locate(global.workspace);
  if (!root.ok()) return report_error(root.status());
  auto tools = make_tool_registry();
  if (!tools.ok()) return report_error(tools.status());
  auto workspace = Workspace::load(*root, load_options_for(**tools), &diagnostics);
  if (!workspace.ok()) {
    report_error(workspace.status());
    return 4;
  }
  RuntimeOptions runtime_options;
  runtime_options.triggers = triggers;
  runtime_options.record_models = args.record_models;
  auto runtime = Runtime::open(*workspace, runtime_options);
  if (!runtime.ok()) return report_error(runtime.status());
  if (spdlog::get_level() > spdlog::level::info) spdlog::set_level(spdlog::level::info);
  // The port first: when it is taken, nothing has run yet.
  std::unique_ptr<WorkspaceServer> server;
  if (!args.worker) {
    ServerOptions server_options;
    server_options.bind = args.bind.empty() ? workspace->config.server.bind : args.bind;
    server_options.port = args.port >= 0 ? args.port : workspace->config.server.port;
    ApiContext api{&(*runtime)->store(), &*workspace, &(*runtime)->memory(), nullptr, (*runtime)->secrets()};
    server = std::make_unique<WorkspaceServer>(api, server_options);
    Status listening = server->start();
    if (!listening.ok()) return report_error(listening);
    const Json where = {{"url", "http://" + server_options.bind + ":" + std::to_string(server->port())},
                        {"port", server->port()},
                        {"pid", static_cast<int64_t>(getpid())}};
    std::ofstream out(server_file(*workspace), std::ios::trunc);
    out << dump_json(where) << "\n";
    if (!out) spdlog::warn("cannot write {}", server_file(*workspace).string());
  }
  Status started = (*runtime)->start();
  if (!started.ok()) {
    std::error_code ignored;
    std::filesystem::remove(server_file(*workspace), ignored);
    return report_error(started);
  }
  spdlog::info("cadre {} started in {} as {} ({} workers{})", triggers ? "serve" : "worker",
               workspace->root.string(), (*runtime)->kernel().worker_id(), workspace->config.kernel.workers,
               triggers ? ", triggers on" : "");

  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("{} received: finishing running tasks (up to {} ms), then releasing the rest",
               received == SIGTERM ? "SIGTERM" : "SIGINT", workspace->config.kernel.shutdown_grace);
  if (server) {
    server->stop();
    std::error_code ignored;
    std::filesystem::remove(server_file(*workspace), ignored);
  }
  (*runtime)->stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace cadre
