#include "agents/tool_step.h"

#include "core/duration.h"
#include "policy/gate.h"

namespace cadre {

Result<Json> run_tool_step(TaskContext& context, const ToolStepContext& env,
                           const std::string& tool_name, const Json& proposed,
                           const ToolStepOptions& options) {
  auto tool = env.tools->find(tool_name);
  Json args = proposed;
  if (env.policy != nullptr && tool && tool_name != "wait") {
    ToolGateRequest gate;
    gate.call = {options.agent, options.playbook, "", tool_name,
                 tool ? tool->spec().risk : RiskClass::kWrite, proposed};
    gate.schema = tool ? tool->spec().input_schema : Json::object();
    gate.context = options.why;
    CADRE_ASSIGN_OR_RETURN(args, gate_tool_call(context, *env.policy, *env.store, std::move(gate)));
  }
  if (tool_name == "wait") {
    int given = args.contains("duration") + args.contains("until") + args.contains("event");
    if (given != 1) {
      return Status::InvalidArgument(options.label +
                                     ": wait needs exactly one of duration, until, event");
    }
    if (args.contains("event")) {
      if (!args["event"].is_string() || args["event"].get<std::string>().empty())
        return Status::InvalidArgument(options.label + ": wait event must be a non-empty name");
      return context.wait_event(args["event"].get<std::string>());
    }
    TimeMs until = 0;
    if (args.contains("until")) {
      CADRE_ASSIGN_OR_RETURN(
          until, parse_time_utc(args["until"].is_string() ? args["until"].get<std::string>() : ""));
    } else {
      std::string text = args.contains("duration") && args["duration"].is_string()
                             ? args["duration"].get<std::string>()
                             : "";
      CADRE_ASSIGN_OR_RETURN(DurationMs duration, parse_duration(text));
      CADRE_ASSIGN_OR_RETURN(TimeMs start, context.now());
      until = start + duration;
    }
    CADRE_RETURN_IF_ERROR(context.sleep_until(until, "wait"));
    return Json{{"waited_until", format_time_utc(until)}};
  }
  if (tool_name == "emit") {
    if (!args.contains("event") || !args["event"].is_string() ||
        args["event"].get<std::string>().empty())
      return Status::InvalidArgument(options.label + ": emit needs an 'event' name");
    return context.emit(args["event"].get<std::string>(), args.value("data", Json::object()));
  }
  if (!tool) return Status::NotFound(options.label + " uses unknown tool '" + tool_name + "'");
  const ToolSpec& spec = tool->spec();
  StepOptions step;
  step.name = spec.name;
  step.kind = "tool";
  step.idempotent = spec.idempotent;
  step.retry = options.retry.value_or(spec.retry);
  step.timeout = options.timeout;
  step.audit = true;
  if (env.tool_limits && env.tool_limits->count(spec.name)) {
    step.rate_limit_key = spec.name;
  } else {
    step.rate_limit_key = spec.rate_limit_key;
  }
  return context.run_step(step, args, [&](StepCall& call) -> Result<Json> {
    ToolCall tool_call{args,
                       call.idempotency_key,
                       call.attempt,
                       call.deadline,
                       env.workspace_root,
                       &context.clock(),
                       &call.retry_after,
                       {context.task().id, call.seq, options.agent, options.memory_scopes}};
    return tool->invoke(tool_call);
  });
}

}  // namespace cadre
