#include "test_support.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

namespace cadre::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("cadre-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string cadre_binary() { return CADRE_BINARY; }
fs::path source_dir() { return CADRE_SOURCE_DIR; }

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& path, const std::string& content) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

namespace {

int spawn(const std::vector<std::string>& args, const fs::path& cwd, const fs::path& out_file,
          const fs::path& err_file, const fs::path& in_file = "/dev/null") {
  std::vector<std::string> argv_strings = {cadre_binary()};
  if (!cwd.empty()) {
    argv_strings.push_back("-w");
    argv_strings.push_back(cwd.string());
  }
  for (const auto& a : args) argv_strings.push_back(a);
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, in_file.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

}  // namespace

Json json_of(const CommandResult& result) {
  Json j = Json::parse(result.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << result.out << result.err;
  return j.is_discarded() ? Json(nullptr) : j;
}

bool eventually(const std::function<bool()>& probe, std::chrono::milliseconds timeout,
                std::chrono::milliseconds every) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (probe()) return true;
    if (std::chrono::steady_clock::now() > deadline) return probe();
    std::this_thread::sleep_for(every);
  }
}

namespace {

// Runs the binary and waits: stdin from `in_file`, stdout and stderr collected.
CommandResult run_to_end(const std::vector<std::string>& args, const fs::path& cwd, const fs::path& in_file) {
  TempDir io;
  // Commands that take a workspace get it through -w; `init` takes a folder argument instead.
  bool takes_workspace = !cwd.empty() && !(args.size() > 0 && args[0] == "init");
  int pid = spawn(args, takes_workspace ? cwd : fs::path(), io.path() / "out", io.path() / "err", in_file);
  CommandResult result;
  if (pid < 0) return result;
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_file(io.path() / "out");
  result.err = read_file(io.path() / "err");
  return result;
}

}  // namespace

CommandResult run_cadre(const std::vector<std::string>& args, const fs::path& cwd) {
  return run_to_end(args, cwd, "/dev/null");
}

CommandResult run_cadre_with_input(const std::vector<std::string>& args, const fs::path& ws,
                                   const std::string& input) {
  TempDir in;
  write_file(in.path() / "in", input);
  return run_to_end(args, ws, in.path() / "in");
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }


int spawn_cadre(const std::vector<std::string>& args, const fs::path& cwd, const fs::path& log_file) {
  // Tests run side by side: a serve listens on a free port unless told one.
  std::vector<std::string> with_port = args;
  if (!args.empty() && args[0] == "serve" && std::find(args.begin(), args.end(), "--port") == args.end()) {
    with_port.insert(with_port.end(), {"--port", "0"});
  }
  return spawn(with_port, cwd, log_file, log_file.string() + ".err");
}

int stop_process(int pid, int signal) {
  kill(pid, signal);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}


}  // namespace cadre::testing
