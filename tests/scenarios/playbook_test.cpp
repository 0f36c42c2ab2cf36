// Playbook behaviour through the real binary that the other scenarios do
// not cover: a step that waits for an event holds no worker, and resumes
// with the event's data when it is emitted.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "core/json.h"
#include "test_support.h"

namespace cadre {
namespace {

using namespace std::chrono_literals;
using testing::json_of;
using testing::eventually;
using testing::run_cadre;

TEST(Playbooks, AStepWaitingForAnEventResumesWithItsDataWhenItIsEmitted) {
  testing::TempDir dir;
  auto ws = dir.path() / "ws";
  ASSERT_EQ(run_cadre({"init", ws.string()}).exit_code, 0);
  testing::write_file(ws / "playbooks" / "invoice.yaml",
                      "inputs: {id: {type: string, required: true}}\n"
                      "steps:\n"
                      "  - id: sent\n"
                      "    uses: log\n"
                      "    with: {message: \"invoice {{ input.id }} sent\"}\n"
                      "  - id: paid\n"
                      "    uses: wait\n"
                      "    with: {event: invoice.paid}\n"
                      "  - id: record\n"
                      "    uses: file.write\n"
                      "    with: {path: \"paid/{{ input.id }}.txt\", content: \"{{ steps.paid.output.data.amount }}\"}\n");
  auto run = run_cadre({"run", "invoice", "--input", "id=inv-7"}, ws);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::string id = run.out.substr(0, run.out.find('\n'));
  int pid = testing::spawn_cadre({"serve"}, ws, dir.path() / "serve.log");
  auto task_state = [&](const std::string& key) {
    Json trace = json_of(run_cadre({"show", id, "--json"}, ws));
    for (const auto& t : trace["tasks"])
      if (t["key"] == key) return t["state"].get<std::string>() + "/" + t["wait_kind"].get<std::string>();
    return std::string("missing");
  };
  EXPECT_TRUE(eventually([&] { return task_state("paid") == "waiting/event"; })) << task_state("paid");
  auto status = json_of(run_cadre({"status", "--json"}, ws));
  EXPECT_EQ(status["tasks"].value("running", 0), 0) << "a task waiting for an event holds no worker";

  ASSERT_EQ(run_cadre({"emit", "invoice.paid", "--data", R"({"amount": 42})"}, ws).exit_code, 0);
  EXPECT_TRUE(eventually([&] {
    return json_of(run_cadre({"show", id, "--json"}, ws))["objective"]["state"] == "succeeded";
  }));
  EXPECT_EQ(testing::read_file(ws / "paid" / "inv-7.txt"), "42");
  EXPECT_EQ(testing::stop_process(pid, SIGTERM), 0);
}

}  // namespace
}  // namespace cadre
