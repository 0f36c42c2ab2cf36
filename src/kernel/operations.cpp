#include "kernel/operations.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace cadre {
namespace {

bool is_task_id(const std::string& id) {
  return id.rfind("tsk_", 0) == 0;
}

Result<std::string> objective_of(Store& store, const std::string& id) {
  if (!is_task_id(id)) return id;
  CADRE_ASSIGN_OR_RETURN(TaskRecord task, store.get_task(id));
  return task.objective_id;
}

// A worker of this host whose process is gone is not alive, whatever its last heartbeat says.
bool process_gone(const Json& info) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || info.value("host", "") != host) return false;
  auto pid = static_cast<pid_t>(info.value("pid", 0));
  return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace

Result<Json> live_workers(Store& store, TimeMs now) {
  CADRE_ASSIGN_OR_RETURN(Json heartbeats, store.live_workers(now, 30000));
  Json workers = Json::array();
  for (const auto& w : heartbeats) {
    if (!process_gone(w["info"])) workers.push_back(w);
  }
  return workers;
}

Result<Json> kernel_status(Store& store, TimeMs now) {
  CADRE_ASSIGN_OR_RETURN(Json counts, store.counts());
  CADRE_ASSIGN_OR_RETURN(Json workers, live_workers(store, now));
  TaskFilter uncertain_filter;
  uncertain_filter.state = TaskState::kUncertain;
  uncertain_filter.limit = 20;
  CADRE_ASSIGN_OR_RETURN(auto uncertain, store.list_tasks(uncertain_filter));
  ObjectiveFilter failed_filter;
  failed_filter.state = ObjectiveState::kFailed;
  failed_filter.limit = 5;
  CADRE_ASSIGN_OR_RETURN(auto failed, store.list_objectives(failed_filter));
  Json out = {
      {"workers", workers}, {"objectives", counts["objectives"]}, {"tasks", counts["tasks"]}};
  out["needs_attention"] = Json::array();
  for (const auto& t : uncertain) {
    out["needs_attention"].push_back(
        {{"task", t.id}, {"objective", t.objective_id}, {"key", t.key}, {"why", t.error}});
  }
  ApprovalFilter waiting;
  waiting.state = ApprovalState::kPending;
  waiting.limit = 20;
  CADRE_ASSIGN_OR_RETURN(auto approvals, store.list_approvals(waiting));
  out["approvals"] = Json::array();
  for (const auto& a : approvals) {
    out["approvals"].push_back({{"id", a.id}, {"kind", a.kind}, {"title", a.title}, {"task", a.task_id}});
  }
  CADRE_ASSIGN_OR_RETURN(auto pauses, store.pauses());
  out["paused"] = Json::array();
  for (const auto& p : pauses) out["paused"].push_back({{"target", p.target}, {"by", p.by}, {"reason", p.reason}});
  CADRE_ASSIGN_OR_RETURN(auto rejected, store.rejected_events(5));
  out["rejected_events"] = Json::array();
  for (const auto& e : rejected) out["rejected_events"].push_back(to_json(e));
  out["recent_failures"] = Json::array();
  for (const auto& o : failed) {
    out["recent_failures"].push_back({{"objective", o.id}, {"title", o.title}, {"error", o.error}});
  }
  // Model calls of the last 24 hours: spend and how often the cache answered.
  CADRE_ASSIGN_OR_RETURN(Json models, store.model_usage(now - 24 * 3600 * 1000));
  int64_t calls = models.value("calls", int64_t{0});
  models["cache_hit_rate"] =
      calls > 0 ? static_cast<double>(models.value("cached", int64_t{0})) / calls : 0.0;
  out["models_24h"] = models;
  return out;
}

Result<Json> build_trace(Store& store, const std::string& id, const Json& current_versions) {
  CADRE_ASSIGN_OR_RETURN(std::string objective_id, objective_of(store, id));
  CADRE_ASSIGN_OR_RETURN(ObjectiveRecord objective, store.get_objective(objective_id));
  TaskFilter filter;
  filter.objective_id = objective_id;
  filter.limit = 100000;
  CADRE_ASSIGN_OR_RETURN(auto tasks, store.list_tasks(filter));
  Json trace = {{"objective", to_json(objective)},
                {"tasks", Json::array()},
                {"version_drift", Json::array()}};
  if (is_task_id(id)) trace["focus"] = id;
  for (const auto& [name, recorded] : objective.versions.items()) {
    auto now = current_versions.find(name);
    if (now == current_versions.end()) {
      trace["version_drift"].push_back(
          {{"definition", name}, {"recorded", recorded}, {"current", nullptr}});
    } else if (*now != recorded) {
      trace["version_drift"].push_back(
          {{"definition", name}, {"recorded", recorded}, {"current", *now}});
    }
  }
  for (const auto& task : tasks) {
    Json t = to_json(task);
    t["needs"] = task.spec.value("needs", Json::array());
    if (task.spec.contains("item_of")) t["item_of"] = task.spec["item_of"];
    t["steps"] = Json::array();
    if (task.claims > 0) {
      CADRE_ASSIGN_OR_RETURN(auto steps, store.get_steps(task.id));
      for (const auto& s : steps) t["steps"].push_back(to_json(s));
    }
    trace["tasks"].push_back(std::move(t));
  }
  return trace;
}

Status cancel_run(Store& store, const std::string& id, TimeMs now) {
  CADRE_ASSIGN_OR_RETURN(std::string objective_id, objective_of(store, id));
  return store.cancel_objective(objective_id, now);
}

Status retry_run(Store& store, const std::string& id, TimeMs now) {
  if (is_task_id(id)) return store.retry_task(id, now);
  CADRE_ASSIGN_OR_RETURN(ObjectiveRecord objective, store.get_objective(id));
  if (objective.state != ObjectiveState::kFailed && objective.state != ObjectiveState::kCancelled) {
    return Status::FailedPrecondition("objective " + id + " is " +
                                      std::string(to_string(objective.state)) +
                                      "; only failed or cancelled objectives can be retried");
  }
  TaskFilter filter;
  filter.objective_id = id;
  filter.limit = 100000;
  CADRE_ASSIGN_OR_RETURN(auto tasks, store.list_tasks(filter));
  for (const auto& t : tasks) {
    if (t.state == TaskState::kFailed || t.state == TaskState::kCancelled)
      return store.retry_task(t.id, now);
  }
  return Status::FailedPrecondition("objective " + id +
                                    " has no failed or cancelled task to retry");
}

Status resolve_uncertain(Store& store, const std::string& task_id, Resolution resolution,
                         const std::string& note, TimeMs now) {
  if (!is_task_id(task_id)) {
    // An objective id: resolve its one uncertain task, if there is exactly one.
    TaskFilter filter;
    filter.objective_id = task_id;
    filter.state = TaskState::kUncertain;
    CADRE_ASSIGN_OR_RETURN(auto tasks, store.list_tasks(filter));
    if (tasks.size() != 1) {
      return Status::InvalidArgument(
          "objective " + task_id + " has " + std::to_string(tasks.size()) +
          " uncertain tasks; name the task id (see cadre show " + task_id + ")");
    }
    return store.resolve_task(tasks[0].id, resolution, note, now);
  }
  return store.resolve_task(task_id, resolution, note, now);
}

}  // namespace cadre
