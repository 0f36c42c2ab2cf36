// The metrics that compound, through the real `cadre` binary on a real
// workspace: playbooks run, one waits for approvals (approved as proposed,
// then with an edit), one fails and is retried, an agent answers through the
// scripted model server (priced), the operator logs work done by hand, and
// `cadre metrics --json` moves exactly as those events say. The agent's
// success criterion declares a re-validation with short horizons (2s and
// 6s): the outcome holds at the first and no longer at the second, and both
// results are recorded and counted as durability. Mistakes in `cadre
// log-manual` are refused naming the field.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
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
using testing::kExitBadUsage;
using testing::kExitNotFound;
using testing::kExitOk;
using testing::kExitRunFailed;
using testing::run_cadre;
using testing::ScriptedModelServer;
using testing::ScriptedReply;
using testing::TempDir;
using testing::write_file;

constexpr char kTidy[] =
    "description: Tidy up\n"
    "steps:\n"
    "  - id: note\n"
    "    uses: log\n"
    "    with: {message: tidied}\n";

constexpr char kLedger[] =
    "description: Append to the ledger (a human approves)\n"
    "steps:\n"
    "  - id: record\n"
    "    uses: file.append\n"
    "    with: {path: out/ledger.log, content: paid}\n";

constexpr char kBroken[] =
    "description: \"Always fails: the path leaves the workspace\"\n"
    "steps:\n"
    "  - id: escape\n"
    "    uses: file.write\n"
    "    with: {path: ../escape.txt, content: x}\n";

// Marks invoices paid; 2 and 6 seconds later, the invoice must still say so.
constexpr char kBilling[] =
    "role: Billing clerk\n"
    "instructions: Say which invoice file records the payment, as JSON {file}.\n"
    "success:\n"
    "  schema: {type: object, required: [file], properties: {file: {type: string}}}\n"
    "  revalidate:\n"
    "    uses: books.read\n"
    "    with: {path: \"{{ answer.file }}\"}\n"
    "    expect: \"{{ result.content == 'paid' }}\"\n"
    "    after: [2s, 6s]\n";

class Metrics : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("CADRE_ACTOR", "tester", 1);
    ASSERT_EQ(run_cadre({"init", ws_.string()}).exit_code, kExitOk);
    write_file(
        ws_ / "cadre.yaml",
        "name: metrics\n"
        "kernel: {workers: 4, poll_interval: 50ms, heartbeat: 1s, lease: 5s, shutdown_grace: 2s}\n"
        "models:\n"
        "  tiers:\n"
        "    small: {provider: openai, model: m-small, base_url: \"" +
            model_.base_url() +
            "\"}\n"
            "  prices: {m-small: {input_per_mtok: 1000.0, output_per_mtok: 2000.0}}\n"
            "connectors:\n"
            "  books:\n"
            "    type: files\n"
            "    root: books\n");
    write_file(ws_ / "playbooks" / "tidy.yaml", kTidy);
    write_file(ws_ / "playbooks" / "ledger.yaml", kLedger);
    write_file(ws_ / "playbooks" / "broken.yaml", kBroken);
    write_file(ws_ / "agents" / "billing.yaml", kBilling);
    write_file(
        ws_ / "policies.yaml",
        "rules:\n"
        "  - {name: ledger-is-checked, match: {tool: file.append}, decision: require_approval}\n");
    write_file(ws_ / "books" / "invoice-1.txt", "paid");
  }
  void TearDown() override {
    if (server_ > 0) testing::stop_process(server_, SIGTERM);
  }

  CommandResult cadre(const std::vector<std::string>& args) { return run_cadre(args, ws_); }
  Json metrics() {
    CommandResult r = cadre({"metrics", "--json"});
    EXPECT_EQ(r.exit_code, kExitOk) << r.err;
    return json_of(r);
  }
  void serve() {
    server_ = testing::spawn_cadre({"serve", "--port", "0"}, ws_, dir_.path() / "serve.log");
    ASSERT_TRUE(eventually(
        [&] {
          return !json_of(cadre({"status", "--json"}))["workers"].empty();
        },
        15s, 100ms))
        << testing::read_file(dir_.path() / "serve.log");
  }
  std::string run(const std::string& playbook) {
    CommandResult r = cadre({"run", playbook, "--json"});
    EXPECT_EQ(r.exit_code, kExitOk) << r.err;
    return json_of(r).value("objective", std::string());
  }
  std::string state_of(const std::string& id) {
    Json t = json_of(cadre({"show", id, "--json"}));
    return t.is_object() ? t["objective"].value("state", "") : "";
  }
  void await_state(const std::string& id, const std::string& state) {
    ASSERT_TRUE(eventually([&] { return state_of(id) == state; }, 20s, 100ms))
        << id << " is " << state_of(id) << ", not " << state << "\n"
        << cadre({"show", id}).out;
  }
  Json await_item() {
    Json items;
    EXPECT_TRUE(eventually(
        [&] {
          return (items = json_of(cadre({"approvals", "--json"}))).size() > 0;
        },
        20s, 100ms))
        << "no approval item came";
    return items.empty() ? Json() : items[0];
  }
  int64_t durability(const Json& m, const std::string& horizon, const std::string& result) {
    const Json& d = m["agents"]["billing"]["durability"];
    return d.contains(horizon) ? d[horizon][result].get<int64_t>() : -1;
  }

  TempDir dir_;
  fs::path ws_ = dir_.path() / "ws";
  ScriptedModelServer model_;
  int server_ = -1;
};

TEST_F(Metrics, FiguresMoveWithRunsAnswersManualWorkAndRevalidations) {
  // Before anything ran: zeros, and ratios over nothing are null.
  Json before = metrics();
  EXPECT_EQ(before["overall"]["automation"]["runs"], 0);
  EXPECT_TRUE(before["overall"]["automation"]["coverage"].is_null());
  EXPECT_TRUE(before["overall"]["outcomes"]["success_rate"].is_null());
  EXPECT_EQ(before["agents"]["billing"]["durability"]["2s"]["pending"], 0);
  EXPECT_EQ(before["window"]["days"], 28);

  serve();
  for (int i = 0; i < 2; ++i) await_state(run("tidy"), "succeeded");
  // The ledger waits for a human: approved as proposed, then with an edit.
  const std::string first = run("ledger");
  ASSERT_EQ(cadre({"approve", await_item()["id"]}).exit_code, kExitOk);
  await_state(first, "succeeded");
  const std::string second = run("ledger");
  ASSERT_EQ(cadre({"approve", await_item()["id"], "--edit",
                   R"({"path": "out/ledger.log", "content": "edited"})"})
                .exit_code,
            kExitOk);
  await_state(second, "succeeded");
  // A broken run, retried by the operator (and failing again).
  const std::string broken = run("broken");
  await_state(broken, "failed");
  ASSERT_EQ(cadre({"retry", broken}).exit_code, kExitOk);
  ASSERT_TRUE(eventually([&] { return state_of(broken) == "failed"; }, 20s, 100ms));

  // The agent's outcome: invoice-1.txt says paid.
  model_.push(ScriptedReply::Text(R"({"file": "invoice-1.txt"})"));
  CommandResult ask =
      cadre({"ask", "billing", "Record the payment of invoice 1", "--timeout", "20"});
  ASSERT_EQ(ask.exit_code, kExitOk) << ask.out << ask.err;

  // Work done by hand.
  CommandResult logged = cadre({"log-manual", "Sent the reminders by hand", "--agent", "billing",
                                "--minutes", "20", "--json"});
  ASSERT_EQ(logged.exit_code, kExitOk) << logged.err;
  EXPECT_EQ(json_of(logged)["agent"], "billing");
  EXPECT_EQ(json_of(logged)["logged_by"], "operator:tester");
  ASSERT_EQ(cadre({"log-manual", "Called a customer", "--minutes", "5", "--at", "1h"}).exit_code,
            kExitOk);

  // The first re-validation passes; then the outcome is undone and the second fails.
  Json m;
  ASSERT_TRUE(
      eventually([&] { return durability(m = metrics(), "2s", "passed") == 1; }, 20s, 200ms))
      << m.dump(2);
  EXPECT_EQ(durability(m, "6s", "pending"), 1);
  write_file(ws_ / "books" / "invoice-1.txt", "refunded");
  ASSERT_TRUE(
      eventually([&] { return durability(m = metrics(), "6s", "failed") == 1; }, 20s, 200ms))
      << m.dump(2);

  const Json& overall = m["overall"];
  EXPECT_EQ(overall["automation"]["runs"],
            6);  // tidy x2, ledger x2, broken, billing; never the checks
  EXPECT_EQ(overall["automation"]["manual"], 2);
  EXPECT_EQ(overall["automation"]["manual_minutes"], 25);
  EXPECT_DOUBLE_EQ(overall["automation"]["coverage"].get<double>(), 6.0 / 8.0);
  EXPECT_EQ(overall["interventions"]["approvals"], 1);
  EXPECT_EQ(overall["interventions"]["edits"], 1);
  EXPECT_EQ(overall["interventions"]["retries"], 1);
  EXPECT_EQ(overall["interventions"]["resolutions"], 0);
  EXPECT_EQ(overall["outcomes"]["succeeded"], 5);
  EXPECT_EQ(overall["outcomes"]["failed"], 1);
  EXPECT_DOUBLE_EQ(overall["outcomes"]["success_rate"].get<double>(), 5.0 / 6.0);
  EXPECT_EQ(m["agents"]["playbook:ledger"]["interventions"]["edits"], 1);
  EXPECT_EQ(m["agents"]["playbook:broken"]["interventions"]["retries"], 1);
  EXPECT_DOUBLE_EQ(m["agents"]["playbook:broken"]["outcomes"]["success_rate"].get<double>(), 0.0);

  const Json& billing = m["agents"]["billing"];
  EXPECT_EQ(billing["automation"]["runs"], 1);
  EXPECT_EQ(billing["automation"]["manual"], 1);
  EXPECT_DOUBLE_EQ(billing["automation"]["coverage"].get<double>(), 0.5);
  EXPECT_EQ(billing["outcomes"]["succeeded"], 1);
  EXPECT_EQ(billing["cost"]["model_calls"], 1);
  // 12 tokens in at $1000/M and 7 out at $2000/M: the scripted server's usage.
  EXPECT_NEAR(billing["cost"]["model_usd"].get<double>(), 0.012 + 0.014, 1e-9);
  EXPECT_NEAR(billing["cost"]["per_success_usd"].get<double>(),
              billing["cost"]["total_usd"].get<double>(), 1e-12);
  EXPECT_DOUBLE_EQ(billing["durability"]["2s"]["rate"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(billing["durability"]["6s"]["rate"].get<double>(), 0.0);
  EXPECT_TRUE(billing["outcomes"]["time_to_complete"]["mean_ms"].is_number());
  EXPECT_FALSE(m["agents"].contains("revalidate:billing"));

  // The checks ran as durable tasks of their own objective, after the agent's
  // task scheduled them.
  Json objectives = json_of(cadre({"ls", "objectives", "--json"}));
  std::string check_objective, outcome;
  for (const auto& o : objectives) {
    if (o["owner"] == "revalidate:billing") check_objective = o["id"];
    if (o["owner"] == "billing") outcome = o["id"];
  }
  ASSERT_FALSE(check_objective.empty()) << objectives.dump(2);
  EXPECT_TRUE(contains(cadre({"show", outcome}).out, "outcome.schedule"));
  Json check = json_of(cadre({"show", check_objective, "--json"}));
  EXPECT_TRUE(contains(check.dump(), "books.read")) << check.dump(2);
  EXPECT_TRUE(contains(check.dump(), "expect was false")) << check.dump(2);

  // The same figures for people and for Prometheus.
  CommandResult text = cadre({"metrics"});
  EXPECT_EQ(text.exit_code, kExitOk) << text.err;
  EXPECT_TRUE(contains(text.out, "durability     2s: 1 of 1 held (100%); 6s: 0 of 1 held (0%)"))
      << text.out;
  EXPECT_TRUE(contains(text.out, "playbook:broken (playbook)")) << text.out;
  CommandResult prometheus = cadre({"metrics", "--prometheus"});
  EXPECT_EQ(prometheus.exit_code, kExitOk);
  EXPECT_TRUE(contains(prometheus.out, "cadre_automation_coverage_ratio 0.75\n")) << prometheus.out;
  EXPECT_TRUE(contains(
      prometheus.out, "cadre_agent_outcome_durability_ratio{agent=\"billing\",horizon=\"6s\"} 0\n"))
      << prometheus.out;
}

TEST_F(Metrics, MistakesInLoggedWorkAreRefusedNamingTheField) {
  CommandResult unknown = cadre({"log-manual", "did it", "--agent", "biling"});
  EXPECT_EQ(unknown.exit_code, kExitNotFound);
  EXPECT_TRUE(contains(unknown.err, "agent: there is no agent 'biling'")) << unknown.err;
  EXPECT_TRUE(contains(unknown.err, "billing")) << "did you mean: " << unknown.err;
  CommandResult empty = cadre({"log-manual", "  "});
  EXPECT_NE(empty.exit_code, kExitOk);
  EXPECT_TRUE(contains(empty.err, "description: must say what was done")) << empty.err;
  CommandResult when = cadre({"log-manual", "did it", "--at", "yesterday"});
  EXPECT_NE(when.exit_code, kExitOk);
  EXPECT_TRUE(contains(when.err, "--at 'yesterday'")) << when.err;
  CommandResult future = cadre({"log-manual", "did it", "--at", "2999-01-01T00:00:00Z"});
  EXPECT_TRUE(contains(future.err, "at: 2999-01-01T00:00:00.000Z is in the future")) << future.err;
  EXPECT_EQ(cadre({"log-manual", "did it", "--minutes", "-3"}).exit_code, kExitBadUsage);
  EXPECT_EQ(cadre({"metrics", "--days", "0"}).exit_code, kExitBadUsage);
  // Nothing was logged by the refused commands; the audit log has the one that was.
  ASSERT_EQ(cadre({"log-manual", "did it"}).exit_code, kExitOk);
  EXPECT_EQ(json_of(cadre({"metrics", "--json"}))["overall"]["automation"]["manual"], 1);
  EXPECT_TRUE(contains(cadre({"audit", "log"}).out, "manual_work.logged"));
}

}  // namespace
}  // namespace cadre
