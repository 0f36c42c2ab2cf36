// `cadre secret set | ls | rm`: the workspace's secrets, encrypted in its
// state folder (secrets/secret_store.h). A value is read from standard
// input, never from the command line (it would sit in the shell's history
// and in `ps`), and never printed. Changes are audited by name.
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "agents/runtime.h"
#include "cli/command_groups.h"
#include "cli/session.h"
#include "core/redact.h"
#include "core/references.h"
#include "secrets/secret_store.h"

namespace cadre {
namespace {

// Wipes a value when it goes out of scope.
struct WipedOnExit {
  std::string& value;
  ~WipedOnExit() { sodium_memzero(value.data(), value.size()); }
};

std::string operator_actor() {
  const char* user = std::getenv("USER");
  return std::string("operator:") + (user != nullptr && *user != '\0' ? user : "unknown");
}

Status audit_change(Store& store, const std::string& action, const std::string& name,
                    Json data = Json::object()) {
  AuditEntry entry;
  entry.at = now_ms();
  entry.actor = operator_actor();
  entry.action = action;
  entry.subject = name;  // the name only, never the value
  entry.data = std::move(data);
  return store.audit().append(std::move(entry)).status();
}

// One line typed at a terminal, not echoed.
Result<std::string> read_hidden_line(const std::string& name) {
  std::cerr << "Value of " << name << " (not shown): " << std::flush;
  termios before{};
  const bool terminal = tcgetattr(STDIN_FILENO, &before) == 0;
  if (terminal) {
    termios quiet = before;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (terminal) tcsetattr(STDIN_FILENO, TCSAFLUSH, &before);
  std::cerr << "\n";
  return line;
}

// Everything on standard input (a pipe or a file), with one trailing
// newline dropped (`echo value |` adds one).
Result<std::string> read_piped_value() {
  std::string value;
  char buffer[4096];
  while (true) {
    ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError("cannot read the value from standard input");
    if (n == 0) break;
    value.append(buffer, static_cast<size_t>(n));
    if (value.size() > kMaxSecretValueBytes + 2) {
      sodium_memzero(value.data(), value.size());
      sodium_memzero(buffer, sizeof buffer);
      return Status::ResourceExhausted("the value on standard input is longer than " +
                                       std::to_string(kMaxSecretValueBytes) + " bytes");
    }
  }
  sodium_memzero(buffer, sizeof buffer);
  if (value.ends_with("\r\n")) {
    value.resize(value.size() - 2);
  } else if (value.ends_with("\n")) {
    value.pop_back();
  }
  return value;
}

int cmd_secret_set(const GlobalOptions& global, const std::string& name) {
  if (!is_secret_name(name)) {
    return usage_error(
        "a secret name is letters, digits, '_', '.' and '-' (at most 64), starting with a letter "
        "or '_'");
  }
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  Result<std::string> read = isatty(STDIN_FILENO) ? read_hidden_line(name) : read_piped_value();
  if (!read.ok()) return report_error(read.status());
  std::string value = std::move(read).value();
  WipedOnExit wipe{value};
  if (value.empty()) {
    return report_error(Status::InvalidArgument(
        "secret " + name + ": the value is empty (give it on standard input: cadre secret set " +
        name + " < file)"));
  }
  // From here on any message that might quote it is redacted.
  register_secret_value(name, value);

  SecretStore secrets(workspace_state_dir(session->workspace));
  auto known = secrets.list();
  if (!known.ok()) return report_error(known.status());
  bool replaced = std::any_of(known->begin(), known->end(),
                              [&](const SecretInfo& info) { return info.name == name; });
  Status stored = secrets.set(name, value, now_ms());
  if (!stored.ok()) return report_error(stored);
  Status audited = audit_change(*session->store, "secret.set", name, Json{{"replaced", replaced}});
  if (!audited.ok())
    return report_error(audited.with_context("secret " + name + " was set, but the audit log"));
  std::cout << "Secret " << name << (replaced ? " replaced" : " set")
            << " (encrypted in .cadre/secrets.json).\n";
  return 0;
}

int cmd_secret_ls(const GlobalOptions& global, bool json) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  auto list = SecretStore(workspace_state_dir(session->workspace)).list();
  if (!list.ok()) return report_error(list.status());
  if (json) {
    Json rows = Json::array();
    for (const auto& info : *list) {
      rows.push_back({{"name", info.name},
                      {"updated_at", info.updated_at},
                      {"updated", format_time_utc(info.updated_at)}});
    }
    print_json(Json{{"secrets", rows}});
    return 0;
  }
  if (list->empty()) std::cout << "No secrets. Add one with: cadre secret set NAME < file\n";
  for (const auto& info : *list)
    std::cout << info.name << "  updated " << format_time_utc(info.updated_at) << "\n";
  return 0;
}

int cmd_secret_rm(const GlobalOptions& global, const std::string& name) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  Status removed = SecretStore(workspace_state_dir(session->workspace)).remove(name);
  if (!removed.ok()) return report_error(removed);
  Status audited = audit_change(*session->store, "secret.removed", name);
  if (!audited.ok())
    return report_error(audited.with_context("secret " + name + " was removed, but the audit log"));
  std::cout << "Secret " << name << " removed.\n";
  return 0;
}

}  // namespace

void add_secret_commands(CLI::App& app, const GlobalOptions& global, int& code) {
  auto* secret = app.add_subcommand(
      "secret", "secrets encrypted in .cadre/, used in cadre.yaml as ${secret:NAME}");
  secret->require_subcommand(1);

  auto name = std::make_shared<std::string>();
  auto* set = secret->add_subcommand(
      "set", "add or replace a secret; the value is read from standard input, never echoed");
  set->add_option("name", *name, "the secret's name, e.g. OPENAI_API_KEY")->required();
  set->callback([&code, &global, name] { code = cmd_secret_set(global, *name); });

  auto json = std::make_shared<bool>(false);
  auto* ls = secret->add_subcommand("ls", "secret names and when each was last set (never values)");
  ls->add_flag("--json", *json, "machine-readable output");
  ls->callback([&code, &global, json] { code = cmd_secret_ls(global, *json); });

  auto* rm = secret->add_subcommand("rm", "remove a secret (exit 3 if there is none)");
  rm->add_option("name", *name, "the secret's name")->required();
  rm->callback([&code, &global, name] { code = cmd_secret_rm(global, *name); });
}

}  // namespace cadre
