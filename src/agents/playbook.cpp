#include "agents/playbook.h"

#include "core/hash.h"

namespace cadre {
namespace {

// The canonical JSON leaves out `file` and source positions: they say where
// a definition was read, not what it does, so moving a file or adding a
// comment does not change a playbook's version.

// Strict readers for from_json: a snapshot with a wrong shape is corrupt.
class JsonReader {
 public:
  explicit JsonReader(const Json& object, std::string path)
      : object_(object), path_(std::move(path)) {}

  Status string(const char* key, std::string* out) const {
    const Json* v = find(key);
    if (v == nullptr) return missing(key);
    if (!v->is_string()) return wrong(key, "a string");
    *out = v->get<std::string>();
    return Status::Ok();
  }
  Status boolean(const char* key, bool* out) const {
    const Json* v = find(key);
    if (v == nullptr) return missing(key);
    if (!v->is_boolean()) return wrong(key, "a boolean");
    *out = v->get<bool>();
    return Status::Ok();
  }
  Status object(const char* key, Json* out) const {
    const Json* v = find(key);
    if (v == nullptr) return missing(key);
    if (!v->is_object()) return wrong(key, "an object");
    *out = *v;
    return Status::Ok();
  }
  Status array(const char* key, const Json** out) const {
    const Json* v = find(key);
    if (v == nullptr) return missing(key);
    if (!v->is_array()) return wrong(key, "an array");
    *out = v;
    return Status::Ok();
  }
  Status any(const char* key, Json* out) const {
    const Json* v = find(key);
    if (v == nullptr) return missing(key);
    *out = *v;
    return Status::Ok();
  }
  const Json* find(const char* key) const {
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  std::string field(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
  Status wrong(const char* key, const char* expected) const {
    return Status::Corruption("playbook snapshot: " + field(key) + ": expected " + expected);
  }

 private:
  Status missing(const char* key) const {
    return Status::Corruption("playbook snapshot: " + field(key) + ": missing");
  }

  const Json& object_;
  std::string path_;
};

std::string item_path(const char* list, size_t index) {
  return std::string(list) + "[" + std::to_string(index) + "]";
}

Status read_input(const Json& j, const std::string& path, InputDef* input) {
  if (!j.is_object())
    return Status::Corruption("playbook snapshot: " + path + ": expected an object");
  JsonReader r(j, path);
  CADRE_RETURN_IF_ERROR(r.string("name", &input->name));
  CADRE_RETURN_IF_ERROR(r.string("type", &input->type));
  CADRE_RETURN_IF_ERROR(r.boolean("required", &input->required));
  CADRE_RETURN_IF_ERROR(r.any("default", &input->default_value));
  return r.string("description", &input->description);
}

Status read_trigger(const Json& j, const std::string& path, TriggerDef* trigger) {
  if (!j.is_object())
    return Status::Corruption("playbook snapshot: " + path + ": expected an object");
  JsonReader r(j, path);
  std::string kind, catchup;
  CADRE_RETURN_IF_ERROR(r.string("kind", &kind));
  if (kind == "cron") {
    trigger->kind = TriggerDef::Kind::kCron;
  } else if (kind == "event") {
    trigger->kind = TriggerDef::Kind::kEvent;
  } else {
    return Status::Corruption("playbook snapshot: " + r.field("kind") + ": unknown kind '" + kind +
                              "'");
  }
  CADRE_RETURN_IF_ERROR(r.string("cron", &trigger->cron));
  CADRE_RETURN_IF_ERROR(r.string("time_zone", &trigger->time_zone));
  CADRE_RETURN_IF_ERROR(r.string("catchup", &catchup));
  if (!parse_catchup(catchup, &trigger->catchup)) {
    return Status::Corruption("playbook snapshot: " + r.field("catchup") + ": unknown value '" +
                              catchup + "'");
  }
  CADRE_RETURN_IF_ERROR(r.string("event", &trigger->event));
  return r.object("inputs", &trigger->inputs);
}

// Optional in snapshots: those written before compensations existed lack it.
Status read_compensation(const JsonReader& step_reader, StepDef* step) {
  const Json* j = step_reader.find("compensate");
  if (j == nullptr) return Status::Ok();
  if (!j->is_object()) return step_reader.wrong("compensate", "an object");
  JsonReader r(*j, step_reader.field("compensate"));
  CompensationDef compensation;
  CADRE_RETURN_IF_ERROR(r.string("uses", &compensation.uses));
  CADRE_RETURN_IF_ERROR(r.object("with", &compensation.with));
  step->compensate = std::move(compensation);
  return Status::Ok();
}

Status read_step(const Json& j, const std::string& path, StepDef* step) {
  if (!j.is_object())
    return Status::Corruption("playbook snapshot: " + path + ": expected an object");
  JsonReader r(j, path);
  CADRE_RETURN_IF_ERROR(r.string("id", &step->id));
  CADRE_RETURN_IF_ERROR(r.string("uses", &step->uses));
  CADRE_RETURN_IF_ERROR(r.object("with", &step->with));
  const Json* needs = nullptr;
  CADRE_RETURN_IF_ERROR(r.array("needs", &needs));
  for (const auto& need : *needs) {
    if (!need.is_string()) return r.wrong("needs", "an array of strings");
    step->needs.push_back(need.get<std::string>());
  }
  CADRE_RETURN_IF_ERROR(r.string("if", &step->if_condition));
  CADRE_RETURN_IF_ERROR(r.string("foreach", &step->foreach));
  CADRE_RETURN_IF_ERROR(r.string("lock", &step->lock));
  Json retry, timeout;
  CADRE_RETURN_IF_ERROR(r.any("retry", &retry));
  if (retry.is_object()) {
    step->retry = RetryPolicy::from_json(retry);
  } else if (!retry.is_null()) {
    return r.wrong("retry", "an object or null");
  }
  CADRE_RETURN_IF_ERROR(r.any("timeout_ms", &timeout));
  if (timeout.is_number_integer()) {
    step->timeout = timeout.get<DurationMs>();
  } else if (!timeout.is_null()) {
    return r.wrong("timeout_ms", "an integer or null");
  }
  return read_compensation(r, step);
}

Result<PlaybookDef> read_playbook(const Json& j);

}  // namespace

const StepDef* PlaybookDef::find_step(std::string_view id) const {
  for (const auto& step : steps) {
    if (step.id == id) return &step;
  }
  return nullptr;
}

bool PlaybookDef::has_compensations() const {
  for (const auto& step : steps) {
    if (step.compensate) return true;
  }
  return false;
}

Json PlaybookDef::to_json() const {
  Json j_inputs = Json::array();
  for (const auto& input : inputs) {
    j_inputs.push_back({{"name", input.name},
                        {"type", input.type},
                        {"required", input.required},
                        {"default", input.default_value},
                        {"description", input.description}});
  }
  Json j_triggers = Json::array();
  for (const auto& trigger : triggers) {
    j_triggers.push_back({{"kind", trigger.kind == TriggerDef::Kind::kCron ? "cron" : "event"},
                          {"cron", trigger.cron},
                          {"time_zone", trigger.time_zone},
                          {"catchup", std::string(catchup_name(trigger.catchup))},
                          {"event", trigger.event},
                          {"inputs", trigger.inputs}});
  }
  Json j_steps = Json::array();
  for (const auto& step : steps) {
    Json j_step = {{"id", step.id},
                   {"uses", step.uses},
                   {"with", step.with},
                   {"needs", step.needs},
                   {"if", step.if_condition},
                   {"foreach", step.foreach},
                   {"retry", step.retry ? step.retry->to_json() : Json()},
                   {"timeout_ms", step.timeout ? Json(*step.timeout) : Json()},
                   {"lock", step.lock}};
    // Only when declared, so playbooks without compensations keep the
    // versions they had before compensations existed.
    if (step.compensate) {
      j_step["compensate"] = {{"uses", step.compensate->uses}, {"with", step.compensate->with}};
    }
    j_steps.push_back(std::move(j_step));
  }
  return {{"name", name},
          {"description", description},
          {"inputs", std::move(j_inputs)},
          {"triggers", std::move(j_triggers)},
          {"steps", std::move(j_steps)}};
}

Result<PlaybookDef> PlaybookDef::from_json(const Json& j) {
  try {
    return read_playbook(j);
  } catch (const Json::exception& e) {
    // RetryPolicy::from_json reads fields with Json::value, which throws on a wrong type.
    return Status::Corruption(std::string("playbook snapshot: ") + e.what());
  }
}

namespace {

Result<PlaybookDef> read_playbook(const Json& j) {
  if (!j.is_object()) return Status::Corruption("playbook snapshot: expected an object");
  PlaybookDef playbook;
  JsonReader r(j, "");
  CADRE_RETURN_IF_ERROR(r.string("name", &playbook.name));
  CADRE_RETURN_IF_ERROR(r.string("description", &playbook.description));
  const Json* list = nullptr;
  CADRE_RETURN_IF_ERROR(r.array("inputs", &list));
  for (size_t i = 0; i < list->size(); ++i) {
    InputDef input;
    CADRE_RETURN_IF_ERROR(read_input((*list)[i], item_path("inputs", i), &input));
    playbook.inputs.push_back(std::move(input));
  }
  CADRE_RETURN_IF_ERROR(r.array("triggers", &list));
  for (size_t i = 0; i < list->size(); ++i) {
    TriggerDef trigger;
    CADRE_RETURN_IF_ERROR(read_trigger((*list)[i], item_path("triggers", i), &trigger));
    playbook.triggers.push_back(std::move(trigger));
  }
  CADRE_RETURN_IF_ERROR(r.array("steps", &list));
  for (size_t i = 0; i < list->size(); ++i) {
    StepDef step;
    CADRE_RETURN_IF_ERROR(read_step((*list)[i], item_path("steps", i), &step));
    playbook.steps.push_back(std::move(step));
  }
  return playbook;
}

}  // namespace

std::string_view catchup_name(Catchup catchup) {
  switch (catchup) {
    case Catchup::kNone:
      return "none";
    case Catchup::kLatest:
      return "latest";
    case Catchup::kAll:
      return "all";
  }
  return "none";
}

bool parse_catchup(std::string_view text, Catchup* out) {
  for (Catchup c : {Catchup::kNone, Catchup::kLatest, Catchup::kAll}) {
    if (catchup_name(c) == text) {
      *out = c;
      return true;
    }
  }
  return false;
}

std::string PlaybookDef::version() const {
  return sha256_hex(dump_json(to_json())).substr(0, 16);
}

}  // namespace cadre
