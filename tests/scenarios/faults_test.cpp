// Faults give clear errors and lose nothing, through the real binary: a
// database another process holds, a damaged database file, a full disk, a
// read-only workspace. The disk scenarios run as shell scripts in a private
// mount namespace (`unshare -m`) on small tmpfs mounts, and are skipped, with
// the reason, where mounting is not permitted. Exit codes are the ones
// documented in src/cli/cli_app.h.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>

#include "core/json.h"
#include "test_support.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::json_of;
using testing::CommandResult;
using testing::contains;
using testing::kExitBusy;
using testing::kExitOk;
using testing::kExitRunFailed;
using testing::read_file;
using testing::run_cadre;
using testing::TempDir;
using testing::write_file;


constexpr char kSavePlaybook[] =
    "description: Save a note\n"
    "inputs:\n"
    "  name: {type: string, required: true}\n"
    "steps:\n"
    "  - id: save\n"
    "    uses: file.write\n"
    "    retry: {attempts: 2, backoff: 100ms}\n"
    "    with: {path: \"out/{{ input.name }}.txt\", content: \"note {{ input.name }}\"}\n";


std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// A workspace with quick kernel settings, a `save` playbook and its database
// already created.
fs::path make_workspace(const fs::path& parent, const std::string& extra_config = "") {
  fs::path ws = parent / "ws";
  CommandResult init = run_cadre({"init", ws.string()});
  EXPECT_EQ(init.exit_code, kExitOk) << init.err;
  write_file(ws / "cadre.yaml",
             "name: faults\n"
             "kernel: {workers: 2, poll_interval: 50ms, heartbeat: 1s, lease: 5s, "
             "shutdown_grace: 2s}\n" +
                 extra_config);
  write_file(ws / "playbooks" / "save.yaml", kSavePlaybook);
  CommandResult status = run_cadre({"status"}, ws);
  EXPECT_EQ(status.exit_code, kExitOk) << status.err;
  return ws;
}

// `cadre serve` in the background; killed if the test ends while it runs.
class Server {
 public:
  Server(const fs::path& ws, const fs::path& log) : log_(log) {
    pid_ = testing::spawn_cadre({"serve"}, ws, log_);
    EXPECT_GT(pid_, 0);
  }
  ~Server() {
    if (alive()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool alive() {
    if (pid_ <= 0 || exit_code_ >= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return exit_code_ < 0;
  }
  // Waits up to `timeout` for it to end; its exit code, or -1 if still running.
  int wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (alive() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    return exit_code_;
  }
  int stop() {
    if (alive()) kill(pid_, SIGTERM);
    return wait(20s);
  }
  std::string log() const { return read_file(log_.string() + ".err"); }

 private:
  fs::path log_;
  int pid_ = -1;
  int exit_code_ = -1;
};

// --- a database another process holds --------------------------------------

// Another program (a backup, an sqlite3 shell) holding the write lock.
class WriteLockHolder {
 public:
  explicit WriteLockHolder(const fs::path& db_path) {
    EXPECT_EQ(sqlite3_open(db_path.c_str(), &db_), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, "BEGIN EXCLUSIVE", nullptr, nullptr, &error), SQLITE_OK)
        << (error ? error : "");
    sqlite3_free(error);
  }
  ~WriteLockHolder() { release(); }
  void release() {
    if (!db_) return;
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
    db_ = nullptr;
  }

 private:
  sqlite3* db_ = nullptr;
};

TEST(Faults, ALockedDatabaseMakesRunFailAsBusyWithinTheBusyTimeoutAndLosesNothing) {
  TempDir dir;
  const fs::path ws = make_workspace(dir.path(), "store: {busy_timeout: 1s}\n");
  Server server(ws, dir.path() / "serve.log");
  CommandResult before =
      run_cadre({"run", "save", "--input", "name=before", "--wait", "--timeout", "20"}, ws);
  ASSERT_EQ(before.exit_code, kExitOk) << before.err;

  WriteLockHolder holder(ws / ".cadre" / "cadre.db");
  auto started = std::chrono::steady_clock::now();
  CommandResult blocked = run_cadre({"run", "save", "--input", "name=blocked"}, ws);
  auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(blocked.exit_code, kExitBusy) << blocked.out << blocked.err;
  EXPECT_TRUE(contains(blocked.err, "database is locked")) << blocked.err;
  EXPECT_TRUE(contains(blocked.err, "another process holds the database; retry later"))
      << blocked.err;
  EXPECT_GE(waited, 900ms) << "it waits for the lock up to store.busy_timeout";
  EXPECT_LT(waited, 4s) << "and then gives up";
  EXPECT_TRUE(server.alive()) << "cadre serve rides out a busy database\n" << server.log();

  holder.release();
  CommandResult after =
      run_cadre({"run", "save", "--input", "name=after", "--wait", "--timeout", "20"}, ws);
  EXPECT_EQ(after.exit_code, kExitOk) << after.err;
  EXPECT_EQ(read_file(ws / "out" / "after.txt"), "note after");
  EXPECT_EQ(read_file(ws / "out" / "before.txt"), "note before");
  Json objectives = json_of(run_cadre({"ls", "objectives", "--json"}, ws));
  EXPECT_EQ(objectives.size(), 2u) << "the refused run left nothing behind: " << objectives.dump(2);
  EXPECT_FALSE(fs::exists(ws / "out" / "blocked.txt"));
  EXPECT_EQ(server.stop(), kExitOk) << server.log();
}

// Fixed bug, kept as a regression test: src/store/sqlite/sqlite_store.cpp, SqliteStore::open() -> migrate():
// every command opens the store by running the schema check inside a write
// transaction (BEGIN IMMEDIATE), even when the schema is current and the
// command only reads. So while another process holds the write lock,
// `cadre ls`, `show` and `status` fail with "database is locked" (exit 7)
// although the database is in WAL mode, where readers never wait for a
// writer. Reading commands should check the schema version without the
// write lock and keep working.
TEST(Faults, ReadingCommandsWorkWhileAnotherProcessHoldsTheWriteLock) {
  TempDir dir;
  const fs::path ws = make_workspace(dir.path(), "store: {busy_timeout: 1s}\n");
  CommandResult run = run_cadre({"run", "save", "--input", "name=a"}, ws);
  ASSERT_EQ(run.exit_code, kExitOk) << run.err;
  const std::string id = first_line(run.out);
  WriteLockHolder holder(ws / ".cadre" / "cadre.db");
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"ls", "objectives"}, {"show", id}, {"status"}}) {
    CommandResult r = run_cadre(args, ws);
    EXPECT_EQ(r.exit_code, kExitOk) << args[0] << ": " << r.err;
  }
}

// --- a damaged database file ---------------------------------------------

void expect_refused_as_damaged(const fs::path& dir, const fs::path& ws,
                               const std::vector<std::vector<std::string>>& commands) {
  for (const auto& args : commands) {
    CommandResult r = run_cadre(args, ws);
    EXPECT_NE(r.exit_code, kExitOk) << args[0];
    EXPECT_LT(r.exit_code, 128) << args[0] << " crashed";
    EXPECT_TRUE(contains(r.err, "the database file is damaged or not a Cadre database"))
        << args[0] << ": " << r.err;
  }
  Server server(ws, dir / "serve.log");
  int code = server.wait(10s);
  EXPECT_GT(code, 0) << "cadre serve must refuse a damaged database, not run on it";
  EXPECT_LT(code, 128) << "cadre serve crashed";
  EXPECT_TRUE(contains(server.log(), "damaged or not a Cadre database")) << server.log();
}

std::string garbage(size_t size) {
  std::mt19937 rng(42);
  std::string bytes(size, '\0');
  for (auto& b : bytes) b = static_cast<char>(rng() & 0xff);
  return bytes;
}

TEST(Faults, ADatabaseFileOfGarbageIsReportedAsDamagedAndLeftUntouched) {
  TempDir dir;
  const fs::path ws = dir.path() / "ws";
  ASSERT_EQ(run_cadre({"init", ws.string()}).exit_code, kExitOk);
  const fs::path db = ws / ".cadre" / "cadre.db";
  const std::string damaged = garbage(8192);
  write_file(db, damaged);

  expect_refused_as_damaged(dir.path(), ws,
                            {{"run", "hello"},
                             {"ls", "objectives"},
                             {"status"},
                             {"show", "obj_0"},
                             {"emit", "ping"},
                             {"retry", "obj_0"},
                             {"resolve", "tsk_0", "--done"}});
  EXPECT_EQ(read_file(db), damaged) << "the damaged file must be kept as it was, for recovery";
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(ws / ".cadre")) {
    files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{".gitignore", "cadre.db"})) << "nothing was added";
  EXPECT_EQ(run_cadre({"check"}, ws).exit_code, kExitOk) << "the workspace files are still fine";
}

TEST(Faults, ADatabaseDamagedInsideIsReportedAndLeftUntouched) {
  TempDir dir;
  const fs::path ws = make_workspace(dir.path());
  std::string id;
  for (int i = 0; i < 5; ++i) {
    CommandResult r = run_cadre({"run", "save", "--input", "name=n" + std::to_string(i)}, ws);
    ASSERT_EQ(r.exit_code, kExitOk) << r.err;
    id = first_line(r.out);
  }
  const fs::path db = ws / ".cadre" / "cadre.db";
  ASSERT_FALSE(fs::exists(ws / ".cadre" / "cadre.db-wal")) << "everything is in the main file";
  // Everything after the first page (the header and the start of the schema)
  // becomes garbage.
  std::string bytes = read_file(db);
  ASSERT_GT(bytes.size(), 8192u);
  std::string tail = garbage(bytes.size() - 4096);
  bytes.replace(4096, tail.size(), tail);
  write_file(db, bytes);

  expect_refused_as_damaged(
      dir.path(), ws,
      {{"ls", "objectives"}, {"show", id}, {"run", "save", "--input", "name=more"}});
  EXPECT_EQ(read_file(db), bytes) << "the damaged file must be kept as it was, for recovery";
}

// Fixed bug, kept as a regression test: src/store/sqlite/sqlite_store.cpp, SqliteStore::migrate(): a SQLite
// file that is not a Cadre database (user_version 0 but with tables of its
// own, e.g. store.path pointing at another application's database) is taken
// for a new one: Cadre's tables are created inside it and the command goes on
// as if nothing were wrong. It should be refused, untouched, with "not a
// Cadre database", like a file of garbage; only an empty file is new.
TEST(Faults, AnotherApplicationsSqliteDatabaseIsRefusedAndLeftUntouched) {
  TempDir dir;
  const fs::path ws = dir.path() / "ws";
  ASSERT_EQ(run_cadre({"init", ws.string()}).exit_code, kExitOk);
  const fs::path db = ws / ".cadre" / "cadre.db";
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(handle,
                         "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);"
                         "INSERT INTO customers VALUES (1, 'acme');",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(handle);
  const std::string original = read_file(db);

  CommandResult r = run_cadre({"ls", "objectives"}, ws);
  EXPECT_NE(r.exit_code, kExitOk);
  EXPECT_TRUE(contains(r.err, "not a Cadre database")) << r.err;
  EXPECT_EQ(read_file(db), original) << "Cadre's tables were written into another database";
}

// --- full disk and read-only workspace (private mount namespace) -----------

// A shell script run as root in its own mount namespace. `step NAME CMD...`
// in it records CMD's exit code, stdout and stderr as NAME.rc, NAME.out and
// NAME.err in the test's folder, outside the namespace's mounts, where the
// test reads them afterwards.
class NamespaceScript {
 public:
  explicit NamespaceScript(const fs::path& dir) : dir_(dir) {}

  // Whether this machine lets us mount a tmpfs in a private mount namespace;
  // `why` says what failed when it does not.
  static bool available(const fs::path& dir, std::string* why) {
    fs::create_directories(dir / "probe");
    std::string command = "unshare -m sh -c 'mount -t tmpfs -o size=64k tmpfs \"" +
                          (dir / "probe").string() + "\"' > \"" + (dir / "probe.log").string() +
                          "\" 2>&1";
    int status = std::system(command.c_str());
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
    *why = "cannot mount a tmpfs in a private mount namespace (need root and `unshare -m`): " +
           read_file(dir / "probe.log");
    return false;
  }

  // Runs `body` after a prelude defining C (the cadre binary), OUT (the
  // results folder), MNT (a mount point), step and alive. Bounded to 90 s.
  void run(const std::string& body) {
    fs::create_directories(dir_ / "mnt");
    std::string script =
        "set -u\n"
        "C='" +
        testing::cadre_binary() +
        "'\n"
        "OUT='" +
        dir_.string() +
        "'\n"
        "MNT='" +
        (dir_ / "mnt").string() +
        "'\n"
        "step() { name=$1; shift; \"$@\" >\"$OUT/$name.out\" 2>\"$OUT/$name.err\"; "
        "echo $? >\"$OUT/$name.rc\"; }\n"
        "alive() { grep -q '^State:[[:space:]]*[^Z]' /proc/$1/status 2>/dev/null; }\n"
        "record() { echo $2 >\"$OUT/$1.rc\"; }\n" +
        body;
    write_file(dir_ / "script.sh", script);
    std::string command = "timeout 90 unshare -m sh '" + (dir_ / "script.sh").string() + "' > '" +
                          (dir_ / "script.log").string() + "' 2>&1";
    int status = std::system(command.c_str());
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  int exit_code() const { return exit_code_; }
  std::string log() const { return read_file(dir_ / "script.log"); }
  // The exit code of step NAME, or -1 if it did not run.
  int rc(const std::string& name) const {
    std::string text = read_file(dir_ / (name + ".rc"));
    return text.empty() ? -1 : std::stoi(text);
  }
  std::string out(const std::string& name) const { return read_file(dir_ / (name + ".out")); }
  std::string err(const std::string& name) const { return read_file(dir_ / (name + ".err")); }
  // Everything step NAME printed, for failure messages.
  std::string said(const std::string& name) const {
    return name + " exited " + std::to_string(rc(name)) + "\nstdout:\n" + out(name) + "stderr:\n" +
           err(name);
  }

 private:
  fs::path dir_;
  int exit_code_ = -1;
};

#define SKIP_WITHOUT_MOUNTS(dir)                                       \
  do {                                                                 \
    std::string why_;                                                  \
    if (!NamespaceScript::available(dir, &why_)) GTEST_SKIP() << why_; \
  } while (0)

// The common start: a workspace on a 4 MiB tmpfs at $MNT/ws, its out/ folder
// on its own 256 KiB tmpfs, the database created, and `cadre serve` running
// as $SP (killed when the script exits).
constexpr char kWorkspaceOnTmpfs[] = R"SH(
mount -t tmpfs -o size=4m tmpfs "$MNT" || exit 90
WS="$MNT/ws"
"$C" init "$WS" >/dev/null || exit 91
cat > "$WS/cadre.yaml" <<'YAML'
name: small-disk
kernel: {workers: 2, poll_interval: 50ms, heartbeat: 1s, lease: 5s, shutdown_grace: 2s}
YAML
cat > "$WS/playbooks/save.yaml" <<'YAML'
description: Save a note
inputs:
  name: {type: string, required: true}
steps:
  - id: save
    uses: file.write
    retry: {attempts: 2, backoff: 100ms}
    with: {path: "out/{{ input.name }}.txt", content: "note {{ input.name }}"}
YAML
mkdir -p "$WS/out"
mount -t tmpfs -o size=256k tmpfs "$WS/out" || exit 92
"$C" -w "$WS" status >/dev/null || exit 93
"$C" -w "$WS" serve >"$OUT/serve.log" 2>&1 &
SP=$!
trap 'kill -9 $SP 2>/dev/null' EXIT
step early "$C" -w "$WS" run save --input name=early --wait --timeout 20
EARLY=$(head -n 1 "$OUT/early.out")
)SH";

TEST(Faults, AFullDiskFailsTheStepVisiblyWhileServeStaysUpAndNothingIsLost) {
  TempDir dir;
  SKIP_WITHOUT_MOUNTS(dir.path());
  NamespaceScript script(dir.path());
  script.run(std::string(kWorkspaceOnTmpfs) + R"SH(
dd if=/dev/zero of="$WS/out/filler" bs=4k 2>/dev/null
step late "$C" -w "$WS" run save --input name=late --wait --timeout 20
LATE=$(head -n 1 "$OUT/late.out")
alive $SP; record alive_when_full $?
step show_late "$C" -w "$WS" show "$LATE"
step show_early "$C" -w "$WS" show "$EARLY"
step early_file cat "$WS/out/early.txt"
step out_files ls -A "$WS/out"
rm "$WS/out/filler"
step retry_late "$C" -w "$WS" retry "$LATE"
for i in $(seq 1 100); do
  "$C" -w "$WS" show "$LATE" | grep -q "^objective $LATE  succeeded" && break
  sleep 0.1
done
step show_late_after "$C" -w "$WS" show "$LATE"
step late_file cat "$WS/out/late.txt"
kill -TERM $SP; wait $SP; record serve_stopped $?
)SH");
  ASSERT_EQ(script.rc("early"), kExitOk) << script.said("early") << script.log();

  // The step fails, saying why, and so does the run.
  EXPECT_EQ(script.rc("late"), kExitRunFailed) << script.said("late");
  EXPECT_TRUE(contains(script.out("late"), "No space left on device (the disk is full)"))
      << script.said("late");
  EXPECT_TRUE(contains(script.out("show_late"), "task save [failed]")) << script.said("show_late");
  EXPECT_TRUE(
      contains(script.out("show_late"), "err resource_exhausted: cannot write out/late.txt"))
      << script.said("show_late");
  EXPECT_TRUE(contains(script.out("show_late"), "attempt 2 of 2")) << script.said("show_late");

  // The server stays up; earlier work is intact; no half-written file is left.
  EXPECT_EQ(script.rc("alive_when_full"), 0) << "cadre serve died\n"
                                             << read_file(dir.path() / "serve.log");
  EXPECT_TRUE(contains(script.out("show_early"), "succeeded")) << script.said("show_early");
  EXPECT_EQ(script.out("early_file"), "note early");
  EXPECT_EQ(script.out("out_files"), "early.txt\nfiller\n") << "a temporary file was left behind";

  // Once there is room again, the failed run is retried and finishes.
  EXPECT_EQ(script.rc("retry_late"), kExitOk) << script.said("retry_late");
  EXPECT_TRUE(contains(script.out("show_late_after"), "objective ")) << script.log();
  EXPECT_TRUE(contains(first_line(script.out("show_late_after")), "succeeded"))
      << script.said("show_late_after");
  EXPECT_EQ(script.out("late_file"), "note late");
  EXPECT_EQ(script.rc("serve_stopped"), kExitOk) << read_file(dir.path() / "serve.log");
}

TEST(Faults, ADatabaseThatCannotGrowReportsTheFullDiskAndLosesNothing) {
  TempDir dir;
  SKIP_WITHOUT_MOUNTS(dir.path());
  NamespaceScript script(dir.path());
  script.run(std::string(kWorkspaceOnTmpfs) + R"SH(
dd if=/dev/zero of="$MNT/filler" bs=4k 2>/dev/null
# Larger than the slack a database and its WAL keep for reuse (a WAL just
# checkpointed is written again from its start): each write must grow a file.
PAD=$(head -c 120000 /dev/zero | tr '\0' x)
step full_run "$C" -w "$WS" run save --input "name=late$PAD"
step full_emit "$C" -w "$WS" emit ping --data "{\"pad\": \"$PAD\"}"
alive $SP; record alive_when_full $?
step ls_full "$C" -w "$WS" ls objectives --json
step show_early "$C" -w "$WS" show "$EARLY"
rm "$MNT/filler"
step after "$C" -w "$WS" run save --input name=after --wait --timeout 20
step ls_after "$C" -w "$WS" ls objectives --json
alive $SP; record alive_after $?
kill -TERM $SP; wait $SP; record serve_stopped $?
)SH");
  ASSERT_EQ(script.rc("early"), kExitOk) << script.said("early") << script.log();

  for (const char* step : {"full_run", "full_emit"}) {
    EXPECT_NE(script.rc(step), kExitOk) << script.said(step);
    EXPECT_LT(script.rc(step), 128) << "it crashed\n" << script.said(step);
    EXPECT_TRUE(contains(script.err(step), "the disk is full; nothing was written"))
        << script.said(step);
  }
  EXPECT_EQ(script.rc("alive_when_full"), 0) << read_file(dir.path() / "serve.log");

  // What was stored can still be read.
  EXPECT_EQ(script.rc("ls_full"), kExitOk) << script.said("ls_full");
  Json full = Json::parse(script.out("ls_full"), nullptr, false);
  ASSERT_TRUE(full.is_array()) << script.said("ls_full");
  EXPECT_EQ(full.size(), 1u) << "the refused run left nothing behind";
  EXPECT_TRUE(contains(script.out("show_early"), "succeeded")) << script.said("show_early");

  // With room again, everything works; the server never stopped.
  EXPECT_EQ(script.rc("after"), kExitOk) << script.said("after");
  Json after = Json::parse(script.out("ls_after"), nullptr, false);
  EXPECT_EQ(after.size(), 2u) << script.said("ls_after");
  EXPECT_EQ(script.rc("alive_after"), 0) << read_file(dir.path() / "serve.log");
  EXPECT_EQ(script.rc("serve_stopped"), kExitOk) << read_file(dir.path() / "serve.log");
}

// A workspace whose out/ folder, then the whole file system, turns read-only.
void run_read_only_scenario(NamespaceScript& script) {
  script.run(std::string(kWorkspaceOnTmpfs) + R"SH(
mount -o remount,ro "$WS/out"; record remount_out $?
step late "$C" -w "$WS" run save --input name=late --wait --timeout 20
alive $SP; record alive_when_read_only $?
kill -TERM $SP; wait $SP; record serve_stopped $?
mount -o remount,ro "$MNT"; record remount_workspace $?
step ro_ls "$C" -w "$WS" ls objectives
step ro_show "$C" -w "$WS" show "$EARLY"
step ro_status "$C" -w "$WS" status
step ro_run "$C" -w "$WS" run save --input name=later
step ro_emit "$C" -w "$WS" emit ping
step ro_check "$C" -w "$WS" check
step ro_init "$C" init "$MNT/another"
step ro_serve timeout 10 "$C" -w "$WS" serve
)SH");
}

TEST(Faults, AReadOnlyWorkspaceFailsCommandsWithoutCrashing) {
  TempDir dir;
  SKIP_WITHOUT_MOUNTS(dir.path());
  NamespaceScript script(dir.path());
  run_read_only_scenario(script);
  ASSERT_EQ(script.rc("early"), kExitOk) << script.said("early") << script.log();
  ASSERT_EQ(script.rc("remount_out"), 0) << script.log();

  // A step writing into a read-only folder fails, saying so; the server stays up.
  EXPECT_EQ(script.rc("late"), kExitRunFailed) << script.said("late");
  EXPECT_TRUE(contains(script.out("late"), "(a read-only file system)"))
      << script.said("late");
  EXPECT_EQ(script.rc("alive_when_read_only"), 0) << read_file(dir.path() / "serve.log");
  EXPECT_EQ(script.rc("serve_stopped"), kExitOk) << read_file(dir.path() / "serve.log");

  // With the whole workspace read-only, nothing crashes or hangs.
  ASSERT_EQ(script.rc("remount_workspace"), 0) << script.log();
  for (const char* step : {"ro_ls", "ro_show", "ro_status", "ro_run", "ro_emit", "ro_serve"}) {
    EXPECT_GT(script.rc(step), 0) << script.said(step);
    EXPECT_LT(script.rc(step), 124) << "crashed or hung\n" << script.said(step);
  }
  EXPECT_EQ(script.rc("ro_check"), kExitOk) << "checking only reads\n" << script.said("ro_check");
  EXPECT_NE(script.rc("ro_init"), kExitOk);
  EXPECT_TRUE(contains(script.err("ro_init"), "Read-only file system")) << script.said("ro_init");
}

// Fixed bug, kept as a regression test: src/store/sqlite/sqlite_db.cpp, sqlite_status() (with SqliteDb::open):
// on a read-only workspace every command that opens the database fails with
// "database command failed: unable to open database file": SQLite cannot
// create the WAL index (-shm) there and reports SQLITE_CANTOPEN, which is
// turned into a bare IOError. Nothing says the workspace is read-only. The
// message should say so (e.g. check errno EROFS / access(W_OK) on the folder
// when open or the journal_mode pragma fails); ideally `ls`, `show` and
// `status` would still read (SQLITE_OPEN_READONLY).
TEST(Faults, AReadOnlyWorkspaceIsReportedAsReadOnly) {
  TempDir dir;
  SKIP_WITHOUT_MOUNTS(dir.path());
  NamespaceScript script(dir.path());
  run_read_only_scenario(script);
  ASSERT_EQ(script.rc("remount_workspace"), 0) << script.log();
  for (const char* step : {"ro_ls", "ro_show", "ro_status", "ro_run", "ro_emit", "ro_serve"}) {
    EXPECT_TRUE(contains(script.err(step), "read-only")) << script.said(step);
  }
}

}  // namespace
}  // namespace cadre
