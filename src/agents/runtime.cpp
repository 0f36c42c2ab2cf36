#include "agents/runtime.h"

#include <spdlog/spdlog.h>

#include "agents/objectives.h"
#include "agents/planner.h"
#include "agents/playbook_runner.h"
#include "agents/revalidation.h"
#include "agents/workspace_secrets.h"
#include "connectors/builtin_tools.h"
#include "connectors/connector_hub.h"
#include "core/id.h"
#include "core/template.h"
#include "memory/compaction.h"
#include "memory/memory_tools.h"

namespace cadre {

namespace {
std::filesystem::path store_path(const Workspace& workspace) {
  std::filesystem::path path = workspace.config.store.path;
  return path.is_relative() ? workspace.root / path : path;
}
}  // namespace

std::filesystem::path workspace_state_dir(const Workspace& workspace) {
  return store_path(workspace).parent_path();
}

Result<std::unique_ptr<Store>> open_workspace_store(const Workspace& workspace) {
  const StoreConfig& config = workspace.config.store;
  if (config.driver != "sqlite") {
    return Status::InvalidArgument("cadre.yaml: store.driver '" + config.driver +
                                   "' is not available in this build");
  }
  StoreOptions options;
  options.path = store_path(workspace).string();
  options.synchronous_full = config.synchronous == "full";
  options.busy_timeout_ms = static_cast<int>(config.busy_timeout);
  return open_sqlite_store(options);
}

Result<std::unique_ptr<ToolRegistry>> make_tool_registry(Memory* memory) {
  auto registry = std::make_unique<ToolRegistry>();
  CADRE_RETURN_IF_ERROR(register_builtin_tools(*registry));
  CADRE_RETURN_IF_ERROR(register_memory_tools(*registry, memory));
  return registry;
}

LoadOptions load_options_for(const ToolRegistry& tools) {
  LoadOptions options;
  options.known_tools = tools.names();
  for (const auto& name : options.known_tools)
    options.tool_schemas[name] = tools.find(name)->spec().input_schema;
  return options;
}

Result<std::unique_ptr<Runtime>> Runtime::open(const Workspace& workspace, RuntimeOptions options) {
  std::unique_ptr<Runtime> rt(new Runtime());
  rt->workspace_ = &workspace;
  rt->options_ = options;
  const Clock& clock = options.clock ? *options.clock : SystemClock::instance();
  CADRE_ASSIGN_OR_RETURN(rt->store_, open_workspace_store(workspace));
  // Loaded first: from here on their values are redacted from every output.
  if (options.secrets != nullptr) {
    rt->secrets_ = *options.secrets;
  } else {
    CADRE_ASSIGN_OR_RETURN(rt->secrets_, load_workspace_secrets(workspace, *rt->store_, clock));
  }
  const SecretResolver& secrets = rt->secrets_;
  rt->gateway_ = std::make_unique<ModelGateway>(workspace.config.models, workspace.root,
                                                rt->store_.get(), clock, make_key_resolver(secrets));
  CADRE_RETURN_IF_ERROR(rt->gateway_->init().with_context("cadre.yaml models"));
  if (!options.record_models.empty())
    CADRE_RETURN_IF_ERROR(rt->gateway_->record_to(options.record_models));
  CADRE_ASSIGN_OR_RETURN(rt->memory_, open_memory(rt->store_->memory(), workspace.config.memory,
                                                  rt->gateway_.get(), workspace_state_dir(workspace), clock));
  CADRE_ASSIGN_OR_RETURN(rt->tools_, make_tool_registry(rt->memory_.get()));
  ConnectorEnv connector_env{workspace.root, secrets, &clock, rt->store_.get()};
  CADRE_ASSIGN_OR_RETURN(rt->connectors_, ConnectorHub::open(workspace.connectors, connector_env, *rt->tools_));
  rt->policy_ = std::make_unique<Policy>(workspace.policies);
  ToolStepContext tool_env{rt->tools_.get(), workspace.root, &workspace.config.tools, rt->policy_.get(),
                           rt->store_.get()};
  rt->agents_ = std::make_unique<AgentRunner>(*rt->store_, workspace, tool_env, rt->gateway_.get(),
                                              *rt->policy_, rt->memory_.get());

  rt->kernel_ =
      std::make_unique<Kernel>(*rt->store_, clock, workspace.config.kernel, options.worker_id);
  auto playbooks = std::make_shared<PlaybookStepHandler>(*rt->store_, tool_env,
                                                         workspace.config.kernel.max_foreach_items, rt->agents_.get());
  rt->kernel_->register_handler(kPlaybookStepKind, playbooks);
  rt->kernel_->register_handler(kPlaybookItemKind, playbooks);
  // An agent task that succeeds schedules its outcome's re-validation (agents/revalidation.h).
  rt->kernel_->register_handler(kAgentTaskKind, std::make_shared<RevalidatingAgentTaskHandler>(*rt->agents_));
  rt->kernel_->register_handler(kOutcomeCheckKind, std::make_shared<OutcomeCheckHandler>(*rt->agents_, tool_env));
  rt->kernel_->register_handler(kPlanTaskKind,
                                std::make_shared<PlanHandler>(*rt->agents_, PlanLimits{}));
  const MemoryConfig& memory = workspace.config.memory;
  rt->kernel_->register_handler(
      kCompactionTaskKind,
      std::make_shared<CompactionHandler>(*rt->memory_, rt->gateway_.get(),
                                          CompactionOptions{memory.compact_older_than, memory.compaction_max_groups},
                                          rt->policy_.get(), rt->store_.get()));
  AgentLimits limits;
  for (const auto& [name, agent] : workspace.agents) limits[name] = agent->concurrency;
  rt->kernel_->set_agent_limits(std::move(limits));
  for (const auto& [tool, tool_limits] : workspace.config.tools) {
    rt->kernel_->rate_limiter().configure(tool, tool_limits.rate_per_second, tool_limits.burst);
  }
  for (const auto& connector : workspace.connectors) {
    if (connector.rate_per_second > 0)
      rt->kernel_->rate_limiter().configure(rate_limit_key(connector), connector.rate_per_second, connector.burst);
  }
  if (options.triggers) {
    rt->triggers_ = std::make_unique<TriggerScheduler>(*rt->store_, clock);
    CADRE_RETURN_IF_ERROR(rt->add_triggers());
  }
  return rt;
}

Runtime::~Runtime() {
  stop();
}

// A trigger's template scope: {trigger: {...}} for cron, plus {event: ...} for events.
namespace {
Json cron_scope(const std::string& id, TimeMs at) {
  return {{"trigger", {{"id", id}, {"fired_at", format_time_utc(at)}, {"fired_at_ms", at}}}};
}
Json event_scope(const std::string& id, const EventRecord& event) {
  return {{"event", to_json(event)}, {"trigger", {{"id", id}}}};
}
}  // namespace

Status Runtime::add_trigger(const std::string& id, const TriggerDef& when, const std::string& where,
                            StartFn start) {
  auto fire = [this, id, start](const Json& context, const std::string& source,
                                const std::string& dedupe, TimeMs at) -> Status {
    CADRE_ASSIGN_OR_RETURN(RunStarted started, start(context, source, dedupe, at));
    if (started.created) spdlog::info("trigger {} started {}", id, started.objective_id);
    kernel_->wake();
    return Status::Ok();
  };
  if (when.kind == TriggerDef::Kind::kCron) {
    auto schedule = CronSchedule::parse(when.cron, when.time_zone);
    if (!schedule.ok()) return schedule.status().with_context(where);
    triggers_->add_cron(
        {id, *schedule, when.catchup, [id, fire](TimeMs at, const std::string& dedupe) {
           return fire(cron_scope(id, at), "cron:" + id, dedupe, at);
         }});
  } else {
    triggers_->add_event(
        {id, when.event, [id, fire](const EventRecord& event, const std::string& dedupe) {
           return fire(event_scope(id, event), "event:" + event.id, dedupe, event.created_at);
         }});
  }
  return Status::Ok();
}

Status Runtime::add_triggers() {
  for (const auto& [name, playbook] : workspace_->playbooks) {
    for (size_t i = 0; i < playbook.triggers.size(); ++i) {
      const std::string playbook_name = name;
      const Json inputs_template = playbook.triggers[i].inputs;
      auto start = [this, playbook_name, inputs_template](
                       const Json& context, const std::string& source, const std::string& dedupe,
                       TimeMs at) -> Result<RunStarted> {
        CADRE_ASSIGN_OR_RETURN(Json inputs, render_template(inputs_template, context));
        return start_playbook(*store_, *workspace_,
                              {playbook_name, inputs, source, dedupe, context}, at);
      };
      CADRE_RETURN_IF_ERROR(add_trigger(name + "#" + std::to_string(i), playbook.triggers[i],
                                        playbook.file + ": trigger " + std::to_string(i), start));
    }
  }
  for (const auto& [name, agent] : workspace_->agents) {
    for (size_t i = 0; i < agent->triggers.size(); ++i) {
      const std::string agent_name = name;
      const std::string objective_template = agent->triggers[i].objective;
      auto start = [this, agent_name, objective_template](
                       const Json& context, const std::string& source, const std::string& dedupe,
                       TimeMs at) -> Result<RunStarted> {
        CADRE_ASSIGN_OR_RETURN(Json text, render_template(Json(objective_template), context));
        ObjectiveRequest request;
        request.text = text.is_string() ? text.get<std::string>() : dump_json(text);
        request.owner = agent_name;
        request.inputs = context;
        request.source = source;
        request.dedupe_key = dedupe;
        return start_objective(*store_, *workspace_, request, at);
      };
      CADRE_RETURN_IF_ERROR(add_trigger("agent:" + name + "#" + std::to_string(i),
                                        agent->triggers[i].when,
                                        agent->file + ": trigger " + std::to_string(i), start));
    }
  }
  if (!workspace_->config.memory.compaction_cron.empty()) {
    TriggerDef when;
    when.kind = TriggerDef::Kind::kCron;
    when.cron = workspace_->config.memory.compaction_cron;
    when.catchup = Catchup::kLatest;  // a run missed while stopped still happens once
    auto start = [this](const Json&, const std::string& source, const std::string& dedupe,
                        TimeMs at) -> Result<RunStarted> {
      RunStarted started{new_id("obj", at), true};
      CADRE_ASSIGN_OR_RETURN(started.created, start_compaction(*store_, started.objective_id, source, dedupe, at));
      return started;
    };
    CADRE_RETURN_IF_ERROR(add_trigger("memory.compaction", when, "cadre.yaml: memory.compaction.cron", start));
  }
  return Status::Ok();
}

Status Runtime::start() {
  connectors_->start();
  CADRE_RETURN_IF_ERROR(kernel_->start());
  if (triggers_) CADRE_RETURN_IF_ERROR(triggers_->start(1000));
  return Status::Ok();
}

void Runtime::stop() {
  if (triggers_) triggers_->stop();
  if (kernel_) kernel_->stop();
  if (connectors_) connectors_->stop();  // after the kernel: no call is in flight
}

}  // namespace cadre
