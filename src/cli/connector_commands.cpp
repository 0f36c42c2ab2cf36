// `cadre connectors [--json]`: each declared connector, its tools, and the
// health a process running it (serve, worker, ask) last recorded: circuit
// state, calls and success rate since that process started, last error.
#include <fmt/format.h>

#include <iostream>

#include "cli/command_groups.h"
#include "cli/session.h"
#include "connectors/connector_hub.h"

namespace cadre {
namespace {

std::string age(TimeMs at, TimeMs now) {
  if (at <= 0) return "never";
  const int64_t s = std::max<int64_t>(0, (now - at) / 1000);
  if (s < 120) return std::to_string(s) + " s ago";
  if (s < 7200) return std::to_string(s / 60) + " min ago";
  return std::to_string(s / 3600) + " h ago";
}

std::string text_of(const Json& health, const char* key) {
  auto it = health.find(key);
  return it != health.end() && it->is_string() ? it->get<std::string>() : "";
}

// The health's times are ISO texts; 0 when absent.
TimeMs time_of(const Json& health, const char* key) {
  auto at = parse_time_utc(text_of(health, key));
  return at.ok() ? *at : 0;
}

int cmd_connectors(const GlobalOptions& global, bool json) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  auto health = session->store->connector_states("health");
  if (!health.ok()) return report_error(health.status());
  Json rows = Json::array();
  for (const auto& def : session->workspace.connectors) {
    auto it = health->find(def.name);
    Json row = connector_status(def, it == health->end() ? Json() : it->second);
    Json tools = Json::array();
    for (const auto& spec : declared_tools(def)) tools.push_back(spec.name);
    row["tools"] = tools;
    rows.push_back(std::move(row));
  }
  if (json) {
    print_json(rows);
    return 0;
  }
  if (rows.empty()) {
    std::cout << "no connectors (declare them under connectors: in cadre.yaml or as connectors/NAME.yaml)\n";
    return 0;
  }
  const TimeMs now = now_ms();
  for (const auto& row : rows) {
    const Json& h = row["health"];
    std::string state = "not run yet";
    std::string figures;
    if (h.is_object()) {
      state = h.value("state", "?");
      const int64_t calls = h.value("calls", int64_t{0});
      figures = fmt::format("{} calls, {:.0f}% ok, last success {}, as of {}", calls,
                            100.0 * h.value("success_rate", 1.0), age(time_of(h, "last_success_at"), now),
                            age(time_of(h, "updated_at"), now));
    }
    std::cout << fmt::format("{:<16} {:<8} {:<10} {}\n", row["name"].get<std::string>(),
                             row["type"].get<std::string>(), state, figures);
    if (!text_of(h, "last_error").empty()) {
      std::cout << fmt::format("  last error ({}): {}\n", age(time_of(h, "last_error_at"), now),
                               text_of(h, "last_error"));
    }
    if (!text_of(h, "poll_error").empty()) std::cout << "  polling: " << text_of(h, "poll_error") << "\n";
    if (state == "open" && time_of(h, "retry_at") > now) {
      std::cout << fmt::format("  calls refused until a trial call in {} s\n", (time_of(h, "retry_at") - now) / 1000);
    }
    if (!row["tools"].empty()) {
      std::string list;
      for (const auto& tool : row["tools"]) list += (list.empty() ? "" : ", ") + tool.get<std::string>();
      std::cout << "  tools: " << list << "\n";
    } else if (row["type"] == "mcp" && h.is_object()) {
      std::cout << "  tools: " << h.value("tools", 0) << ", as the server listed them\n";
    } else if (row["type"] == "mcp") {
      std::cout << "  tools: as the server lists them\n";
    }
  }
  return 0;
}

}  // namespace

void add_connector_commands(CLI::App& app, const GlobalOptions& global, int& code) {
  auto json = std::make_shared<bool>(false);
  auto* connectors = app.add_subcommand("connectors", "connectors, their tools and their health");
  connectors->add_flag("--json", *json, "machine-readable output");
  connectors->callback([&code, &global, json] { code = cmd_connectors(global, *json); });
}

}  // namespace cadre
