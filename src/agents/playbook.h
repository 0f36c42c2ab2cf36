// PlaybookDef: a declared multi-step process, loaded from playbooks/NAME.yaml.
// Each step becomes one task of the objective's plan; `needs` are the plan's
// edges. A step without `needs` runs after the step written before it; an
// explicit `needs: []` makes it independent.
//
// Thread-safety: plain values.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/json.h"
#include "core/result.h"
#include "kernel/retry_policy.h"
#include "kernel/trigger_scheduler.h"

namespace cadre {

struct SourcePos {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;
};

struct InputDef {
  std::string name;
  std::string type = "string";  // string, integer, number, boolean, object, array, any
  bool required = false;
  Json default_value;           // null when none
  std::string description;
};

using Catchup = CatchupPolicy;  // none | latest | all (kernel/trigger_scheduler.h)
std::string_view catchup_name(Catchup catchup);
bool parse_catchup(std::string_view text, Catchup* out);  // false: not a catch-up name

struct TriggerDef {
  enum class Kind { kCron, kEvent };
  Kind kind = Kind::kCron;
  std::string cron;                // kCron: the expression
  std::string time_zone = "UTC";   // kCron: IANA zone
  Catchup catchup = Catchup::kNone;
  std::string event;               // kEvent: the event name
  Json inputs = Json::object();    // templates rendered with `trigger` / `event` in scope
  SourcePos pos;
};

// A step's undo, saga style: one tool call that reverses what the step did.
// When a run fails for good after effects, the compensations of its steps
// that succeeded run in reverse order of completion (playbook_runner.h).
// `with` is templated with the step's own scope plus `output`: the step's
// result (for a `foreach` step, the item's).
struct CompensationDef {
  std::string uses;            // a tool name; never "agent.NAME" or "wait"
  Json with = Json::object();  // arguments, templated
  SourcePos pos;
};

struct StepDef {
  std::string id;
  std::string uses;                 // a tool name ("file.write") or "agent.NAME"
  Json with = Json::object();       // arguments, templated
  std::vector<std::string> needs;   // after defaults are applied
  std::string if_condition;         // empty: always
  std::string foreach;              // empty: once; else a template yielding an array
  std::optional<RetryPolicy> retry; // empty: the tool's default
  std::optional<DurationMs> timeout;
  std::string lock;                 // empty: none; else a template naming a resource
  std::optional<CompensationDef> compensate;  // empty: nothing to undo
  SourcePos pos;
};

struct PlaybookDef {
  std::string name;
  std::string description;
  std::string file;       // relative path it was loaded from
  std::vector<InputDef> inputs;
  std::vector<TriggerDef> triggers;
  std::vector<StepDef> steps;

  const StepDef* find_step(std::string_view id) const;
  // True when some step declares `compensate:` (else a failure undoes nothing).
  bool has_compensations() const;

  // Canonical JSON (stored as the definition snapshot a run replays against)
  // and back. version() is the first 16 hex digits of SHA-256 over to_json().
  Json to_json() const;
  static Result<PlaybookDef> from_json(const Json& j);
  std::string version() const;
};

}  // namespace cadre
