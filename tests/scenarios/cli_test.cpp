// The `cadre` command line, through the real binary on real workspaces made
// with `cadre init`: what a user types and what they see. Each test is one
// sentence of the product's specification. Exit codes are the ones documented
// in src/cli/cli_app.h; runs are carried out by a `cadre serve` started in the
// background, as a user would.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>

#include "core/json.h"
#include "store/store.h"
#include "test_support.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::json_of;
using testing::eventually;
using testing::CommandResult;
using testing::contains;
using testing::kExitBadUsage;
using testing::kExitConflict;
using testing::kExitNeedsOperator;
using testing::kExitNotFound;
using testing::kExitOk;
using testing::kExitRunFailed;
using testing::kExitWorkspaceErrors;
using testing::read_file;
using testing::run_cadre;
using testing::TempDir;
using testing::write_file;


// Settings that make a workspace react quickly in tests.
constexpr char kFastConfig[] =
    "name: scenario\n"
    "kernel: {workers: 4, poll_interval: 50ms, heartbeat: 1s, lease: 5s, shutdown_grace: 2s}\n";

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}


int count_of(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// Polls `probe` until it holds or `timeout` passes; true if it held.
// A `cadre` process in the background (`serve`, or a `run --wait`). If it is
// still running when the object goes away it is killed.
class Background {
 public:
  Background(const std::vector<std::string>& args, const fs::path& workspace, fs::path log)
      : log_(std::move(log)) {
    pid_ = testing::spawn_cadre(args, workspace, log_);
    EXPECT_GT(pid_, 0) << "cannot start cadre";
  }
  ~Background() {
    if (pid_ > 0 && exit_code_ < 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  int pid() const { return pid_; }
  std::string out() const { return read_file(log_); }
  std::string err() const { return read_file(log_.string() + ".err"); }

  bool running() {
    if (pid_ > 0 && exit_code_ < 0) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    return pid_ > 0 && exit_code_ < 0;
  }
  // Waits up to `timeout` for the process to end; its exit code, or -1 if it
  // is still running.
  int wait(std::chrono::milliseconds timeout) {
    eventually([&] { return !running(); }, timeout, 20ms);
    return exit_code_;
  }
  // SIGTERM, then SIGKILL if it has not stopped within 20 s; the exit code.
  int stop() {
    if (running()) kill(pid_, SIGTERM);
    if (wait(20s) < 0) {
      ADD_FAILURE() << "cadre did not stop within 20 s of SIGTERM; killing it";
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      exit_code_ = 128 + SIGKILL;
    }
    return exit_code_;
  }

 private:
  fs::path log_;
  int pid_ = -1;
  int exit_code_ = -1;
};

// One scenario: a temporary folder holding a workspace `ws`, commands run in
// it, and at most one `cadre serve`.
class Cli : public ::testing::Test {
 protected:
  void TearDown() override {
    if (server_ && server_->running()) {
      int code = server_->stop();
      EXPECT_EQ(code, kExitOk) << "cadre serve did not stop cleanly:\n" << server_->err();
    }
  }

  // `cadre init ws [--example NAME]`; a plain workspace gets quick kernel settings.
  void init(const std::string& example = "") {
    std::vector<std::string> args = {"init", ws_.string()};
    if (!example.empty()) args.insert(args.end(), {"--example", example});
    CommandResult r = run_cadre(args);
    ASSERT_EQ(r.exit_code, kExitOk) << r.err;
    if (example.empty()) write_file(ws_ / "cadre.yaml", kFastConfig);
    // Create the database now, before processes open it at the same moment
    // (see DISABLED_CommandsStartedTogetherOnANewWorkspaceAllSucceed).
    CommandResult status = cadre({"status"});
    ASSERT_EQ(status.exit_code, kExitOk) << status.err;
  }

  void playbook(const std::string& name, const std::string& yaml) {
    write_file(ws_ / "playbooks" / (name + ".yaml"), yaml);
  }

  CommandResult cadre(const std::vector<std::string>& args) { return run_cadre(args, ws_); }

  fs::path next_log(const std::string& what) {
    return dir_.path() / (what + "-" + std::to_string(++logs_) + ".log");
  }

  void serve() {
    server_ =
        std::make_unique<Background>(std::vector<std::string>{"serve"}, ws_, next_log("serve"));
  }
  int stop_serving() {
    int code = server_->stop();
    EXPECT_EQ(code, kExitOk) << server_->err();
    return code;
  }
  std::unique_ptr<Background> in_background(const std::vector<std::string>& args) {
    return std::make_unique<Background>(args, ws_, next_log("background"));
  }

  // `cadre run PLAYBOOK [--input k=v]...` without waiting: the objective id.
  std::string start(const std::string& name, const std::vector<std::string>& inputs = {}) {
    std::vector<std::string> args = {"run", name};
    for (const auto& input : inputs) args.insert(args.end(), {"--input", input});
    CommandResult r = cadre(args);
    EXPECT_EQ(r.exit_code, kExitOk) << r.err;
    return first_line(r.out);
  }

  Json trace(const std::string& id) {
    CommandResult r = cadre({"show", id, "--json"});
    EXPECT_EQ(r.exit_code, kExitOk) << r.err;
    return json_of(r);
  }
  std::string state_of(const std::string& id) {
    Json t = trace(id);
    return t.is_object() ? t["objective"]["state"].get<std::string>() : "";
  }
  // Waits (bounded) until the objective is in `state`.
  void await_state(const std::string& id, const std::string& state,
                   std::chrono::milliseconds timeout = 10s) {
    bool reached = eventually([&] { return state_of(id) == state; }, timeout, 100ms);
    ASSERT_TRUE(reached) << id << " did not become " << state << " within " << timeout.count()
                         << " ms; it is " << state_of(id) << "\n"
                         << cadre({"show", id}).out;
  }
  // The objective of the first task found waiting (bounded wait); "" if none.
  std::string first_waiting_run() {
    std::string id;
    eventually(
        [&] {
          Json rows = json_of(cadre({"ls", "tasks", "--state", "waiting", "--json"}));
          if (rows.empty()) return false;
          id = rows[0]["objective_id"];
          return true;
        },
        10s);
    return id;
  }
  // The task of the objective whose key is `key`, from `show --json`.
  Json task_of(const std::string& id, const std::string& key) {
    Json tasks = trace(id)["tasks"];
    for (const auto& task : tasks) {
      if (task["key"] == key) return task;
    }
    ADD_FAILURE() << id << " has no task " << key;
    return Json::object();
  }

  TempDir dir_;
  fs::path ws_ = dir_.path() / "ws";
  std::unique_ptr<Background> server_;
  int logs_ = 0;
};

// --- init ----------------------------------------------------------------

TEST_F(Cli, InitCreatesAWorkspaceWhosePrivateFolderIsNeverCommitted) {
  init();
  EXPECT_TRUE(fs::exists(ws_ / "cadre.yaml"));
  EXPECT_TRUE(fs::exists(ws_ / "policies.yaml"));
  EXPECT_TRUE(fs::is_directory(ws_ / "agents"));
  EXPECT_TRUE(fs::exists(ws_ / "playbooks" / "hello.yaml"));
  std::string ignore = read_file(ws_ / ".cadre" / ".gitignore");
  EXPECT_TRUE(contains(ignore, "\n*\n")) << "the .gitignore must ignore everything: " << ignore;
  auto perms = fs::status(ws_ / ".cadre").permissions();
  EXPECT_EQ(perms & (fs::perms::group_all | fs::perms::others_all), fs::perms::none)
      << ".cadre holds the database and keys; only its owner may read it";
  CommandResult check = cadre({"check"});
  EXPECT_EQ(check.exit_code, kExitOk) << check.err;
  EXPECT_TRUE(contains(check.out, "no problems")) << check.out;
}

TEST_F(Cli, InitRefusesAFolderThatAlreadyHoldsAWorkspace) {
  init();
  write_file(ws_ / "cadre.yaml", "name: mine\n");
  CommandResult again = run_cadre({"init", ws_.string()});
  EXPECT_EQ(again.exit_code, kExitConflict);
  EXPECT_TRUE(contains(again.err, "already holds a workspace")) << again.err;
  EXPECT_EQ(read_file(ws_ / "cadre.yaml"), "name: mine\n") << "init must not touch the workspace";
}

TEST_F(Cli, InitNeverOverwritesAFileAlreadyInTheFolder) {
  write_file(ws_ / "playbooks" / "onboard-customer.yaml", "# my own\n");
  CommandResult r = run_cadre({"init", ws_.string(), "--example", "saas-founder"});
  EXPECT_EQ(r.exit_code, kExitConflict);
  EXPECT_TRUE(contains(r.err, "onboard-customer.yaml")) << r.err;
  EXPECT_TRUE(contains(r.err, "refusing to overwrite")) << r.err;
  EXPECT_EQ(read_file(ws_ / "playbooks" / "onboard-customer.yaml"), "# my own\n");
  EXPECT_FALSE(fs::exists(ws_ / "cadre.yaml")) << "nothing is written when init refuses";
}

TEST_F(Cli, InitWithAnUnknownExampleListsTheBundledOnes) {
  CommandResult r = run_cadre({"init", ws_.string(), "--example", "saas-founders"});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  for (const char* name : {"saas-founder", "consultant", "creator"}) {
    EXPECT_TRUE(contains(r.err, name)) << r.err;
  }
  EXPECT_FALSE(fs::exists(ws_ / "cadre.yaml"));
}

// --- every bundled workspace works out of the box -------------------------

struct ExampleRun {
  std::string example;  // "" for the plain `cadre init` workspace
  std::string playbook;
  std::vector<std::string> inputs;
  std::vector<std::string> files;  // written by the run, relative to the workspace
  std::string in_trace;            // text `cadre show` must print
};

void PrintTo(const ExampleRun& run, std::ostream* os) {
  *os << (run.example.empty() ? "plain" : run.example) << "/" << run.playbook;
}

class ExampleWorkspace : public Cli, public ::testing::WithParamInterface<ExampleRun> {};

TEST_P(ExampleWorkspace, ChecksCleanAndRunsAPlaybookToTheEnd) {
  const ExampleRun& example = GetParam();
  init(example.example);
  CommandResult check = cadre({"check"});
  ASSERT_EQ(check.exit_code, kExitOk) << check.err;
  serve();
  std::vector<std::string> args = {"run", example.playbook, "--wait", "--timeout", "30"};
  for (const auto& input : example.inputs) args.insert(args.end(), {"--input", input});
  CommandResult run = cadre(args);
  ASSERT_EQ(run.exit_code, kExitOk) << run.out << run.err;
  const std::string id = first_line(run.out);
  EXPECT_TRUE(contains(run.out, "succeeded")) << run.out;
  for (const auto& file : example.files) {
    EXPECT_TRUE(fs::exists(ws_ / file)) << file << " was not written";
  }
  CommandResult show = cadre({"show", id});
  ASSERT_EQ(show.exit_code, kExitOk) << show.err;
  EXPECT_TRUE(contains(show.out, example.in_trace)) << show.out;
  Json tasks = trace(id)["tasks"];
  for (const auto& task : tasks) {
    EXPECT_TRUE(task["state"] == "succeeded" || task["state"] == "skipped") << task.dump(2);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Bundled, ExampleWorkspace,
    ::testing::Values(
        ExampleRun{"", "hello", {"name=Ada"}, {}, "Hello, Ada!"},
        ExampleRun{"saas-founder",
                   "daily-digest",
                   {},
                   {"reports/daily-digest.md", "reports/sections/signups.md",
                    "reports/sections/support-queue.md"},
                   "emit:digest.ready"},
        ExampleRun{"consultant",
                   "weekly-timesheets",
                   {"rate=150"},
                   {"timesheets/globex.md", "timesheets/initech.md", "timesheets/umbrella.md"},
                   "emit:timesheets.ready"},
        ExampleRun{
            "creator",
            "content-calendar",
            {"theme=launch week"},
            {"calendar/this-week.md", "calendar/slots/newsletter.md", "calendar/slots/youtube.md"},
            "emit:calendar.planned"},
        ExampleRun{"creator",
                   "publish-checklist",
                   {"slug=studio-tour", "title=Studio tour", "publish_at=2020-05-14T07:00:00Z"},
                   {"published/studio-tour/checklist.md", "published/studio-tour/blog.md"},
                   "Published Studio tour (studio-tour)"}),
    [](const ::testing::TestParamInfo<ExampleRun>& info) {
      std::string name =
          (info.param.example.empty() ? "plain" : info.param.example) + "_" + info.param.playbook;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

// The README's demo: the saas-founder example's agents work offline, from
// the model recording shipped beside the example.
TEST_F(Cli, TheSaasFounderAgentsCarryOutTheDemoObjectiveFromTheirRecording) {
  init("saas-founder");
  CommandResult add = cadre({"objective", "add",
                             "Acme Corp just signed up with 5 seats: welcome them and put them in today's digest.",
                             "--wait", "--timeout", "30"});
  ASSERT_EQ(add.exit_code, kExitOk) << add.out << add.err;
  EXPECT_TRUE(contains(add.out, "welcome: Welcomed Acme Corp")) << add.out;
  EXPECT_TRUE(contains(read_file(ws_ / "customers/acme/welcome.md"), "Welcome to Acme Analytics, Acme Corp!"));
  EXPECT_TRUE(fs::exists(ws_ / "customers/acme/checklist.md"));
  EXPECT_TRUE(contains(read_file(ws_ / "reports/daily-digest.md"), "New customer: Acme Corp, 5 seats"));
  Json tasks = trace(first_line(add.out))["tasks"];
  std::vector<std::string> keys;
  for (const auto& task : tasks) keys.push_back(task["key"]);
  EXPECT_EQ(keys, (std::vector<std::string>{"plan", "welcome", "digest"}));
  // Customer success recorded what it learned; memory knows Acme now.
  CommandResult acme = cadre({"memory", "entity", "customer:acme", "--json"});
  ASSERT_EQ(acme.exit_code, kExitOk) << acme.err;
  Json entity = json_of(acme);
  bool seats = false;
  for (const auto& fact : entity["facts"]) seats |= fact["name"] == "seats" && fact["value"] == 5;
  EXPECT_TRUE(seats) << entity;
  // A different objective is not in the recording: a clear error, not a guess.
  CommandResult other = cadre({"ask", "ops", "Summarise yesterday.", "--timeout", "30"});
  EXPECT_EQ(other.exit_code, kExitRunFailed) << other.out << other.err;
  EXPECT_TRUE(contains(other.out + other.err, "not in the recording")) << other.out << other.err;
}

// --- check ---------------------------------------------------------------

// Eight mistakes in two files.
void write_broken_workspace(const fs::path& ws) {
  write_file(ws / "cadre.yaml",
             "name: broken\n"
             "kernel:\n"
             "  workers: many\n"
             "  lease: 10 parsecs\n"
             "store:\n"
             "  synchronous: sometimes\n");
  write_file(ws / "playbooks" / "bad.yaml",
             "description: Several mistakes\n"
             "inputs:\n"
             "  count: {type: integr, required: true}\n"
             "steps:\n"
             "  - id: first\n"
             "    uses: file.wrte\n"
             "    with: {path: out/a.txt, content: \"{{ input.count }}\"}\n"
             "  - id: second\n"
             "    uses: log\n"
             "    needs: [nowhere]\n"
             "    retry: {attempts: 3, on: [teapot]}\n"
             "    with: {message: \"{{ inptu.count }}\"}\n");
}

TEST_F(Cli, CheckPrintsEveryMistakeOfEveryFileAsFileLineColumnFieldMessage) {
  init();
  write_broken_workspace(ws_);
  CommandResult r = cadre({"check"});
  EXPECT_EQ(r.exit_code, kExitWorkspaceErrors);
  const std::string& text = r.err;
  // Each mistake where it is, which field, and what is wrong.
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"cadre.yaml:3:12: kernel.workers: ", "many"},
      {"cadre.yaml:4:10: kernel.lease: ", "10 parsecs"},
      {"cadre.yaml:6:16: store.synchronous: ", "sometimes"},
      {"playbooks/bad.yaml:3:17: inputs.count.type: ", "did you mean 'integer'?"},
      {"playbooks/bad.yaml:6:11: steps[0].uses: ", "did you mean 'file.write'?"},
      {"playbooks/bad.yaml:10:13: steps[1].needs[0]: ", "nowhere"},
      {"playbooks/bad.yaml:11:31: steps[1].retry.on[0]: ", "teapot"},
      {"playbooks/bad.yaml:12:21: steps[1].with.message: ", "did you mean 'input'?"},
  };
  std::istringstream lines(text);
  std::vector<std::string> problems;
  const std::regex located(R"(^[^:\s]+:\d+:\d+: [^:]+: .+$)");
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_match(line, located)) problems.push_back(line);
  }
  EXPECT_EQ(problems.size(), expected.size()) << text;
  for (const auto& [where, what] : expected) {
    auto it = std::find_if(problems.begin(), problems.end(),
                           [&](const std::string& line) { return line.rfind(where, 0) == 0; });
    ASSERT_NE(it, problems.end()) << "missing " << where << " in\n" << text;
    EXPECT_TRUE(contains(*it, what)) << *it;
  }
  EXPECT_TRUE(contains(text, "8 problem(s)")) << text;
}

TEST_F(Cli, CheckJsonListsEveryMistakeWithItsPlace) {
  init();
  write_broken_workspace(ws_);
  CommandResult r = cadre({"check", "--json"});
  EXPECT_EQ(r.exit_code, kExitWorkspaceErrors);
  Json out = json_of(r);
  EXPECT_EQ(out["ok"], false);
  ASSERT_EQ(out["problems"].size(), 8u) << out.dump(2);
  int in_config = 0, in_playbook = 0;
  for (const auto& p : out["problems"]) {
    EXPECT_GT(p["line"].get<int>(), 0) << p.dump();
    EXPECT_GT(p["column"].get<int>(), 0) << p.dump();
    EXPECT_FALSE(p["field"].get<std::string>().empty()) << p.dump();
    EXPECT_FALSE(p["message"].get<std::string>().empty()) << p.dump();
    in_config += p["file"] == "cadre.yaml";
    in_playbook += p["file"] == "playbooks/bad.yaml";
  }
  EXPECT_EQ(in_config, 3);
  EXPECT_EQ(in_playbook, 5);
}

TEST_F(Cli, RunAndServeRefuseAWorkspaceWithErrors) {
  init();
  write_broken_workspace(ws_);
  CommandResult run = cadre({"run", "hello"});
  EXPECT_EQ(run.exit_code, kExitWorkspaceErrors);
  EXPECT_TRUE(contains(run.err, "cadre.yaml:3:12: kernel.workers: ")) << run.err;
  serve();
  EXPECT_EQ(server_->wait(10s), kExitWorkspaceErrors) << server_->err();
  EXPECT_TRUE(contains(server_->err(), "playbooks/bad.yaml:6:11: steps[0].uses: "))
      << server_->err();
}

// --- run ------------------------------------------------------------------

constexpr char kGreetPlaybook[] =
    "description: Write a greeting\n"
    "inputs:\n"
    "  name: {type: string, required: true, description: Who to greet}\n"
    "steps:\n"
    "  - id: write\n"
    "    uses: file.write\n"
    "    with: {path: \"out/{{ input.name }}.txt\", content: \"Hello, {{ input.name }}!\"}\n";

TEST_F(Cli, RunWithAMissingRequiredInputFailsNamingTheInput) {
  init();
  playbook("greet", kGreetPlaybook);
  CommandResult r = cadre({"run", "greet"});
  EXPECT_NE(r.exit_code, kExitOk);
  EXPECT_LT(r.exit_code, 128) << "it must not crash";
  EXPECT_TRUE(contains(r.err, "input 'name' is required")) << r.err;
  EXPECT_TRUE(contains(r.err, "Who to greet")) << "the input's description helps: " << r.err;
  EXPECT_TRUE(json_of(cadre({"ls", "objectives", "--json"})).empty()) << "no run was created";
}

TEST_F(Cli, RunOfAnUnknownPlaybookIsNotFoundAndNamesTheKnownOnes) {
  init();
  CommandResult r = cadre({"run", "helo"});
  EXPECT_EQ(r.exit_code, kExitNotFound);
  EXPECT_TRUE(contains(r.err, "no playbook named 'helo'")) << r.err;
  EXPECT_TRUE(contains(r.err, "hello")) << r.err;
}

constexpr char kOnboardPlaybook[] =
    "description: Welcome a customer\n"
    "inputs:\n"
    "  customer: {type: string, required: true}\n"
    "  seats: {type: integer, default: 1}\n"
    "  checklist: {type: array, default: [account, docs]}\n"
    "steps:\n"
    "  - id: greet\n"
    "    uses: log\n"
    "    with: {message: \"Welcome {{ input.customer }}\"}\n"
    "  - id: profile\n"
    "    uses: file.write\n"
    "    with: {path: \"customers/{{ input.customer }}/profile.md\", content: \"seats: {{ "
    "input.seats }}\"}\n"
    "  - id: checklist\n"
    "    uses: file.write\n"
    "    foreach: \"{{ input.checklist }}\"\n"
    "    with: {path: \"customers/{{ input.customer }}/{{ item }}.md\", content: \"- [ ] {{ item "
    "}}\"}\n"
    "  - id: ledger\n"
    "    uses: file.append\n"
    "    with: {path: ledger.log, content: \"{{ input.customer }} onboarded\"}\n"
    "  - id: announce\n"
    "    uses: emit\n"
    "    needs: [profile, ledger]\n"
    "    with:\n"
    "      event: customer.onboarded\n"
    "      data: {customer: \"{{ input.customer }}\", profile: \"{{ steps.profile.output.path "
    "}}\"}\n";

TEST_F(Cli, RunWaitWithServeRunningSucceedsAndShowPrintsEveryStep) {
  init();
  playbook("onboard", kOnboardPlaybook);
  serve();
  CommandResult run = cadre({"run", "onboard", "--input", "customer=acme", "--input", "seats=3",
                             "--wait", "--timeout", "30"});
  ASSERT_EQ(run.exit_code, kExitOk) << run.out << run.err;
  const std::string id = first_line(run.out);
  EXPECT_EQ(id.rfind("obj_", 0), 0u) << "run prints the objective id first: " << run.out;
  EXPECT_TRUE(contains(run.out, "succeeded")) << run.out;

  EXPECT_EQ(read_file(ws_ / "customers" / "acme" / "profile.md"), "seats: 3");
  EXPECT_EQ(read_file(ws_ / "customers" / "acme" / "account.md"), "- [ ] account");
  EXPECT_EQ(read_file(ws_ / "customers" / "acme" / "docs.md"), "- [ ] docs");
  EXPECT_EQ(read_file(ws_ / "ledger.log"), "acme onboarded\n");

  // People: every task and every step, with what went in and came out.
  CommandResult show = cadre({"show", id});
  ASSERT_EQ(show.exit_code, kExitOk) << show.err;
  const std::string& text = show.out;
  EXPECT_TRUE(contains(text, "objective " + id + "  succeeded")) << text;
  EXPECT_TRUE(contains(text, "Welcome a customer")) << text;
  for (const char* task : {"greet", "profile", "checklist", "ledger", "announce"}) {
    EXPECT_TRUE(contains(text, "task " + std::string(task) + " [succeeded]")) << text;
  }
  EXPECT_TRUE(contains(text, "needs profile, ledger")) << text;
  EXPECT_EQ(count_of(text, " file.write "), 3) << "one step per foreach item, plus the profile\n"
                                               << text;
  EXPECT_TRUE(contains(text, "file.append")) << text;
  EXPECT_TRUE(contains(text, "emit:customer.onboarded")) << text;
  EXPECT_TRUE(contains(text, R"(in  {"content":"seats: 3","path":"customers/acme/profile.md"})"))
      << text;
  EXPECT_TRUE(contains(text, R"("path":"customers/acme/profile.md")")) << text;

  // Programs: the same trace as JSON.
  Json t = trace(id);
  EXPECT_EQ(t["objective"]["id"], id);
  EXPECT_EQ(t["objective"]["state"], "succeeded");
  EXPECT_EQ(t["objective"]["inputs"]["seats"], 3) << "inputs are converted to their declared type";
  ASSERT_EQ(t["tasks"].size(), 7u) << "five steps, and a child task per checklist item";
  for (const auto& task : t["tasks"]) {
    EXPECT_EQ(task["state"], "succeeded") << task.dump(2);
    ASSERT_FALSE(task["steps"].empty()) << task["key"];
    for (const auto& step : task["steps"]) {
      EXPECT_EQ(step["state"], "done") << step.dump(2);
      EXPECT_GE(step["attempts"].get<int>(), 1) << step.dump(2);
      EXPECT_FALSE(step["attempt_log"].empty()) << step.dump(2);
      EXPECT_GT(step["started_at"].get<int64_t>(), 0) << step.dump(2);
      EXPECT_GE(step["finished_at"].get<int64_t>(), step["started_at"].get<int64_t>())
          << step.dump(2);
      EXPECT_TRUE(step.contains("output")) << step.dump(2);
      EXPECT_FALSE(step["idempotency_key"].get<std::string>().empty()) << step.dump(2);
    }
  }
  Json checklist = task_of(id, "checklist");
  ASSERT_EQ(checklist["steps"].size(), 1u) << "the foreach step fans out";
  EXPECT_EQ(checklist["steps"][0]["output"]["children"], 2);
  EXPECT_EQ(checklist["output"][1]["path"], "customers/acme/docs.md") << "item outputs, in item order";
  EXPECT_EQ(task_of(id, "checklist[1]")["steps"][0]["input"]["path"], "customers/acme/docs.md");
  Json announce = task_of(id, "announce");
  EXPECT_EQ(announce["needs"], Json::array({"profile", "ledger"}));
  EXPECT_EQ(announce["steps"][0]["input"]["data"]["profile"], "customers/acme/profile.md")
      << "a step reads earlier steps' outputs";
  EXPECT_EQ(announce["steps"][0]["output"]["event_id"].get<std::string>().rfind("evt_", 0), 0u);

  // A task id shows the trace of its run.
  const std::string task_id = checklist["id"];
  CommandResult by_task = cadre({"show", task_id});
  EXPECT_EQ(by_task.exit_code, kExitOk) << by_task.err;
  EXPECT_TRUE(contains(by_task.out, "objective " + id)) << by_task.out;
  Json focused = json_of(cadre({"show", task_id, "--json"}));
  EXPECT_EQ(focused["objective"]["id"], id);
  EXPECT_EQ(focused["focus"], task_id);

  CommandResult unknown = cadre({"show", "obj_doesnotexist"});
  EXPECT_EQ(unknown.exit_code, kExitNotFound);
  EXPECT_TRUE(contains(unknown.err, "obj_doesnotexist")) << unknown.err;
}

constexpr char kBlockedPlaybook[] =
    "description: Write a file whose path may be blocked\n"
    "steps:\n"
    "  - id: write\n"
    "    uses: file.write\n"
    "    with: {path: out/report.txt, content: \"the report\"}\n"
    "  - id: after\n"
    "    uses: log\n"
    "    with: {message: \"report written\"}\n";

TEST_F(Cli, LsListsObjectivesAndTasksByState) {
  init();
  playbook("greet", kGreetPlaybook);
  playbook("blocked", kBlockedPlaybook);
  fs::create_directories(ws_ / "out" / "report.txt");
  serve();
  CommandResult good = cadre({"run", "greet", "--input", "name=ada", "--wait", "--timeout", "30"});
  ASSERT_EQ(good.exit_code, kExitOk) << good.err;
  CommandResult bad = cadre({"run", "blocked", "--wait", "--timeout", "30"});
  ASSERT_EQ(bad.exit_code, kExitRunFailed) << bad.err;
  const std::string good_id = first_line(good.out), bad_id = first_line(bad.out);

  auto ids = [](const Json& rows, const char* field = "id") {
    std::vector<std::string> out;
    for (const auto& row : rows) out.push_back(row[field]);
    return out;
  };
  Json succeeded = json_of(cadre({"ls", "objectives", "--state", "succeeded", "--json"}));
  EXPECT_EQ(ids(succeeded), std::vector<std::string>{good_id});
  Json failed = json_of(cadre({"ls", "objectives", "--state", "failed", "--json"}));
  EXPECT_EQ(ids(failed), std::vector<std::string>{bad_id});
  EXPECT_TRUE(contains(failed[0]["error"], "Is a directory")) << failed.dump(2);
  EXPECT_EQ(json_of(cadre({"ls", "objectives", "--limit", "1", "--json"})).size(), 1u);

  Json failed_tasks = json_of(cadre({"ls", "tasks", "--state", "failed", "--json"}));
  ASSERT_EQ(failed_tasks.size(), 1u) << failed_tasks.dump(2);
  EXPECT_EQ(failed_tasks[0]["key"], "write");
  EXPECT_EQ(failed_tasks[0]["objective_id"], bad_id);
  Json cancelled_tasks = json_of(cadre({"ls", "tasks", "--state", "cancelled", "--json"}));
  ASSERT_EQ(cancelled_tasks.size(), 1u) << "the step after the failure never ran";
  EXPECT_EQ(cancelled_tasks[0]["key"], "after");
  Json succeeded_tasks = json_of(cadre({"ls", "tasks", "--state", "succeeded", "--json"}));
  EXPECT_EQ(ids(succeeded_tasks, "objective_id"), std::vector<std::string>{good_id});

  CommandResult text = cadre({"ls", "objectives"});
  EXPECT_TRUE(contains(text.out, good_id) && contains(text.out, bad_id)) << text.out;
  CommandResult wrong = cadre({"ls", "tasks", "--state", "finished"});
  EXPECT_NE(wrong.exit_code, kExitOk);
  EXPECT_TRUE(contains(wrong.err, "succeeded")) << "it lists the states there are: " << wrong.err;
}

TEST_F(Cli, StatusJsonShowsTheLiveWorkerUntilItStops) {
  init();
  serve();
  Json status;
  bool listed = eventually(
      [&] {
        status = json_of(cadre({"status", "--json"}));
        return status["workers"].size() == 1;
      },
      5s);
  ASSERT_TRUE(listed) << status.dump(2);
  const Json& worker = status["workers"][0];
  EXPECT_EQ(worker["info"]["pid"], server_->pid());
  EXPECT_EQ(worker["info"]["workers"], 4);
  EXPECT_GT(worker["heartbeat_at"].get<int64_t>(), 0);
  EXPECT_TRUE(contains(cadre({"status"}).out, "1 alive"));

  stop_serving();
  status = json_of(cadre({"status", "--json"}));
  EXPECT_TRUE(status["workers"].empty()) << "a stopped server is no longer listed\n"
                                         << status.dump(2);
  CommandResult run = cadre({"run", "hello"});
  EXPECT_TRUE(contains(run.err, "no worker is running")) << run.err;
}

TEST_F(Cli, RunWaitExits5WhenAStepFailsAndShowSaysWhy) {
  init();
  playbook("blocked", kBlockedPlaybook);
  fs::create_directories(ws_ / "out" / "report.txt" / "inside");
  serve();
  CommandResult run = cadre({"run", "blocked", "--wait", "--timeout", "30"});
  EXPECT_EQ(run.exit_code, kExitRunFailed);
  EXPECT_TRUE(contains(run.out,
                       "failed: task 'write' failed: io_error: cannot replace "
                       "out/report.txt: Is a directory"))
      << run.out;
  const std::string id = first_line(run.out);

  CommandResult show = cadre({"show", id});
  EXPECT_TRUE(contains(show.out, "objective " + id + "  failed")) << show.out;
  EXPECT_TRUE(contains(show.out, "task write [failed]")) << show.out;
  EXPECT_TRUE(contains(show.out, "err io_error: cannot replace out/report.txt: Is a directory"))
      << show.out;
  EXPECT_TRUE(contains(show.out, "task after [cancelled]")) << show.out;
  Json write = task_of(id, "write");
  EXPECT_EQ(write["steps"][0]["state"], "failed");
  EXPECT_EQ(write["steps"][0]["attempts"], 1) << "an io_error is not retried unless asked";
  EXPECT_TRUE(fs::is_directory(ws_ / "out" / "report.txt" / "inside")) << "nothing was removed";
  EXPECT_EQ(std::distance(fs::directory_iterator(ws_ / "out"), fs::directory_iterator()), 1)
      << "no temporary file is left behind";
}

TEST_F(Cli, RetryAfterFixingTheCauseFinishesTheFailedRun) {
  init();
  playbook("blocked", kBlockedPlaybook);
  fs::create_directories(ws_ / "out" / "report.txt");
  serve();
  CommandResult run = cadre({"run", "blocked", "--wait", "--timeout", "30"});
  ASSERT_EQ(run.exit_code, kExitRunFailed) << run.out << run.err;
  const std::string id = first_line(run.out);

  fs::remove_all(ws_ / "out" / "report.txt");  // the operator fixes the cause
  CommandResult retry = cadre({"retry", id});
  EXPECT_EQ(retry.exit_code, kExitOk) << retry.err;
  EXPECT_TRUE(contains(retry.out, "retrying " + id)) << retry.out;
  await_state(id, "succeeded");
  EXPECT_EQ(read_file(ws_ / "out" / "report.txt"), "the report");
  Json write = task_of(id, "write");
  ASSERT_EQ(write["steps"].size(), 1u);
  const Json& attempts = write["steps"][0]["attempt_log"];
  ASSERT_EQ(attempts.size(), 2u) << "the failed try stays in the trace: " << write.dump(2);
  EXPECT_TRUE(contains(attempts[0]["error"], "Is a directory")) << attempts.dump(2);
  EXPECT_EQ(attempts[1]["error"], "");
  EXPECT_EQ(task_of(id, "after")["state"], "succeeded");

  CommandResult again = cadre({"retry", id});
  EXPECT_EQ(again.exit_code, kExitConflict) << "a succeeded run cannot be retried";
  EXPECT_TRUE(contains(again.err, "only failed or cancelled")) << again.err;
}

constexpr char kPausePlaybook[] =
    "description: Pause, then write\n"
    "inputs:\n"
    "  pause: {type: string, default: 2s}\n"
    "steps:\n"
    "  - id: pause\n"
    "    uses: wait\n"
    "    with: {duration: \"{{ input.pause }}\"}\n"
    "  - id: write\n"
    "    uses: file.write\n"
    "    with: {path: \"out/{{ run.id }}.txt\", content: \"version one\"}\n";

TEST_F(Cli, CancelEndsARunWaitingOnALongWait) {
  init();
  playbook("pause", kPausePlaybook);
  serve();
  auto waiter = in_background({"run", "pause", "--input", "pause=1h", "--wait"});
  const std::string id = first_waiting_run();
  ASSERT_FALSE(id.empty()) << "the run never started waiting";
  EXPECT_EQ(task_of(id, "pause")["wait_kind"], "timer");

  CommandResult cancel = cadre({"cancel", id});
  EXPECT_EQ(cancel.exit_code, kExitOk) << cancel.err;
  EXPECT_TRUE(contains(cancel.out, "cancelled " + id)) << cancel.out;
  EXPECT_EQ(waiter->wait(5s), kExitRunFailed) << "run --wait ends when its run is cancelled";
  EXPECT_TRUE(contains(waiter->out(), "cancelled")) << waiter->out();

  Json t = trace(id);
  EXPECT_EQ(t["objective"]["state"], "cancelled");
  EXPECT_TRUE(contains(t["objective"]["error"], "cancelled by the operator"));
  EXPECT_EQ(task_of(id, "pause")["state"], "cancelled");
  EXPECT_EQ(task_of(id, "write")["state"], "cancelled");
  EXPECT_TRUE(task_of(id, "write")["steps"].empty()) << "nothing after the cancel ran";
  EXPECT_FALSE(fs::exists(ws_ / "out" / (id + ".txt")));

  CommandResult again = cadre({"cancel", id});
  EXPECT_EQ(again.exit_code, kExitConflict);
  EXPECT_TRUE(contains(again.err, "already cancelled")) << again.err;
}

// Fixed bug, kept as a regression test: src/cli/commands.cpp, cmd_run(): the objective id is written to
// std::cout without a flush, so when stdout is a pipe or a file (scripts,
// `| tee`, a log) it only appears when `run --wait` exits, hours later for a
// run that waits. It should be flushed as soon as the run is created, so the
// user can `show` or `cancel` it meanwhile.
TEST_F(Cli, RunWaitPrintsTheRunIdAtOnceEvenIntoAPipe) {
  init();
  playbook("pause", kPausePlaybook);
  serve();
  auto waiter = in_background({"run", "pause", "--input", "pause=1h", "--wait"});
  bool printed = eventually([&] { return contains(waiter->out(), "obj_"); }, 3s);
  EXPECT_TRUE(printed) << "the id of the run was not printed while it waits";
  const std::string id = first_waiting_run();
  if (!id.empty()) cadre({"cancel", id});
  EXPECT_EQ(waiter->wait(5s), kExitRunFailed);
}

TEST_F(Cli, AWaitStepShowsTheTaskWaitingThenFinishes) {
  init();
  playbook("pause", kPausePlaybook);
  serve();
  const std::string id = start("pause");
  ASSERT_TRUE(eventually([&] { return task_of(id, "pause")["state"] == "waiting"; }, 5s))
      << cadre({"show", id}).out;
  Json waiting = json_of(cadre({"ls", "tasks", "--state", "waiting", "--json"}));
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0]["objective_id"], id);
  CommandResult show = cadre({"show", id});
  EXPECT_TRUE(contains(show.out, "task pause [waiting]")) << show.out;
  EXPECT_TRUE(contains(show.out, "waiting for timer ")) << show.out;
  EXPECT_TRUE(contains(show.out, "task write [pending]")) << show.out;
  EXPECT_EQ(state_of(id), "running");

  await_state(id, "succeeded", 8s);
  Json t = trace(id);
  const Json& objective = t["objective"];
  EXPECT_GE(objective["finished_at"].get<int64_t>() - objective["created_at"].get<int64_t>(), 2000)
      << "the run waited the full two seconds";
  Json wait_step = task_of(id, "pause")["steps"].back();
  EXPECT_EQ(wait_step["kind"], "wait");
  EXPECT_GE(wait_step["output"]["woke_at"].get<int64_t>(),
            wait_step["input"]["until"].get<int64_t>());
  EXPECT_EQ(read_file(ws_ / "out" / (id + ".txt")), "version one");
}

TEST_F(Cli, ShowReportsAChangedPlaybookWhileTheRunFinishesOnItsRecordedVersion) {
  init();
  playbook("pause", kPausePlaybook);
  serve();
  const std::string id = start("pause");
  ASSERT_TRUE(eventually([&] { return task_of(id, "pause")["state"] == "waiting"; }, 5s));
  const std::string recorded = trace(id)["objective"]["versions"]["playbook:pause"];

  std::string edited = kPausePlaybook;
  edited.replace(edited.find("version one"), 11, "version two");
  playbook("pause", edited);
  CommandResult show = cadre({"show", id});
  EXPECT_TRUE(contains(show.out,
                       "note: playbook:pause changed since this run started (recorded " + recorded))
      << show.out;
  EXPECT_TRUE(contains(show.out, "the run continues on the recorded version")) << show.out;
  Json drift = trace(id)["version_drift"];
  ASSERT_EQ(drift.size(), 1u) << drift.dump(2);
  EXPECT_EQ(drift[0]["definition"], "playbook:pause");
  EXPECT_EQ(drift[0]["recorded"], recorded);
  EXPECT_NE(drift[0]["current"], recorded);

  // A server started after the edit knows only the new file; the run still
  // replays the version it recorded.
  stop_serving();
  serve();
  await_state(id, "succeeded", 8s);
  EXPECT_EQ(read_file(ws_ / "out" / (id + ".txt")), "version one");

  CommandResult fresh =
      cadre({"run", "pause", "--input", "pause=10ms", "--wait", "--timeout", "30"});
  ASSERT_EQ(fresh.exit_code, kExitOk) << fresh.err;
  const std::string fresh_id = first_line(fresh.out);
  EXPECT_EQ(read_file(ws_ / "out" / (fresh_id + ".txt")), "version two");
  EXPECT_FALSE(contains(cadre({"show", fresh_id}).out, "changed since this run started"));
}

TEST_F(Cli, ALockMakesTwoRunsOnTheSameResourceTakeTurns) {
  init();
  playbook("print",
           "description: Hold the printer for a moment\n"
           "inputs:\n"
           "  who: {type: string, required: true}\n"
           "steps:\n"
           "  - id: print\n"
           "    uses: wait\n"
           "    lock: printer\n"
           "    with: {duration: 700ms}\n"
           "  - id: done\n"
           "    uses: file.append\n"
           "    with: {path: out/printer.log, content: \"{{ input.who }}\"}\n");
  const std::string a = start("print", {"who=a"});
  const std::string b = start("print", {"who=b"});
  serve();
  // While one holds the printer, the other waits for it.
  bool one_waits = eventually(
      [&] {
        return task_of(a, "print")["wait_kind"] == "lock" ||
               task_of(b, "print")["wait_kind"] == "lock";
      },
      5s, 20ms);
  EXPECT_TRUE(one_waits) << cadre({"show", b}).out;
  await_state(a, "succeeded");
  await_state(b, "succeeded");

  struct Turn {
    std::string who;
    int64_t locked_at = 0;
    int64_t released_at = 0;  // the lock is held until the task ends
  };
  auto turn = [&](const std::string& id, const std::string& who) {
    Json task = task_of(id, "print");
    const Json& lock = task["steps"][0];
    EXPECT_EQ(lock["kind"], "lock") << task.dump(2);
    EXPECT_EQ(lock["name"], "lock:printer");
    return Turn{who, lock["started_at"].get<int64_t>(), task["finished_at"].get<int64_t>()};
  };
  Turn first = turn(a, "a"), second = turn(b, "b");
  if (second.locked_at < first.locked_at) std::swap(first, second);
  EXPECT_GE(first.released_at - first.locked_at, 700);
  EXPECT_GE(second.locked_at, first.released_at)
      << second.who << " took the printer before " << first.who << " released it";
  EXPECT_EQ(read_file(ws_ / "out" / "printer.log"), first.who + "\n" + second.who + "\n");
}

TEST_F(Cli, ARetryPolicyRetriesWithBackoffVisibleInTheTrace) {
  init();
  playbook("patient",
           "description: Retry a blocked write\n"
           "steps:\n"
           "  - id: write\n"
           "    uses: file.write\n"
           "    retry: {attempts: 5, backoff: 200ms, jitter: false, on: [io_error]}\n"
           "    with: {path: out/patient.txt, content: eventually}\n");
  fs::create_directories(ws_ / "out" / "patient.txt");
  serve();
  const std::string id = start("patient");
  bool failed_once = eventually(
      [&] {
        Json steps = task_of(id, "write")["steps"];
        return !steps.empty() && !steps[0]["attempt_log"].empty();
      },
      5s, 20ms);
  ASSERT_TRUE(failed_once) << cadre({"show", id}).out;
  EXPECT_EQ(task_of(id, "write")["steps"][0]["state"], "retrying");
  fs::remove(ws_ / "out" / "patient.txt");  // the cause goes away
  await_state(id, "succeeded");
  EXPECT_EQ(read_file(ws_ / "out" / "patient.txt"), "eventually");

  Json step = task_of(id, "write")["steps"][0];
  const Json& log = step["attempt_log"];
  ASSERT_GE(log.size(), 2u) << step.dump(2);
  EXPECT_EQ(step["attempts"], static_cast<int>(log.size()));
  int64_t expected_backoff = 200;
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i]["attempt"], static_cast<int>(i + 1));
    if (i + 1 < log.size()) {
      EXPECT_TRUE(contains(log[i]["error"],
                           "io_error: cannot replace out/patient.txt: Is a "
                           "directory"))
          << log.dump(2);
      int64_t gap = log[i + 1]["started_at"].get<int64_t>() - log[i]["finished_at"].get<int64_t>();
      EXPECT_GE(gap, expected_backoff) << "attempt " << i + 2 << " came too soon";
      expected_backoff *= 2;
    } else {
      EXPECT_EQ(log[i]["error"], "");
    }
  }
  CommandResult show = cadre({"show", id});
  EXPECT_TRUE(contains(show.out, "attempt 1 at ")) << show.out;
  EXPECT_TRUE(contains(show.out, ": io_error: cannot replace out/patient.txt: Is a directory"))
      << show.out;
}

// --- events ---------------------------------------------------------------

// Marks an event as not yet handled, as if the server had crashed after it
// started the event's playbook but before it recorded the event as handled.
void forget_event_was_handled(const fs::path& ws, const std::string& event_id) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((ws / ".cadre" / "cadre.db").c_str(), &db), SQLITE_OK);
  std::string sql = "UPDATE events SET processed = 0 WHERE id = '" + event_id + "'";
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error ? error : "");
  sqlite3_free(error);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);
}

bool event_handled(const fs::path& ws, const std::string& event_id) {
  sqlite3* db = nullptr;
  if (sqlite3_open((ws / ".cadre" / "cadre.db").c_str(), &db) != SQLITE_OK) return false;
  sqlite3_busy_timeout(db, 1000);
  sqlite3_stmt* stmt = nullptr;
  bool handled = false;
  if (sqlite3_prepare_v2(db, "SELECT processed FROM events WHERE id = ?1", -1, &stmt, nullptr) ==
      SQLITE_OK) {
    sqlite3_bind_text(stmt, 1, event_id.c_str(), -1, SQLITE_TRANSIENT);
    handled = sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_int(stmt, 0) == 1;
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return handled;
}

TEST_F(Cli, EmitStartsTheEventTriggeredPlaybookOnceEvenAcrossServeRestarts) {
  init("saas-founder");
  serve();
  CommandResult emit =
      cadre({"emit", "customer.signed_up", "--data",
             R"({"customer": "globex", "email": "ops@globex.test", "seats": 12})"});
  ASSERT_EQ(emit.exit_code, kExitOk) << emit.err;
  const std::string event_id = first_line(emit.out);
  EXPECT_EQ(event_id.rfind("evt_", 0), 0u) << emit.out;

  // onboard-customer starts with its inputs taken from the event, and runs
  // until its three-day pause.
  std::string id;
  ASSERT_TRUE(eventually(
      [&] {
        Json rows = json_of(cadre({"ls", "objectives", "--json"}));
        if (rows.size() != 1) return false;
        id = rows[0]["id"];
        return task_of(id, "pause")["state"] == "waiting";
      },
      15s, 100ms))
      << cadre({"ls", "tasks"}).out << server_->err();
  Json objective = trace(id)["objective"];
  EXPECT_EQ(objective["playbook"], "onboard-customer");
  EXPECT_EQ(objective["source"], "event:" + event_id);
  EXPECT_EQ(
      objective["inputs"],
      Json({{"customer", "globex"},
            {"email", "ops@globex.test"},
            {"plan", "starter"},
            {"seats", 12},
            {"checklist", {"create-account", "welcome-email", "kickoff-call", "share-docs"}}}));
  EXPECT_TRUE(contains(read_file(ws_ / "customers" / "globex" / "profile.md"), "ops@globex.test"));
  EXPECT_TRUE(fs::exists(ws_ / "customers" / "globex" / "checklist" / "kickoff-call.md"));
  EXPECT_EQ(task_of(id, "large-account")["state"], "succeeded") << "12 seats is a large account";

  // A restart does not start it again, even if the server died before it
  // recorded that the event was handled.
  stop_serving();
  forget_event_was_handled(ws_, event_id);
  serve();
  ASSERT_TRUE(eventually([&] { return event_handled(ws_, event_id); }, 10s))
      << "the restarted server never handled the event again\n"
      << server_->err();
  stop_serving();
  serve();
  std::this_thread::sleep_for(1500ms);  // a trigger tick or more
  Json rows = json_of(cadre({"ls", "objectives", "--json"}));
  ASSERT_EQ(rows.size(), 1u) << "the event started its playbook twice: " << rows.dump(2);
  EXPECT_EQ(rows[0]["id"], id);
  EXPECT_EQ(task_of(id, "pause")["state"], "waiting");

  // Another event starts another run.
  ASSERT_EQ(cadre({"emit", "customer.signed_up", "--data",
                   R"({"customer": "initech", "email": "it@initech.test"})"})
                .exit_code,
            kExitOk);
  EXPECT_TRUE(eventually(
      [&] {
        return json_of(cadre({"ls", "objectives", "--json"})).size() == 2;
      },
      10s));
}

// Fixed bug, kept as a regression test: src/kernel/trigger_scheduler.cpp, TriggerScheduler::deliver_events():
// an event whose data cannot start the playbook (here: required inputs
// missing) is never marked processed, so it is fired again and logged as an
// error on every tick, forever; and since unprocessed_events(100) returns the
// 100 oldest, 100 such events starve every later event: a valid
// customer.signed_up then never starts onboard-customer. A permanently
// invalid event (invalid_argument) should be set aside (marked processed with
// its error recorded, visible to the operator, e.g. in `cadre status`) and
// must not block the events after it. Meanwhile `cadre emit` exits 0 and
// nothing tells the user the event was rejected.
TEST_F(Cli, AnEventThatCannotStartItsPlaybookDoesNotBlockLaterEvents) {
  init("saas-founder");
  std::string rejected;
  for (int i = 0; i < 100; ++i) {
    CommandResult r = cadre({"emit", "customer.signed_up", "--data", R"({"plan": "pro"})"});
    ASSERT_EQ(r.exit_code, kExitOk) << r.err;
    rejected = first_line(r.out);
  }
  ASSERT_EQ(cadre({"emit", "customer.signed_up", "--data",
                   R"({"customer": "globex", "email": "ops@globex.test"})"})
                .exit_code,
            kExitOk);
  serve();
  bool started = eventually(
      [&] {
        return json_of(cadre({"ls", "objectives", "--json"})).size() == 1;
      },
      10s, 200ms);
  EXPECT_TRUE(started) << "the valid event after 100 invalid ones never started its playbook";
  EXPECT_TRUE(event_handled(ws_, rejected)) << "an invalid event is retried forever";
  EXPECT_TRUE(contains(cadre({"status", "--json"}).out, rejected))
      << "the operator is not told that the event was rejected";
}

// --- uncertain steps ------------------------------------------------------

constexpr char kLedgerPlaybook[] =
    "description: Record an entry, then confirm it\n"
    "inputs:\n"
    "  tag: {type: string, required: true}\n"
    "steps:\n"
    "  - id: record\n"
    "    uses: file.append\n"
    "    with: {path: out/ledger.log, content: \"{{ input.tag }}\"}\n"
    "  - id: confirm\n"
    "    uses: file.write\n"
    "    with: {path: \"out/{{ input.tag }}-confirmed.txt\", content: ok}\n";

// A pid no process has now: a child that has exited and been reaped.
pid_t dead_pid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return pid;
}

// Leaves every ready task of the workspace as a server killed mid-step would:
// claimed by a worker of this host whose process is gone, its first step
// (file.append, not idempotent) journaled `started` and never finished.
void crash_during_first_steps(const fs::path& ws) {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const std::string dead_worker = std::string(host) + ":" + std::to_string(dead_pid()) + ":gone";
  StoreOptions options;
  options.path = (ws / ".cadre" / "cadre.db").string();
  auto store = open_sqlite_store(options);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  const TimeMs now = SystemClock::instance().now_ms();
  auto claimed = (*store)->claim_tasks(dead_worker, 100, now, /*lease_ms=*/60000);
  ASSERT_TRUE(claimed.ok()) << claimed.status().to_string();
  ASSERT_EQ(claimed->size(), 3u);
  for (const auto& task : *claimed) {
    ASSERT_EQ(task.key, "record");
    const std::string tag = task.spec["scope"]["input"]["tag"];
    StepStarted started{1,
                        "file.append",
                        "tool",
                        task.id + "-1",
                        Json{{"path", "out/ledger.log"}, {"content", tag}},
                        1,
                        now};
    auto committed = (*store)->commit({task.id, task.fence}, {started});
    ASSERT_TRUE(committed.ok()) << committed.status().to_string();
  }
}

TEST_F(Cli, AStepInFlightAtACrashWaitsForTheOperatorWhoResolvesIt) {
  init();
  playbook("ledger", kLedgerPlaybook);
  auto waiter = in_background({"run", "ledger", "--input", "tag=done", "--wait"});
  std::string done_id;
  ASSERT_TRUE(eventually(
      [&] {
        Json rows = json_of(cadre({"ls", "objectives", "--json"}));
        if (rows.size() != 1) return false;
        done_id = rows[0]["id"];
        return true;
      },
      5s))
      << cadre({"ls", "objectives"}).out << waiter->out() << waiter->err();
  const std::string redo_id = start("ledger", {"tag=redo"});
  const std::string fail_id = start("ledger", {"tag=fail"});
  crash_during_first_steps(ws_);

  // The next server finds the dead worker's steps in flight; an append might
  // have happened or not, so it asks instead of guessing.
  serve();
  EXPECT_EQ(waiter->wait(10s), kExitNeedsOperator) << waiter->out() << waiter->err();
  for (const auto& id : {done_id, redo_id, fail_id}) await_state(id, "uncertain");
  const std::string done_task = task_of(done_id, "record")["id"];
  const std::string redo_task = task_of(redo_id, "record")["id"];
  CommandResult show = cadre({"show", done_id});
  EXPECT_TRUE(contains(show.out, "task record [uncertain]")) << show.out;
  EXPECT_TRUE(contains(show.out, "cadre resolve " + done_task + " --done|--redo|--fail"))
      << show.out;
  EXPECT_TRUE(contains(show.out, "task confirm [pending]")) << show.out;
  Json status = json_of(cadre({"status", "--json"}));
  EXPECT_EQ(status["needs_attention"].size(), 3u) << status.dump(2);
  EXPECT_EQ(json_of(cadre({"ls", "tasks", "--state", "uncertain", "--json"})).size(), 3u);
  EXPECT_FALSE(fs::exists(ws_ / "out" / "ledger.log")) << "no append was repeated on its own";

  // Each step in doubt is also an approval item asking what happened.
  Json items = json_of(cadre({"approvals", "--json"}));
  ASSERT_EQ(items.size(), 3u) << items.dump(2);
  std::string redo_item;
  for (const auto& item : items) {
    EXPECT_EQ(item["kind"], "uncertain");
    EXPECT_EQ(item["request"]["name"], "file.append");
    if (item["task_id"] == redo_task) redo_item = item["id"];
  }
  ASSERT_FALSE(redo_item.empty());

  // --done: it happened; the run continues after it.
  CommandResult done = cadre({"resolve", done_task, "--done", "--note", "seen in the ledger"});
  EXPECT_EQ(done.exit_code, kExitOk) << done.err;
  EXPECT_TRUE(contains(done.out, "resolved " + done_task)) << done.out;
  // Redo, answered from the inbox: it did not happen; the step runs again.
  CommandResult redo = cadre({"approve", redo_item, "--redo"});
  EXPECT_EQ(redo.exit_code, kExitOk) << redo.err;
  // --fail, by objective id when it has one uncertain task: the run fails.
  EXPECT_EQ(cadre({"resolve", fail_id, "--fail", "--note", "entry rejected"}).exit_code, kExitOk);

  await_state(done_id, "succeeded");
  await_state(redo_id, "succeeded");
  await_state(fail_id, "failed");
  const std::string ledger = read_file(ws_ / "out" / "ledger.log");
  EXPECT_EQ(ledger, "redo\n") << "only the redone append ran, once";
  EXPECT_TRUE(fs::exists(ws_ / "out" / "done-confirmed.txt"));
  EXPECT_TRUE(fs::exists(ws_ / "out" / "redo-confirmed.txt"));
  EXPECT_FALSE(fs::exists(ws_ / "out" / "fail-confirmed.txt")) << "nothing ran after --fail";
  EXPECT_TRUE(contains(cadre({"show", done_id}).out, "seen in the ledger"))
      << "the operator's note is kept in the trace";
  CommandResult failed = cadre({"show", fail_id});
  EXPECT_TRUE(contains(failed.out, "entry rejected")) << failed.out;
  EXPECT_TRUE(contains(failed.out, "task confirm [cancelled]")) << failed.out;

  // Resolving answered the items too, so none is left waiting.
  Json answered = json_of(cadre({"approvals", "--all", "--json"}));
  ASSERT_EQ(answered.size(), 3u);
  for (const auto& item : answered) {
    EXPECT_EQ(item["state"], item["task_id"] == task_of(fail_id, "record")["id"] ? "rejected" : "approved")
        << item.dump(2);
  }
  EXPECT_EQ(json_of(cadre({"approvals", "--json"})).size(), 0u);
  EXPECT_EQ(cadre({"approve", redo_item}).exit_code, kExitConflict);

  CommandResult again = cadre({"resolve", done_task, "--redo"});
  EXPECT_EQ(again.exit_code, kExitConflict) << "a resolved task cannot be resolved again";
  EXPECT_TRUE(contains(again.err, "only uncertain tasks can be resolved")) << again.err;
}

// Fixed bug, kept as a regression test: src/cli/cli_app.cpp (the `resolve` callback) and
// src/cli/commands.cpp, cmd_ls(): command-line mistakes detected after
// parsing exit 1 ("an error"), while the same kind of mistake caught by the
// parser exits 2 ("bad usage", cli_app.h): `resolve ID` without a decision
// exits 1 but `resolve ID --done --redo` exits 2; `ls tasks --state finished`
// exits 1. Both should exit 2, so scripts can tell a wrong invocation from a
// failed operation.
TEST_F(Cli, CommandLineMistakesAreBadUsage) {
  init();
  CommandResult both = cadre({"resolve", "tsk_x", "--done", "--redo"});
  EXPECT_EQ(both.exit_code, kExitBadUsage);
  CommandResult none = cadre({"resolve", "tsk_x"});
  EXPECT_EQ(none.exit_code, kExitBadUsage) << none.err;
  EXPECT_TRUE(contains(none.err, "--done, --redo, --fail")) << none.err;
  CommandResult state = cadre({"ls", "tasks", "--state", "finished"});
  EXPECT_EQ(state.exit_code, kExitBadUsage) << state.err;
}

// Fixed bug, kept as a regression test: src/store/sqlite/sqlite_db.cpp, SqliteDb::open(): the first processes
// to open a new workspace's database race to switch it to WAL
// (`PRAGMA journal_mode=WAL`) while it is still in rollback-journal mode;
// SQLite then reports SQLITE_BUSY at once (deadlock avoidance, the busy
// handler is not called), so one of them fails after ~100 ms with "database is
// locked" (exit 7) instead of waiting up to store.busy_timeout. Seen with
// `cadre serve` started together with `cadre run` (serve exited), and
// reproduced in 2 to 3 of 60 rounds of eight `cadre run` started together on
// one CPU (timing-dependent: this test runs 100 rounds). Opening should retry
// the switch while busy (or `cadre init` should create the database), so that
// commands started together all succeed.
TEST_F(Cli, CommandsStartedTogetherOnANewWorkspaceAllSucceed) {
  // One CPU (inherited by the cadre processes) makes the losing interleaving likely.
  struct OneCpu {
    cpu_set_t all;
    OneCpu() {
      sched_getaffinity(0, sizeof all, &all);
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(0, &one);
      sched_setaffinity(0, sizeof one, &one);
    }
    ~OneCpu() { sched_setaffinity(0, sizeof all, &all); }
  } one_cpu;
  int failures = 0;
  std::string example;
  for (int round = 0; round < 20; ++round) {
    const fs::path ws = dir_.path() / ("fresh-" + std::to_string(round));
    ASSERT_EQ(run_cadre({"init", ws.string()}).exit_code, kExitOk);
    std::vector<std::unique_ptr<Background>> runs;
    for (int i = 0; i < 8; ++i) {
      runs.push_back(std::make_unique<Background>(std::vector<std::string>{"run", "hello"}, ws,
                                                  next_log("together")));
    }
    for (auto& run : runs) {
      if (run->wait(20s) != kExitOk) {
        ++failures;
        example = run->err();
      }
    }
  }
  EXPECT_EQ(failures, 0) << "e.g. " << example;
}

}  // namespace
}  // namespace cadre
