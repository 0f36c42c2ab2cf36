#include "memory/compaction.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/hash.h"
#include "core/id.h"
#include "models/gateway.h"
#include "policy/gate.h"

namespace cadre {
namespace {

constexpr size_t kMaxPromptChars = 24000;
constexpr char kSummaryTier[] = "small";

std::vector<std::string> sentences_of(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      if (!current.empty()) out.push_back(current);
      current.clear();
      continue;
    }
    current += c;
    bool end = (c == '.' || c == '!' || c == '?') && (i + 1 == text.size() || text[i + 1] == ' ');
    if (end) {
      out.push_back(current);
      current.clear();
      if (i + 1 < text.size()) ++i;  // the space after it
    }
  }
  if (!current.empty()) out.push_back(current);
  for (auto& s : out) {
    auto first = s.find_first_not_of(" \t");
    s = first == std::string::npos ? "" : s.substr(first);
  }
  std::erase_if(out, [](const std::string& s) { return s.empty(); });
  return out;
}

std::string group_header(const CompactionGroup& group, size_t events) {
  return group.subject + ", week of " + format_date_utc(group.period_start) + " (" + std::to_string(events) +
         (events == 1 ? " event" : " events") + ")";
}

RetryPolicy summary_retry_policy() {
  RetryPolicy policy;
  policy.max_attempts = 3;
  policy.initial_backoff = 1000;
  policy.max_backoff = 30000;
  return policy;
}

Json group_json(const CompactionGroup& g) {
  return {{"subject", g.subject},
          {"scope", g.scope},
          {"period_start", g.period_start},
          {"period_end", g.period_end},
          {"events", g.event_ids}};
}

CompactionGroup group_from_json(const Json& j) {
  CompactionGroup g;
  g.subject = j.value("subject", std::string());
  g.scope = j.value("scope", std::string());
  g.period_start = j.value("period_start", TimeMs{0});
  g.period_end = j.value("period_end", TimeMs{0});
  for (const auto& id : j.value("events", Json::array())) g.event_ids.push_back(id.get<std::string>());
  return g;
}

}  // namespace

std::string extractive_summary(const std::vector<MemoryEvent>& events, size_t max_chars) {
  struct Sentence {
    std::string text;
    TimeMs at;
    size_t order;
    double score = 0;
  };
  std::vector<Sentence> sentences;
  std::vector<std::vector<std::string>> words;
  std::map<std::string, int> frequency;  // sentences each word appears in
  for (const auto& e : events) {
    for (auto& s : sentences_of(e.text)) {
      auto w = content_words(s);
      std::sort(w.begin(), w.end());
      w.erase(std::unique(w.begin(), w.end()), w.end());
      for (const auto& word : w) ++frequency[word];
      sentences.push_back({std::move(s), e.at, sentences.size()});
      words.push_back(std::move(w));
    }
  }
  // A sentence is representative when its words recur in the others.
  for (size_t i = 0; i < sentences.size(); ++i) {
    double shared = 0;
    for (const auto& word : words[i]) shared += frequency[word] - 1;
    sentences[i].score = (shared + 1) / std::sqrt(static_cast<double>(words[i].size() + 1));
  }
  std::vector<size_t> by_score(sentences.size());
  for (size_t i = 0; i < by_score.size(); ++i) by_score[i] = i;
  std::stable_sort(by_score.begin(), by_score.end(),
                   [&](size_t a, size_t b) { return sentences[a].score > sentences[b].score; });
  std::vector<size_t> chosen;
  size_t used = 0;
  for (size_t i : by_score) {
    size_t cost = sentences[i].text.size() + 13;  // "YYYY-MM-DD: " and a newline
    if (used + cost > max_chars && !chosen.empty()) continue;
    chosen.push_back(i);
    used += cost;
  }
  std::sort(chosen.begin(), chosen.end());
  std::string out;
  for (size_t i : chosen) out += format_date_utc(sentences[i].at) + ": " + sentences[i].text + "\n";
  if (chosen.size() < sentences.size()) {
    out += "(" + std::to_string(sentences.size() - chosen.size()) + " more sentences in the source events)\n";
  }
  // The facts the period set, latest value of each.
  std::map<std::string, std::string> facts;
  for (const auto& e : events) {
    for (const auto& [name, value] : e.facts.items()) {
      facts[name] = value.is_string() ? value.get<std::string>() : dump_json(value);
    }
  }
  if (!facts.empty()) {
    out += "Facts:";
    for (const auto& [name, value] : facts) out += " " + name + "=" + value + ";";
    out.back() = '\n';
  }
  return out;
}

CompactionHandler::CompactionHandler(Memory& memory, ModelGateway* gateway, CompactionOptions options,
                                     const Policy* policy, Store* store)
    : memory_(memory), gateway_(gateway), options_(options), policy_(policy), store_(store) {}

Result<std::pair<std::string, std::string>> CompactionHandler::summarize(
    TaskContext& context, const CompactionGroup& group, const std::vector<MemoryEvent>& events) {
  auto extractive = [&]() {
    return std::make_pair(group_header(group, events.size()) + ":\n" +
                              extractive_summary(events, options_.max_summary_chars),
                          std::string("extractive"));
  };
  if (gateway_ == nullptr || !gateway_->has_tier(kSummaryTier)) return extractive();

  std::string log;
  for (const auto& e : events) {
    std::string line = format_date_utc(e.at) + " (" + e.type + ") " + e.text;
    if (!e.facts.empty()) line += " [facts: " + dump_json(e.facts) + "]";
    if (log.size() + line.size() + 1 > kMaxPromptChars) {
      log += "(the remaining events are left out for length)\n";
      break;
    }
    log += line + "\n";
  }
  ChatRequest request;
  request.messages = {
      {"system",
       "You compact a small business's event log for later retrieval. Write a faithful summary in "
       "plain "
       "text of at most 10 sentences. Keep names, amounts, dates, decisions, commitments and open "
       "questions; add nothing that is not in the events.",
       {},
       ""},
      {"user",
       "Summarize the events of " + group_header(group, events.size()) + ":\n" + log,
       {},
       ""}};
  if (policy_ != nullptr && store_ != nullptr) {
    ModelCallRequest ask{"memory", "", kSummaryTier,
                         gateway_->estimate_cost(kSummaryTier, request)};
    Status allowed = gate_model_call(context, *policy_, *store_, ask,
                                     {{"purpose", "compaction"}, {"subject", group.subject}});
    if (allowed.is(StatusCode::kSuspended) || allowed.is(StatusCode::kConflict)) return allowed;
    if (!allowed.ok()) {
      spdlog::info("compaction of {}: {}; writing an extractive summary", group.subject,
                   allowed.message());
      return extractive();
    }
  }
  StepOptions options;
  options.name = std::string("model.") + kSummaryTier;
  options.kind = "model";
  options.idempotent = true;
  options.commit_result = true;
  options.audit = true;
  options.retry = summary_retry_policy();
  Json input = {{"purpose", "compaction"}, {"tier", kSummaryTier}, {"request", to_json(request)}};
  auto out = context.run_step(options, input, [&](StepCall& call) -> Result<Json> {
    CADRE_ASSIGN_OR_RETURN(ChatResult result, gateway_->chat(kSummaryTier, request, {}, &call.retry_after));
    return Json{{"response", to_json(result.response)}, {"call", to_json(result.info)}};
  });
  if (!out.ok()) {
    if (out.status().code() == StatusCode::kSuspended) return out.status();
    // The summary still gets written: a failing model must not stop compaction.
    spdlog::warn("compaction of {}: the {} tier failed ({}); writing an extractive summary", group.subject,
                 kSummaryTier, out.status().message());
    return extractive();
  }
  std::string text = (*out)["response"].value("content", std::string());
  if (text.empty()) return extractive();
  return std::make_pair(group_header(group, events.size()) + ":\n" + text,
                        (*out)["call"].value("model", std::string(kSummaryTier)));
}

Result<Json> CompactionHandler::run(TaskContext& context) {
  CADRE_ASSIGN_OR_RETURN(TimeMs now, context.now());
  const TimeMs before = now - options_.older_than;
  StepOptions plan;
  plan.name = "memory.groups";
  plan.kind = "memory";
  plan.idempotent = true;
  CADRE_ASSIGN_OR_RETURN(
      Json groups, context.run_step(plan, Json{{"before", format_time_utc(before)}}, [&](StepCall&) -> Result<Json> {
        CADRE_ASSIGN_OR_RETURN(auto found, memory_.store().compaction_groups(before, options_.max_groups));
        Json out = Json::array();
        for (const auto& g : found) out.push_back(group_json(g));
        return out;
      }));

  Json written = Json::array();
  for (const auto& item : groups) {
    CompactionGroup group = group_from_json(item);
    std::vector<MemoryEvent> events;
    for (const auto& id : group.event_ids) {
      CADRE_ASSIGN_OR_RETURN(auto event, memory_.store().find_event(id));
      if (event) events.push_back(std::move(*event));
    }
    if (events.empty()) continue;
    CADRE_ASSIGN_OR_RETURN(auto summary, summarize(context, group, events));
    std::string joined;
    for (const auto& id : group.event_ids) joined += id + ",";
    MemorySummary s;
    s.id = "sum_" + sha256_hex(group.subject + "|" + std::to_string(group.period_start) + "|" + joined).substr(0, 26);
    s.subject = group.subject;
    s.scope = group.scope;
    s.period_start = group.period_start;
    s.period_end = group.period_end;
    s.text = std::move(summary.first);
    s.method = std::move(summary.second);
    s.task_id = context.task().id;
    for (const auto& e : events) s.sources.push_back(e.id);
    StepOptions write;
    write.name = "memory.summary";
    write.kind = "memory";
    write.idempotent = true;  // same id: writing again changes nothing
    CADRE_ASSIGN_OR_RETURN(
        Json done, context.run_step(write, Json{{"id", s.id}, {"subject", s.subject}, {"text", s.text}},
                                    [&](StepCall&) -> Result<Json> {
                                      s.created_at = memory_.clock().now_ms();
                                      CADRE_RETURN_IF_ERROR(memory_.store().put_summary(s));
                                      return Json{{"id", s.id},
                                                  {"subject", s.subject},
                                                  {"events", s.sources.size()},
                                                  {"method", s.method}};
                                    }));
    written.push_back(done);
  }
  spdlog::info("compaction {} wrote {} summaries", context.task().objective_id, written.size());
  return Json{{"before", format_time_utc(before)}, {"summaries", written}};
}

Result<bool> start_compaction(Store& store, const std::string& objective_id, const std::string& source,
                              const std::string& dedupe_key, TimeMs now) {
  NewObjective n;
  n.objective.id = objective_id;
  n.objective.title = "Compact memory: summarize old events";
  n.objective.owner = "memory";
  n.objective.source = source;
  n.objective.dedupe_key = dedupe_key;
  NewTask task;
  task.id = new_id("tsk", now);
  task.key = "compact";
  task.kind = kCompactionTaskKind;
  n.tasks.push_back(std::move(task));
  return store.create_objective(n, now);
}

}  // namespace cadre
