#include "server/drift.h"

#include <fmt/format.h>

#include <cmath>

namespace cadre {
namespace {

double number_at(const Json& figures, const char* section, const char* key) {
  const Json* value = &figures;
  for (const char* part : {section, key}) {
    if (!value->is_object() || !value->contains(part)) return NAN;
    value = &(*value)[part];
  }
  return value->is_number() ? value->get<double>() : NAN;
}

struct Compared {
  const char* metric;
  const char* label;  // for the message
  double baseline;
  double recent;
  int64_t baseline_samples;
  int64_t recent_samples;
  bool absolute;  // the band is an absolute difference, else relative to the baseline
  double band;
  bool worse_when_up;
};

std::string shown(const Compared& c, double value) {
  if (std::string(c.metric) == "success_rate") return fmt::format("{:.2f}", value);
  if (std::string(c.metric) == "cost_per_success_usd") return fmt::format("${:.4f}", value);
  return fmt::format("{:.1f} s", value / 1000.0);
}

}  // namespace

Json find_drift(const Json& baseline, const Json& recent, const DriftOptions& options) {
  Json alerts = Json::array();
  if (!baseline.contains("agents") || !recent.contains("agents")) return alerts;
  for (const auto& [owner, now] : recent["agents"].items()) {
    if (!baseline["agents"].contains(owner)) continue;
    const Json& before = baseline["agents"][owner];
    auto finished = [](const Json& f) {
      return static_cast<int64_t>(number_at(f, "outcomes", "succeeded") +
                                  number_at(f, "outcomes", "failed"));
    };
    auto succeeded = [](const Json& f) {
      return static_cast<int64_t>(number_at(f, "outcomes", "succeeded"));
    };
    const Json& ttc_before = before["outcomes"]["time_to_complete"];
    const Json& ttc_now = now["outcomes"]["time_to_complete"];
    const Compared compared[] = {
        {"success_rate", "success rate", number_at(before, "outcomes", "success_rate"),
         number_at(now, "outcomes", "success_rate"), finished(before), finished(now), true,
         options.success_rate_band, false},
        {"cost_per_success_usd", "cost per successful outcome",
         number_at(before, "cost", "per_success_usd"), number_at(now, "cost", "per_success_usd"),
         succeeded(before), succeeded(now), false, options.cost_band, true},
        {"time_to_complete_mean_ms", "mean time to complete",
         ttc_before.is_object() && ttc_before["mean_ms"].is_number()
             ? ttc_before["mean_ms"].get<double>()
             : NAN,
         ttc_now.is_object() && ttc_now["mean_ms"].is_number() ? ttc_now["mean_ms"].get<double>()
                                                               : NAN,
         succeeded(before), succeeded(now), false, options.latency_band, true},
    };
    for (const auto& c : compared) {
      if (std::isnan(c.baseline) || std::isnan(c.recent)) continue;
      if (c.baseline_samples < options.min_samples || c.recent_samples < options.min_samples)
        continue;
      double change;
      if (c.absolute) {
        change = c.recent - c.baseline;
      } else {
        if (c.baseline <= 0) continue;
        change = c.recent / c.baseline - 1.0;
      }
      if (std::fabs(change) <= c.band) continue;
      const bool up = change > 0;
      const std::string band =
          c.absolute ? fmt::format("±{:.2f}", c.band) : fmt::format("±{:.0f}%", c.band * 100);
      const std::string moved =
          c.absolute ? fmt::format("{:+.2f}", change) : fmt::format("{:+.0f}%", change * 100);
      alerts.push_back(
          {{"agent", owner},
           {"metric", c.metric},
           {"baseline", c.baseline},
           {"recent", c.recent},
           {"change", change},
           {"band", c.band},
           {"direction", up ? "up" : "down"},
           {"worse", up == c.worse_when_up},
           {"samples", {{"baseline", c.baseline_samples}, {"recent", c.recent_samples}}},
           {"message",
            fmt::format(
                "{}: {} {} in the last {} days against {} over the {} days before ({}; band {})",
                owner, c.label, shown(c, c.recent), options.recent_days, shown(c, c.baseline),
                options.baseline_days, moved, band)}});
    }
  }
  return alerts;
}

}  // namespace cadre
