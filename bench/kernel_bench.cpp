// kernel_bench: throughput and latency of the durable kernel on a real
// SQLite file, resume time after a crash, and the idle footprint of
// `cadre serve`. Prints, one per line:
//   sqlite-normal: steps_per_s=<n> p50_step_us=<n> p99_step_us=<n>
//   sqlite-full: steps_per_s=<n> p50_step_us=<n> p99_step_us=<n>
//   resume_after_crash_ms=<n>
//   idle_rss_mb=<n>
//
// Workload: N objectives, each a chain of K tasks; each task journals one
// trivial step (intent committed before the effect, result after), so
// N*K steps in all, each also a task claim and completion. A step's latency
// is from asking for it to having its result, including the durable intent
// commit. Resume: 10,000 tasks are left running under the lease of a process
// that died; the time is from starting `cadre serve` to the first resumed
// step in the journal.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "agents/playbook_runner.h"
#include "agents/workspace.h"
#include "core/id.h"
#include "kernel/kernel.h"
#include "store/store.h"

extern char** environ;

namespace cadre {
namespace {
namespace fs = std::filesystem;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

class TrivialStep : public TaskHandler {
 public:
  Result<Json> run(TaskContext& ctx) override {
    StepOptions options;
    options.name = "noop";
    options.idempotent = true;
    int64_t start = monotonic_us();
    auto out = ctx.run_step(options, Json(1), [](StepCall&) -> Result<Json> { return Json(1); });
    int64_t took = monotonic_us() - start;
    {
      std::lock_guard lock(mutex_);
      latencies_.push_back(took);
    }
    return out;
  }
  std::vector<int64_t> take() {
    std::lock_guard lock(mutex_);
    return std::move(latencies_);
  }

 private:
  std::mutex mutex_;
  std::vector<int64_t> latencies_;
};

fs::path make_temp_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("cadre-bench-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void add_chains(Store& store, int objectives, int tasks_per) {
  TimeMs now = SystemClock::instance().now_ms();
  for (int o = 0; o < objectives; ++o) {
    NewObjective n;
    n.objective.id = new_id("obj", now);
    n.objective.title = "bench";
    for (int k = 0; k < tasks_per; ++k) {
      NewTask t{new_id("tsk", now), "t" + std::to_string(k), "noop", "", Json::object(), {}};
      if (k > 0) t.needs.push_back("t" + std::to_string(k - 1));
      n.tasks.push_back(std::move(t));
    }
    (void)store.create_objective(n, now);
  }
}

int64_t percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

void throughput(const std::string& label, bool full, int objectives, int tasks_per, int workers) {
  fs::path dir = make_temp_dir(label);
  StoreOptions options;
  options.path = (dir / "cadre.db").string();
  options.synchronous_full = full;
  auto store = std::move(open_sqlite_store(options)).value();
  add_chains(*store, objectives, tasks_per);
  KernelConfig config;
  config.workers = workers;
  config.poll_interval = 5;
  auto handler = std::make_shared<TrivialStep>();
  Kernel kernel(*store, SystemClock::instance(), config);
  kernel.register_handler("noop", handler);
  const int total = objectives * tasks_per;
  auto start = std::chrono::steady_clock::now();
  (void)kernel.start();
  while (kernel.stats().tasks_finished < total) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  kernel.stop();
  auto latencies = handler->take();
  std::printf("%s: steps_per_s=%.0f p50_step_us=%lld p99_step_us=%lld\n", label.c_str(), total / seconds,
              static_cast<long long>(percentile(latencies, 0.50)),
              static_cast<long long>(percentile(latencies, 0.99)));
  std::fflush(stdout);
  std::fprintf(stderr, "  (%s: %d objectives x %d steps, %d workers, %.2f s, %lld transactions)\n", label.c_str(),
               objectives, tasks_per, workers, seconds, static_cast<long long>(store->stats().transactions));
  store.reset();
  fs::remove_all(dir);
}

pid_t spawn_serve(const fs::path& workspace, const fs::path& log) {
  std::string binary = CADRE_BINARY;
  std::vector<std::string> args = {binary, "-w", workspace.string(), "serve", "--port", "0"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = -1;
  int error = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    std::fprintf(stderr, "cannot start %s: %s\n", binary.c_str(), std::strerror(error));
    return -1;
  }
  return pid;
}

void stop(pid_t pid) {
  if (pid <= 0) return;  // kill(-1) would signal every process of the user
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

std::string host_name() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

void resume_after_crash(int tasks) {
  fs::path dir = make_temp_dir("resume");
  fs::path ws = dir / "ws";
  (void)init_workspace(ws, "");
  std::ofstream(ws / "playbooks" / "one.yaml") << "name: one\nsteps:\n  - id: s\n    uses: file.write\n"
                                                  "    with: {path: \"out/{{ run.id }}\", content: x}\n";
  Diagnostics diagnostics;
  LoadOptions load;
  load.known_tools = {"file.write"};
  auto workspace = Workspace::load(ws, load, &diagnostics);
  if (!workspace.ok()) {
    std::fprintf(stderr, "resume: %s\n", workspace.status().to_string().c_str());
    return;
  }
  // A process that ran 10,000 tasks died: its leases are still in the store.
  pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  std::string dead_worker = host_name() + ":" + std::to_string(dead) + ":bench";
  {
    StoreOptions options;
    options.path = (ws / ".cadre" / "cadre.db").string();
    auto store = std::move(open_sqlite_store(options)).value();
    TimeMs now = SystemClock::instance().now_ms();
    for (int i = 0; i < tasks; ++i) {
      (void)start_playbook(*store, *workspace, {"one", Json::object(), "bench", "", Json::object()}, now);
    }
    int claimed = 0;
    while (claimed < tasks) {
      auto batch = store->claim_tasks(dead_worker, 1000, SystemClock::instance().now_ms(), 600000);
      if (!batch.ok() || batch->empty()) break;
      claimed += static_cast<int>(batch->size());
    }
  }
  sqlite3* db = nullptr;
  sqlite3_open_v2((ws / ".cadre" / "cadre.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_busy_timeout(db, 1000);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM steps", -1, &stmt, nullptr);
  auto start = std::chrono::steady_clock::now();
  pid_t pid = spawn_serve(ws, dir / "serve.log");
  double ms = -1;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(60)) {
    sqlite3_reset(stmt);
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_int64(stmt, 0) > 0) {
      ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  stop(pid);
  std::printf("resume_after_crash_ms=%.0f\n", ms);
  std::fflush(stdout);
  std::fprintf(stderr, "  (resume: %d tasks in flight under dead worker %s)\n", tasks, dead_worker.c_str());
  fs::remove_all(dir);
}

void idle_rss() {
  fs::path dir = make_temp_dir("idle");
  fs::path ws = dir / "ws";
  (void)init_workspace(ws, "");
  pid_t pid = spawn_serve(ws, dir / "serve.log");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  double rss_mb = -1;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) rss_mb = std::atof(line.substr(6).c_str()) / 1024.0;
  }
  stop(pid);
  std::printf("idle_rss_mb=%.1f\n", rss_mb);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cadre

int main() {
  spdlog::set_level(spdlog::level::warn);
  const int objectives = cadre::env_int("BENCH_OBJECTIVES", 2000);
  const int steps = cadre::env_int("BENCH_STEPS", 10);
  const int workers = cadre::env_int("BENCH_WORKERS", 64);
  cadre::throughput("sqlite-normal", false, objectives, steps, workers);
  cadre::throughput("sqlite-full", true, objectives, steps, workers);
  cadre::resume_after_crash(cadre::env_int("BENCH_RESUME_TASKS", 10000));
  cadre::idle_rss();
  return 0;
}
