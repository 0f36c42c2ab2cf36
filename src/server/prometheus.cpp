#include "server/prometheus.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <vector>

namespace cadre {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

std::string escape_help(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15)
    return fmt::format("{}", static_cast<int64_t>(value));
  return fmt::format("{}", value);
}

// One metric family: its samples, written with HELP and TYPE once.
class Family {
 public:
  Family(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}

  // Adds a sample when `value` is a number (null: no sample).
  void add(const Labels& labels, const Json& value) {
    if (!value.is_number()) return;
    std::string line = name_;
    if (!labels.empty()) {
      line += "{";
      for (size_t i = 0; i < labels.size(); ++i) {
        if (i > 0) line += ",";
        line += labels[i].first + "=\"" + prometheus_label_value(labels[i].second) + "\"";
      }
      line += "}";
    }
    line += " " + number(value.get<double>()) + "\n";
    samples_ += line;
  }

  void write(std::string& out) const {
    out += "# HELP " + name_ + " " + escape_help(help_) + "\n";
    out += "# TYPE " + name_ + " gauge\n";
    out += samples_;
  }

 private:
  std::string name_;
  std::string help_;
  std::string samples_;
};

const Json& at(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

Json ms_to_seconds(const Json& ms) {
  return ms.is_number() ? Json(ms.get<double>() / 1000.0) : Json();
}

// The families of one set of figures; per-owner ones carry agent="OWNER".
class FigureFamilies {
 public:
  explicit FigureFamilies(const std::string& prefix)
      : runs_(prefix + "automation_runs",
              "Objectives started by agents and playbooks in the window."),
        manual_(prefix + "manual_work_entries",
                "Work logged as done by hand (cadre log-manual) in the window."),
        manual_minutes_(prefix + "manual_work_minutes",
                        "Minutes of work logged as done by hand in the window."),
        coverage_(prefix + "automation_coverage_ratio",
                  "Runs / (runs + manual work entries) in the window."),
        interventions_(prefix + "interventions", "Human interventions in the window, by kind."),
        per_week_(prefix + "interventions_per_week",
                  "Human interventions per week over the window."),
        started_(prefix + "objectives_started", "Objectives created in the window."),
        finished_(prefix + "objectives_finished",
                  "Objectives that ended in the window, by final state."),
        success_(prefix + "success_ratio",
                 "Succeeded / (succeeded + failed) of objectives ended in the window."),
        ttc_(prefix + "time_to_complete_seconds",
             "Time from creation to success of objectives that succeeded in the window."),
        cost_(prefix + "cost_usd", "Cost of the objectives that ended in the window, by kind."),
        per_success_(prefix + "cost_per_success_usd",
                     "Total cost / objectives that succeeded in the window."),
        checks_(prefix + "outcome_checks",
                "Outcome re-validations recorded in the window by result (pending: not yet run)."),
        durability_(prefix + "outcome_durability_ratio",
                    "Passed / (passed + failed) outcome re-validations in the window.") {}

  void add(const Labels& base, const Json& f) {
    auto with = [&](std::initializer_list<std::pair<std::string, std::string>> more) {
      Labels labels = base;
      labels.insert(labels.end(), more.begin(), more.end());
      return labels;
    };
    const Json& automation = at(f, "automation");
    runs_.add(base, at(automation, "runs"));
    manual_.add(base, at(automation, "manual"));
    manual_minutes_.add(base, at(automation, "manual_minutes"));
    coverage_.add(base, at(automation, "coverage"));
    const Json& interventions = at(f, "interventions");
    for (const auto& [kind, key] : {std::pair<const char*, const char*>{"approval", "approvals"},
                                    {"edit", "edits"},
                                    {"resolution", "resolutions"},
                                    {"retry", "retries"}}) {
      interventions_.add(with({{"kind", kind}}), at(interventions, key));
    }
    per_week_.add(base, at(interventions, "per_week"));
    const Json& outcomes = at(f, "outcomes");
    started_.add(base, at(outcomes, "started"));
    for (const char* state : {"succeeded", "failed", "cancelled"}) {
      finished_.add(with({{"state", state}}), at(outcomes, state));
    }
    success_.add(base, at(outcomes, "success_rate"));
    const Json& ttc = at(outcomes, "time_to_complete");
    for (const char* stat : {"mean", "p50", "p90", "max"}) {
      ttc_.add(with({{"stat", stat}}), ms_to_seconds(at(ttc, (std::string(stat) + "_ms").c_str())));
    }
    const Json& cost = at(f, "cost");
    for (const char* kind : {"model", "storage", "connector", "total"}) {
      cost_.add(with({{"kind", kind}}), at(cost, (std::string(kind) + "_usd").c_str()));
    }
    per_success_.add(base, at(cost, "per_success_usd"));
    const Json& durability = at(f, "durability");
    if (durability.is_object()) {
      for (const auto& [horizon, d] : durability.items()) {
        for (const auto& [result, key] : {std::pair<const char*, const char*>{"passed", "passed"},
                                          {"failed", "failed"},
                                          {"error", "errors"},
                                          {"pending", "pending"}}) {
          checks_.add(with({{"horizon", horizon}, {"result", result}}), at(d, key));
        }
        durability_.add(with({{"horizon", horizon}}), at(d, "rate"));
      }
    }
  }

  void write(std::string& out) const {
    for (const Family* family :
         {&runs_, &manual_, &manual_minutes_, &coverage_, &interventions_, &per_week_, &started_,
          &finished_, &success_, &ttc_, &cost_, &per_success_, &checks_, &durability_}) {
      family->write(out);
    }
  }

 private:
  Family runs_, manual_, manual_minutes_, coverage_, interventions_, per_week_, started_, finished_,
      success_, ttc_, cost_, per_success_, checks_, durability_;
};

}  // namespace

std::string prometheus_label_value(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render_prometheus(const Json& metrics) {
  std::string out;
  Family window("cadre_metrics_window_seconds",
                "Length of the window the other cadre_ figures cover.");
  const Json& w = at(metrics, "window");
  if (at(w, "to_ms").is_number() && at(w, "from_ms").is_number()) {
    window.add({}, Json((at(w, "to_ms").get<double>() - at(w, "from_ms").get<double>()) / 1000.0));
  }
  window.write(out);

  FigureFamilies overall("cadre_");
  overall.add({}, at(metrics, "overall"));
  overall.write(out);

  FigureFamilies agents("cadre_agent_");
  const Json& owners = at(metrics, "agents");
  if (owners.is_object()) {
    for (const auto& [owner, figures] : owners.items()) agents.add({{"agent", owner}}, figures);
  }
  agents.write(out);

  const Json& drift = at(metrics, "drift");
  Family count("cadre_drift_alerts",
               "Agents' figures beyond their drift band (recent window against its baseline).");
  Family alerts("cadre_agent_drift",
                "1 for each drift alert: the agent, the figure and which way it moved.");
  count.add({}, Json(drift.is_array() ? drift.size() : 0));
  if (drift.is_array()) {
    for (const auto& alert : drift) {
      alerts.add(
          {{"agent", at(alert, "agent").is_string() ? at(alert, "agent").get<std::string>() : ""},
           {"metric",
            at(alert, "metric").is_string() ? at(alert, "metric").get<std::string>() : ""},
           {"direction",
            at(alert, "direction").is_string() ? at(alert, "direction").get<std::string>() : ""}},
          Json(1));
    }
  }
  count.write(out);
  alerts.write(out);
  return out;
}

}  // namespace cadre
