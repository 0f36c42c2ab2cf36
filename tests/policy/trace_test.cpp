// The accountability trace of an objective, built from a real store after a
// real TaskContext ran an agent's turn: its prompt and answer, the rule that
// asked for a human, who approved with edited arguments, the tool call that
// ran under that approval, and a denial that let nothing happen.
#include "policy/trace.h"

#include <gtest/gtest.h>

#include "core/hash.h"
#include "core/id.h"
#include "kernel/rate_limiter.h"
#include "kernel/task_context.h"
#include "store/audit_chain.h"
#include "test_support.h"

namespace cadre {
namespace {

const Json kProposed = {{"to", "ann@client.com"}, {"subject", "Invoice"}};
const Json kEdited = {{"to", "ann@client.com"}, {"subject", "Invoice #12"}};

Json the_request() {
  return {{"messages", Json::array({{{"role", "system"}, {"content", "You are ops."}},
                                    {{"role", "user"}, {"content", "Send Ann her invoice."}}})},
          {"tools", Json::array()},
          {"response_schema", nullptr},
          {"max_tokens", 0},
          {"temperature", 0.0}};
}

StepOptions step(const std::string& name, const std::string& kind) {
  StepOptions o;
  o.name = name;
  o.kind = kind;
  o.idempotent = true;
  o.retry.max_attempts = 1;
  return o;
}

// One agent turn as the agent loop journals it; parks at the approval the
// first time, runs the approved call on the replay after the answer.
Result<Json> agent_turn(TaskContext& ctx) {
  CADRE_RETURN_IF_ERROR(ctx.run_step(step("context", "context"), Json{{"agent", "ops"}}, [](StepCall&) -> Result<Json> {
                              return Json{{"system", "You are ops."}, {"user", "Send Ann her invoice."}};
                            }).status());
  Json model_input = {{"agent", "ops"}, {"tier", "small"}, {"request", the_request()}};
  CADRE_RETURN_IF_ERROR(ctx.run_step(step("model.small", "model"), model_input, [](StepCall&) -> Result<Json> {
                              Json response = {{"content", "I will email Ann the invoice now."},
                                               {"tool_calls", Json::array({{{"id", "c1"},
                                                                            {"name", "email.send"},
                                                                            {"arguments", kProposed}}})},
                                               {"finish_reason", "tool_calls"},
                                               {"usage", {{"input_tokens", 40}, {"output_tokens", 12}}}};
                              Json call = {{"provider", "openai"}, {"model", "small-1"}, {"cost_usd", 0.0012},
                                           {"cached", false}, {"latency_ms", 80}};
                              return Json{{"response", response}, {"call", call}};
                            }).status());
  CADRE_RETURN_IF_ERROR(ctx.record("policy.email.send", "policy", [] {
                             return Json{{"decision", "require_approval"}, {"rule", "outbound"},
                                         {"reason", "Mail to clients is checked"}};
                           }).status());
  ApprovalRecord draft;
  draft.kind = "tool";
  draft.agent = "ops";
  draft.title = "ops wants to call email.send";
  draft.rule = "outbound";
  draft.request = {{"tool", "email.send"}, {"args", kProposed}};
  CADRE_ASSIGN_OR_RETURN(Json answer, ctx.await_approval(draft));
  Json args = answer.is_object() && answer.contains("args") && !answer["args"].is_null() ? answer["args"] : kProposed;
  CADRE_RETURN_IF_ERROR(ctx.run_step(step("email.send", "tool"), args, [](StepCall&) -> Result<Json> {
                              return Json{{"sent", true}};
                            }).status());
  CADRE_RETURN_IF_ERROR(ctx.record("policy.payments.refund", "policy", [] {
                             return Json{{"decision", "deny"}, {"rule", "no-refunds"}, {"reason", "Refunds are manual"}};
                           }).status());
  return Json("done");
}

class TraceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.path = (dir_.path() / "cadre.db").string();
    auto opened = open_sqlite_store(options);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
    NewObjective n;
    n.objective.id = new_id("obj", clock_.now_ms());
    n.objective.title = "invoice Ann";
    n.objective.owner = "ops";
    n.objective.source = "manual";
    n.tasks.push_back({new_id("tsk", clock_.now_ms()), "turn", "agent_task", "ops", Json::object(), {}});
    objective_id_ = n.objective.id;
    task_id_ = n.tasks[0].id;
    ASSERT_TRUE(store_->create_objective(n, clock_.now_ms()).ok());
  }

  // Claims the task and runs the turn once, as a worker would.
  Status run_once() {
    auto claimed = store_->claim_tasks("w", 1, clock_.now_ms(), 10000);
    if (!claimed.ok()) return claimed.status();
    if (claimed->empty()) return Status::NotFound("nothing to claim");
    auto journal = store_->get_steps(task_id_);
    if (!journal.ok()) return journal.status();
    TaskEnvironment env{store_.get(), &clock_, &limits_, &limiter_, &stopping_, [] { return 1.0; }};
    TaskContext ctx(env, (*claimed)[0], *journal);
    Result<Json> out = agent_turn(ctx);
    if (!out.ok() && out.status().is(StatusCode::kSuspended)) return out.status();
    return ctx.finish(out);
  }

  std::string pending_approval() {
    ApprovalFilter filter;
    filter.objective_id = objective_id_;
    auto approvals = store_->list_approvals(filter);
    return approvals.ok() && approvals->size() == 1 ? (*approvals)[0].id : "";
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  ManualClock clock_{1'800'000'000'000};
  KernelConfig limits_;
  RateLimiter limiter_;
  std::atomic<bool> stopping_{false};
  std::string objective_id_, task_id_;
};

TEST_F(TraceTest, LinksPromptAnswerRuleApprovalAndToolCall) {
  Status first = run_once();
  ASSERT_TRUE(first.is(StatusCode::kSuspended)) << "parks for the approval: " << first.to_string();
  std::string approval_id = pending_approval();
  ASSERT_FALSE(approval_id.empty());
  clock_.advance(1000);
  AuditEntry answered{0, clock_.now_ms(), "operator:alice", "approval.answered", approval_id, objective_id_, task_id_,
                      Json{{"decision", "approve"}}, "", ""};
  ASSERT_TRUE(store_->answer_approval(approval_id, {"approve", kEdited, "", "operator:alice"}, clock_.now_ms(),
                                      &answered)
                  .ok());
  ASSERT_TRUE(run_once().ok());

  auto trace = build_objective_trace(*store_, objective_id_);
  ASSERT_TRUE(trace.ok()) << trace.status().to_string();
  const Json& t = *trace;
  EXPECT_EQ(t["objective"]["id"], objective_id_);
  ASSERT_EQ(t["tasks"].size(), 1u);
  const Json& task = t["tasks"][0];
  EXPECT_EQ(task["actor"], "agent:ops");
  EXPECT_FALSE(task.contains("steps")) << "the raw journal is replaced by its events";
  const Json& events = task["events"];
  ASSERT_EQ(events.size(), 6u) << events.dump(2);
  std::vector<std::string> kinds;
  for (const auto& e : events) kinds.push_back(e["kind"]);
  EXPECT_EQ(kinds, (std::vector<std::string>{"context", "model", "policy", "approval", "tool", "policy"}));

  const Json& context = events[0];
  EXPECT_EQ(context["prompt"]["sha256"], sha256_hex("You are ops.\nSend Ann her invoice."));
  EXPECT_EQ(context["prompt"]["user"], "Send Ann her invoice.");

  const Json& model = events[1];
  EXPECT_EQ(model["actor"], "agent:ops");
  EXPECT_EQ(model["tier"], "small");
  EXPECT_EQ(model["prompt"]["sha256"], sha256_hex(dump_json(the_request()))) << "the request key";
  EXPECT_EQ(model["prompt"]["chars"], 12 + 21);
  EXPECT_EQ(model["prompt"]["request"], the_request()) << "the whole prompt, for --json";
  EXPECT_EQ(model["answer"]["content"], "I will email Ann the invoice now.");
  EXPECT_EQ(model["answer"]["tool_calls"][0]["name"], "email.send");
  EXPECT_DOUBLE_EQ(model["call"]["cost_usd"].get<double>(), 0.0012);
  EXPECT_EQ(model["call"]["input_tokens"], 40);
  EXPECT_FALSE(model.contains("policy")) << "the email decision is not about the model call";

  const Json& rule = events[2];
  EXPECT_EQ(rule["subject"], "email.send");
  EXPECT_EQ(rule["decision"], "require_approval");
  EXPECT_EQ(rule["rule"], "outbound");

  const Json& approval = events[3];
  EXPECT_EQ(approval["approval_id"], approval_id);
  EXPECT_EQ(approval["decision"], "approve");
  EXPECT_EQ(approval["by"], "operator:alice");
  EXPECT_TRUE(approval["edited"].get<bool>());
  EXPECT_EQ(approval["record"]["state"], "approved");

  const Json& tool = events[4];
  EXPECT_EQ(tool["tool"], "email.send");
  EXPECT_EQ(tool["actor"], "agent:ops");
  EXPECT_EQ(tool["args"], kEdited) << "it ran with the arguments the operator edited";
  EXPECT_EQ(tool["policy"]["rule"], "outbound");
  EXPECT_EQ(tool["policy"]["from"], "step #3");
  EXPECT_EQ(tool["approval"]["approval_id"], approval_id);
  EXPECT_EQ(tool["approval"]["by"], "operator:alice");

  EXPECT_EQ(events[5]["decision"], "deny");
  EXPECT_EQ(events[5]["reason"], "Refunds are manual");

  ASSERT_EQ(t["approvals"].size(), 1u);
  EXPECT_EQ(t["approvals"][0]["answered_by"], "operator:alice");
  std::vector<std::string> actions;
  for (const auto& e : t["audit"]) actions.push_back(e["action"]);
  EXPECT_NE(std::find(actions.begin(), actions.end(), "approval.requested"), actions.end());
  EXPECT_NE(std::find(actions.begin(), actions.end(), "approval.answered"), actions.end());
  auto chain = verify_audit_chain(store_->audit());
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(chain->ok) << chain->problem;
}

TEST_F(TraceTest, ATaskIdLeadsToItsObjectiveAndAnUnknownIdIsNotFound) {
  auto by_task = build_objective_trace(*store_, task_id_);
  ASSERT_TRUE(by_task.ok()) << by_task.status().to_string();
  EXPECT_EQ((*by_task)["objective"]["id"], objective_id_);
  auto missing = build_objective_trace(*store_, "obj_00000000000000000000000000");
  EXPECT_TRUE(missing.status().is(StatusCode::kNotFound)) << missing.status().to_string();
}

TEST(TraceEvents, AuditedDecisionsFillInWhereTheJournalHasNone) {
  Json steps = Json::array({
      {{"seq", 1}, {"name", "file.write"}, {"kind", "tool"}, {"state", "done"}, {"input", {{"path", "a.txt"}}}},
      {{"seq", 2}, {"name", "email.send"}, {"kind", "tool"}, {"state", "done"}, {"input", kProposed}},
      {{"seq", 3}, {"name", "wait"}, {"kind", "wait"}, {"state", "done"}, {"input", {{"until", 5}}}},
      {{"seq", 4}, {"name", "lock:ledger"}, {"kind", "lock"}, {"state", "done"}, {"input", {{"resource", "ledger"}}}},
  });
  auto decision = [](int seq, const std::string& subject, const std::string& verdict, const std::string& rule) {
    return Json{{"seq", seq}, {"action", "policy.decision"}, {"subject", subject},
                {"data", {{"decision", verdict}, {"rule", rule}}}};
  };
  Json audited = Json::array({decision(7, "email.send", "deny", "night"), decision(8, "email.send", "allow", "day")});
  Json events = trace_events(steps, "playbook:billing", Json::object(), audited);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_FALSE(events[0].contains("policy")) << "no decision about file.write was recorded";
  EXPECT_EQ(events[0]["actor"], "playbook:billing");
  EXPECT_EQ(events[1]["policy"]["rule"], "day") << "a denial is not what let a call run";
  EXPECT_EQ(events[1]["policy"]["from"], "audit #8");
  EXPECT_EQ(events[2]["input"]["until"], 5) << "other steps keep their input and output";
  EXPECT_EQ(events[3]["resource"], "ledger") << "which resource the playbook held";
  EXPECT_EQ(events[3]["actor"], "playbook:billing");
  EXPECT_TRUE(trace_events(Json("not steps"), "x", Json(), Json()).empty()) << "odd input yields nothing, no throw";
}

TEST(TraceEvents, AnApprovalBelongsToTheCallItApproved) {
  Json steps = Json::array({
      {{"seq", 1}, {"name", "approval.tool"}, {"kind", "approval"}, {"state", "done"},
       {"input", {{"id", "apr_1"}, {"request", {{"tool", "email.send"}, {"args", kProposed}}}}},
       {"output", {{"decision", "approve"}, {"by", "operator:bob"}, {"approval_id", "apr_1"}, {"state", "approved"}}}},
      {{"seq", 2}, {"name", "model.small"}, {"kind", "model"}, {"state", "done"}, {"input", {{"tier", "small"}}}},
      {{"seq", 3}, {"name", "file.write"}, {"kind", "tool"}, {"state", "done"}, {"input", Json::object()}},
      {{"seq", 4}, {"name", "email.send"}, {"kind", "tool"}, {"state", "done"}, {"input", kProposed}},
  });
  Json events = trace_events(steps, "agent:ops", Json::object(), Json::array());
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0]["by"], "operator:bob");
  EXPECT_FALSE(events[0]["edited"].get<bool>());
  EXPECT_FALSE(events[1].contains("approval")) << "not the model call in between";
  EXPECT_EQ(events[1]["answer"], nullptr) << "a model step without output has no answer";
  EXPECT_FALSE(events[2].contains("approval")) << "not another tool";
  EXPECT_EQ(events[3]["approval"]["approval_id"], "apr_1");
  EXPECT_EQ(events[3]["approval"]["by"], "operator:bob");
}

}  // namespace
}  // namespace cadre
