// The kernel's runtime: worker pool, dispatcher, waits that hold no thread,
// graceful stop, and resuming tasks left behind by a dead process.
#include "kernel/kernel.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/id.h"
#include "test_support.h"

namespace cadre {
namespace {

using namespace std::chrono_literals;

// A handler of `steps` journaled steps that count their effects.
class CountingHandler : public TaskHandler {
 public:
  explicit CountingHandler(int steps, DurationMs sleep_ms = 0) : steps_(steps), sleep_ms_(sleep_ms) {}
  Result<Json> run(TaskContext& ctx) override {
    if (sleep_ms_ > 0) {
      CADRE_ASSIGN_OR_RETURN(TimeMs start, ctx.now());
      CADRE_RETURN_IF_ERROR(ctx.sleep_until(start + sleep_ms_));
    }
    StepOptions options;
    options.idempotent = true;
    Json last;
    for (int i = 0; i < steps_; ++i) {
      options.name = "step" + std::to_string(i);
      CADRE_ASSIGN_OR_RETURN(last, ctx.run_step(options, Json(i), [&](StepCall&) -> Result<Json> {
                               effects_.fetch_add(1);
                               return Json(i);
                             }));
    }
    return last;
  }
  std::atomic<int> effects_{0};

 private:
  int steps_;
  DurationMs sleep_ms_;
};

class KernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.path = (dir_.path() / "cadre.db").string();
    store_ = std::move(open_sqlite_store(options)).value();
    config_.workers = 4;
    config_.poll_interval = 20;
    config_.heartbeat = 200;
    config_.lease = 2000;
    config_.shutdown_grace = 1000;
  }

  std::string add_chain(int tasks) {
    NewObjective n;
    n.objective.id = new_id("obj");
    n.objective.title = "chain";
    std::string previous;
    for (int i = 0; i < tasks; ++i) {
      NewTask t{new_id("tsk"), "t" + std::to_string(i), "count", "", Json::object(), {}};
      if (!previous.empty()) t.needs.push_back(previous);
      previous = t.key;
      n.tasks.push_back(t);
    }
    EXPECT_TRUE(store_->create_objective(n, SystemClock::instance().now_ms()).ok());
    return n.objective.id;
  }

  bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit = 20s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return done();
  }

  int64_t objectives_in(const std::string& state) {
    auto counts = store_->counts();
    return counts->at("objectives").value(state, int64_t{0});
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  KernelConfig config_;
};

TEST_F(KernelTest, RunsEveryTaskOfManyChainsExactlyOnce) {
  auto handler = std::make_shared<CountingHandler>(3);
  Kernel kernel(*store_, SystemClock::instance(), config_);
  kernel.register_handler("count", handler);
  for (int i = 0; i < 30; ++i) add_chain(4);
  ASSERT_TRUE(kernel.start().ok());
  kernel.wake();
  EXPECT_TRUE(wait_for([&] { return objectives_in("succeeded") == 30; }));
  kernel.stop();
  EXPECT_EQ(handler->effects_.load(), 30 * 4 * 3);
}

TEST_F(KernelTest, WaitingTasksHoldNoWorker) {
  config_.workers = 1;
  auto sleeper = std::make_shared<CountingHandler>(1, /*sleep_ms=*/800);
  Kernel kernel(*store_, SystemClock::instance(), config_);
  kernel.register_handler("count", sleeper);
  // With one worker, 20 sleeping tasks finish in about one sleep, not twenty.
  for (int i = 0; i < 20; ++i) add_chain(1);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(kernel.start().ok());
  ASSERT_TRUE(wait_for([&] { return objectives_in("succeeded") == 20; }));
  auto elapsed = std::chrono::steady_clock::now() - start;
  kernel.stop();
  EXPECT_LT(elapsed, 8s) << "tasks were waiting one after another on the single worker";
}

TEST_F(KernelTest, AMissingHandlerFailsTheTaskWithAClearError) {
  Kernel kernel(*store_, SystemClock::instance(), config_);
  auto id = add_chain(1);
  ASSERT_TRUE(kernel.start().ok());
  ASSERT_TRUE(wait_for([&] { return objectives_in("failed") == 1; }));
  kernel.stop();
  EXPECT_NE(store_->get_objective(id)->error.find("no handler for tasks of kind 'count'"), std::string::npos);
}

TEST_F(KernelTest, StopReleasesTasksThatDidNotFinishInTheGracePeriod) {
  config_.shutdown_grace = 50;
  config_.workers = 2;
  class Slow : public TaskHandler {
   public:
    Result<Json> run(TaskContext& ctx) override {
      StepOptions o;
      o.idempotent = true;
      for (int i = 0; i < 100; ++i) {
        o.name = "s" + std::to_string(i);
        CADRE_RETURN_IF_ERROR(ctx.run_step(o, nullptr, [](StepCall&) -> Result<Json> {
                                std::this_thread::sleep_for(5ms);
                                return Json(1);
                              }).status());
      }
      return Json("done");
    }
  };
  Kernel kernel(*store_, SystemClock::instance(), config_);
  kernel.register_handler("count", std::make_shared<Slow>());
  add_chain(1);
  add_chain(1);
  ASSERT_TRUE(kernel.start().ok());
  ASSERT_TRUE(wait_for([&] { return store_->counts()->at("tasks").value("running", 0) == 2; }));
  std::this_thread::sleep_for(50ms);
  kernel.stop();
  auto counts = *store_->counts();
  EXPECT_EQ(counts["tasks"].value("ready", 0), 2) << counts.dump();
  EXPECT_EQ(counts["tasks"].value("running", 0), 0) << counts.dump();
  // Another kernel picks them up and finishes from the journal.
  Kernel second(*store_, SystemClock::instance(), config_);
  second.register_handler("count", std::make_shared<Slow>());
  ASSERT_TRUE(second.start().ok());
  EXPECT_TRUE(wait_for([&] { return objectives_in("succeeded") == 2; }));
  second.stop();
}

TEST_F(KernelTest, TasksOfADeadLocalProcessResumeWithoutWaitingForTheLease) {
  config_.lease = 60000;  // far longer than the test may wait
  add_chain(1);
  // A process of this host that no longer exists holds the task's lease.
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::string dead_worker = std::string(host) + ":" + std::to_string(child) + ":x";
  auto claimed = store_->claim_tasks(dead_worker, 1, SystemClock::instance().now_ms(), 60000);
  ASSERT_EQ(claimed->size(), 1u);

  auto handler = std::make_shared<CountingHandler>(1);
  Kernel kernel(*store_, SystemClock::instance(), config_);
  kernel.register_handler("count", handler);
  ASSERT_TRUE(kernel.start().ok());
  EXPECT_TRUE(wait_for([&] { return objectives_in("succeeded") == 1; }, 5s));
  kernel.stop();
}

}  // namespace
}  // namespace cadre
