#include "store/records.h"

#include <array>
#include <utility>

namespace cadre {
namespace {

template <typename E, size_t N>
bool parse_enum(std::string_view text, const std::array<std::pair<E, std::string_view>, N>& names, E* out) {
  for (const auto& [value, name] : names) {
    if (name == text) {
      *out = value;
      return true;
    }
  }
  return false;
}

template <typename E, size_t N>
std::string_view enum_name(E value, const std::array<std::pair<E, std::string_view>, N>& names) {
  for (const auto& [v, name] : names)
    if (v == value) return name;
  return "unknown";
}

constexpr std::array<std::pair<TaskState, std::string_view>, 9> kTaskStates{{
    {TaskState::kPending, "pending"},
    {TaskState::kReady, "ready"},
    {TaskState::kRunning, "running"},
    {TaskState::kWaiting, "waiting"},
    {TaskState::kUncertain, "uncertain"},
    {TaskState::kSucceeded, "succeeded"},
    {TaskState::kFailed, "failed"},
    {TaskState::kCancelled, "cancelled"},
    {TaskState::kSkipped, "skipped"},
}};

constexpr std::array<std::pair<ObjectiveState, std::string_view>, 5> kObjectiveStates{{
    {ObjectiveState::kRunning, "running"},
    {ObjectiveState::kUncertain, "uncertain"},
    {ObjectiveState::kSucceeded, "succeeded"},
    {ObjectiveState::kFailed, "failed"},
    {ObjectiveState::kCancelled, "cancelled"},
}};

constexpr std::array<std::pair<StepState, std::string_view>, 4> kStepStates{{
    {StepState::kStarted, "started"},
    {StepState::kDone, "done"},
    {StepState::kFailed, "failed"},
    {StepState::kRetrying, "retrying"},
}};

constexpr std::array<std::pair<WaitKind, std::string_view>, 6> kWaitKinds{{
    {WaitKind::kNone, "none"},
    {WaitKind::kTimer, "timer"},
    {WaitKind::kEvent, "event"},
    {WaitKind::kLock, "lock"},
    {WaitKind::kChildren, "children"},
    {WaitKind::kApproval, "approval"},
}};

constexpr std::array<std::pair<ApprovalState, std::string_view>, 4> kApprovalStates{{
    {ApprovalState::kPending, "pending"},
    {ApprovalState::kApproved, "approved"},
    {ApprovalState::kRejected, "rejected"},
    {ApprovalState::kExpired, "expired"},
}};

}  // namespace

std::string_view to_string(ApprovalState s) { return enum_name(s, kApprovalStates); }
bool parse_approval_state(std::string_view text, ApprovalState* out) {
  return parse_enum(text, kApprovalStates, out);
}
std::string_view to_string(TaskState s) { return enum_name(s, kTaskStates); }
std::string_view to_string(ObjectiveState s) { return enum_name(s, kObjectiveStates); }
std::string_view to_string(StepState s) { return enum_name(s, kStepStates); }
std::string_view to_string(WaitKind s) { return enum_name(s, kWaitKinds); }
bool parse_task_state(std::string_view text, TaskState* out) { return parse_enum(text, kTaskStates, out); }
bool parse_objective_state(std::string_view text, ObjectiveState* out) {
  return parse_enum(text, kObjectiveStates, out);
}
bool parse_step_state(std::string_view text, StepState* out) { return parse_enum(text, kStepStates, out); }
bool parse_wait_kind(std::string_view text, WaitKind* out) { return parse_enum(text, kWaitKinds, out); }

bool is_terminal(TaskState s) {
  return s == TaskState::kSucceeded || s == TaskState::kFailed || s == TaskState::kCancelled ||
         s == TaskState::kSkipped;
}

bool is_terminal(ObjectiveState s) {
  return s == ObjectiveState::kSucceeded || s == ObjectiveState::kFailed || s == ObjectiveState::kCancelled;
}

namespace {

Json time_json(TimeMs t) { return t > 0 ? Json(format_time_utc(t)) : Json(nullptr); }

}  // namespace

Json to_json(const ObjectiveRecord& o) {
  return {{"id", o.id},
          {"title", o.title},
          {"owner", o.owner},
          {"source", o.source},
          {"playbook", o.playbook},
          {"inputs", o.inputs},
          {"versions", o.versions},
          {"state", to_string(o.state)},
          {"tasks_total", o.tasks_total},
          {"tasks_left", o.tasks_left},
          {"error", o.error},
          {"created_at", o.created_at},
          {"created", time_json(o.created_at)},
          {"updated_at", o.updated_at},
          {"finished_at", o.finished_at},
          {"finished", time_json(o.finished_at)}};
}

Json to_json(const TaskRecord& t) {
  return {{"id", t.id},
          {"objective_id", t.objective_id},
          {"key", t.key},
          {"kind", t.kind},
          {"agent", t.agent},
          {"state", to_string(t.state)},
          {"deps_left", t.deps_left},
          {"run_at", t.run_at},
          {"wait_kind", to_string(t.wait_kind)},
          {"wait_key", t.wait_key},
          {"lease_owner", t.lease_owner},
          {"fence", t.fence},
          {"claims", t.claims},
          {"output", t.output},
          {"error", t.error},
          {"created_at", t.created_at},
          {"started_at", t.started_at},
          {"started", time_json(t.started_at)},
          {"finished_at", t.finished_at},
          {"finished", time_json(t.finished_at)}};
}

Json to_json(const StepRecord& s) {
  return {{"seq", s.seq},
          {"name", s.name},
          {"kind", s.kind},
          {"state", to_string(s.state)},
          {"idempotency_key", s.idempotency_key},
          {"input", s.input},
          {"output", s.output},
          {"error", s.error},
          {"attempts", s.attempts},
          {"attempt_log", s.attempt_log},
          {"started_at", s.started_at},
          {"started", time_json(s.started_at)},
          {"finished_at", s.finished_at},
          {"finished", time_json(s.finished_at)},
          {"duration_ms", s.finished_at > 0 ? Json(s.finished_at - s.started_at) : Json(nullptr)}};
}

Json to_json(const EventRecord& e) {
  return {{"id", e.id},           {"name", e.name},
          {"data", e.data},       {"source", e.source},
          {"created_at", e.created_at}, {"created", time_json(e.created_at)},
          {"processed", e.processed}, {"error", e.error}};
}


Json approval_outcome(const ApprovalRecord& a) {
  Json out = a.answer.is_object() ? a.answer : Json::object();
  out["approval_id"] = a.id;
  out["state"] = to_string(a.state);
  out["by"] = a.answered_by;
  out["at"] = a.answered_at;
  return out;
}

std::string already_answered(const ApprovalRecord& a) {
  return "approval " + a.id + " was already answered: " + std::string(to_string(a.state)) + " by " +
         a.answered_by + " at " + format_time_utc(a.answered_at);
}

Json to_json(const ApprovalRecord& a) {
  return {{"id", a.id},
          {"kind", a.kind},
          {"state", to_string(a.state)},
          {"objective_id", a.objective_id},
          {"task_id", a.task_id},
          {"step_seq", a.step_seq},
          {"agent", a.agent},
          {"title", a.title},
          {"reason", a.reason},
          {"rule", a.rule},
          {"request", a.request},
          {"context", a.context},
          {"editable", !a.schema.is_null()},
          {"timeout_action", a.timeout_action},
          {"expires_at", a.expires_at},
          {"expires", time_json(a.expires_at)},
          {"answer", a.answer},
          {"answered_by", a.answered_by},
          {"created_at", a.created_at},
          {"created", time_json(a.created_at)},
          {"answered_at", a.answered_at},
          {"answered", time_json(a.answered_at)}};
}

}  // namespace cadre
