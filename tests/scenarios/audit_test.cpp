// The tamper-evident audit log and the trace, through the real binary: a
// playbook run by `cadre serve` leaves audit entries; `cadre audit verify`
// says the log is intact, and after someone edits the database file (update,
// delete, insert, swap a row) it exits non-zero naming the first record
// touched; a cut tail is caught against a head exported earlier with
// `cadre audit head --json`. `cadre trace` shows who did what in the run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <regex>

#include "core/json.h"
#include "store/audit_chain.h"
#include "store/store.h"
#include "test_support.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::CommandResult;
using testing::contains;
using testing::json_of;
using testing::kExitBadUsage;
using testing::kExitNotFound;
using testing::kExitOk;
using testing::run_cadre;
using testing::TempDir;
using testing::write_file;

// `cadre audit verify` on a broken log: the "error" exit status.
constexpr int kExitAuditBroken = 1;

constexpr char kFastConfig[] =
    "name: audited\n"
    "kernel: {workers: 2, poll_interval: 50ms, heartbeat: 1s, lease: 5s, shutdown_grace: 2s}\n";

constexpr char kBillingPlaybook[] =
    "description: Bill a customer\n"
    "inputs:\n"
    "  customer: {type: string, required: true}\n"
    "steps:\n"
    "  - id: note\n"
    "    uses: log\n"
    "    with: {message: \"billing {{ input.customer }}\"}\n"
    "  - id: invoice\n"
    "    uses: file.write\n"
    "    with: {path: \"invoices/{{ input.customer }}.txt\", content: \"one invoice\"}\n"
    "    needs: [note]\n"
    "  - id: done\n"
    "    uses: log\n"
    "    with: {message: \"billed {{ input.customer }}\"}\n"
    "    needs: [invoice]\n";


// One workspace where `cadre serve` ran the billing playbook for two
// customers, made once; every test works on its own copy.
class AuditScenario : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    golden_ = new TempDir();
    fs::path ws = golden_->path() / "ws";
    CommandResult init = run_cadre({"init", ws.string()});
    ASSERT_EQ(init.exit_code, kExitOk) << init.err;
    write_file(ws / "cadre.yaml", kFastConfig);
    write_file(ws / "playbooks" / "billing.yaml", kBillingPlaybook);
    CommandResult status = run_cadre({"status"}, ws);  // creates the database before serve opens it
    ASSERT_EQ(status.exit_code, kExitOk) << status.err;
    int server = testing::spawn_cadre({"serve"}, ws, golden_->path() / "serve.log");
    ASSERT_GT(server, 0);
    for (const char* customer : {"acme", "globex"}) {
      CommandResult run = run_cadre({"run", "billing", "--input", std::string("customer=") + customer, "--wait",
                                     "--timeout", "30", "--json"},
                                    ws);
      EXPECT_EQ(run.exit_code, kExitOk) << run.out << run.err;
      Json objective = json_of(run);
      if (objective.is_object()) objectives_.push_back(objective.value("id", std::string()));
    }
    EXPECT_EQ(testing::stop_process(server, SIGTERM), kExitOk) << testing::read_file(golden_->path() / "serve.log.err");
  }

  static void TearDownTestSuite() {
    delete golden_;
    golden_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(objectives_.size(), 2u) << "the runs did not start";
    fs::copy(golden_->path() / "ws", ws_, fs::copy_options::recursive);
  }

  CommandResult cadre(const std::vector<std::string>& args) { return run_cadre(args, ws_); }

  fs::path db_path() const { return ws_ / ".cadre" / "cadre.db"; }

  // Raw SQL on the database file, as someone with the file (not cadre) would.
  void tamper(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message << "\n" << sql;
  }

  Json entries() {
    CommandResult r = cadre({"audit", "log", "--after", "0", "--limit", "1000", "--json"});
    EXPECT_EQ(r.exit_code, kExitOk) << r.err;
    return json_of(r);
  }

  static TempDir* golden_;
  static std::vector<std::string> objectives_;
  TempDir dir_;
  fs::path ws_ = dir_.path() / "ws";
};

TempDir* AuditScenario::golden_ = nullptr;
std::vector<std::string> AuditScenario::objectives_;

TEST_F(AuditScenario, RunningAPlaybookLeavesAnIntactAuditLog) {
  Json log = entries();
  ASSERT_TRUE(log.is_array());
  ASSERT_GE(log.size(), 6u) << "three tool effects for each of two runs:\n" << log.dump(2);
  int effects = 0;
  for (const auto& e : log) {
    if (e["action"] == "tool.effect" && e["objective_id"] == objectives_[0]) ++effects;
  }
  EXPECT_EQ(effects, 3) << "log, file.write, log of the first run";

  CommandResult r = cadre({"audit", "verify"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.out << r.err;
  const Json& last = log.back();
  EXPECT_TRUE(contains(r.out, "audit log intact: " + std::to_string(log.size()) + " entries, head #" +
                                  std::to_string(last["seq"].get<int64_t>()) + " " + last["hash"].get<std::string>()))
      << r.out;

  Json verdict = json_of(cadre({"audit", "verify", "--json"}));
  EXPECT_EQ(verdict["ok"], true);
  EXPECT_EQ(verdict["entries"], log.size());
  EXPECT_EQ(verdict["head"]["hash"], last["hash"]);
}

TEST_F(AuditScenario, LogShowsOneLinePerEntryAndFilters) {
  Json all = entries();
  ASSERT_GE(all.size(), 6u);
  CommandResult text = cadre({"audit", "log", "--after", "0", "--limit", "2"});
  ASSERT_EQ(text.exit_code, kExitOk) << text.err;
  std::regex line(R"(#1 \d{4}-\d\d-\d\dT[0-9:.]+Z \S+ \S+ \S+.*\n#2 .*\n)");
  EXPECT_TRUE(std::regex_match(text.out, line)) << text.out;

  Json newest = json_of(cadre({"audit", "log", "--limit", "2", "--json"}));
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[1]["seq"], all.back()["seq"]) << "without --after: the newest entries";

  Json page = json_of(cadre({"audit", "log", "--after", "2", "--limit", "2", "--json"}));
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0]["seq"], 3);
  EXPECT_EQ(page[1]["seq"], 4);

  Json second = json_of(cadre({"audit", "log", "--objective", objectives_[1], "--json"}));
  ASSERT_FALSE(second.empty());
  for (const auto& e : second) EXPECT_EQ(e["objective_id"], objectives_[1]);

  EXPECT_EQ(cadre({"audit", "log", "--limit", "0"}).exit_code, kExitBadUsage);
}

struct Tampering {
  const char* what;
  const char* sql;
  int first_bad_seq;
};

TEST_F(AuditScenario, EachKindOfTamperingIsCaughtAtTheFirstRecordTouched) {
  const Tampering cases[] = {
      {"an updated row", "UPDATE audit_log SET actor = 'operator:nobody' WHERE seq = 3", 3},
      {"a deleted row", "DELETE FROM audit_log WHERE seq = 4", 5},
      {"an inserted row (later ones renumbered)",
       "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 4;"
       "UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000;"
       "INSERT INTO audit_log (seq, at, actor, action, subject, data, prev_hash, hash) "
       "SELECT 4, at, 'operator:mallory', 'approval.answered', 'apr_forged', '{}', hash, hash "
       "FROM audit_log WHERE seq = 3",
       4},
      {"two rows swapped",
       "CREATE TEMP TABLE swap AS SELECT * FROM audit_log WHERE seq IN (2, 5);"
       "UPDATE audit_log SET (at, actor, action, subject, objective_id, task_id, data, prev_hash, hash) = "
       "(SELECT at, actor, action, subject, objective_id, task_id, data, prev_hash, hash FROM swap "
       " WHERE swap.seq = 7 - audit_log.seq) WHERE seq IN (2, 5)",
       2},
  };
  const fs::path pristine = dir_.path() / "pristine";
  fs::copy(ws_, pristine, fs::copy_options::recursive);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    fs::remove_all(ws_);
    fs::copy(pristine, ws_, fs::copy_options::recursive);
    ASSERT_EQ(cadre({"audit", "verify"}).exit_code, kExitOk) << "intact before";
    tamper(c.sql);
    CommandResult r = cadre({"audit", "verify"});
    EXPECT_EQ(r.exit_code, kExitAuditBroken) << r.out << r.err;
    EXPECT_TRUE(contains(r.out, "audit log broken at #" + std::to_string(c.first_bad_seq) + ": ")) << r.out;
    Json verdict = json_of(cadre({"audit", "verify", "--json"}));
    EXPECT_EQ(verdict["ok"], false);
    EXPECT_EQ(verdict["first_bad_seq"], c.first_bad_seq) << verdict.dump(2);
  }
}

TEST_F(AuditScenario, ACutTailIsCaughtAgainstAnExportedHead) {
  CommandResult head = cadre({"audit", "head", "--json"});
  ASSERT_EQ(head.exit_code, kExitOk) << head.err;
  Json exported = json_of(head);
  const int64_t last = exported["seq"].get<int64_t>();
  ASSERT_GE(last, 6);
  const fs::path head_file = dir_.path() / "head.json";
  write_file(head_file, head.out);

  EXPECT_EQ(cadre({"audit", "verify", "--head", head_file.string()}).exit_code, kExitOk) << "intact: it holds the head";
  tamper("DELETE FROM audit_log WHERE seq > " + std::to_string(last - 2));
  EXPECT_EQ(cadre({"audit", "verify"}).exit_code, kExitOk) << "alone, a shorter chain looks intact";

  CommandResult r = cadre({"audit", "verify", "--head", head_file.string()});
  EXPECT_EQ(r.exit_code, kExitAuditBroken) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "audit log broken at #" + std::to_string(last - 1) + ": the log ends at #" +
                                  std::to_string(last - 2) + " but the exported head is #" + std::to_string(last)))
      << r.out;

  CommandResult inline_head = cadre({"audit", "verify", "--head", dump_json(exported), "--json"});
  EXPECT_EQ(inline_head.exit_code, kExitAuditBroken);
  EXPECT_EQ(json_of(inline_head)["kind"], "truncated");
}

TEST_F(AuditScenario, ABadHeadIsABadInvocation) {
  CommandResult r = cadre({"audit", "verify", "--head", "{\"seq\": 3}"});
  EXPECT_EQ(r.exit_code, kExitBadUsage);
  EXPECT_TRUE(contains(r.err, "hash")) << r.err;
  EXPECT_EQ(cadre({"audit", "verify", "--head", (dir_.path() / "nowhere.json").string()}).exit_code, kExitBadUsage);
}

TEST_F(AuditScenario, TraceShowsWhoDidWhatInARun) {
  const std::string& id = objectives_[0];
  CommandResult text = cadre({"trace", id});
  ASSERT_EQ(text.exit_code, kExitOk) << text.err;
  EXPECT_TRUE(contains(text.out, "objective " + id + " [succeeded]")) << text.out;
  EXPECT_TRUE(contains(text.out, "tool file.write by playbook:billing args {\"content\":\"one invoice\"")) << text.out;
  EXPECT_TRUE(contains(text.out, "tool.effect file.write")) << "its audit entries:\n" << text.out;

  Json trace = json_of(cadre({"trace", id, "--json"}));
  ASSERT_TRUE(trace.is_object());
  ASSERT_EQ(trace["tasks"].size(), 3u);
  Json invoice;
  for (const auto& task : trace["tasks"]) {
    if (task["key"] == "invoice") invoice = task;
  }
  ASSERT_FALSE(invoice["events"].empty());
  EXPECT_EQ(invoice["events"][0]["tool"], "file.write");
  EXPECT_EQ(invoice["events"][0]["args"]["path"], "invoices/acme.txt");
  for (const auto& e : trace["audit"]) EXPECT_EQ(e["objective_id"], id) << "only this run's entries";

  EXPECT_EQ(cadre({"trace", "obj_00000000000000000000000000"}).exit_code, kExitNotFound);
}

}  // namespace
}  // namespace cadre
