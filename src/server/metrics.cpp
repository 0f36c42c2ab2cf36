#include "server/metrics.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "agents/agent.h"
#include "agents/revalidation.h"
#include "core/id.h"
#include "core/yaml_util.h"

namespace cadre {
namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

Json ratio(double part, double whole) {
  if (whole <= 0) return Json();
  return part / whole;
}

std::string owner_kind(const std::string& owner) {
  if (owner.rfind("playbook:", 0) == 0) return "playbook";
  if (owner == "planner") return "planner";
  return "agent";
}

// What one owner's figures are made of, before they become JSON.
struct Figures {
  OwnerOutcomes outcomes;
  OwnerInterventions interventions;
  ManualWorkTotals manual;
  OwnerCosts costs;
  int64_t connector_calls = 0;
  std::map<std::string, OutcomeCheckCounts> durability;  // by horizon
};

void add_durability(std::map<std::string, OutcomeCheckCounts>& into, const OutcomeCheckCounts& c) {
  OutcomeCheckCounts& d = into[c.horizon];
  d.horizon = c.horizon;
  d.horizon_ms = std::max(d.horizon_ms, c.horizon_ms);
  d.passed += c.passed;
  d.failed += c.failed;
  d.errors += c.errors;
  d.pending += c.pending;
}

Json figures_json(const Figures& f, double days) {
  const OwnerOutcomes& o = f.outcomes;
  const OwnerInterventions& i = f.interventions;
  const int64_t interventions = i.approvals + i.edits + i.resolutions + i.retries;
  Json time_to_complete = {
      {"mean_ms",
       o.succeeded > 0 ? Json(std::llround(double(o.duration_sum_ms) / o.succeeded)) : Json()},
      {"p50_ms", o.succeeded > 0 ? Json(o.duration_p50_ms) : Json()},
      {"p90_ms", o.succeeded > 0 ? Json(o.duration_p90_ms) : Json()},
      {"max_ms", o.succeeded > 0 ? Json(o.duration_max_ms) : Json()}};
  Json durability = Json::object();
  for (const auto& [horizon, d] : f.durability) {
    durability[horizon] = {{"passed", d.passed},
                           {"failed", d.failed},
                           {"errors", d.errors},
                           {"pending", d.pending},
                           {"rate", ratio(double(d.passed), double(d.passed + d.failed))}};
  }
  return {{"automation",
           {{"runs", o.started},
            {"manual", f.manual.entries},
            {"manual_minutes", f.manual.minutes},
            {"coverage", ratio(double(o.started), double(o.started + f.manual.entries))}}},
          {"interventions",
           {{"approvals", i.approvals},
            {"edits", i.edits},
            {"resolutions", i.resolutions},
            {"retries", i.retries},
            {"total", interventions},
            {"per_week", ratio(double(interventions), days / 7.0)}}},
          {"outcomes",
           {{"started", o.started},
            {"succeeded", o.succeeded},
            {"failed", o.failed},
            {"cancelled", o.cancelled},
            {"finished", o.succeeded + o.failed + o.cancelled},
            {"success_rate", ratio(double(o.succeeded), double(o.succeeded + o.failed))},
            {"time_to_complete", time_to_complete}}},
          {"durability", durability}};
}

Json cost_json(const OwnerCosts& c, int64_t connector_calls, int64_t succeeded,
               const MetricsOptions& options) {
  const double storage = double(c.journal_bytes) / kGiB * options.storage_usd_per_gib;
  const double connectors = double(connector_calls) * options.connector_usd_per_call;
  const double total = c.model_usd + storage + connectors;
  return {
      {"model_usd", c.model_usd},           {"storage_usd", storage},
      {"connector_usd", connectors},        {"total_usd", total},
      {"model_calls", c.model_calls},       {"journal_bytes", c.journal_bytes},
      {"connector_calls", connector_calls}, {"per_success_usd", ratio(total, double(succeeded))}};
}

Status check_options(const MetricsOptions& options) {
  if (options.days < 1 || options.days > 3650)
    return Status::InvalidArgument("days: must be 1 to 3650");
  if (options.storage_usd_per_gib < 0 || options.connector_usd_per_call < 0)
    return Status::InvalidArgument("prices: must not be negative");
  const DriftOptions& d = options.drift;
  if (d.recent_days < 1 || d.recent_days > 365)
    return Status::InvalidArgument("drift.recent_days: must be 1 to 365");
  if (d.baseline_days < 1 || d.baseline_days > 3650)
    return Status::InvalidArgument("drift.baseline_days: must be 1 to 3650");
  if (d.success_rate_band <= 0 || d.cost_band <= 0 || d.latency_band <= 0)
    return Status::InvalidArgument("drift bands: must be above 0");
  if (d.min_samples < 1) return Status::InvalidArgument("drift.min_samples: must be at least 1");
  return Status::Ok();
}

Json window_json(TimeMs from, TimeMs to) {
  return {{"from", format_time_utc(from)},
          {"to", format_time_utc(to)},
          {"from_ms", from},
          {"to_ms", to},
          {"days", double(to - from) / kDayMs}};
}

}  // namespace

Result<Json> window_figures(Store& store, const Workspace& workspace, TimeMs from, TimeMs to,
                            const MetricsOptions& options) {
  if (to <= from) return Status::InvalidArgument("window: must end after it starts");
  CADRE_ASSIGN_OR_RETURN(ObjectiveOutcomes outcomes, store.objective_outcomes(from, to));
  CADRE_ASSIGN_OR_RETURN(std::vector<OwnerInterventions> interventions,
                         store.interventions(from, to));
  CADRE_ASSIGN_OR_RETURN(std::vector<ManualWorkTotals> manual, store.manual_work_totals(from, to));
  CADRE_ASSIGN_OR_RETURN(std::vector<OwnerCosts> costs, store.outcome_costs(from, to));
  CADRE_ASSIGN_OR_RETURN(std::vector<OutcomeCheckCounts> checks,
                         store.outcome_check_counts(from, to));

  std::set<std::string> connectors;
  for (const auto& c : workspace.connectors) connectors.insert(c.name);
  auto is_connector_tool = [&](const std::string& tool) {
    const size_t dot = tool.find('.');
    return dot != std::string::npos && connectors.count(tool.substr(0, dot)) > 0;
  };

  // Every agent of the workspace is listed, with zeros when it did nothing.
  std::map<std::string, Figures> owners;
  for (const auto& [name, agent] : workspace.agents) {
    Figures& f = owners[name];
    if (agent->revalidate) {
      for (DurationMs horizon : agent->revalidate->after) {
        f.durability[horizon_label(horizon)].horizon = horizon_label(horizon);
      }
    }
  }
  Figures overall;
  overall.outcomes = outcomes.overall;
  for (DurationMs days : {30, 90}) {
    overall.durability[horizon_label(days * kDayMs)].horizon = horizon_label(days * kDayMs);
  }
  for (const auto& o : outcomes.owners) owners[o.owner].outcomes = o;
  for (const auto& i : interventions) {
    overall.interventions.approvals += i.approvals;
    overall.interventions.edits += i.edits;
    overall.interventions.resolutions += i.resolutions;
    overall.interventions.retries += i.retries;
    if (!i.owner.empty()) owners[i.owner].interventions = i;
  }
  for (const auto& m : manual) {
    overall.manual.entries += m.entries;
    overall.manual.minutes += m.minutes;
    if (!m.agent.empty()) owners[m.agent].manual = m;
  }
  for (const auto& c : costs) {
    int64_t connector_calls = 0;
    for (const auto& [tool, calls] : c.tool_calls) {
      if (is_connector_tool(tool)) connector_calls += calls;
    }
    Figures& f = owners[c.owner];
    f.costs = c;
    f.connector_calls = connector_calls;
    overall.costs.model_usd += c.model_usd;
    overall.costs.model_calls += c.model_calls;
    overall.costs.journal_bytes += c.journal_bytes;
    overall.connector_calls += connector_calls;
  }
  for (const auto& c : checks) {
    add_durability(owners[c.agent].durability, c);
    add_durability(overall.durability, c);
  }

  const double days = double(to - from) / kDayMs;
  Json agents = Json::object();
  for (const auto& [owner, f] : owners) {
    Json figures = figures_json(f, days);
    figures["cost"] = cost_json(f.costs, f.connector_calls, f.outcomes.succeeded, options);
    figures["kind"] = owner_kind(owner);
    agents[owner] = std::move(figures);
  }
  Json all = figures_json(overall, days);
  all["cost"] =
      cost_json(overall.costs, overall.connector_calls, overall.outcomes.succeeded, options);
  return Json{{"overall", all}, {"agents", agents}};
}

Result<Json> detect_drift(Store& store, const Workspace& workspace, TimeMs now,
                          const MetricsOptions& options) {
  CADRE_RETURN_IF_ERROR(check_options(options));
  const DriftOptions& d = options.drift;
  const TimeMs recent_from = now - d.recent_days * kDayMs;
  const TimeMs baseline_from = recent_from - d.baseline_days * kDayMs;
  CADRE_ASSIGN_OR_RETURN(Json recent, window_figures(store, workspace, recent_from, now, options));
  CADRE_ASSIGN_OR_RETURN(Json baseline,
                         window_figures(store, workspace, baseline_from, recent_from, options));
  Json alerts = find_drift(baseline, recent, d);
  for (auto& alert : alerts) {
    alert["at"] = format_time_utc(now);
    alert["recent_window"] = window_json(recent_from, now);
    alert["baseline_window"] = window_json(baseline_from, recent_from);
  }
  return alerts;
}

Result<Json> compute_metrics(Store& store, const Workspace& workspace, TimeMs now,
                             const MetricsOptions& options) {
  CADRE_RETURN_IF_ERROR(check_options(options));
  const TimeMs from = now - options.days * kDayMs;
  CADRE_ASSIGN_OR_RETURN(Json out, window_figures(store, workspace, from, now, options));
  out["window"] = window_json(from, now);
  out["prices"] = {{"storage_usd_per_gib", options.storage_usd_per_gib},
                   {"connector_usd_per_call", options.connector_usd_per_call}};
  if (options.with_drift) {
    CADRE_ASSIGN_OR_RETURN(out["drift"], detect_drift(store, workspace, now, options));
  } else {
    out["drift"] = Json::array();
  }
  return out;
}

Result<ManualWorkRecord> record_manual_work(Store& store, const Workspace& workspace,
                                            const ManualWorkRequest& request,
                                            const std::string& actor, TimeMs now) {
  ManualWorkRecord work;
  work.description = request.description;
  const auto first = work.description.find_first_not_of(" \t\r\n");
  if (first == std::string::npos)
    return Status::InvalidArgument("description: must say what was done");
  work.description =
      work.description.substr(first, work.description.find_last_not_of(" \t\r\n") - first + 1);
  if (work.description.size() > 1000)
    return Status::InvalidArgument("description: at most 1000 characters, got " +
                                   std::to_string(work.description.size()));
  if (!request.agent.empty() && workspace.find_agent(request.agent) == nullptr) {
    std::vector<std::string> names;
    for (const auto& [name, agent] : workspace.agents) names.push_back(name);
    return Status::NotFound("agent: there is no agent '" + request.agent + "'" +
                            did_you_mean(request.agent, names));
  }
  if (request.minutes < 0 || request.minutes > 10080)
    return Status::InvalidArgument("minutes: must be 0 to 10080 (a week), got " +
                                   std::to_string(request.minutes));
  work.at = request.at == 0 ? now : request.at;
  if (work.at > now + 60 * 1000)
    return Status::InvalidArgument("at: " + format_time_utc(work.at) + " is in the future");
  if (work.at < 0) return Status::InvalidArgument("at: must be a time after 1970");
  work.agent = request.agent;
  work.minutes = request.minutes;
  work.logged_by = actor;
  work.id = new_id("man", now);
  AuditEntry entry = audit_entry(now, actor, "manual_work.logged", work.id,
                                 {{"agent", work.agent},
                                  {"minutes", work.minutes},
                                  {"at", format_time_utc(work.at)},
                                  {"description", work.description.substr(0, 200)}});
  CADRE_RETURN_IF_ERROR(store.log_manual_work(work, &entry));
  return work;
}

Json to_json(const ManualWorkRecord& work) {
  return {{"id", work.id},
          {"description", work.description},
          {"agent", work.agent},
          {"minutes", work.minutes},
          {"logged_by", work.logged_by},
          {"at", format_time_utc(work.at)},
          {"at_ms", work.at}};
}

MetricsOptions metrics_options(const Workspace& workspace, int days) {
  MetricsOptions options;
  options.days = days;
  options.storage_usd_per_gib = workspace.config.metrics.storage_usd_per_gib;
  options.connector_usd_per_call = workspace.config.metrics.connector_usd_per_call;
  return options;
}

}  // namespace cadre
