// The metrics that compound: what the workspace's agents and playbooks
// carry for the operator, and how well, computed from the store for a
// window of days ending now. `cadre metrics`, GET /api/v1/metrics, the
// Prometheus endpoint (server/prometheus.h) and the activity feed's drift
// alerts all read compute_metrics(); nothing here is stored.
//
// Who owns work: an objective's owner, i.e. an agent's name, "playbook:NAME"
// or "planner". Work Cadre does for itself (owner "memory", or
// "revalidate:AGENT" for outcome checks) is never counted. Figures are
// given per owner (under "agents", playbooks as "playbook:NAME") and
// overall. A ratio whose denominator is zero is null, never 0 or NaN.
//
// The window is [now - days, now). Definitions, per owner; overall is the
// same over all owners (and all manual work):
//
//  automation      runs: objectives created in the window, in any state.
//                  manual, manual_minutes: entries of `cadre log-manual`
//                  (or the UI) done in the window for this agent (--agent).
//                  coverage = runs / (runs + manual).
//  interventions   approvals: approval items a human answered in the window
//                  (approve or reject as proposed; timeouts do not count).
//                  edits: items approved with edited arguments. resolutions:
//                  uncertain steps a human decided (approve/redo/reject,
//                  `cadre resolve`). retries: failed or cancelled runs
//                  retried. An item counts for its agent, else for its
//                  objective's owner. total = the sum; per_week = total /
//                  (days / 7).
//  outcomes        started = runs; succeeded, failed, cancelled: objectives
//                  that ended in the window in that state (finished = their
//                  sum). success_rate = succeeded / (succeeded + failed):
//                  cancellations are the operator's call, not a failure.
//                  time_to_complete of the succeeded ones, created to
//                  finished (waits for approvals included): mean_ms,
//                  p50_ms, p90_ms (nearest rank), max_ms.
//  cost            of the objectives that ended in the window, in any
//                  state: model_usd (the journaled cost of their model
//                  calls), storage_usd (their journal's bytes x
//                  storage_usd_per_gib), connector_usd (attempts of their
//                  connector tools x connector_usd_per_call); total_usd
//                  their sum; per_success_usd = total_usd / succeeded.
//                  model_calls, journal_bytes and connector_calls are the
//                  quantities priced.
//  durability      by horizon ("30d", "90d", or an agent's own `after`):
//                  passed, failed, errors of the outcome checks recorded in
//                  the window (agents/revalidation.h), pending: checks not
//                  yet run, whenever due. rate = passed / (passed + failed);
//                  a check that could not run (error) is left out.
//  drift           server/drift.h over the same figures for the last
//                  drift.recent_days and the drift.baseline_days before.
//
// Cost is bounded by the window's activity: every aggregate is one indexed
// SQL query per figure (store.h, "metrics"), never a scan of the history.
//
// Thread-safety: free functions; the store is thread-safe.
#pragma once

#include <string>

#include "agents/workspace.h"
#include "server/drift.h"
#include "store/store.h"

namespace cadre {

struct MetricsOptions {
  int days = 28;                      // the window: 1 to 3650 days up to now
  double storage_usd_per_gib = 0;     // price of a GiB of journal; 0: storage not priced
  double connector_usd_per_call = 0;  // price of one connector call; 0: not priced
  DriftOptions drift;
  bool with_drift = true;  // also compute drift alerts (two more windows)
};

// The options of `workspace`: its prices (cadre.yaml `metrics:`) over the defaults.
MetricsOptions metrics_options(const Workspace& workspace, int days = 28);

// {window: {from, to, from_ms, to_ms, days}, overall: FIGURES, agents: {OWNER:
// FIGURES with kind: agent|playbook|planner}, drift: [ALERT], prices: {...}}.
// kInvalidArgument naming the option when one is out of range.
Result<Json> compute_metrics(Store& store, const Workspace& workspace, TimeMs now,
                             const MetricsOptions& options = {});

// The figures of an arbitrary window [from, to): {overall, agents}.
Result<Json> window_figures(Store& store, const Workspace& workspace, TimeMs from, TimeMs to,
                            const MetricsOptions& options = {});

// Drift alerts as of `now` (options.drift); what the activity feed shows.
Result<Json> detect_drift(Store& store, const Workspace& workspace, TimeMs now,
                          const MetricsOptions& options = {});

// Work the operator did by hand.
struct ManualWorkRequest {
  std::string description;  // what was done: 1 to 1000 characters
  std::string agent;        // the agent whose kind of work it is; "": none
  int64_t minutes = 0;      // 0 to 10080 (a week); 0: not said
  TimeMs at = 0;            // when it was done; 0: now. Not in the future.
};

// Validates and records it (audited as manual_work.logged by `actor`).
// Errors are kInvalidArgument or kNotFound and start with the field's name.
Result<ManualWorkRecord> record_manual_work(Store& store, const Workspace& workspace,
                                            const ManualWorkRequest& request,
                                            const std::string& actor, TimeMs now);

Json to_json(const ManualWorkRecord& work);

}  // namespace cadre
