// Compensation (saga-style undo), through the real `cadre` binary on real
// workspaces. Each test reads as a specification:
//   - a three-step run whose third step fails undoes the first two, newest
//     first, each exactly once; the run fails with its own error, which says
//     what was undone, and `cadre show` lists the compensation steps;
//   - a compensation that fails is reported and the others still run;
//   - a retried compensated run is not resumed (nothing runs again);
//   - across a `kill -9` of `cadre serve` mid-compensation (parked on an
//     approval, or between rate-limited calls), every compensation still
//     happens exactly once;
//   - a foreach step is undone item by item, in reverse order;
//   - a run that does not fail undoes nothing.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/json.h"
#include "test_support.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::CommandResult;
using testing::contains;
using testing::eventually;
using testing::json_of;
using testing::kExitOk;
using testing::read_file;
using testing::run_cadre;
using testing::TempDir;
using testing::write_file;


// One worker, so the order in which steps complete is the order they ran.
constexpr char kConfig[] =
    "name: sagas\n"
    "kernel: {workers: 1, poll_interval: 50ms, heartbeat: 1s, lease: 5s, shutdown_grace: 2s}\n";

// Reserve, charge, ship. `ship_to` outside the workspace makes the third
// step fail for good (file paths must stay inside the workspace); `books`
// outside it makes the charge's compensation fail too.
constexpr char kOrder[] =
    "description: Reserve, charge and ship an order\n"
    "inputs:\n"
    "  order: {type: string, required: true}\n"
    "  ship_to: {type: string, default: shipped}\n"
    "  books: {type: string, default: ledger.txt}\n"
    "steps:\n"
    "  - id: reserve\n"
    "    uses: file.append\n"
    "    with: {path: ledger.txt, content: \"reserve {{ input.order }}\"}\n"
    "    compensate:\n"
    "      uses: file.append\n"
    "      with: {path: ledger.txt, content: \"release {{ input.order }} ({{ output.bytes }} "
    "bytes)\"}\n"
    "  - id: charge\n"
    "    uses: file.append\n"
    "    with: {path: ledger.txt, content: \"charge {{ input.order }}\"}\n"
    "    compensate:\n"
    "      uses: file.append\n"
    "      with: {path: \"{{ input.books }}\", content: \"refund {{ input.order }} after {{ "
    "steps.reserve.output.path }}\"}\n"
    "  - id: ship\n"
    "    uses: file.write\n"
    "    with: {path: \"{{ input.ship_to }}/{{ input.order }}.txt\", content: shipped}\n";

// What the ledger holds once order `o` was reserved, charged, then undone.
std::string undone_ledger(const std::string& o) {
  return "reserve " + o + "\ncharge " + o + "\nrefund " + o + " after ledger.txt\nrelease " + o +
         " (" + std::to_string(("reserve " + o + "\n").size()) + " bytes)\n";
}

class Compensation : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("CADRE_ACTOR", "tester", 1);
    ASSERT_EQ(run_cadre({"init", ws_.string()}).exit_code, kExitOk);
    write_file(ws_ / "cadre.yaml", kConfig);
    write_file(ws_ / "playbooks" / "order.yaml", kOrder);
  }
  void TearDown() override { stop_serving(); }

  CommandResult cadre(const std::vector<std::string>& args) { return run_cadre(args, ws_); }

  void serve() {
    ASSERT_LT(server_, 0);
    server_ = testing::spawn_cadre({"serve"}, ws_,
                                   dir_.path() / ("serve-" + std::to_string(++logs_) + ".log"));
  }
  void stop_serving(int signal = SIGTERM) {
    if (server_ > 0) testing::stop_process(server_, signal);
    server_ = -1;
  }

  std::string start(const std::string& playbook, const std::vector<std::string>& inputs) {
    std::vector<std::string> args = {"run", playbook, "--json"};
    for (const auto& input : inputs) args.insert(args.end(), {"--input", input});
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
    ASSERT_TRUE(eventually([&] { return state_of(id) == state; }, 20s, 100ms))
        << id << " is " << state_of(id) << ", not " << state << "\n"
        << cadre({"show", id}).out;
  }
  // The task of `key` in the run's trace.
  Json task_of(const std::string& id, const std::string& key) {
    const Json trace = show(id);
    for (const auto& task : trace["tasks"])
      if (task["key"] == key) return task;
    return Json();
  }
  static std::vector<std::string> step_names(const Json& task) {
    std::vector<std::string> names;
    for (const auto& s : task["steps"]) names.push_back(s["name"].get<std::string>());
    return names;
  }
  std::string ledger() {
    return fs::exists(ws_ / "ledger.txt") ? read_file(ws_ / "ledger.txt") : "";
  }

  TempDir dir_;
  fs::path ws_ = dir_.path() / "ws";
  int server_ = -1;
  int logs_ = 0;
};

TEST_F(Compensation, AFailedThirdStepUndoesTheFirstTwoNewestFirstExactlyOnce) {
  ASSERT_EQ(cadre({"check"}).exit_code, kExitOk) << cadre({"check"}).out;
  serve();
  const std::string run = start("order", {"order=o1", "ship_to=../outside"});
  await_state(run, "failed");
  EXPECT_EQ(ledger(), undone_ledger("o1"));
  EXPECT_FALSE(fs::exists(dir_.path() / "outside"));

  // The run fails with the step's own error, told what was undone.
  const Json trace = show(run);
  const std::string error = trace["objective"]["error"];
  EXPECT_TRUE(contains(error, "task 'ship' failed")) << error;
  EXPECT_TRUE(contains(error, "ran 2 compensation(s), newest completion first: charge, reserve"))
      << error;

  // The compensations are steps of the failed task: the plan, the two tool
  // calls with their arguments, and the outcome.
  const Json ship = task_of(run, "ship");
  EXPECT_EQ(ship["state"], "failed");
  EXPECT_EQ(step_names(ship), (std::vector<std::string>{"file.write", "compensate", "file.append",
                                                        "file.append", "compensated"}));
  const Json& steps = ship["steps"];
  EXPECT_EQ(steps[1]["kind"], "compensation");
  ASSERT_EQ(steps[1]["output"].size(), 2u);
  EXPECT_EQ(steps[1]["output"][0]["key"], "charge");
  EXPECT_EQ(steps[1]["output"][1]["key"], "reserve");
  EXPECT_EQ(steps[2]["input"]["content"], "refund o1 after ledger.txt");
  EXPECT_EQ(steps[3]["input"]["content"], "release o1 (11 bytes)");
  EXPECT_EQ(steps[2]["state"], "done");
  EXPECT_EQ(steps[3]["state"], "done");
  EXPECT_EQ(steps[4]["output"]["failed"], Json::array());
  EXPECT_TRUE(contains(cadre({"show", run}).out, "compensated")) << "the text trace shows them too";

  // A restart finds nothing left to undo.
  stop_serving();
  serve();
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(ledger(), undone_ledger("o1"));

  // A retry does not resume a compensated run: it fails again at once and
  // nothing runs again.
  CommandResult retry = cadre({"retry", run});
  ASSERT_EQ(retry.exit_code, kExitOk) << retry.err;
  await_state(run, "failed");
  EXPECT_TRUE(contains(show(run)["objective"]["error"].get<std::string>(),
                       "a compensated run is not resumed"))
      << show(run)["objective"]["error"];
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(ledger(), undone_ledger("o1"));
}

TEST_F(Compensation, AFailingCompensationIsReportedAndTheOthersStillRun) {
  serve();
  const std::string run = start("order", {"order=o2", "ship_to=../outside", "books=../books.txt"});
  await_state(run, "failed");
  EXPECT_EQ(ledger(), "reserve o2\ncharge o2\nrelease o2 (11 bytes)\n");
  EXPECT_FALSE(fs::exists(dir_.path() / "books.txt"));

  const std::string error = show(run)["objective"]["error"];
  EXPECT_TRUE(
      contains(error,
               "ran 2 compensation(s), newest completion first: charge, reserve; 1 of them failed: "
               "[charge: "))
      << error;
  const Json ship = task_of(run, "ship");
  const Json& steps = ship["steps"];
  ASSERT_EQ(steps.size(), 5u) << ship.dump(2);
  EXPECT_EQ(steps[2]["state"], "failed");
  EXPECT_EQ(steps[3]["state"], "done");
  EXPECT_EQ(steps[4]["output"]["failed"].size(), 1u);
}

TEST_F(Compensation, EveryCompensationHappensOnceAcrossAKillWhileOneWaitsForApproval) {
  // The second compensation needs a human: the task parks between the two.
  write_file(ws_ / "policies.yaml",
             "rules:\n"
             "  - name: releases-need-a-human\n"
             "    match: {tool: file.append, args: {content: {contains: release}}}\n"
             "    decision: require_approval\n");
  serve();
  const std::string run = start("order", {"order=o3", "ship_to=../outside"});
  Json items;
  ASSERT_TRUE(eventually(
      [&] {
        return (items = json_of(cadre({"approvals", "--json"}))).size() > 0;
      },
      20s, 100ms));
  EXPECT_EQ(items[0]["request"]["args"]["content"], "release o3 (11 bytes)");
  EXPECT_EQ(ledger(), "reserve o3\ncharge o3\nrefund o3 after ledger.txt\n");
  EXPECT_EQ(state_of(run), "running");

  stop_serving(SIGKILL);
  ASSERT_EQ(cadre({"approve", items[0]["id"]}).exit_code, kExitOk);
  serve();
  await_state(run, "failed");
  EXPECT_EQ(ledger(), undone_ledger("o3"));
  const Json ship = task_of(run, "ship");
  EXPECT_GE(ship["claims"].get<int>(), 2) << "the task resumed by replay";
  EXPECT_EQ(step_names(ship), (std::vector<std::string>{"file.write", "compensate", "file.append",
                                                        "policy.file.append", "approval.tool",
                                                        "file.append", "compensated"}));

  stop_serving(SIGKILL);
  serve();
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(ledger(), undone_ledger("o3"));
}

TEST_F(Compensation, EveryCompensationHappensOnceAcrossAKillBetweenThem) {
  // One append a second: the compensations are a second apart, and the
  // server is killed once the first is journaled done. (Killed while the
  // append itself runs, the task would wait for `cadre resolve` instead:
  // file.append is not idempotent.)
  write_file(ws_ / "cadre.yaml",
             std::string(kConfig) + "tools:\n  file.append: {rate_per_second: 1, burst: 1}\n");
  serve();
  const std::string run = start("order", {"order=o4", "ship_to=../outside"});
  auto first_compensation_done = [&] {
    const Json ship = task_of(run, "ship");
    return ship.is_object() && ship["steps"].size() > 2 && ship["steps"][2]["state"] == "done";
  };
  ASSERT_TRUE(eventually(first_compensation_done, 20s, 10ms)) << cadre({"show", run}).out;
  stop_serving(SIGKILL);
  EXPECT_FALSE(contains(ledger(), "release"))
      << "killed after the last compensation, not between them";
  EXPECT_EQ(state_of(run), "running");

  serve();
  await_state(run, "failed");
  EXPECT_EQ(ledger(), undone_ledger("o4"));
  const Json ship = task_of(run, "ship");
  EXPECT_GE(ship["claims"].get<int>(), 2);
  int appends = 0;
  for (const auto& s : ship["steps"]) appends += s["name"] == "file.append";
  EXPECT_EQ(appends, 2);
}

TEST_F(Compensation, AForeachStepIsUndoneItemByItemInReverse) {
  write_file(ws_ / "playbooks" / "pack.yaml",
             "inputs: {items: {type: array, default: [a, b, c]}}\n"
             "steps:\n"
             "  - id: pack\n"
             "    uses: file.append\n"
             "    foreach: \"{{ input.items }}\"\n"
             "    with: {path: ledger.txt, content: \"pack {{ item }}\"}\n"
             "    compensate:\n"
             "      uses: file.append\n"
             "      with: {path: ledger.txt, content: \"unpack {{ item }} #{{ index }} ({{ "
             "output.bytes }})\"}\n"
             "  - id: ship\n"
             "    uses: file.write\n"
             "    with: {path: ../outside/box.txt, content: box}\n");
  serve();
  const std::string run = start("pack", {});
  await_state(run, "failed");
  std::vector<std::string> packed, unpacked;
  std::istringstream lines(ledger());
  for (std::string line; std::getline(lines, line);) {
    (line.rfind("pack ", 0) == 0 ? packed : unpacked).push_back(line);
  }
  ASSERT_EQ(packed.size(), 3u) << ledger();
  ASSERT_EQ(unpacked.size(), 3u) << ledger();
  for (size_t i = 0; i < 3; ++i) {
    const std::string item = packed[2 - i].substr(5);
    const std::string index = std::to_string(item[0] - 'a');
    EXPECT_EQ(unpacked[i], "unpack " + item + " #" + index + " (7)") << ledger();
  }
  EXPECT_TRUE(
      contains(show(run)["objective"]["error"].get<std::string>(), "ran 3 compensation(s)"));
}

TEST_F(Compensation, ARunThatDoesNotFailUndoesNothing) {
  serve();
  const std::string run = start("order", {"order=o5"});
  await_state(run, "succeeded");
  EXPECT_EQ(ledger(), "reserve o5\ncharge o5\n");
  EXPECT_EQ(read_file(ws_ / "shipped" / "o5.txt"), "shipped");
  const Json trace = show(run);
  for (const auto& task : trace["tasks"]) {
    for (const auto& name : step_names(task)) EXPECT_NE(name, "compensate") << task["key"];
  }
}

}  // namespace
}  // namespace cadre
