#include "kernel/task_context.h"

#include "core/hash.h"
#include "core/id.h"
#include "kernel/rate_limiter.h"

namespace cadre {
namespace {

std::string journal_text(const Status& s) { return s.to_string(); }

int64_t json_size(const Json& j) { return j.is_null() ? 0 : static_cast<int64_t>(dump_json(j).size()); }

}  // namespace

Status status_from_journal(const std::string& text) {
  auto colon = text.find(": ");
  if (colon != std::string::npos) {
    StatusCode code;
    if (status_code_from_name(text.substr(0, colon), &code) && code != StatusCode::kOk) {
      std::string message = text.substr(colon + 2);
      switch (code) {
        case StatusCode::kInvalidArgument: return Status::InvalidArgument(message);
        case StatusCode::kNotFound: return Status::NotFound(message);
        case StatusCode::kAlreadyExists: return Status::AlreadyExists(message);
        case StatusCode::kFailedPrecondition: return Status::FailedPrecondition(message);
        case StatusCode::kConflict: return Status::Conflict(message);
        case StatusCode::kUnavailable: return Status::Unavailable(message);
        case StatusCode::kResourceExhausted: return Status::ResourceExhausted(message);
        case StatusCode::kDeadlineExceeded: return Status::DeadlineExceeded(message);
        case StatusCode::kCancelled: return Status::Cancelled(message);
        case StatusCode::kIOError: return Status::IOError(message);
        case StatusCode::kCorruption: return Status::Corruption(message);
        case StatusCode::kInternal: return Status::Internal(message);
        case StatusCode::kSuspended: return Status::Suspended(message);
        case StatusCode::kOk: break;
      }
    }
  }
  return Status::Internal(text.empty() ? "step failed without a recorded error" : text);
}

TaskContext::TaskContext(TaskEnvironment env, TaskRecord task, std::vector<StepRecord> journal)
    : env_(std::move(env)), task_(std::move(task)) {
  // A task claimed before may hold a lock taken just before a crash, even if
  // the journal does not show it yet; only a first claim is known to hold none.
  holds_locks_ = task_.claims > 1;
  for (auto& step : journal) {
    journal_bytes_ += json_size(step.input) + json_size(step.output);
    journal_.emplace(step.seq, std::move(step));
  }
}

std::string TaskContext::idempotency_key(int seq) const { return task_.id + "-" + std::to_string(seq); }

const StepRecord* TaskContext::journaled(int seq) const {
  auto it = journal_.find(seq);
  return it == journal_.end() ? nullptr : &it->second;
}

Result<CommitResult> TaskContext::commit_now(std::vector<Transition> extra) {
  std::vector<Transition> all = std::move(pending_);
  pending_.clear();
  for (auto& t : extra) all.push_back(std::move(t));
  if (all.empty()) return CommitResult{};
  return env_.store->commit(ref(), std::move(all));
}

Status TaskContext::flush(std::vector<Transition> extra) { return commit_now(std::move(extra)).status(); }

Status TaskContext::park(TaskParked parked) {
  parked.at = env_.clock->now_ms();
  CADRE_RETURN_IF_ERROR(flush({parked}));
  settled_ = true;
  std::string why = parked.kind == WaitKind::kTimer ? "until " + format_time_utc(parked.wake_at)
                                                    : std::string(to_string(parked.kind)) + " " + parked.key;
  return Status::Suspended("waiting for " + why);
}

Status TaskContext::check_limits(int64_t size) {
  const KernelConfig& limits = *env_.limits;
  if (size > limits.max_step_input_bytes) {
    return Status::ResourceExhausted("step " + std::to_string(cursor_) + " input is " + std::to_string(size) +
                                     " bytes; the limit is " + std::to_string(limits.max_step_input_bytes) +
                                     " (kernel.max_step_input_bytes)");
  }
  if (cursor_ > limits.max_run_steps) {
    return Status::ResourceExhausted("task " + task_.id + " reached " + std::to_string(cursor_) +
                                     " journaled steps; the limit is " + std::to_string(limits.max_run_steps) +
                                     " (kernel.max_run_steps)");
  }
  if (journal_bytes_ + size > limits.max_run_journal_bytes) {
    return Status::ResourceExhausted("task " + task_.id + " journal would reach " +
                                     std::to_string(journal_bytes_ + size) + " bytes; the limit is " +
                                     std::to_string(limits.max_run_journal_bytes) + " (kernel.max_run_journal_bytes)");
  }
  return Status::Ok();
}

Result<Json> TaskContext::run_step(const StepOptions& options, const Json& input,
                                   const std::function<Result<Json>(StepCall&)>& effect) {
  const int seq = ++cursor_;
  int attempt = 1;
  if (const StepRecord* j = journaled(seq)) {
    if (j->name != options.name) {
      return Status::FailedPrecondition("replay diverged at step " + std::to_string(seq) + ": the journal has '" +
                                        j->name + "' but the handler asked for '" + options.name +
                                        "' (was the definition changed under a running task?)");
    }
    switch (j->state) {
      case StepState::kDone:
        return j->output;
      case StepState::kFailed:
        return status_from_journal(j->error);
      case StepState::kStarted:
        if (!options.idempotent) {
          const TimeMs now = env_.clock->now_ms();
          ApprovalRecord question;
          question.id = new_id("apr", now);
          question.kind = "uncertain";
          question.objective_id = task_.objective_id;
          question.task_id = task_.id;
          question.step_seq = seq;
          question.agent = task_.agent;
          question.title = "Did step " + std::to_string(seq) + " (" + options.name + ") of task " + task_.key +
                           " happen?";
          question.reason = "it was in flight when its worker stopped and is not idempotent, so it was not repeated";
          question.request = {{"step", seq}, {"name", options.name}, {"input", j->input},
                              {"idempotency_key", j->idempotency_key}};
          question.created_at = now;
          std::string msg = "step " + std::to_string(seq) + " (" + options.name + ") " + question.reason +
                            "; decide with: cadre approve " + question.id + " (it happened), cadre approve " +
                            question.id + " --redo, or cadre reject " + question.id +
                            " (or cadre resolve " + task_.id + " --done|--redo|--fail)";
          audit(audit_entry(now, "", "approval.requested", question.id,
                            {{"kind", "uncertain"}, {"step", seq}, {"name", options.name}}));
          CADRE_RETURN_IF_ERROR(
              flush({ApprovalRequested{std::move(question)}, TaskFinished{TaskState::kUncertain, nullptr, msg, now}}));
          settled_ = true;
          return Status::Suspended(msg);
        }
        attempt = j->attempts + 1;  // same key: the tool makes a repeat harmless
        break;
      case StepState::kRetrying:
        attempt = j->attempts + 1;
        break;
    }
  }
  if (env_.stopping && env_.stopping->load()) return release("released at shutdown");
  if (env_.paused && env_.paused(task_)) return release("paused by the kill switch");
  // Serialized once: for the limits, the journal's size and the audit hash.
  const std::string input_text = dump_json(input);
  const int64_t input_size = input.is_null() ? 0 : static_cast<int64_t>(input_text.size());
  CADRE_RETURN_IF_ERROR(check_limits(input_size));
  if (!options.rate_limit_key.empty() && env_.rate_limiter) {
    TimeMs free_at = env_.rate_limiter->acquire(options.rate_limit_key, env_.clock->now_ms());
    if (free_at > 0) {
      --cursor_;  // the step has not begun; it is reached again after the wait
      return park({WaitKind::kTimer, free_at, "", 0, 0});
    }
  }

  const TimeMs started = env_.clock->now_ms();
  const std::string key = idempotency_key(seq);
  CADRE_RETURN_IF_ERROR(flush({StepStarted{seq, options.name, options.kind, key, input, attempt, started}}));
  journal_bytes_ += input_size;

  StepCall call{seq, key, attempt, options.timeout > 0 ? started + options.timeout : 0, -1};
  Result<Json> out = effect(call);
  const TimeMs finished = env_.clock->now_ms();
  bool effect_happened = false;  // an oversized result: the effect is done, so never retry it
  std::string output_text;
  int64_t output_size = 0;
  if (out.ok()) {
    output_text = dump_json(*out);
    output_size = out->is_null() ? 0 : static_cast<int64_t>(output_text.size());
    if (output_size > env_.limits->max_step_output_bytes) {
      out = Status::ResourceExhausted("step " + std::to_string(seq) + " (" + options.name + ") output is " +
                                      std::to_string(output_size) + " bytes; the limit is " +
                                      std::to_string(env_.limits->max_step_output_bytes) +
                                      " (kernel.max_step_output_bytes)");
      effect_happened = true;
    }
  }
  if (options.audit) {
    Json data = {{"step", seq}, {"attempt", attempt}, {"input_sha256", sha256_hex(input_text)}};
    if (out.ok()) data["output_sha256"] = sha256_hex(output_text);
    else data["error"] = out.status().to_string();
    audit(audit_entry(finished, "", options.kind == "model" ? "model.call" : "tool.effect", options.name, data));
  }
  if (out.ok()) {
    journal_bytes_ += output_size;
    pending_.push_back(StepFinished{seq, StepState::kDone, *out, "", finished});
    if (options.commit_result) CADRE_RETURN_IF_ERROR(flush({}));
    return out;
  }

  Status error = out.status();
  if (error.is(StatusCode::kSuspended) || error.is(StatusCode::kOk)) {
    error = Status::Internal("step " + options.name + " returned an invalid status: " + error.to_string());
  }
  const int max_attempts = std::max(1, options.retry.max_attempts);
  if (!effect_happened && options.retry.retries(error.code()) && attempt < max_attempts) {
    double draw = env_.random ? env_.random() : 0.5;
    DurationMs delay = options.retry.delay_before(attempt + 1, draw, call.retry_after);
    pending_.push_back(StepFinished{seq, StepState::kRetrying, nullptr, journal_text(error), finished});
    return park({WaitKind::kTimer, finished + std::max<DurationMs>(delay, 1), "", 0, 0});
  }
  Status final_error = status_from_journal(
      journal_text(error) + " (attempt " + std::to_string(attempt) + " of " + std::to_string(max_attempts) + ")");
  pending_.push_back(StepFinished{seq, StepState::kFailed, nullptr, journal_text(final_error), finished});
  return final_error;
}

Result<Json> TaskContext::record(const std::string& name, const std::string& kind,
                                 const std::function<Json()>& make) {
  const int seq = ++cursor_;
  if (const StepRecord* j = journaled(seq)) {
    if (j->kind != kind || j->name != name) {
      return Status::FailedPrecondition("replay diverged at step " + std::to_string(seq) + ": the journal has '" +
                                        j->name + "' (" + j->kind + ") but the handler asked for '" + name +
                                        "' (" + kind + ")");
    }
    if (j->state == StepState::kDone) return j->output;
  }
  Json value = make();
  TimeMs at = env_.clock->now_ms();
  pending_.push_back(StepStarted{seq, name, kind, idempotency_key(seq), nullptr, 1, at});
  pending_.push_back(StepFinished{seq, StepState::kDone, value, "", at});
  return value;
}

std::string TaskContext::actor() const {
  if (!task_.agent.empty()) return "agent:" + task_.agent;
  std::string playbook = task_.spec.is_object() ? task_.spec.value("playbook", std::string()) : "";
  if (!playbook.empty()) return "playbook:" + playbook;
  return task_.kind;
}

void TaskContext::audit(AuditEntry entry) {
  if (entry.at == 0) entry.at = env_.clock->now_ms();
  if (entry.actor.empty()) entry.actor = actor();
  if (entry.task_id.empty()) entry.task_id = task_.id;
  if (entry.objective_id.empty()) entry.objective_id = task_.objective_id;
  pending_.push_back(AuditAppended{std::move(entry)});
}

Status TaskContext::release(const std::string& why) {
  CADRE_RETURN_IF_ERROR(flush({TaskReleased{env_.clock->now_ms()}}));
  settled_ = true;
  return Status::Suspended(why);
}

Result<Json> TaskContext::deliver_approval(int seq, const ApprovalRecord& a) {
  Json answer = approval_outcome(a);
  pending_.push_back(StepFinished{seq, StepState::kDone, answer, "", env_.clock->now_ms()});
  return answer;
}

Result<Json> TaskContext::await_approval(ApprovalRecord draft) {
  const int seq = ++cursor_;
  const StepRecord* j = journaled(seq);
  if (j && j->kind != "approval") {
    return Status::FailedPrecondition("replay diverged at step " + std::to_string(seq) + ": the journal has '" +
                                      j->name + "' but the handler asked for an approval");
  }
  if (j && j->state == StepState::kDone) return j->output;
  if (j && j->state == StepState::kFailed) return status_from_journal(j->error);
  const TimeMs now = env_.clock->now_ms();
  if (j) {
    // Woken by its expiry, or claimed again after a crash: look at the item.
    std::string id = j->input.is_object() ? j->input.value("id", std::string()) : "";
    CADRE_ASSIGN_OR_RETURN(ApprovalRecord a, env_.store->get_approval(id));
    if (a.state == ApprovalState::kPending && a.expires_at > 0 && now >= a.expires_at) {
      ApprovalAnswer expired{a.timeout_action.empty() ? "reject" : a.timeout_action, nullptr,
                             "no answer within the approval's timeout", "timeout"};
      AuditEntry entry =
          audit_entry(now, "timeout", "approval.answered", a.id, {{"decision", expired.decision}, {"kind", a.kind}});
      entry.objective_id = task_.objective_id;
      entry.task_id = task_.id;
      auto answered = env_.store->answer_approval(a.id, expired, now, &entry);
      if (answered.ok()) {
        a = *answered;
      } else if (answered.status().is(StatusCode::kConflict)) {
        CADRE_ASSIGN_OR_RETURN(a, env_.store->get_approval(id));  // answered just before
      } else {
        return answered.status();
      }
    }
    if (a.state != ApprovalState::kPending) return deliver_approval(seq, a);
    return park({WaitKind::kApproval, a.expires_at, a.id, seq, 0});
  }
  if (draft.id.empty()) draft.id = new_id("apr", now);
  draft.state = ApprovalState::kPending;
  draft.objective_id = task_.objective_id;
  if (draft.task_id.empty()) draft.task_id = task_.id;
  draft.step_seq = seq;
  draft.created_at = now;
  Json input = {{"id", draft.id}, {"kind", draft.kind}, {"title", draft.title}, {"rule", draft.rule},
                {"request", draft.request}};
  pending_.push_back(StepStarted{seq, "approval." + draft.kind, "approval", idempotency_key(seq), input, 1, now});
  audit(audit_entry(now, "", "approval.requested", draft.id,
                    {{"kind", draft.kind}, {"title", draft.title}, {"rule", draft.rule}, {"reason", draft.reason}}));
  const std::string id = draft.id;
  const TimeMs expires = draft.expires_at;
  pending_.push_back(ApprovalRequested{std::move(draft)});
  return park({WaitKind::kApproval, expires, id, seq, 0});
}

Result<TimeMs> TaskContext::now() {
  CADRE_ASSIGN_OR_RETURN(Json v, journal_value("clock", [&] { return Json(env_.clock->now_ms()); }));
  if (!v.is_number_integer()) return Status::Corruption("journaled clock value is not an integer");
  return v.get<TimeMs>();
}

Result<double> TaskContext::random() {
  CADRE_ASSIGN_OR_RETURN(Json v, journal_value("random", [&] { return Json(env_.random ? env_.random() : 0.5); }));
  if (!v.is_number()) return Status::Corruption("journaled random value is not a number");
  return v.get<double>();
}

Status TaskContext::sleep_until(TimeMs until, const std::string& name) {
  const int seq = ++cursor_;
  const StepRecord* j = journaled(seq);
  if (j && j->state == StepState::kDone) return Status::Ok();
  TimeMs now = env_.clock->now_ms();
  if (!j) {
    pending_.push_back(StepStarted{seq, name, "wait", idempotency_key(seq), Json{{"until", until}}, 1, now});
  }
  if (now >= until) {
    pending_.push_back(StepFinished{seq, StepState::kDone, Json{{"woke_at", now}}, "", now});
    return Status::Ok();
  }
  return park({WaitKind::kTimer, until, "", seq, 0});
}

Result<Json> TaskContext::wait_event(const std::string& name) {
  const int seq = ++cursor_;
  const StepRecord* j = journaled(seq);
  if (j && j->state == StepState::kDone) return j->output;
  if (!j) {
    pending_.push_back(StepStarted{seq, "event:" + name, "wait_event", idempotency_key(seq),
                                   Json{{"event", name}}, 1, env_.clock->now_ms()});
  }
  return park({WaitKind::kEvent, 0, name, seq, 0});
}

Status TaskContext::lock(const std::string& resource) {
  const int seq = ++cursor_;
  const StepRecord* j = journaled(seq);
  if (j && j->state == StepState::kDone) return Status::Ok();  // held until the task ends
  TimeMs now = env_.clock->now_ms();
  CADRE_ASSIGN_OR_RETURN(CommitResult r, commit_now({LockAcquire{resource, now}}));
  if (r.lock_busy) {
    settled_ = true;
    return Status::Suspended("waiting for lock " + resource);
  }
  holds_locks_ = true;
  pending_.push_back(StepStarted{seq, "lock:" + resource, "lock", idempotency_key(seq),
                                 Json{{"resource", resource}}, 1, now});
  pending_.push_back(StepFinished{seq, StepState::kDone, Json{{"resource", resource}}, "", now});
  return Status::Ok();
}

Result<Json> TaskContext::emit(const std::string& name, const Json& data) {
  const int seq = ++cursor_;
  const StepRecord* j = journaled(seq);
  if (j && j->state == StepState::kDone) return j->output;
  TimeMs now = env_.clock->now_ms();
  EventRecord event{new_id("evt", now), name, data, "step:" + task_.id + ":" + std::to_string(seq), now, false};
  Json output = {{"event_id", event.id}, {"event", name}};
  pending_.push_back(StepStarted{seq, "emit:" + name, "emit", idempotency_key(seq),
                                 Json{{"event", name}, {"data", data}}, 1, now});
  pending_.push_back(EventRaised{event});
  pending_.push_back(StepFinished{seq, StepState::kDone, output, "", now});
  return output;
}

Status TaskContext::spawn_children(const std::string& name,
                                   const std::function<std::vector<NewTask>()>& make_children) {
  const int seq = ++cursor_;
  const StepRecord* j = journaled(seq);
  if (j && j->state == StepState::kDone) {
    // Spawned before; woken now, so every child has succeeded.
    return Status::Ok();
  }
  TimeMs now = env_.clock->now_ms();
  std::vector<NewTask> children = make_children();
  Json summary = {{"children", children.size()}};
  pending_.push_back(StepStarted{seq, name, "spawn", idempotency_key(seq), summary, 1, now});
  pending_.push_back(StepFinished{seq, StepState::kDone, summary, "", now});
  const size_t count = children.size();
  if (count == 0) return Status::Ok();  // nothing to wait for
  CADRE_RETURN_IF_ERROR(flush({ChildrenSpawned{std::move(children), now}}));
  settled_ = true;
  return Status::Suspended("waiting for " + std::to_string(count) + " child task(s)");
}

Status TaskContext::finish(const Result<Json>& result) {
  if (settled_) return Status::Ok();
  TimeMs now = env_.clock->now_ms();
  TaskFinished finished;
  finished.at = now;
  if (result.ok()) {
    finished.state = skipped_ ? TaskState::kSkipped : TaskState::kSucceeded;
    finished.output = skipped_ ? Json(nullptr) : *result;
  } else if (result.status().is(StatusCode::kConflict)) {
    return result.status();  // our lease is void: write nothing more
  } else {
    finished.state = TaskState::kFailed;
    finished.error = result.status().is(StatusCode::kSuspended)
                         ? "internal: handler suspended without parking: " + result.status().message()
                         : result.status().to_string();
  }
  finished.releases_locks = holds_locks_;
  bool stopping = env_.stopping && env_.stopping->load();
  if (!env_.worker_id.empty() && !stopping) {
    finished.handoff_worker = env_.worker_id;
    finished.handoff_lease_ms = env_.lease_ms;
  }
  auto committed = commit_now({finished});
  settled_ = true;
  if (!committed.ok()) return committed.status();
  handoff_ = std::move(committed->next);
  return Status::Ok();
}

}  // namespace cadre
