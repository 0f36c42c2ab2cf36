// `cadre token create | ls | revoke`: the API tokens that let callers (and
// the web workspace's login) into `cadre serve`'s HTTP API. The logic is in
// server/auth.h. A token is printed once, by `create`, as the last word of
// its output's last line (scripts take it from there); the database keeps
// only its hash, and nothing else ever prints it.
#include <sodium.h>

#include <iostream>
#include <memory>

#include "cli/command_groups.h"
#include "cli/session.h"
#include "policy/approvals.h"
#include "server/auth.h"

namespace cadre {
namespace {

int cmd_token_create(const GlobalOptions& global, const std::string& name, bool json) {
  if (!is_token_name(name)) {
    return usage_error(
        "a token name is lower-case letters, digits, '_', '.' and '-' (1 to 64 characters)");
  }
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  auto created = create_api_token(*session->store, name, operator_identity(), now_ms());
  if (!created.ok()) return report_error(created.status());
  std::string token = std::move(created).value();
  if (json) {
    print_json(Json{{"name", name}, {"token", token}});
  } else {
    std::cout << "API token " << name
              << " created. It is shown only this once and stored as a hash:\n"
              << "keep it somewhere safe. Send it as \"Authorization: Bearer TOKEN\", or log in\n"
              << "to the web workspace with it. Revoke it with: cadre token revoke " << name << "\n"
              << "Token: " << token << "\n";
  }
  std::cout << std::flush;
  sodium_memzero(token.data(), token.size());
  return 0;
}

std::string time_or(TimeMs t, const char* none) {
  return t == 0 ? none : format_time_utc(t);
}

int cmd_token_ls(const GlobalOptions& global, bool json) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  auto tokens = list_api_tokens(*session->store);
  if (!tokens.ok()) return report_error(tokens.status());
  if (json) {
    Json rows = Json::array();
    for (const auto& t : *tokens) {
      rows.push_back({{"name", t.name},
                      {"state", t.revoked_at == 0 ? "active" : "revoked"},
                      {"created_by", t.created_by},
                      {"created_at", t.created_at},
                      {"created", format_time_utc(t.created_at)},
                      {"last_used_at", t.last_used_at},
                      {"last_used", time_or(t.last_used_at, "")},
                      {"revoked_at", t.revoked_at},
                      {"revoked", time_or(t.revoked_at, "")}});
    }
    print_json(Json{{"tokens", rows}});
    return 0;
  }
  if (tokens->empty()) std::cout << "No API tokens. Make one with: cadre token create NAME\n";
  for (const auto& t : *tokens) {
    std::cout << t.name << "  "
              << (t.revoked_at == 0 ? "active" : "revoked " + format_time_utc(t.revoked_at))
              << "  created " << format_time_utc(t.created_at) << " by " << t.created_by
              << "  last used " << time_or(t.last_used_at, "never") << "\n";
  }
  return 0;
}

int cmd_token_revoke(const GlobalOptions& global, const std::string& name) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  Status revoked = revoke_api_token(*session->store, name, operator_identity(), now_ms());
  if (!revoked.ok()) return report_error(revoked);
  std::cout << "Token " << name << " revoked; its browser sessions are ended.\n";
  return 0;
}

}  // namespace

void add_token_commands(CLI::App& app, const GlobalOptions& global, int& code) {
  auto* token = app.add_subcommand("token", "API tokens for the workspace server (cadre serve)");
  token->require_subcommand(1);

  auto name = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* create = token->add_subcommand(
      "create",
      "make a token; it is printed once, as the last word of the last line, and stored hashed");
  create->add_option("name", *name, "the token's name: [a-z0-9_.-], at most 64, e.g. laptop")
      ->required();
  create->add_flag("--json", *json, "machine-readable output: {name, token}");
  create->callback([&code, &global, name, json] { code = cmd_token_create(global, *name, *json); });

  auto* ls = token->add_subcommand(
      "ls", "tokens: who made them, when, last use, revoked or active (never values)");
  ls->add_flag("--json", *json, "machine-readable output");
  ls->callback([&code, &global, json] { code = cmd_token_ls(global, *json); });

  auto* revoke = token->add_subcommand(
      "revoke", "revoke a token and end its sessions (exit 3 if there is none)");
  revoke->add_option("name", *name, "the token's name")->required();
  revoke->callback([&code, &global, name] { code = cmd_token_revoke(global, *name); });
}

}  // namespace cadre
