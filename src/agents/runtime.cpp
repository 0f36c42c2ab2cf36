#include "agents/runtime.h"

#include <spdlog/spdlog.h>

#include "agents/playbook_runner.h"
#include "connectors/builtin_tools.h"
#include "core/template.h"

namespace cadre {

Result<std::unique_ptr<Store>> open_workspace_store(const Workspace& workspace) {
  const StoreConfig& config = workspace.config.store;
  if (config.driver != "sqlite") {
    return Status::InvalidArgument("cadre.yaml: store.driver '" + config.driver + "' is not available in this build");
  }
  std::filesystem::path path = config.path;
  if (path.is_relative()) path = workspace.root / path;
  StoreOptions options;
  options.path = path.string();
  options.synchronous_full = config.synchronous == "full";
  options.busy_timeout_ms = static_cast<int>(config.busy_timeout);
  return open_sqlite_store(options);
}

Result<std::unique_ptr<ToolRegistry>> make_tool_registry() {
  auto registry = std::make_unique<ToolRegistry>();
  CADRE_RETURN_IF_ERROR(register_builtin_tools(*registry));
  return registry;
}

LoadOptions load_options_for(const ToolRegistry& tools) {
  LoadOptions options;
  options.known_tools = tools.names();
  for (const auto& name : options.known_tools) options.tool_schemas[name] = tools.find(name)->spec().input_schema;
  return options;
}

Result<std::unique_ptr<Runtime>> Runtime::open(const Workspace& workspace, RuntimeOptions options) {
  std::unique_ptr<Runtime> rt(new Runtime());
  rt->workspace_ = &workspace;
  rt->options_ = options;
  const Clock& clock = options.clock ? *options.clock : SystemClock::instance();
  CADRE_ASSIGN_OR_RETURN(rt->store_, open_workspace_store(workspace));
  CADRE_ASSIGN_OR_RETURN(rt->tools_, make_tool_registry());
  rt->kernel_ = std::make_unique<Kernel>(*rt->store_, clock, workspace.config.kernel, options.worker_id);
  auto playbooks = std::make_shared<PlaybookStepHandler>(*rt->store_, *rt->tools_, workspace.root,
                                                         workspace.config.tools,
                                                         workspace.config.kernel.max_foreach_items);
  rt->kernel_->register_handler(kPlaybookStepKind, playbooks);
  rt->kernel_->register_handler(kPlaybookItemKind, playbooks);
  for (const auto& [tool, limits] : workspace.config.tools) {
    rt->kernel_->rate_limiter().configure(tool, limits.rate_per_second, limits.burst);
  }
  if (options.triggers) {
    rt->triggers_ = std::make_unique<TriggerScheduler>(*rt->store_, clock);
    CADRE_RETURN_IF_ERROR(rt->add_triggers());
  }
  return rt;
}

Runtime::~Runtime() { stop(); }

Status Runtime::add_triggers() {
  for (const auto& [name, playbook] : workspace_->playbooks) {
    for (size_t i = 0; i < playbook.triggers.size(); ++i) {
      const TriggerDef& def = playbook.triggers[i];
      const std::string id = name + "#" + std::to_string(i);
      const std::string playbook_name = name;
      const Json inputs_template = def.inputs;
      if (def.kind == TriggerDef::Kind::kCron) {
        auto schedule = CronSchedule::parse(def.cron, def.time_zone);
        if (!schedule.ok()) return schedule.status().with_context(playbook.file + ": trigger " + std::to_string(i));
        CronTrigger trigger{id, *schedule, def.catchup, nullptr};
        trigger.fire = [this, id, playbook_name, inputs_template](TimeMs at, const std::string& dedupe) -> Status {
          Json context = {{"trigger", {{"id", id}, {"fired_at", format_time_utc(at)}, {"fired_at_ms", at}}}};
          CADRE_ASSIGN_OR_RETURN(Json inputs, render_template(inputs_template, context));
          RunRequest request{playbook_name, inputs, "cron:" + id, dedupe, context};
          CADRE_ASSIGN_OR_RETURN(RunStarted started, start_playbook(*store_, *workspace_, request, at));
          if (started.created) spdlog::info("trigger {} started {}", id, started.objective_id);
          kernel_->wake();
          return Status::Ok();
        };
        triggers_->add_cron(std::move(trigger));
      } else {
        EventTrigger trigger{id, def.event, nullptr};
        trigger.fire = [this, id, playbook_name, inputs_template](const EventRecord& event,
                                                                  const std::string& dedupe) -> Status {
          Json context = {{"event", to_json(event)}, {"trigger", {{"id", id}}}};
          CADRE_ASSIGN_OR_RETURN(Json inputs, render_template(inputs_template, context));
          RunRequest request{playbook_name, inputs, "event:" + event.id, dedupe, context};
          CADRE_ASSIGN_OR_RETURN(RunStarted started, start_playbook(*store_, *workspace_, request, event.created_at));
          if (started.created) spdlog::info("event {} ({}) started {}", event.id, event.name, started.objective_id);
          kernel_->wake();
          return Status::Ok();
        };
        triggers_->add_event(std::move(trigger));
      }
    }
  }
  return Status::Ok();
}

Status Runtime::start() {
  CADRE_RETURN_IF_ERROR(kernel_->start());
  if (triggers_) CADRE_RETURN_IF_ERROR(triggers_->start(1000));
  return Status::Ok();
}

void Runtime::stop() {
  if (triggers_) triggers_->stop();
  if (kernel_) kernel_->stop();
}

}  // namespace cadre
