// `cadre log-manual "WHAT" [--agent NAME] [--minutes N] [--at WHEN]`: work
// the operator did by hand, the other side of automation coverage; and
// `cadre metrics [--days N] [--json | --prometheus]`: the metrics that
// compound (server/metrics.h has every definition), per agent and overall,
// with the current drift alerts.
#include <fmt/format.h>

#include <iostream>

#include "cli/command_groups.h"
#include "cli/session.h"
#include "core/duration.h"
#include "policy/approvals.h"
#include "server/metrics.h"
#include "server/prometheus.h"

namespace cadre {
namespace {

// An ISO 8601 time, or a duration meaning that long ago ("2h").
Result<TimeMs> parse_when(const std::string& option, const std::string& text, TimeMs now) {
  if (auto t = parse_time_utc(text); t.ok()) return *t;
  if (auto d = parse_duration(text); d.ok()) return now - *d;
  return Status::InvalidArgument(
      option + " '" + text + "' is neither a time (2026-11-01T09:00:00Z) nor a duration ago (2h)");
}

struct LogManualArgs {
  std::string what, agent, at;
  int64_t minutes = 0;
  bool json = false;
};

int cmd_log_manual(const GlobalOptions& global, const LogManualArgs& args) {
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  const TimeMs now = now_ms();
  ManualWorkRequest request{args.what, args.agent, args.minutes, 0};
  if (!args.at.empty()) {
    auto at = parse_when("--at", args.at, now);
    if (!at.ok()) return report_error(at.status());
    request.at = *at;
  }
  auto work =
      record_manual_work(*session->store, session->workspace, request, operator_identity(), now);
  if (!work.ok()) return report_error(work.status());
  if (args.json) {
    print_json(to_json(*work));
    return 0;
  }
  std::cout << "logged " << work->id << ": " << one_line(work->description, 120)
            << (work->agent.empty() ? "" : " (" + work->agent + "'s kind of work)")
            << (work->minutes > 0 ? ", " + std::to_string(work->minutes) + " min" : "") << " at "
            << format_time_utc(work->at) << "\n";
  return 0;
}

std::string percent(const Json& ratio) {
  return ratio.is_number() ? fmt::format("{:.0f}%", ratio.get<double>() * 100) : "-";
}

std::string seconds(const Json& ms) {
  if (!ms.is_number()) return "-";
  const double s = ms.get<double>() / 1000.0;
  if (s < 120) return fmt::format("{:.1f} s", s);
  if (s < 7200) return fmt::format("{:.1f} min", s / 60);
  return fmt::format("{:.1f} h", s / 3600);
}

std::string usd(const Json& value) {
  return value.is_number() ? fmt::format("${:.4f}", value.get<double>()) : "-";
}

int64_t count(const Json& figures, const char* section, const char* key) {
  const Json& v = figures[section][key];
  return v.is_number() ? v.get<int64_t>() : 0;
}

void print_figures(const Json& f) {
  const Json& a = f["automation"];
  std::cout << fmt::format("  automation     {} runs, {} by hand ({} min); coverage {}\n",
                           count(f, "automation", "runs"), count(f, "automation", "manual"),
                           count(f, "automation", "manual_minutes"), percent(a["coverage"]));
  const Json& i = f["interventions"];
  std::cout << fmt::format(
      "  interventions  {} approvals, {} edits, {} resolutions, {} retries; {} per week\n",
      count(f, "interventions", "approvals"), count(f, "interventions", "edits"),
      count(f, "interventions", "resolutions"), count(f, "interventions", "retries"),
      i["per_week"].is_number() ? fmt::format("{:.1f}", i["per_week"].get<double>()) : "-");
  const Json& o = f["outcomes"];
  const Json& t = o["time_to_complete"];
  std::cout << fmt::format("  outcomes       {} succeeded, {} failed, {} cancelled; success {}\n",
                           count(f, "outcomes", "succeeded"), count(f, "outcomes", "failed"),
                           count(f, "outcomes", "cancelled"), percent(o["success_rate"]));
  if (t["mean_ms"].is_number()) {
    std::cout << fmt::format("  to complete    mean {}, p50 {}, p90 {}, max {}\n",
                             seconds(t["mean_ms"]), seconds(t["p50_ms"]), seconds(t["p90_ms"]),
                             seconds(t["max_ms"]));
  }
  const Json& c = f["cost"];
  std::cout << fmt::format(
      "  cost           {} (models {} in {} calls, storage {}, connectors {}); per success {}\n",
      usd(c["total_usd"]), usd(c["model_usd"]), count(f, "cost", "model_calls"),
      usd(c["storage_usd"]), usd(c["connector_usd"]), usd(c["per_success_usd"]));
  std::string durability;
  for (const auto& [horizon, d] : f["durability"].items()) {
    const int64_t passed = d["passed"].get<int64_t>(), failed = d["failed"].get<int64_t>();
    std::string part = horizon + ": ";
    if (passed + failed == 0) {
      part += "none checked";
    } else {
      part += fmt::format("{} of {} held ({})", passed, passed + failed, percent(d["rate"]));
    }
    if (d["errors"].get<int64_t>() > 0)
      part += fmt::format(", {} could not run", d["errors"].get<int64_t>());
    if (d["pending"].get<int64_t>() > 0)
      part += fmt::format(", {} pending", d["pending"].get<int64_t>());
    durability += (durability.empty() ? "" : "; ") + part;
  }
  if (!durability.empty()) std::cout << "  durability     " << durability << "\n";
}

int cmd_metrics(const GlobalOptions& global, int days, bool json, bool prometheus) {
  if (json && prometheus) return usage_error("metrics takes --json or --prometheus, not both");
  auto session = open_session(global);
  if (!session.ok()) return session_error(session.status());
  const MetricsOptions options = metrics_options(session->workspace, days);
  auto metrics = compute_metrics(*session->store, session->workspace, now_ms(), options);
  if (!metrics.ok()) return report_error(metrics.status());
  if (json) {
    print_json(*metrics);
    return 0;
  }
  if (prometheus) {
    std::cout << render_prometheus(*metrics);
    return 0;
  }
  const Json& window = (*metrics)["window"];
  std::cout << "Metrics of the last " << days << " days (" << window["from"].get<std::string>()
            << " to " << window["to"].get<std::string>() << ")\n\noverall\n";
  print_figures((*metrics)["overall"]);
  for (const auto& [owner, figures] : (*metrics)["agents"].items()) {
    std::cout << "\n"
              << owner
              << (figures["kind"] == "agent" ? "" : " (" + figures["kind"].get<std::string>() + ")")
              << "\n";
    print_figures(figures);
  }
  const Json& drift = (*metrics)["drift"];
  std::cout << "\ndrift (last " << options.drift.recent_days << " days against the "
            << options.drift.baseline_days << " before)\n";
  if (drift.empty()) std::cout << "  none\n";
  for (const auto& alert : drift) {
    std::cout << "  " << (alert["worse"].get<bool>() ? "worse: " : "better: ")
              << alert["message"].get<std::string>() << "\n";
  }
  return 0;
}

}  // namespace

void add_metrics_commands(CLI::App& app, const GlobalOptions& global, int& code) {
  auto dispatch = [&code](CLI::App* sub, auto fn) { sub->callback([&code, fn] { code = fn(); }); };

  auto log_args = std::make_shared<LogManualArgs>();
  auto* log = app.add_subcommand(
      "log-manual", "record work done by hand (what agents could own: automation coverage)");
  log->add_option("what", log_args->what, "what was done")->required();
  log->add_option("--agent", log_args->agent, "the agent whose kind of work it is");
  log->add_option("--minutes", log_args->minutes, "how long it took")->check(CLI::Range(0, 10080));
  log->add_option("--at", log_args->at,
                  "when: a time (2026-11-01T09:00:00Z) or a duration ago (2h); default now");
  log->add_flag("--json", log_args->json, "machine-readable output");
  dispatch(log, [&global, log_args] { return cmd_log_manual(global, *log_args); });

  struct MetricsArgs {
    int days = 28;
    bool json = false;
    bool prometheus = false;
  };
  auto metrics_args = std::make_shared<MetricsArgs>();
  auto* metrics = app.add_subcommand("metrics",
                                     "automation coverage, interventions, durability, cost, "
                                     "success and drift, per agent and overall");
  metrics->add_option("--days", metrics_args->days, "the window: the last N days (default 28)")
      ->check(CLI::Range(1, 3650));
  metrics->add_flag("--json", metrics_args->json, "machine-readable output");
  metrics->add_flag("--prometheus", metrics_args->prometheus,
                    "the Prometheus text format (what GET /metrics serves)");
  dispatch(metrics, [&global, metrics_args] {
    return cmd_metrics(global, metrics_args->days, metrics_args->json, metrics_args->prometheus);
  });
}

}  // namespace cadre
