// API tokens through the real `cadre` binary. Each test reads as a
// specification:
//   - `cadre token create NAME` prints the new token once, as the last word
//     of the last line of its output (`--json`: {name, token}); a bad name
//     is exit 2, an active name taken again exit 6;
//   - `cadre token ls` shows names, who made them and when, last use and
//     whether revoked, never a token or its hash;
//   - `cadre token revoke NAME` revokes; a name with no active token is
//     exit 3; a revoked name may be used again;
//   - creations and revocations are in the audit log by name and operator;
//   - no token appears in any other command's output or in any file of
//     the workspace.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "core/hash.h"
#include "core/json.h"
#include "test_support.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::contains;
using testing::json_of;
using testing::kExitBadUsage;
using testing::kExitConflict;
using testing::kExitNotFound;
using testing::kExitOk;
using testing::run_cadre;
using testing::TempDir;

fs::path make_workspace(const fs::path& parent) {
  fs::path ws = parent / "ws";
  CommandResult init = run_cadre({"init", ws.string()});
  EXPECT_EQ(init.exit_code, kExitOk) << init.err;
  return ws;
}

// The contract: the token is the last word of the last line.
std::string last_word(const std::string& out) {
  std::string text = out;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  size_t space = text.find_last_of(" \n");
  return space == std::string::npos ? text : text.substr(space + 1);
}

// Every file under `root` whose bytes hold `needle`.
std::vector<std::string> files_holding(const fs::path& root, const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file() && contains(testing::read_file(entry.path()), needle))
      found.push_back(entry.path().string());
  }
  return found;
}

class Token : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv("CADRE_ACTOR", "tester", 1); }
  void TearDown() override { ::unsetenv("CADRE_ACTOR"); }
};

TEST_F(Token, CreatePrintsTheTokenOnceAsTheLastWordOfTheLastLine) {
  TempDir dir;
  fs::path ws = make_workspace(dir.path());

  CommandResult created = run_cadre({"token", "create", "laptop"}, ws);
  ASSERT_EQ(created.exit_code, kExitOk) << created.err;
  const std::string token = last_word(created.out);
  EXPECT_TRUE(token.starts_with("cadre_")) << created.out;
  EXPECT_EQ(token.size(), 49u) << created.out;
  EXPECT_TRUE(contains(created.out, "shown only this once")) << created.out;

  CommandResult as_json = run_cadre({"token", "create", "ci-bot", "--json"}, ws);
  ASSERT_EQ(as_json.exit_code, kExitOk) << as_json.err;
  Json made = json_of(as_json);
  EXPECT_EQ(made["name"], "ci-bot");
  const std::string ci_token = made["token"].get<std::string>();
  EXPECT_TRUE(ci_token.starts_with("cadre_"));
  EXPECT_NE(ci_token, token);

  CommandResult again = run_cadre({"token", "create", "laptop"}, ws);
  EXPECT_EQ(again.exit_code, kExitConflict) << again.err;
  EXPECT_TRUE(contains(again.err, "cadre token revoke laptop")) << again.err;
  EXPECT_FALSE(contains(again.out, "cadre_")) << again.out;

  for (const char* bad : {"Laptop", "my token", "a/b", ""}) {
    CommandResult refused = run_cadre({"token", "create", bad}, ws);
    EXPECT_EQ(refused.exit_code, kExitBadUsage) << bad << ": " << refused.err;
  }

  // Shown once: no other command prints it, and no file holds it.
  std::vector<CommandResult> others = {
      run_cadre({"token", "ls"}, ws), run_cadre({"token", "ls", "--json"}, ws),
      run_cadre({"audit", "log", "--json"}, ws), run_cadre({"status"}, ws)};
  for (const auto& r : others) {
    for (const std::string& value : {token, ci_token, token.substr(6, 16), sha256_hex(token)})
      EXPECT_FALSE(contains(r.out + r.err, value)) << r.out;
  }
  for (const std::string& value : {token, ci_token, token.substr(6, 16)})
    EXPECT_EQ(files_holding(ws, value), std::vector<std::string>{});
}

TEST_F(Token, LsShowsWhoMadeEachTokenWhenItWasUsedAndWhetherItIsRevoked) {
  TempDir dir;
  fs::path ws = make_workspace(dir.path());
  CommandResult none = run_cadre({"token", "ls"}, ws);
  ASSERT_EQ(none.exit_code, kExitOk) << none.err;
  EXPECT_TRUE(contains(none.out, "No API tokens")) << none.out;

  ASSERT_EQ(run_cadre({"token", "create", "laptop"}, ws).exit_code, kExitOk);
  ASSERT_EQ(run_cadre({"token", "create", "old"}, ws).exit_code, kExitOk);
  CommandResult revoked = run_cadre({"token", "revoke", "old"}, ws);
  ASSERT_EQ(revoked.exit_code, kExitOk) << revoked.err;
  EXPECT_TRUE(contains(revoked.out, "Token old revoked")) << revoked.out;

  CommandResult listed = run_cadre({"token", "ls"}, ws);
  ASSERT_EQ(listed.exit_code, kExitOk) << listed.err;
  EXPECT_TRUE(contains(listed.out, "laptop  active  created ")) << listed.out;
  EXPECT_TRUE(contains(listed.out, "by operator:tester  last used never")) << listed.out;
  EXPECT_TRUE(contains(listed.out, "old  revoked 20")) << listed.out;

  Json tokens = json_of(run_cadre({"token", "ls", "--json"}, ws))["tokens"];
  ASSERT_EQ(tokens.size(), 2u) << tokens;
  EXPECT_EQ(tokens[0]["name"], "laptop");
  EXPECT_EQ(tokens[0]["state"], "active");
  EXPECT_EQ(tokens[0]["created_by"], "operator:tester");
  EXPECT_GT(tokens[0]["created_at"].get<int64_t>(), 0);
  EXPECT_EQ(tokens[0]["last_used_at"], 0);
  EXPECT_EQ(tokens[0]["revoked_at"], 0);
  EXPECT_EQ(tokens[1]["name"], "old");
  EXPECT_EQ(tokens[1]["state"], "revoked");
  EXPECT_GT(tokens[1]["revoked_at"].get<int64_t>(), 0);
  for (const auto& t : tokens) {
    EXPECT_FALSE(t.contains("token")) << t;
    EXPECT_FALSE(t.contains("token_hash")) << t;
  }
}

TEST_F(Token, RevokeOfNoActiveTokenIsNotFoundAndARevokedNameMayBeReused) {
  TempDir dir;
  fs::path ws = make_workspace(dir.path());
  CommandResult nobody = run_cadre({"token", "revoke", "nobody"}, ws);
  EXPECT_EQ(nobody.exit_code, kExitNotFound) << nobody.err;
  EXPECT_TRUE(contains(nobody.err, "there is no token nobody")) << nobody.err;

  const std::string first = last_word(run_cadre({"token", "create", "ci"}, ws).out);
  ASSERT_EQ(run_cadre({"token", "revoke", "ci"}, ws).exit_code, kExitOk);
  CommandResult twice = run_cadre({"token", "revoke", "ci"}, ws);
  EXPECT_EQ(twice.exit_code, kExitNotFound) << twice.err;
  EXPECT_TRUE(contains(twice.err, "already revoked")) << twice.err;

  CommandResult reused = run_cadre({"token", "create", "ci"}, ws);
  ASSERT_EQ(reused.exit_code, kExitOk) << reused.err;
  EXPECT_NE(last_word(reused.out), first);
  EXPECT_EQ(json_of(run_cadre({"token", "ls", "--json"}, ws))["tokens"][0]["state"], "active");

  std::vector<std::string> actions;
  for (const auto& entry : json_of(run_cadre({"audit", "log", "--json"}, ws))) {
    if (entry["subject"] != "ci") continue;
    actions.push_back(entry["action"]);
    EXPECT_EQ(entry["actor"], "operator:tester") << entry;
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"token.created", "token.revoked", "token.created"}));
}

}  // namespace
}  // namespace cadre
