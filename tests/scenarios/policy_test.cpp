// Policy, approvals, budgets and the kill switch, through the real `cadre`
// binary on real workspaces. Each test reads as a specification:
//   - a rule allows, denies (the reason reaches the run's error) or asks a
//     human; the most restrictive matching rule wins, and every decision is
//     journaled with its rule and audited;
//   - an approval item is approved, rejected (the reason reaches the agent),
//     approved with edited arguments (checked against the tool's schema), or
//     answered by its timeout's default; it is answered exactly once;
//   - an item answered while `cadre serve` is down (after a kill -9) resumes
//     its task once;
//   - an agent at its budget waits for a raise, and a declined raise fails it;
//   - `cadre pause` stops work where it is and `cadre resume` carries it on;
//   - the planner's plan can be required to wait for approval, and an edited
//     plan is what runs;
//   - a rule on a model tier stops the model call.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/json.h"
#include "model_server.h"
#include "test_support.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::CommandResult;
using testing::contains;
using testing::eventually;
using testing::json_of;
using testing::kExitConflict;
using testing::kExitNotFound;
using testing::kExitOk;
using testing::read_file;
using testing::run_cadre;
using testing::ScriptedModelServer;
using testing::ScriptedReply;
using testing::TempDir;
using testing::write_file;


constexpr char kConfig[] =
    "name: policy\n"
    "kernel: {workers: 4, poll_interval: 50ms, heartbeat: 1s, lease: 5s, shutdown_grace: 2s}\n";

// Appends one line per run (not idempotent), after a log line.
constexpr char kLedger[] =
    "description: Append to the ledger\n"
    "inputs:\n"
    "  entry: {type: string, default: paid}\n"
    "steps:\n"
    "  - id: note\n"
    "    uses: log\n"
    "    with: {message: \"recording {{ input.entry }}\"}\n"
    "  - id: record\n"
    "    uses: file.append\n"
    "    with: {path: out/ledger.log, content: \"{{ input.entry }}\"}\n";

constexpr char kWrite[] =
    "description: Write a note\n"
    "inputs:\n"
    "  text: {type: string, default: hello}\n"
    "steps:\n"
    "  - id: save\n"
    "    uses: file.write\n"
    "    with: {path: out/note.txt, content: \"{{ input.text }}\"}\n";

class Policies : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("CADRE_ACTOR", "tester", 1);
    ASSERT_EQ(run_cadre({"init", ws_.string()}).exit_code, kExitOk);
    write_file(ws_ / "cadre.yaml", kConfig);
    write_file(ws_ / "playbooks" / "ledger.yaml", kLedger);
    write_file(ws_ / "playbooks" / "write.yaml", kWrite);
  }
  void TearDown() override { stop_serving(); }

  CommandResult cadre(const std::vector<std::string>& args) { return run_cadre(args, ws_); }
  void policies(const std::string& yaml) { write_file(ws_ / "policies.yaml", yaml); }

  void serve() {
    ASSERT_LT(server_, 0);
    server_ = testing::spawn_cadre({"serve"}, ws_,
                                   dir_.path() / ("serve-" + std::to_string(++logs_) + ".log"));
  }
  void stop_serving(int signal = SIGTERM) {
    if (server_ > 0) testing::stop_process(server_, signal);
    server_ = -1;
  }

  std::string start(const std::string& playbook, const std::string& input = "") {
    std::vector<std::string> args = {"run", playbook, "--json"};
    if (!input.empty()) args.insert(args.end(), {"--input", input});
    CommandResult r = cadre(args);
    EXPECT_EQ(r.exit_code, kExitOk) << r.err;
    return json_of(r).value("objective", std::string());
  }
  Json show(const std::string& id) { return json_of(cadre({"show", id, "--json"})); }
  std::string state_of(const std::string& id) {
    Json t = show(id);
    return t.is_object() ? t["objective"].value("state", "") : "";
  }
  void await_state(const std::string& id, const std::string& state) {
    ASSERT_TRUE(eventually([&] { return state_of(id) == state; }, 15s, 100ms))
        << id << " is " << state_of(id) << ", not " << state << "\n"
        << cadre({"show", id}).out;
  }
  Json pending() { return json_of(cadre({"approvals", "--json"})); }
  // The first pending item, waiting (bounded) for one to appear.
  Json await_item() {
    Json items;
    EXPECT_TRUE(eventually([&] { return (items = pending()).size() > 0; }, 15s, 100ms))
        << "no approval item came";
    return items.empty() ? Json() : items[0];
  }
  std::vector<std::string> step_names(const std::string& id) {
    std::vector<std::string> names;
    const Json trace = show(id);
    for (const auto& task : trace["tasks"])
      for (const auto& s : task["steps"]) names.push_back(s["name"].get<std::string>());
    return names;
  }
  Json audit() { return json_of(cadre({"audit", "log", "--json", "--limit", "1000"})); }
  int audited(const std::string& action, const std::string& subject = "") {
    int n = 0;
    const Json entries = audit();
    for (const auto& e : entries)
      if (e["action"] == action && (subject.empty() || e["subject"] == subject)) ++n;
    return n;
  }

  TempDir dir_;
  fs::path ws_ = dir_.path() / "ws";
  int server_ = -1;
  int logs_ = 0;
};

TEST_F(Policies, TheMostRestrictiveMatchingRuleDecidesAndEveryDecisionIsJournaled) {
  policies(
      "rules:\n"
      "  - name: logs-are-fine\n"
      "    match: {tool: log}\n"
      "    decision: allow\n"
      "  - name: ledger-is-closed\n"
      "    match: {tool: file.append, args: {content: {in: [refund, chargeback]}}}\n"
      "    decision: deny\n"
      "    reason: the ledger is closed for refunds\n"
      "  - name: appends-are-checked\n"
      "    match: {tool: file.*, risk: write}\n"
      "    decision: require_approval\n"
      "    reason: writes are checked\n");
  ASSERT_EQ(cadre({"check"}).exit_code, kExitOk) << cadre({"check"}).out;
  serve();
  // Both the deny and the approval rule match: deny wins.
  const std::string refund = start("ledger", "entry=refund");
  await_state(refund, "failed");
  Json trace = show(refund);
  EXPECT_TRUE(contains(
      trace.dump(), "denied by policy rule 'ledger-is-closed': the ledger is closed for refunds"))
      << trace.dump(2);
  EXPECT_FALSE(fs::exists(ws_ / "out" / "ledger.log"));
  auto names = step_names(refund);
  EXPECT_EQ(names, (std::vector<std::string>{"policy.log", "log", "policy.file.append"}))
      << "an explicit allow and the deny are journaled; the tool never ran";

  // Only the approval rule matches: the run waits for a human.
  const std::string paid = start("ledger", "entry=paid");
  Json item = await_item();
  EXPECT_EQ(item["kind"], "tool");
  EXPECT_EQ(item["rule"], "appends-are-checked");
  EXPECT_EQ(item["request"]["args"]["content"], "paid");
  EXPECT_EQ(state_of(paid), "running");
  EXPECT_GE(audited("policy.decision", "file.append"), 2);
  EXPECT_EQ(audited("approval.requested"), 1);

  // Without rules for it, a read-only playbook step needs no decision step.
  write_file(ws_ / "playbooks" / "hello.yaml",
             "steps:\n  - id: hi\n    uses: memory.search\n    with: {query: hello}\n");
  const std::string hello = start("hello");
  await_state(hello, "succeeded");
  EXPECT_EQ(step_names(hello), std::vector<std::string>{"memory.search"});
}

TEST_F(Policies, AnItemIsApprovedRejectedOrEditedOnceAndTheRunFollowsTheAnswer) {
  policies(
      "rules:\n"
      "  - name: writes-need-a-human\n"
      "    match: {tool: [file.write, file.append]}\n"
      "    decision: require_approval\n"
      "    reason: files are checked\n");
  serve();
  // Approve as proposed; a second answer is a conflict naming the first.
  const std::string first = start("ledger", "entry=first");
  Json item = await_item();
  CommandResult approve = cadre({"approve", item["id"]});
  EXPECT_EQ(approve.exit_code, kExitOk) << approve.err;
  await_state(first, "succeeded");
  EXPECT_EQ(read_file(ws_ / "out" / "ledger.log"), "first\n");
  CommandResult twice = cadre({"reject", item["id"], "--reason", "too late"});
  EXPECT_EQ(twice.exit_code, kExitConflict);
  EXPECT_TRUE(contains(twice.err, "already answered: approved by operator:tester")) << twice.err;

  // Reject: the run fails with the human's reason.
  const std::string second = start("ledger", "entry=second");
  item = await_item();
  EXPECT_EQ(cadre({"reject", item["id"]}).exit_code, 2) << "a rejection needs --reason";
  EXPECT_EQ(cadre({"reject", item["id"], "--reason", "we never record seconds"}).exit_code,
            kExitOk);
  await_state(second, "failed");
  EXPECT_TRUE(
      contains(show(second).dump(), "rejected by operator:tester: we never record seconds"));
  EXPECT_EQ(read_file(ws_ / "out" / "ledger.log"), "first\n");

  // Edit then approve: arguments that do not fit the schema are refused and
  // the item stays pending; fitting ones are what the tool gets.
  const std::string third = start("write", "text=draft");
  item = await_item();
  write_file(dir_.path() / "bad.json", R"({"path": "out/note.txt"})");
  CommandResult bad = cadre({"approve", item["id"], "--edit", (dir_.path() / "bad.json").string()});
  EXPECT_NE(bad.exit_code, kExitOk);
  EXPECT_TRUE(contains(bad.err, "/content")) << bad.err;
  EXPECT_EQ(pending().size(), 1u);
  write_file(dir_.path() / "good.json", R"({"path": "out/note.txt", "content": "final words"})");
  EXPECT_EQ(
      cadre({"approve", item["id"], "--edit", (dir_.path() / "good.json").string()}).exit_code,
      kExitOk);
  await_state(third, "succeeded");
  EXPECT_EQ(read_file(ws_ / "out" / "note.txt"), "final words");

  // Every answer is audited with who gave it.
  int answered = 0;
  const Json entries = audit();
  for (const auto& e : entries) {
    if (e["action"] != "approval.answered") continue;
    ++answered;
    EXPECT_EQ(e["actor"], "operator:tester");
  }
  EXPECT_EQ(answered, 3);
  EXPECT_EQ(cadre({"approve", "apr_nosuchitem"}).exit_code, kExitNotFound);
}

TEST_F(Policies, AnUnansweredItemTakesItsTimeoutDefault) {
  policies(
      "rules:\n"
      "  - name: appends-time-out\n"
      "    match: {tool: file.append}\n"
      "    decision: require_approval\n"
      "    timeout: 1s\n"
      "    on_timeout: reject\n"
      "  - name: writes-time-out-approved\n"
      "    match: {tool: file.write}\n"
      "    decision: require_approval\n"
      "    timeout: 1s\n"
      "    on_timeout: approve\n");
  serve();
  const std::string rejected = start("ledger");
  const std::string approved = start("write");
  await_state(rejected, "failed");
  await_state(approved, "succeeded");
  EXPECT_TRUE(contains(show(rejected).dump(), "no one answered in time"));
  EXPECT_FALSE(fs::exists(ws_ / "out" / "ledger.log"));
  EXPECT_EQ(read_file(ws_ / "out" / "note.txt"), "hello");
  Json all = json_of(cadre({"approvals", "--all", "--json"}));
  ASSERT_EQ(all.size(), 2u);
  for (const auto& a : all) {
    EXPECT_EQ(a["state"], "expired");
    EXPECT_EQ(a["answered_by"], "timeout");
  }
  EXPECT_EQ(pending().size(), 0u);
}

TEST_F(Policies, AnItemAnsweredWhileTheServerIsDownResumesItsTaskOnce) {
  policies(
      "rules:\n"
      "  - {name: appends, match: {tool: file.append}, decision: require_approval}\n");
  serve();
  const std::string run = start("ledger", "entry=once");
  Json item = await_item();
  stop_serving(SIGKILL);
  EXPECT_EQ(cadre({"approve", item["id"]}).exit_code, kExitOk);
  serve();
  await_state(run, "succeeded");
  stop_serving(SIGKILL);
  serve();  // a second restart finds nothing left to do
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(read_file(ws_ / "out" / "ledger.log"), "once\n");
  EXPECT_EQ(audited("tool.effect", "file.append"), 1);
  EXPECT_EQ(state_of(run), "succeeded");
}

TEST_F(Policies, PauseStopsWorkWhereItIsAndResumeCarriesItOn) {
  write_file(ws_ / "playbooks" / "slow.yaml",
             "steps:\n"
             "  - {id: a, uses: file.append, with: {path: out/slow.log, content: a}}\n"
             "  - {id: w1, uses: wait, with: {duration: 400ms}}\n"
             "  - {id: b, uses: file.append, with: {path: out/slow.log, content: b}}\n"
             "  - {id: w2, uses: wait, with: {duration: 400ms}}\n"
             "  - {id: c, uses: file.append, with: {path: out/slow.log, content: c}}\n");
  serve();
  const std::string run = start("slow");
  ASSERT_TRUE(eventually([&] { return fs::exists(ws_ / "out" / "slow.log"); }, 10s));
  CommandResult pause = cadre({"pause", "--all", "--reason", "checking the books"});
  ASSERT_EQ(pause.exit_code, kExitOk) << pause.err;
  std::this_thread::sleep_for(2500ms);  // far longer than the rest of the run takes
  std::string during = read_file(ws_ / "out" / "slow.log");
  EXPECT_NE(during, "a\nb\nc\n") << "paused work did not go on";
  EXPECT_EQ(state_of(run), "running");
  EXPECT_EQ(cadre({"resume", "--all"}).exit_code, kExitOk);
  await_state(run, "succeeded");
  EXPECT_EQ(read_file(ws_ / "out" / "slow.log"), "a\nb\nc\n")
      << "resumed where it was, nothing twice";
  EXPECT_EQ(audited("pause", "*"), 1);
  EXPECT_EQ(audited("resume", "*"), 1);
  EXPECT_EQ(cadre({"pause", "--agent", "nobody"}).exit_code, kExitNotFound);
  EXPECT_EQ(cadre({"pause"}).exit_code, 2);
}

// --- agents --------------------------------------------------------------

std::string tier_yaml(const ScriptedModelServer& server, const std::string& name = "small") {
  return "    " + name + ": {provider: openai, model: m-" + name + ", base_url: \"" +
         server.base_url() + "\"}\n";
}

class AgentPolicies : public Policies {
 protected:
  void with_models(const std::string& tiers) {
    write_file(
        ws_ / "cadre.yaml",
        std::string(kConfig) + "memory: {context: {tokens: 0}}\nmodels:\n  tiers:\n" + tiers);
  }
  std::string objective(const std::string& owner, const std::string& text) {
    CommandResult r = cadre({"objective", "add", text, "--owner", owner, "--json"});
    EXPECT_EQ(r.exit_code, kExitOk) << r.err;
    return json_of(r).value("objective", json_of(r).value("id", std::string()));
  }
  ScriptedModelServer server_;
};

constexpr char kWriter[] =
    "role: Note writer\n"
    "instructions: Write the note with file.write, then say what you did.\n"
    "tools: [file.write]\n"
    "max_turns: 4\n";

TEST_F(AgentPolicies, TheAgentSeesARejectionWithItsReasonAndCarriesOn) {
  with_models(tier_yaml(server_));
  write_file(ws_ / "agents" / "writer.yaml", kWriter);
  policies(
      "rules:\n  - {name: notes, match: {agent: writer, tool: file.write}, decision: "
      "require_approval}\n");
  server_.push(
      ScriptedReply::Tool("file__write", Json{{"path", "notes/a.txt"}, {"content", "draft"}}));
  server_.push(ScriptedReply::Text("I could not write it."));
  serve();
  const std::string id = objective("writer", "Write a note");
  Json item = await_item();
  EXPECT_EQ(item["agent"], "writer");
  EXPECT_EQ(item["context"]["task"], "Write a note");
  EXPECT_EQ(cadre({"reject", item["id"], "--reason", "notes go to the shared folder"}).exit_code,
            kExitOk);
  await_state(id, "succeeded");
  auto requests = server_.received();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_TRUE(contains(requests[1].body.dump(), "notes go to the shared folder"))
      << requests[1].body.dump(2);
  EXPECT_FALSE(fs::exists(ws_ / "notes" / "a.txt"));
}

TEST_F(AgentPolicies, AnAgentAtItsBudgetWaitsForARaiseAndFailsWhenItIsDeclined) {
  with_models(tier_yaml(server_));
  write_file(ws_ / "agents" / "writer.yaml",
             std::string(kWriter) + "budget: {tokens_per_objective: 10}\n");
  // Each answer costs 19 tokens: after the first call the agent is over budget.
  server_.push(
      ScriptedReply::Tool("file__write", Json{{"path", "notes/a.txt"}, {"content", "one"}}));
  server_.push(ScriptedReply::Text("Done."));
  serve();
  const std::string raised = objective("writer", "Write note one");
  Json item = await_item();
  EXPECT_EQ(item["kind"], "budget");
  EXPECT_TRUE(contains(item["title"], "used 19 tokens on this objective; its budget is 10"))
      << item.dump(2);
  EXPECT_EQ(server_.received().size(), 1u) << "no model call past the budget";
  EXPECT_TRUE(contains(cadre({"agents"}).out, "over budget")) << cadre({"agents"}).out;
  EXPECT_EQ(cadre({"approve", item["id"], "--edit", R"({"tokens": 1000})"}).exit_code, kExitOk);
  await_state(raised, "succeeded");
  EXPECT_EQ(server_.received().size(), 2u);

  server_.push(
      ScriptedReply::Tool("file__write", Json{{"path", "notes/b.txt"}, {"content", "two"}}));
  const std::string declined = objective("writer", "Write note two");
  item = await_item();
  EXPECT_EQ(cadre({"reject", item["id"], "--reason", "enough for today"}).exit_code, kExitOk);
  await_state(declined, "failed");
  std::string trace = show(declined).dump();
  EXPECT_TRUE(
      contains(trace, "the budget was not raised: rejected by operator:tester: enough for today"))
      << trace;
}

TEST_F(AgentPolicies, APausedAgentIsNotStartedUntilResumed) {
  with_models(tier_yaml(server_));
  write_file(ws_ / "agents" / "writer.yaml", kWriter);
  server_.push(ScriptedReply::Text("Nothing to write."));
  ASSERT_EQ(cadre({"pause", "--agent", "writer"}).exit_code, kExitOk);
  serve();
  const std::string id = objective("writer", "Write nothing");
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(server_.received().size(), 0u) << "a paused agent takes no step";
  EXPECT_TRUE(contains(cadre({"agents"}).out, "paused")) << cadre({"agents"}).out;
  EXPECT_EQ(cadre({"resume", "--agent", "writer"}).exit_code, kExitOk);
  await_state(id, "succeeded");
}

TEST_F(AgentPolicies, APlanWaitsForApprovalAndTheEditedPlanIsWhatRuns) {
  with_models(tier_yaml(server_) + tier_yaml(server_, "large"));
  write_file(ws_ / "agents" / "writer.yaml", kWriter);
  policies("plans: {require_approval: true}\n");
  Json plan = {{"tasks", Json::array({{{"key", "one"},
                                       {"agent", "writer"},
                                       {"instructions", "Write the first note"}}})}};
  server_.push(ScriptedReply::Text(plan.dump()));
  server_.push(ScriptedReply::Text("Wrote nothing."));
  serve();
  CommandResult added = cadre({"objective", "add", "Write notes", "--json"});
  ASSERT_EQ(added.exit_code, kExitOk) << added.err;
  const std::string id = json_of(added).value("objective", std::string());
  Json item = await_item();
  EXPECT_EQ(item["kind"], "plan");
  EXPECT_EQ(item["request"]["plan"], plan);
  Json edited = plan;
  edited["tasks"][0]["instructions"] = "Write the edited note";
  write_file(dir_.path() / "plan.json", edited.dump());
  EXPECT_EQ(
      cadre({"approve", item["id"], "--edit", (dir_.path() / "plan.json").string()}).exit_code,
      kExitOk);
  await_state(id, "succeeded");
  auto requests = server_.received();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_TRUE(contains(requests[1].body.dump(), "Write the edited note"))
      << requests[1].body.dump(2);
}

TEST_F(AgentPolicies, ARuleOnATierStopsTheModelCall) {
  with_models(tier_yaml(server_));
  write_file(ws_ / "agents" / "writer.yaml", kWriter);
  policies(
      "rules:\n  - {name: no-models, match: {tier: small}, decision: deny, reason: models are off "
      "today}\n");
  serve();
  const std::string id = objective("writer", "Write a note");
  await_state(id, "failed");
  EXPECT_TRUE(contains(show(id).dump(), "denied by policy rule 'no-models': models are off today"));
  EXPECT_EQ(server_.received().size(), 0u);
}

}  // namespace
}  // namespace cadre
