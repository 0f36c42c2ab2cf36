// `cadre serve` and `cadre worker`: start the runtime, then wait for SIGTERM
// or SIGINT and stop gracefully (running tasks finish within the grace
// period, or release their leases for the next start).
#include <signal.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "agents/runtime.h"
#include "cli/commands.h"

namespace cadre {

int cmd_serve(const GlobalOptions& global, bool triggers, const std::string& record_models) {
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
  runtime_options.record_models = record_models;
  auto runtime = Runtime::open(*workspace, runtime_options);
  if (!runtime.ok()) return report_error(runtime.status());
  if (spdlog::get_level() > spdlog::level::info) spdlog::set_level(spdlog::level::info);
  Status started = (*runtime)->start();
  if (!started.ok()) return report_error(started);
  spdlog::info("cadre {} started in {} as {} ({} workers{})", triggers ? "serve" : "worker",
               workspace->root.string(), (*runtime)->kernel().worker_id(), workspace->config.kernel.workers,
               triggers ? ", triggers on" : "");

  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("{} received: finishing running tasks (up to {} ms), then releasing the rest",
               received == SIGTERM ? "SIGTERM" : "SIGINT", workspace->config.kernel.shutdown_grace);
  (*runtime)->stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace cadre
