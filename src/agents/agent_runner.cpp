#include "agents/agent_runner.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/hash.h"
#include "core/json_schema.h"
#include "memory/context.h"
#include "policy/gate.h"

namespace cadre {
namespace {

constexpr size_t kToolResultChars = 16 * 1024;  // what a tool's result may take of the prompt

// Model calls retry transient failures as timers (429, 5xx, timeouts),
// honouring Retry-After.
RetryPolicy model_retry_policy() {
  RetryPolicy policy;
  policy.max_attempts = 5;
  policy.initial_backoff = 1000;
  policy.max_backoff = 60000;
  return policy;
}

std::string system_prompt(const AgentDef& agent) {
  std::string text;
  if (!agent.role.empty()) text += "You are " + agent.role + ".\n\n";
  text += agent.instructions;
  if (!agent.output_schema.is_null()) {
    text += "\n\nYour final answer must be only a JSON value matching this JSON Schema:\n" +
            dump_json(agent.output_schema);
  }
  return text;
}

std::string user_prompt(const AgentJob& job) {
  std::string text = job.task;
  if (!job.inputs.empty()) text += "\n\nInputs:\n" + dump_json(job.inputs);
  if (!job.upstream.empty())
    text += "\n\nResults of the tasks this one waited for:\n" + dump_json(job.upstream);
  return text;
}

std::string clip(std::string text, size_t max) {
  if (text.size() > max)
    text = text.substr(0, max) + "... [cut at " + std::to_string(max) + " characters]";
  return text;
}

}  // namespace

std::string wire_tool_name(const std::string& tool) {
  std::string out;
  for (char c : tool) {
    if (c == '.') {
      out += "__";
    } else {
      out += c;
    }
  }
  return out;
}

Result<Json> parse_json_answer(const std::string& text) {
  std::string body = text;
  auto fence = body.find("```");
  if (fence != std::string::npos) {
    auto start = body.find('\n', fence);
    auto end = start == std::string::npos ? std::string::npos : body.find("```", start);
    if (end != std::string::npos) body = body.substr(start + 1, end - start - 1);
  }
  auto parsed = parse_json(body, "answer");
  if (!parsed.ok())
    return Status::InvalidArgument("the answer is not JSON: " + parsed.status().message());
  return parsed;
}

AgentRunner::AgentRunner(Store& store, const Workspace& workspace, ToolStepContext tools,
                         ModelGateway* gateway, const Policy& policy, Memory* memory)
    : store_(store),
      workspace_(workspace),
      tools_(std::move(tools)),
      gateway_(gateway),
      policy_(policy),
      memory_(memory) {}

Result<std::string> AgentRunner::remember(const AgentDef& agent) {
  std::string version = agent.version();
  {
    std::lock_guard lock(cache_mutex_);
    if (cache_.count(version)) return version;
  }
  CADRE_RETURN_IF_ERROR(store_.put_definition({version, "agent", agent.name, agent.to_json(), 0}));
  std::lock_guard lock(cache_mutex_);
  cache_.emplace(version, std::make_shared<const AgentDef>(agent));
  return version;
}

Result<std::shared_ptr<const AgentDef>> AgentRunner::definition(const std::string& version) {
  {
    std::lock_guard lock(cache_mutex_);
    auto it = cache_.find(version);
    if (it != cache_.end()) return it->second;
  }
  CADRE_ASSIGN_OR_RETURN(DefinitionRecord record, store_.get_definition(version));
  CADRE_ASSIGN_OR_RETURN(AgentDef agent, AgentDef::from_json(record.body));
  auto shared = std::make_shared<const AgentDef>(std::move(agent));
  std::lock_guard lock(cache_mutex_);
  cache_.emplace(version, shared);
  return shared;
}

Result<std::shared_ptr<const AgentDef>> AgentRunner::pinned(TaskContext& context,
                                                            const std::string& name) {
  StepOptions options;
  options.name = "agent." + name;
  options.kind = "definition";
  options.idempotent = true;
  CADRE_ASSIGN_OR_RETURN(
      Json version, context.run_step(options, Json(name), [&](StepCall&) -> Result<Json> {
        const AgentDef* agent = workspace_.find_agent(name);
        if (agent == nullptr)
          return Status::NotFound("there is no agent '" + name + "' (agents/" + name + ".yaml)");
        CADRE_ASSIGN_OR_RETURN(std::string v, remember(*agent));
        return Json(v);
      }));
  if (!version.is_string()) return Status::Corruption("journaled agent version is not a string");
  return definition(version.get<std::string>());
}

Result<std::optional<AgentRunner::BudgetOverrun>> AgentRunner::budget_overrun(TaskContext& context,
                                                                              const AgentDef& agent,
                                                                              const TokenUsage& used, double spent) {
  const BudgetDef& b = agent.budget;
  const std::string who = "agent '" + agent.name + "'";
  auto check = [&](const std::string& scope, const std::string& period, int64_t tokens, double usd,
                   int64_t token_limit, double usd_limit, const std::string& setting)
      -> Result<std::optional<BudgetOverrun>> {
    if (token_limit == 0 && usd_limit == 0) return std::optional<BudgetOverrun>();
    CADRE_ASSIGN_OR_RETURN(Json granted, store_.budget_grants(agent.name, scope));
    const int64_t tokens_allowed = token_limit + granted.value("tokens", int64_t{0});
    const double usd_allowed = usd_limit + granted.value("usd", 0.0);
    if (token_limit > 0 && tokens >= tokens_allowed) {
      return std::optional<BudgetOverrun>(BudgetOverrun{scope,
                           who + " used " + std::to_string(tokens) + " tokens " + period + "; its budget is " +
                               std::to_string(tokens_allowed) + " (budget.tokens_" + setting + ")",
                           0, token_limit});
    }
    if (usd_limit > 0 && usd >= usd_allowed) {
      return std::optional<BudgetOverrun>(BudgetOverrun{scope,
                           who + " spent $" + fmt::format("{:.4f}", usd) + " " + period + "; its budget is $" +
                               fmt::format("{:.4f}", usd_allowed) + " (budget.usd_" + setting + ")",
                           usd_limit, 0});
    }
    return std::optional<BudgetOverrun>();
  };
  CADRE_ASSIGN_OR_RETURN(auto objective,
                         check("objective:" + context.task().objective_id, "on this objective",
                               used.input_tokens + used.output_tokens, spent, b.tokens_per_objective,
                               b.usd_per_objective, "per_objective"));
  if (objective || (b.tokens_per_day == 0 && b.usd_per_day == 0)) return objective;
  const TimeMs now = context.clock().now_ms();
  CADRE_ASSIGN_OR_RETURN(Json today, store_.model_usage(utc_day_start(now), agent.name));
  return check("day:" + format_date_utc(now), "today",
               today.value("input_tokens", int64_t{0}) + today.value("output_tokens", int64_t{0}),
               today.value("cost_usd", 0.0), b.tokens_per_day, b.usd_per_day, "per_day");
}

Status AgentRunner::ensure_budget(TaskContext& context, const AgentDef& agent, const TokenUsage& used,
                                  double spent) {
  constexpr int kMaxRaises = 8;  // per model call; a loop beyond this is a bug, not a budget
  for (int round = 0; round < kMaxRaises; ++round) {
    const StepRecord* next = context.next_journaled();
    std::string title;
    ApprovalRecord draft;
    if (next != nullptr) {
      if (next->name != "approval.budget") return Status::Ok();  // this check passed the first time
      title = next->input.value("title", std::string());
    } else {
      CADRE_ASSIGN_OR_RETURN(auto over, budget_overrun(context, agent, used, spent));
      if (!over) return Status::Ok();
      const PolicyConfig& config = policy_.config();
      PolicyDecision decision{PolicyOutcome::kRequireApproval, "", over->message, config.approval_timeout,
                              config.on_timeout};
      title = over->message;
      draft = approval_for(context, decision, "budget", over->message + "; raise it?");
      // One item per agent, budget and limit: every task of the agent that reaches it waits for the same answer.
      draft.id = "apr_" + sha256_hex(agent.name + "|" + over->scope + "|" + over->message).substr(0, 26);
      draft.agent = agent.name;
      draft.request = {{"scope", over->scope}, {"usd", over->usd}, {"tokens", over->tokens}};
      draft.schema = {{"type", "object"},
                      {"properties", {{"usd", {{"type", "number"}, {"minimum", 0}}},
                                      {"tokens", {{"type", "integer"}, {"minimum", 0}}},
                                      {"scope", {{"const", over->scope}}}}},
                      {"additionalProperties", false}};
      draft.context = {{"objective", context.task().objective_id}, {"task", context.task().key}};
    }
    CADRE_ASSIGN_OR_RETURN(Json answer, context.await_approval(std::move(draft)));
    if (!approved(answer)) {
      return Status::ResourceExhausted(title + "; the budget was not raised: " + describe_refusal(answer));
    }
  }
  return Status::ResourceExhausted("agent '" + agent.name + "': the budget was raised " +
                                   std::to_string(kMaxRaises) + " times for one model call");
}

Result<Json> AgentRunner::call_model(TaskContext& context, const AgentDef& agent,
                                     const std::string& tier, const ChatRequest& request) {
  StepOptions options;
  options.name = "model." + tier;
  options.kind = "model";
  options.idempotent = true;  // no effect outside; repeating it only costs
  options.commit_result = true;
  options.retry = model_retry_policy();
  options.audit = true;
  ModelCallRequest ask{agent.name, "", tier, gateway_ ? gateway_->estimate_cost(tier, request) : 0.0};
  CADRE_RETURN_IF_ERROR(gate_model_call(context, policy_, store_, ask, Json{{"task", context.task().key}}));
  Json input = {{"agent", agent.name}, {"tier", tier}, {"request", to_json(request)}};
  return context.run_step(options, input, [&](StepCall& call) -> Result<Json> {
    if (gateway_ == nullptr || !gateway_->has_tier(tier)) {
      return Status::FailedPrecondition("agent '" + agent.name + "' needs the model tier '" + tier +
                                        "', but cadre.yaml maps no model to it (models.tiers." +
                                        tier + ")");
    }
    CADRE_ASSIGN_OR_RETURN(ChatResult result,
                           gateway_->chat(tier, request, {agent.cache}, &call.retry_after));
    return Json{{"response", to_json(result.response)}, {"call", to_json(result.info)}};
  });
}

Result<Json> AgentRunner::call_tool(TaskContext& context, const AgentDef& agent,
                                    const ModelToolCall& call, const Json& why) {
  // Refusals go back to the model as the tool's result, so it can correct itself.
  auto refused = [](const std::string& why) { return Json{{"ok", false}, {"error", why}}; };
  auto allowed = std::find_if(agent.tools.begin(), agent.tools.end(), [&](const std::string& t) {
    return wire_tool_name(t) == call.name || t == call.name;
  });
  if (allowed == agent.tools.end()) {
    return refused("there is no tool '" + call.name + "' for this agent");
  }
  const std::string tool_name = *allowed;
  auto tool = tools_.tools->find(tool_name);
  if (!tool) return refused("tool '" + tool_name + "' is not available in this workspace");
  auto errors = validate_json(tool->spec().input_schema, call.arguments);
  if (!errors.empty())
    return refused("invalid arguments for " + tool_name + ": " + describe(errors));
  ToolStepOptions options;
  options.why = why;
  options.label = "agent '" + agent.name + "'";
  options.agent = agent.name;
  options.memory_scopes = agent_scopes(agent.memory_scopes);
  auto result = run_tool_step(context, tools_, tool_name, call.arguments, options);
  if (result.status().is(StatusCode::kSuspended) || result.status().is(StatusCode::kConflict))
    return result.status();
  if (!result.ok()) return refused(result.status().to_string());
  return Json{{"ok", true}, {"result", *result}};
}

Result<std::vector<std::string>> AgentRunner::check_answer(TaskContext& context,
                                                           const AgentDef& agent,
                                                           const AgentJob& job,
                                                           const std::string& text, Json* answer) {
  std::vector<std::string> problems;
  *answer = Json(text);
  if (!agent.output_schema.is_null()) {
    auto parsed = parse_json_answer(text);
    if (!parsed.ok()) {
      problems.push_back(parsed.status().message());
    } else {
      *answer = *parsed;
      for (const auto& e : validate_json(agent.output_schema, *parsed)) {
        problems.push_back((e.path.empty() ? "the answer" : e.path) + ": " + e.message);
      }
    }
  }
  if (agent.judge && problems.empty()) {
    ChatRequest request;
    request.messages.push_back(
        {"system",
         "You check another agent's answer. " + agent.judge->prompt +
             "\nAnswer with JSON: {\"pass\": true|false, \"reason\": \"why, briefly\"}.",
         {},
         ""});
    request.messages.push_back(
        {"user", "Task:\n" + user_prompt(job) + "\n\nAnswer to check:\n" + text, {}, ""});
    request.response_schema = {
        {"type", "object"},
        {"properties", {{"pass", {{"type", "boolean"}}}, {"reason", {{"type", "string"}}}}},
        {"required", {"pass"}}};
    CADRE_ASSIGN_OR_RETURN(Json out, call_model(context, agent, agent.judge->tier, request));
    auto verdict = parse_json_answer(out["response"].value("content", std::string()));
    if (!verdict.ok() || !verdict->is_object() || !verdict->value("pass", false)) {
      std::string reason = verdict.ok() && verdict->is_object()
                               ? verdict->value("reason", std::string("no reason given"))
                               : "the judge's verdict was not readable";
      problems.push_back("the judge did not accept it: " + reason);
    }
  }
  return problems;
}

Result<Json> AgentRunner::run(TaskContext& context, const AgentDef& agent, const AgentJob& job) {
  // The opening of the conversation, journaled so a replay sees the same.
  StepOptions context_step;
  context_step.name = "context";
  context_step.kind = "context";
  context_step.idempotent = true;
  CADRE_ASSIGN_OR_RETURN(
      Json opening, context.run_step(context_step, Json{{"agent", agent.name}}, [&](StepCall&) -> Result<Json> {
        Json out = {{"system", system_prompt(agent)}, {"user", user_prompt(job)}};
        if (memory_ != nullptr) {
          const MemoryConfig& config = workspace_.config.memory;
          ContextRequest request;
          request.text = job.task;
          request.scopes = agent_scopes(agent.memory_scopes);
          request.token_budget = config.context_tokens;
          request.recent = config.context_recent;
          CADRE_ASSIGN_OR_RETURN(auto items, assemble_context(*memory_, request));
          if (!items.empty()) {
            out["user"] = out["user"].get<std::string>() + "\n\n" + render_context(items);
            out["memory"] = Json::array();
            for (const auto& item : items) out["memory"].push_back(to_json(item));
          }
        }
        return out;
      }));
  std::vector<ChatMessage> messages = {{"system", opening.value("system", ""), {}, ""},
                                       {"user", opening.value("user", ""), {}, ""}};
  std::vector<ModelToolDef> tool_defs;
  for (const auto& name : agent.tools) {
    auto tool = tools_.tools->find(name);
    if (tool)
      tool_defs.push_back(
          {wire_tool_name(name), tool->spec().description, tool->spec().input_schema});
  }

  std::string tier = agent.tier;
  int checks_failed = 0;
  TokenUsage used;
  double spent = 0;
  for (int turn = 1; turn <= agent.max_turns; ++turn) {
    CADRE_RETURN_IF_ERROR(ensure_budget(context, agent, used, spent));
    ChatRequest request;
    request.messages = messages;
    request.tools = tool_defs;
    request.response_schema = agent.output_schema;
    CADRE_ASSIGN_OR_RETURN(Json out, call_model(context, agent, tier, request));
    CADRE_ASSIGN_OR_RETURN(ChatResponse response, chat_response_from_json(out["response"]));
    if (!out["call"].value("cached", false)) {  // a cached answer spent nothing
      used.input_tokens += response.usage.input_tokens;
      used.output_tokens += response.usage.output_tokens;
    }
    spent += out["call"].value("cost_usd", 0.0);
    messages.push_back({"assistant", response.content, response.tool_calls, ""});

    if (!response.tool_calls.empty()) {
      for (const auto& call : response.tool_calls) {
        Json why = {{"task", clip(job.task, 2000)}, {"model_said", clip(response.content, 2000)}, {"turn", turn}};
        CADRE_ASSIGN_OR_RETURN(Json result, call_tool(context, agent, call, why));
        messages.push_back({"tool", clip(dump_json(result), kToolResultChars), {}, call.id});
      }
      continue;
    }

    Json answer;
    CADRE_ASSIGN_OR_RETURN(std::vector<std::string> problems,
                           check_answer(context, agent, job, response.content, &answer));
    if (problems.empty()) {
      bool late = false;
      if (job.deadline_at > 0) {
        CADRE_ASSIGN_OR_RETURN(TimeMs now, context.now());
        late = now > job.deadline_at;
      }
      spdlog::info("agent {} finished task {} of {} in {} turn(s){}: {}", agent.name,
                   context.task().key, context.task().objective_id, turn,
                   late ? ", after its deadline" : "", clip(response.content, 160));
      return Json{{"answer", answer},
                  {"text", response.content},
                  {"turns", turn},
                  {"tier", tier},
                  {"late", late}};
    }
    std::string summary;
    for (const auto& p : problems) summary += "\n- " + p;
    if (++checks_failed > agent.output_retries) {
      return Status::FailedPrecondition("agent '" + agent.name +
                                        "': the answer failed its success check " +
                                        std::to_string(checks_failed) + " times:" + summary);
    }
    messages.push_back(
        {"user", "Your answer did not pass its check:" + summary + "\nAnswer again.", {}, ""});
    if (!agent.escalate.empty()) tier = agent.escalate;
  }
  return Status::ResourceExhausted("agent '" + agent.name + "' reached max_turns (" +
                                   std::to_string(agent.max_turns) + ") without a final answer");
}

Result<Json> AgentTaskHandler::run(TaskContext& context) {
  const Json& spec = context.task().spec;
  std::string version = spec.value("version", std::string());
  CADRE_ASSIGN_OR_RETURN(std::shared_ptr<const AgentDef> agent, runner_.definition(version));
  if (spec.contains("tools") && spec["tools"].is_array()) {
    // A plan task may give its agent fewer tools than it has, never more.
    AgentDef narrowed = *agent;
    narrowed.tools.clear();
    for (const auto& tool : agent->tools) {
      if (std::find(spec["tools"].begin(), spec["tools"].end(), Json(tool)) !=
          spec["tools"].end()) {
        narrowed.tools.push_back(tool);
      }
    }
    agent = std::make_shared<const AgentDef>(std::move(narrowed));
  }
  AgentJob job;
  job.task = spec.value("task", std::string());
  job.inputs = spec.value("inputs", Json::object());
  job.deadline_at = spec.value("deadline_at", TimeMs{0});
  if (!context.replaying() && spec.contains("needs") && !spec["needs"].empty()) {
    // Read only when the conversation opens; afterwards it is in the journal.
    CADRE_ASSIGN_OR_RETURN(Json outputs, runner_.store().task_outputs(context.task().objective_id));
    for (const auto& key : spec["needs"]) {
      if (key.is_string() && outputs.contains(key.get<std::string>())) {
        job.upstream[key.get<std::string>()] =
            outputs[key.get<std::string>()].value("output", Json());
      }
    }
  }
  CADRE_ASSIGN_OR_RETURN(Json result, runner_.run(context, *agent, job));
  if (Memory* memory = runner_.memory()) {
    StepOptions step;
    step.name = "memory.outcome";
    step.kind = "memory";
    step.idempotent = true;  // the event's id comes from the step's key
    CADRE_RETURN_IF_ERROR(
        context.run_step(step, Json{{"agent", agent->name}}, [&](StepCall& call) -> Result<Json> {
          MemoryEvent event;
          event.id = "mem_" + sha256_hex(call.idempotency_key).substr(0, 26);
          event.type = "outcome";
          event.text = agent->name + " completed \"" + clip(job.task, 300) +
                       "\": " + clip(result.value("text", std::string()), 700);
          CADRE_ASSIGN_OR_RETURN(event.entities, memory->entities_named_in(job.task));
          event.scope = agent_scopes(agent->memory_scopes).front();
          event.data = {{"objective", context.task().objective_id}, {"late", result.value("late", false)}};
          event.task_id = context.task().id;
          event.step_seq = call.seq;
          event.actor = "agent:" + agent->name;
          CADRE_ASSIGN_OR_RETURN(auto recorded, memory->record({event}));
          return Json{{"event", recorded.at(0).id}};
        }).status());
  }
  return result;
}

}  // namespace cadre
