// The crash scenario, through the real binary: `cadre serve` runs 200
// objectives of a 10-step playbook that mixes file.write (idempotent) and
// file.append (not idempotent); it is killed with SIGKILL at random moments
// 20 times and restarted. Afterwards:
//   - every objective ended `succeeded`, or `uncertain` at a file.append step
//     that was in flight when a kill came;
//   - no appended line (each carries its step's idempotency key) is there twice;
//   - every append of a finished step is there exactly once;
//   - nothing after an uncertain step ran.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "core/json.h"
#include "test_support.h"

namespace cadre {
namespace {

using namespace std::chrono_literals;
using testing::json_of;
using testing::run_cadre;
using testing::TempDir;

constexpr int kObjectives = 200;
constexpr int kKills = 20;

std::string crash_playbook() {
  std::string yaml = "name: crash\ninputs:\n  n: {type: integer, required: true}\nsteps:\n";
  for (int i = 1; i <= 10; ++i) {
    if (i % 2 == 1) {
      yaml += "  - id: s" + std::to_string(i) +
              "\n    uses: file.append\n    with: {path: out/appends.log, content: \"{{ idempotency_key }} "
              "{{ run.id }} s" +
              std::to_string(i) + "\"}\n";
    } else {
      yaml += "  - id: s" + std::to_string(i) +
              "\n    uses: file.write\n    with: {path: \"out/{{ run.id }}/s" + std::to_string(i) +
              ".txt\", content: \"{{ input.n }} {{ idempotency_key }}\"}\n";
    }
  }
  return yaml;
}

TEST(CrashScenario, KilledTwentyTimesEveryRunFinishesExactlyOnceOrWaitsForAHuman) {
  TempDir dir;
  auto ws = dir.path() / "ws";
  ASSERT_EQ(run_cadre({"init", ws.string()}).exit_code, 0);
  // Appends are rate limited so the runs span all the kills; leases are
  // short, but a restart resumes a dead local worker's tasks at once anyway.
  testing::write_file(ws / "cadre.yaml",
                      "name: crash\nkernel: {workers: 8, lease: 3s, heartbeat: 1s, poll_interval: 50ms}\n"
                      "tools:\n  file.append: {rate_per_second: 150, burst: 5}\n");
  testing::write_file(ws / "playbooks" / "crash.yaml", crash_playbook());
  auto check = run_cadre({"check"}, ws);
  ASSERT_EQ(check.exit_code, 0) << check.err;
  for (int i = 0; i < kObjectives; ++i) {
    auto r = run_cadre({"run", "crash", "--input", "n=" + std::to_string(i)}, ws);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> pause_ms(80, 600);
  SCOPED_TRACE("seed " + std::to_string(seed));
  auto log = dir.path() / "serve.log";
  for (int kill = 0; kill < kKills; ++kill) {
    int pid = testing::spawn_cadre({"serve"}, ws, log);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    EXPECT_EQ(testing::stop_process(pid, SIGKILL), 128 + SIGKILL);
  }

  // The last start runs to the end; no objective may stay running.
  int pid = testing::spawn_cadre({"serve"}, ws, log);
  Json objectives;
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline) {
    objectives = json_of(run_cadre({"ls", "objectives", "--limit", "1000", "--json"}, ws));
    int running = 0;
    for (const auto& o : objectives) running += o["state"] == "running";
    if (running == 0) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(testing::stop_process(pid, SIGTERM), 0) << testing::read_file(log.string() + ".err");
  ASSERT_EQ(objectives.size(), static_cast<size_t>(kObjectives));

  // Every appended line, by idempotency key.
  std::map<std::string, int> appended;
  std::istringstream lines(testing::read_file(ws / "out" / "appends.log"));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) ++appended[line.substr(0, line.find(' '))];
  }
  for (const auto& [key, count] : appended) EXPECT_EQ(count, 1) << "appended twice: " << key;

  int succeeded = 0, uncertain = 0;
  for (const auto& o : objectives) {
    const std::string id = o["id"];
    if (o["state"] == "succeeded") {
      ++succeeded;
    } else {
      ASSERT_EQ(o["state"], "uncertain") << id << ": " << o["error"];
      ++uncertain;
    }
    Json trace = json_of(run_cadre({"show", id, "--json"}, ws));
    bool after_uncertain = false;
    for (const auto& task : trace["tasks"]) {
      if (after_uncertain) {
        EXPECT_EQ(task["state"], "pending") << id << " ran " << task["key"] << " after an uncertain step";
        EXPECT_TRUE(task["steps"].empty()) << id << " " << task["key"];
        continue;
      }
      if (task["state"] == "uncertain") {
        after_uncertain = true;
        const Json& last = task["steps"].back();
        EXPECT_EQ(last["name"], "file.append") << id;
        EXPECT_EQ(last["state"], "started") << id;
        continue;
      }
      EXPECT_EQ(task["state"], "succeeded") << id << " " << task["key"];
      for (const auto& step : task["steps"]) {
        if (step["name"] != "file.append") continue;
        EXPECT_EQ(appended[step["idempotency_key"].get<std::string>()], 1)
            << id << " " << task["key"] << ": a finished append must be in the file exactly once";
      }
    }
  }
  std::cout << "[ crash    ] seed " << seed << ": " << succeeded << " succeeded, " << uncertain
            << " uncertain after " << kKills << " kills\n";
  EXPECT_EQ(succeeded + uncertain, kObjectives);
}

}  // namespace
}  // namespace cadre
