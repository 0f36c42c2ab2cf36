// The metrics (server/metrics.h) in the Prometheus text exposition format
// 0.0.4, for GET /metrics (Content-Type: text/plain; version=0.0.4).
//
// Every family is prefixed `cadre_`, has its # HELP and # TYPE lines, and is
// a gauge: the figures are of the metrics' window (cadre_metrics_window_seconds),
// not counters since the process started. Overall figures have no labels;
// per-owner ones are separate families named cadre_agent_* with an `agent`
// label (an agent's name or playbook:NAME), so that summing a family never
// counts anything twice. A figure that is null (a ratio over nothing) has
// no sample. Label values are escaped (\\, \", \n); HELP text too (\\, \n).
// Families, their labels and what they hold:
//
//   cadre_metrics_window_seconds
//   cadre_automation_runs, cadre_manual_work_entries, cadre_manual_work_minutes,
//     cadre_automation_coverage_ratio
//   cadre_interventions{kind=approval|edit|resolution|retry}, cadre_interventions_per_week
//   cadre_objectives_started, cadre_objectives_finished{state=succeeded|failed|cancelled},
//     cadre_success_ratio, cadre_time_to_complete_seconds{stat=mean|p50|p90|max}
//   cadre_cost_usd{kind=model|storage|connector|total}, cadre_cost_per_success_usd
//   cadre_outcome_checks{horizon, result=passed|failed|error|pending},
//     cadre_outcome_durability_ratio{horizon}
//   cadre_drift_alerts (count), cadre_agent_drift{agent, metric, direction} 1 per alert
//   and each of the above but the window and drift as cadre_agent_*{agent, ...}.
//
// Thread-safety: a pure function.
#pragma once

#include <string>

#include "core/json.h"

namespace cadre {

// `metrics` is what compute_metrics() returns.
std::string render_prometheus(const Json& metrics);

// Escapes a label value for the exposition format.
std::string prometheus_label_value(const std::string& value);

}  // namespace cadre
