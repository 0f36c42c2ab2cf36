// Drift: an agent (or playbook) whose success rate, cost or latency moved
// beyond a band from its trailing baseline. The baseline is the
// `baseline_days` before the recent window, the recent window the last
// `recent_days`; both are figures as server/metrics.h computes them for a
// window, so drift is a pure comparison of two such documents.
//
// A figure is compared only when both windows have at least `min_samples`
// objectives behind it (finished ones for the success rate, succeeded ones
// for cost and latency), and cost and latency only against a baseline above
// zero. Alerts go both ways (a sudden drop in cost can mean a model fell
// back or a step stopped running); `worse` says which way hurts.
//
// Thread-safety: plain values and a pure function.
#pragma once

#include "core/clock.h"
#include "core/json.h"

namespace cadre {

struct DriftOptions {
  int recent_days = 7;
  int baseline_days = 28;           // immediately before the recent window
  double success_rate_band = 0.15;  // absolute: 0.90 -> below 0.75 or above 1.05 alerts
  double cost_band = 0.5;           // relative: cost per successful outcome beyond x0.5 .. x1.5
  double latency_band = 0.5;        // relative: mean time to complete beyond x0.5 .. x1.5
  int min_samples = 5;
};

// The alerts for the owners present in both documents (each {"agents": {NAME:
// figures}}), newest-first order does not apply: by owner, then metric. Each
// alert: {agent, metric, baseline, recent, change, band, direction ("up" or
// "down"), worse, samples {baseline, recent}, message}. `change` is the
// absolute difference for the success rate, the relative one otherwise.
Json find_drift(const Json& baseline, const Json& recent, const DriftOptions& options);

}  // namespace cadre
