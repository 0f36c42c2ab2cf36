// Durable execution through TaskContext: intent first, replay of journaled
// steps, retries as timers, the uncertain rule for non-idempotent steps, and
// the limits. Each test drives claims by hand against a real SQLite store and
// a clock it controls, so a "crash" is simply dropping a context mid-task.
#include <gtest/gtest.h>

#include "core/id.h"
#include "kernel/rate_limiter.h"
#include "kernel/task_context.h"
#include "test_support.h"

namespace cadre {
namespace {

class TaskContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.path = (dir_.path() / "cadre.db").string();
    store_ = std::move(open_sqlite_store(options)).value();
    NewObjective n;
    n.objective.id = new_id("obj", clock_.now_ms());
    n.objective.title = "t";
    n.tasks.push_back({new_id("tsk", clock_.now_ms()), "only", "test", "", Json::object(), {}});
    task_id_ = n.tasks[0].id;
    ASSERT_TRUE(store_->create_objective(n, clock_.now_ms()).ok());
  }

  // Claims the task (as a fresh worker would) and builds its context from the journal.
  std::unique_ptr<TaskContext> claim() {
    auto claimed = store_->claim_tasks("w", 1, clock_.now_ms(), 10000);
    EXPECT_TRUE(claimed.ok());
    if (!claimed.ok() || claimed->empty()) return nullptr;
    auto journal = store_->get_steps(task_id_);
    TaskEnvironment env{store_.get(), &clock_, &limits_, &limiter_, &stopping_, [] { return 1.0; }};
    return std::make_unique<TaskContext>(env, (*claimed)[0], *journal);
  }

  // Simulates a crash: the lease lapses so the next claim takes the task over.
  void crash() { clock_.advance(10001); }

  TaskRecord task() { return *store_->get_task(task_id_); }
  std::vector<StepRecord> steps() { return *store_->get_steps(task_id_); }

  StepOptions options(const std::string& name, bool idempotent, int attempts = 1) {
    StepOptions o;
    o.name = name;
    o.idempotent = idempotent;
    o.retry.max_attempts = attempts;
    o.retry.initial_backoff = 1000;
    o.retry.jitter = false;
    return o;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  ManualClock clock_{1'800'000'000'000};
  KernelConfig limits_;
  RateLimiter limiter_;
  std::atomic<bool> stopping_{false};
  std::string task_id_;
};

TEST_F(TaskContextTest, IntentIsDurableBeforeTheEffectRuns) {
  auto ctx = claim();
  bool saw_intent = false;
  auto out = ctx->run_step(options("t", true), Json{{"a", 1}}, [&](StepCall& call) -> Result<Json> {
    auto journal = steps();
    saw_intent = journal.size() == 1 && journal[0].state == StepState::kStarted && journal[0].input["a"] == 1 &&
                 journal[0].idempotency_key == call.idempotency_key;
    return Json("done");
  });
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(saw_intent);
  ASSERT_TRUE(ctx->finish(out).ok());
  EXPECT_EQ(task().state, TaskState::kSucceeded);
  EXPECT_EQ(steps()[0].state, StepState::kDone);
}

TEST_F(TaskContextTest, ReplayReturnsJournaledResultsWithoutRunningEffectsAgain) {
  int calls_a = 0, calls_b = 0;
  auto step_a = [&](StepCall&) -> Result<Json> { return Json(++calls_a); };
  auto step_b = [&](StepCall&) -> Result<Json> { return Json(100 + ++calls_b); };
  {
    auto ctx = claim();
    ASSERT_EQ(*ctx->run_step(options("a", false), nullptr, step_a), 1);
    ASSERT_EQ(*ctx->now(), clock_.now_ms());
    // The next step's intent commits step a's result with it; then the worker dies.
    ASSERT_EQ(*ctx->run_step(options("b", true), nullptr, step_b), 101);
  }
  TimeMs first_now = clock_.now_ms();
  crash();
  auto ctx = claim();
  EXPECT_EQ(*ctx->run_step(options("a", false), nullptr, step_a), 1) << "a is replayed, not re-run";
  EXPECT_EQ(*ctx->now(), first_now) << "the clock read is replayed";
  EXPECT_EQ(*ctx->run_step(options("b", true), nullptr, step_b), 102) << "b was in flight; idempotent: re-run";
  EXPECT_EQ(calls_a, 1);
  EXPECT_EQ(calls_b, 2);
  ASSERT_TRUE(ctx->finish(Json("ok")).ok());
  auto journal = steps();
  ASSERT_EQ(journal.size(), 3u);
  EXPECT_EQ(journal[2].attempts, 2);
  EXPECT_EQ(journal[2].idempotency_key, task_id_ + "-3");
}

TEST_F(TaskContextTest, ANonIdempotentStepInFlightAtACrashMakesTheTaskUncertain) {
  int calls = 0;
  auto append = [&](StepCall&) -> Result<Json> { return Json(++calls); };
  {
    auto ctx = claim();
    ASSERT_TRUE(ctx->run_step(options("file.append", false), nullptr, append).ok());
    // crash before the done record was committed
  }
  crash();
  auto ctx = claim();
  auto out = ctx->run_step(options("file.append", false), nullptr, append);
  EXPECT_TRUE(out.status().is(StatusCode::kSuspended));
  EXPECT_EQ(calls, 1) << "never repeated silently";
  EXPECT_TRUE(ctx->settled());
  EXPECT_EQ(task().state, TaskState::kUncertain);
  EXPECT_NE(task().error.find("cadre resolve " + task_id_), std::string::npos) << task().error;

  // The operator says it happened: the run continues after the step.
  ASSERT_TRUE(store_->resolve_task(task_id_, Resolution::kDone, "", clock_.now_ms()).ok());
  auto resumed = claim();
  ASSERT_TRUE(resumed->run_step(options("file.append", false), nullptr, append).ok());
  EXPECT_EQ(calls, 1);
}

TEST_F(TaskContextTest, RetryableFailuresParkTheTaskOnATimerWithBackoff) {
  int calls = 0;
  auto flaky = [&](StepCall& call) -> Result<Json> {
    ++calls;
    EXPECT_EQ(call.attempt, calls);
    if (calls < 3) return Status::Unavailable("try later");
    return Json("finally");
  };
  auto o = options("flaky", true, 3);
  auto ctx = claim();
  auto first = ctx->run_step(o, nullptr, flaky);
  EXPECT_TRUE(first.status().is(StatusCode::kSuspended));
  EXPECT_EQ(task().state, TaskState::kWaiting);
  EXPECT_EQ(task().run_at, clock_.now_ms() + 1000) << "initial backoff, no jitter";
  EXPECT_EQ(claim(), nullptr) << "not before the backoff";
  clock_.advance(1000);
  ctx = claim();
  EXPECT_TRUE(ctx->run_step(o, nullptr, flaky).status().is(StatusCode::kSuspended));
  EXPECT_EQ(task().run_at, clock_.now_ms() + 2000) << "multiplied by 2";
  clock_.advance(2000);
  ctx = claim();
  auto third = ctx->run_step(o, nullptr, flaky);
  ASSERT_TRUE(third.ok()) << third.status().to_string();
  ASSERT_TRUE(ctx->finish(third).ok());
  auto s = steps()[0];
  EXPECT_EQ(s.attempts, 3);
  EXPECT_EQ(s.attempt_log.size(), 3u);
  EXPECT_EQ(s.attempt_log[0]["error"], "unavailable: try later");
}

TEST_F(TaskContextTest, RetryAfterFromTheEffectIsHonoured) {
  auto o = options("api", true, 2);
  auto ctx = claim();
  auto r = ctx->run_step(o, nullptr, [&](StepCall& call) -> Result<Json> {
    call.retry_after = 30000;
    return Status::ResourceExhausted("429 too many requests");
  });
  EXPECT_TRUE(r.status().is(StatusCode::kSuspended));
  EXPECT_EQ(task().run_at, clock_.now_ms() + 30000);
}

TEST_F(TaskContextTest, ErrorsThatDoNotRetryFailAtOnceAndReplayTheSame) {
  auto o = options("bad", true, 5);
  auto ctx = claim();
  auto r = ctx->run_step(o, nullptr, [](StepCall&) -> Result<Json> { return Status::InvalidArgument("no such thing"); });
  EXPECT_TRUE(r.status().is(StatusCode::kInvalidArgument));
  EXPECT_NE(r.status().message().find("(attempt 1 of 5)"), std::string::npos);
  ASSERT_TRUE(ctx->finish(r).ok());
  EXPECT_EQ(task().state, TaskState::kFailed);
  EXPECT_EQ(steps()[0].state, StepState::kFailed);
}

TEST_F(TaskContextTest, ExhaustedAttemptsFailTheTaskWithTheLastError) {
  auto o = options("down", true, 2);
  for (int i = 0; i < 2; ++i) {
    auto ctx = claim();
    ASSERT_NE(ctx, nullptr);
    auto r = ctx->run_step(o, nullptr, [](StepCall&) -> Result<Json> { return Status::Unavailable("down"); });
    if (i == 1) {
      EXPECT_TRUE(r.status().is(StatusCode::kUnavailable));
      ASSERT_TRUE(ctx->finish(r).ok());
    }
    clock_.advance(100000);
  }
  EXPECT_EQ(task().state, TaskState::kFailed);
  EXPECT_NE(task().error.find("down (attempt 2 of 2)"), std::string::npos) << task().error;
}

TEST_F(TaskContextTest, SleepHoldsNoWorkerAndResumesAfterTheTime) {
  auto ctx = claim();
  TimeMs until = clock_.now_ms() + 60000;
  EXPECT_TRUE(ctx->sleep_until(until).is(StatusCode::kSuspended));
  EXPECT_EQ(task().state, TaskState::kWaiting);
  EXPECT_EQ(task().wait_kind, WaitKind::kTimer);
  clock_.advance(59999);
  EXPECT_EQ(claim(), nullptr);
  clock_.advance(1);
  ctx = claim();
  ASSERT_TRUE(ctx->sleep_until(until).ok());
  ASSERT_TRUE(ctx->finish(Json("awake")).ok());
  EXPECT_EQ(steps()[0].state, StepState::kDone);
}

TEST_F(TaskContextTest, EmitWritesTheEventExactlyOnceWithTheStep) {
  {
    auto ctx = claim();
    ASSERT_TRUE(ctx->emit("invoice.sent", Json{{"n", 1}}).ok());
    ASSERT_TRUE(ctx->finish(Json("ok")).ok());
  }
  auto events = store_->unprocessed_events(10);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].name, "invoice.sent");
  EXPECT_EQ((*events)[0].data["n"], 1);
}

TEST_F(TaskContextTest, AnEmitLostInACrashLeavesNoEvent) {
  {
    auto ctx = claim();
    ASSERT_TRUE(ctx->emit("x", Json::object()).ok());
    // crash before the buffered step and event were committed
  }
  EXPECT_TRUE(store_->unprocessed_events(10)->empty());
  crash();
  auto ctx = claim();
  ASSERT_TRUE(ctx->emit("x", Json::object()).ok());
  ASSERT_TRUE(ctx->finish(Json("ok")).ok());
  EXPECT_EQ(store_->unprocessed_events(10)->size(), 1u);
}

TEST_F(TaskContextTest, ReplayThatDivergesFromTheJournalFailsClearly) {
  {
    auto ctx = claim();
    ASSERT_TRUE(ctx->run_step(options("a", true), nullptr, [](StepCall&) -> Result<Json> { return Json(1); }).ok());
    ASSERT_TRUE(ctx->run_step(options("b", true), nullptr, [](StepCall&) -> Result<Json> { return Json(2); }).ok());
  }
  crash();
  auto ctx = claim();
  auto r = ctx->run_step(options("other", true), nullptr, [](StepCall&) -> Result<Json> { return Json(3); });
  EXPECT_TRUE(r.status().is(StatusCode::kFailedPrecondition));
  EXPECT_NE(r.status().message().find("replay diverged at step 1"), std::string::npos);
}

TEST_F(TaskContextTest, OversizedInputsAndOutputsAreRefusedWithTheLimitNamed) {
  limits_.max_step_input_bytes = 100;
  limits_.max_step_output_bytes = 100;
  auto ctx = claim();
  auto big_in = ctx->run_step(options("x", true), Json(std::string(200, 'a')),
                              [](StepCall&) -> Result<Json> { return Json(1); });
  EXPECT_TRUE(big_in.status().is(StatusCode::kResourceExhausted));
  EXPECT_NE(big_in.status().message().find("kernel.max_step_input_bytes"), std::string::npos);
  auto big_out = ctx->run_step(options("y", true), nullptr,
                               [](StepCall&) -> Result<Json> { return Json(std::string(200, 'b')); });
  EXPECT_TRUE(big_out.status().is(StatusCode::kResourceExhausted));
  EXPECT_NE(big_out.status().message().find("kernel.max_step_output_bytes"), std::string::npos);
}

TEST_F(TaskContextTest, AnOversizedResultIsNeverRetriedBecauseTheEffectHappened) {
  limits_.max_step_output_bytes = 10;
  int calls = 0;
  auto ctx = claim();
  auto r = ctx->run_step(options("file.append", false, /*attempts=*/5), nullptr, [&](StepCall&) -> Result<Json> {
    ++calls;
    return Json(std::string(100, 'x'));
  });
  EXPECT_TRUE(r.status().is(StatusCode::kResourceExhausted)) << r.status().to_string();
  ASSERT_TRUE(ctx->finish(r).ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(task().state, TaskState::kFailed);
}

TEST_F(TaskContextTest, ARateLimitParksTheTaskUntilATokenIsFree) {
  limiter_.configure("api", /*rate_per_second=*/1, /*burst=*/1);
  auto o = options("api", true);
  o.rate_limit_key = "api";
  int calls = 0;
  auto effect = [&](StepCall&) -> Result<Json> { return Json(++calls); };
  auto ctx = claim();
  ASSERT_TRUE(ctx->run_step(o, nullptr, effect).ok());
  auto second = ctx->run_step(o, nullptr, effect);
  EXPECT_TRUE(second.status().is(StatusCode::kSuspended));
  EXPECT_EQ(task().run_at, clock_.now_ms() + 1000);
  clock_.advance(1000);
  ctx = claim();
  ASSERT_TRUE(ctx->run_step(o, nullptr, effect).ok());
  ASSERT_TRUE(ctx->run_step(o, nullptr, effect).ok());
  EXPECT_EQ(calls, 2);
}

TEST_F(TaskContextTest, AtShutdownATaskIsReleasedBeforeItsNextStep) {
  auto ctx = claim();
  ASSERT_TRUE(ctx->run_step(options("a", true), nullptr, [](StepCall&) -> Result<Json> { return Json(1); }).ok());
  stopping_ = true;
  auto r = ctx->run_step(options("b", true), nullptr, [](StepCall&) -> Result<Json> { return Json(2); });
  EXPECT_TRUE(r.status().is(StatusCode::kSuspended));
  EXPECT_EQ(task().state, TaskState::kReady);
  EXPECT_EQ(steps().size(), 1u);
  EXPECT_EQ(steps()[0].state, StepState::kDone) << "the finished step was kept";
}

}  // namespace
}  // namespace cadre
