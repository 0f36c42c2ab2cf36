// Memory through the real `cadre` binary:
//   - a note is found by a query in other words, by its entity, and its
//     facts are merged into the entity with the event they came from;
//   - compaction writes summaries that link their sources, is found for old
//     periods instead of the raw events, and writes nothing twice;
//   - `cadre memory reindex` rebuilds every index from the log and search
//     answers as before; a lost vector index file is rebuilt;
//   - a kill -9 during compaction leaves no summary half-written, and the
//     restarted compaction finishes without writing any twice;
//   - agents write notes through memory.note with provenance, and the next
//     agent's prompt carries them, each marked with its source;
//   - with an embed tier, vectors come from the model in batches.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "model_server.h"
#include "test_support.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::CommandResult;
using testing::contains;
using testing::eventually;
using testing::json_of;
using testing::kExitOk;
using testing::read_file;
using testing::run_cadre;
using testing::ScriptedModelServer;
using testing::ScriptedReply;
using testing::TempDir;
using testing::write_file;

constexpr char kTimeout[] = "30";


fs::path make_workspace(const fs::path& parent, const std::string& extra_yaml = "") {
  fs::path ws = parent / "ws";
  CommandResult init = run_cadre({"init", ws.string()});
  EXPECT_EQ(init.exit_code, kExitOk) << init.err;
  write_file(ws / "cadre.yaml",
             "name: memory\n"
             "kernel: {workers: 4, lease: 3s, heartbeat: 1s, poll_interval: 50ms}\n" +
                 extra_yaml);
  return ws;
}

// Records a note; returns its id.
std::string note(const fs::path& ws, const std::vector<std::string>& args) {
  std::vector<std::string> command = {"memory", "note"};
  command.insert(command.end(), args.begin(), args.end());
  command.push_back("--json");
  CommandResult r = run_cadre(command, ws);
  EXPECT_EQ(r.exit_code, kExitOk) << r.out << r.err;
  return json_of(r).value("id", std::string());
}

Json search(const fs::path& ws, const std::vector<std::string>& args) {
  std::vector<std::string> command = {"memory", "search"};
  command.insert(command.end(), args.begin(), args.end());
  command.push_back("--json");
  CommandResult r = run_cadre(command, ws);
  EXPECT_EQ(r.exit_code, kExitOk) << r.out << r.err;
  return json_of(r);
}

std::vector<std::string> hit_ids(const Json& result) {
  std::vector<std::string> ids;
  for (const auto& hit : result["hits"]) ids.push_back(hit["id"]);
  return ids;
}

// A few customers' ordinary business, so a search has something to pass over.
void add_distractors(const fs::path& ws) {
  note(ws, {"Globex paid invoice 1042 by bank transfer", "--entity", "customer:globex"});
  note(ws, {"Initech asked for a quote on the data migration project", "--entity", "customer:initech"});
  note(ws, {"Shipped the new onboarding checklist to the support folder"});
  note(ws, {"Umbrella's trial ends on Friday; send them the pricing page", "--entity", "customer:umbrella"});
  note(ws, {"Booked the accountant for the quarterly tax review"});
}

std::string iso_days_ago(int days) {
  return format_time_utc(SystemClock::instance().now_ms() - int64_t{days} * 24 * 3600 * 1000);
}

TEST(MemoryNotes, ANoteIsFoundByAParaphraseAndByItsEntityAndItsFactsKeepTheirSource) {
  TempDir dir;
  auto ws = make_workspace(dir.path());
  add_distractors(ws);
  std::string id = note(ws, {"Acme renewed their annual subscription and added five seats", "--entity",
                             "customer:acme", "--fact", "plan=pro", "--fact", "seats=5"});
  ASSERT_FALSE(id.empty());

  // Other words, other forms: "renewal" for "renewed", "subscriptions" for "subscription".
  Json found = search(ws, {"which subscriptions came up for renewal"});
  ASSERT_FALSE(found["hits"].empty()) << found;
  EXPECT_EQ(found["hits"][0]["id"], id) << found;
  EXPECT_EQ(found["hits"][0]["source"]["kind"], "event") << found;
  EXPECT_EQ(found["hits"][0]["source"]["actor"], "operator") << found;
  EXPECT_GT(found["hits"][0]["score"].get<double>(), 0) << found;

  // By the entity's key, and by its name in plain words (key retrieval).
  Json by_entity = search(ws, {"anything new", "--entity", "customer:acme"});
  EXPECT_EQ(hit_ids(by_entity), std::vector<std::string>{id}) << by_entity;
  Json by_name = search(ws, {"what about Acme"});
  ASSERT_FALSE(by_name["hits"].empty()) << by_name;
  EXPECT_EQ(by_name["hits"][0]["id"], id) << by_name;
  EXPECT_TRUE(by_name["hits"][0]["matched"].contains("key")) << by_name;

  CommandResult entity = run_cadre({"memory", "entity", "customer:acme", "--json"}, ws);
  ASSERT_EQ(entity.exit_code, kExitOk) << entity.err;
  Json e = json_of(entity);
  std::map<std::string, Json> facts;
  for (const auto& f : e["facts"]) {
    facts[f["name"]] = f;
    EXPECT_EQ(f["event"], id) << f;
  }
  EXPECT_EQ(facts["plan"]["value"], "pro") << e;
  EXPECT_EQ(facts["seats"]["value"], 5) << e;
  ASSERT_EQ(e["recent"].size(), 1u) << e;
  EXPECT_EQ(e["recent"][0]["id"], id);

  // A newer note replaces a fact; an older one (backdated) does not.
  note(ws, {"Acme moved to the enterprise plan", "--entity", "customer:acme", "--fact", "plan=enterprise"});
  note(ws, {"Acme was on the starter plan", "--entity", "customer:acme", "--fact", "plan=starter", "--at",
            iso_days_ago(400)});
  e = json_of(run_cadre({"memory", "entity", "customer:acme", "--json"}, ws));
  for (const auto& f : e["facts"]) {
    if (f["name"] == "plan") {
      EXPECT_EQ(f["value"], "enterprise") << e;
    }
  }
}

TEST(MemoryNotes, BadInputIsRefusedNamingTheField) {
  TempDir dir;
  auto ws = make_workspace(dir.path());
  CommandResult bad_key = run_cadre({"memory", "note", "hello", "--entity", "acme"}, ws);
  EXPECT_NE(bad_key.exit_code, kExitOk);
  EXPECT_TRUE(contains(bad_key.err, "entities[0]") && contains(bad_key.err, "KIND:NAME")) << bad_key.err;
  CommandResult bad_scope = run_cadre({"memory", "note", "hello", "--scope", "Sales Team"}, ws);
  EXPECT_NE(bad_scope.exit_code, kExitOk);
  EXPECT_TRUE(contains(bad_scope.err, "scope")) << bad_scope.err;
  CommandResult orphan_fact = run_cadre({"memory", "note", "hello", "--fact", "plan=pro"}, ws);
  EXPECT_NE(orphan_fact.exit_code, kExitOk);
  EXPECT_TRUE(contains(orphan_fact.err, "facts")) << orphan_fact.err;
  CommandResult bad_limit = run_cadre({"memory", "search", "x", "--limit", "0"}, ws);
  EXPECT_NE(bad_limit.exit_code, kExitOk);
  EXPECT_TRUE(contains(bad_limit.err, "limit")) << bad_limit.err;
  CommandResult unknown = run_cadre({"memory", "entity", "customer:nobody"}, ws);
  EXPECT_EQ(unknown.exit_code, testing::kExitNotFound) << unknown.err;
  // Query text that is FTS5 syntax is searched as words, never an error.
  Json odd = search(ws, {"\"unbalanced AND (OR NEAR*"});
  EXPECT_TRUE(odd["hits"].is_array()) << odd;
}

// Notes 60 days old about two customers in the same week, and a recent one.
struct OldNotes {
  std::vector<std::string> acme;
  std::string globex;
  std::string recent;
};

OldNotes add_old_notes(const fs::path& ws) {
  OldNotes n;
  n.acme.push_back(note(ws, {"Acme disputed invoice 2291 over the onboarding fee", "--entity", "customer:acme",
                             "--at", iso_days_ago(60)}));
  n.acme.push_back(note(ws, {"Agreed with Acme to waive half of the onboarding fee", "--entity", "customer:acme",
                             "--fact", "discount=50%", "--at", iso_days_ago(60)}));
  n.globex = note(ws, {"Globex signed the consulting statement of work", "--entity", "customer:globex", "--at",
                       iso_days_ago(60)});
  n.recent = note(ws, {"Acme asked about the invoice for next month", "--entity", "customer:acme"});
  return n;
}

TEST(MemoryCompaction, OldEventsGetSummariesThatLinkTheirSourcesAndAreFoundForThatPeriod) {
  TempDir dir;
  auto ws = make_workspace(dir.path());
  OldNotes notes = add_old_notes(ws);

  CommandResult compact = run_cadre({"memory", "compact", "--timeout", kTimeout}, ws);
  ASSERT_EQ(compact.exit_code, kExitOk) << compact.out << compact.err;
  EXPECT_TRUE(contains(compact.out, "wrote 2 summaries")) << compact.out;

  Json e = json_of(run_cadre({"memory", "entity", "customer:acme", "--json"}, ws));
  ASSERT_EQ(e["summaries"].size(), 1u) << e;
  Json summary = e["summaries"][0];
  std::set<std::string> sources(summary["sources"].begin(), summary["sources"].end());
  EXPECT_EQ(sources, (std::set<std::string>{notes.acme[0], notes.acme[1]})) << summary;
  EXPECT_EQ(summary["method"], "extractive");
  EXPECT_TRUE(contains(summary["text"], "disputed invoice 2291")) << summary;
  // The raw events stay.
  EXPECT_EQ(e["events"], 3) << e;

  // For the old period, the summary is what search returns, naming its events.
  Json found = search(ws, {"onboarding fee dispute", "--until", iso_days_ago(30)});
  ASSERT_FALSE(found["hits"].empty()) << found;
  EXPECT_EQ(found["hits"][0]["kind"], "summary") << found;
  EXPECT_EQ(found["hits"][0]["id"], summary["id"]) << found;
  std::vector<std::string> via = found["hits"][0]["matched"]["via"];
  EXPECT_FALSE(via.empty()) << found;
  for (const auto& id : via) EXPECT_TRUE(sources.count(id)) << id;
  for (const auto& id : hit_ids(found)) EXPECT_FALSE(sources.count(id)) << "a summarized event ranked itself";
  // --raw still reaches the events themselves; recent events are never folded.
  Json raw = search(ws, {"onboarding fee dispute", "--raw"});
  ASSERT_FALSE(raw["hits"].empty());
  EXPECT_TRUE(sources.count(raw["hits"][0]["id"])) << raw;
  Json recent = search(ws, {"invoice next month"});
  EXPECT_EQ(recent["hits"][0]["id"], notes.recent) << recent;

  // Compacting again writes nothing new.
  CommandResult again = run_cadre({"memory", "compact", "--timeout", kTimeout}, ws);
  ASSERT_EQ(again.exit_code, kExitOk) << again.err;
  EXPECT_TRUE(contains(again.out, "wrote 0 summaries")) << again.out;
}

TEST(MemoryCompaction, WithASmallTierTheModelWritesTheSummaryAndTheCallIsJournaled) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), "models:\n  tiers:\n    small: {provider: openai, model: m-small, base_url: \"" +
                                           server.base_url() + "\"}\n");
  note(ws, {"Initech approved the migration budget of 12,000 EUR", "--entity", "customer:initech", "--at",
            iso_days_ago(45)});
  server.push(ScriptedReply::Text("Initech approved a 12,000 EUR migration budget."));
  CommandResult compact = run_cadre({"memory", "compact", "--timeout", kTimeout}, ws);
  ASSERT_EQ(compact.exit_code, kExitOk) << compact.out << compact.err;
  ASSERT_EQ(server.chat_requests(), 1);
  std::string prompt = dump_json(server.received()[0].body);
  EXPECT_TRUE(contains(prompt, "Initech approved the migration budget")) << prompt;
  Json e = json_of(run_cadre({"memory", "entity", "customer:initech", "--json"}, ws));
  ASSERT_EQ(e["summaries"].size(), 1u) << e;
  EXPECT_EQ(e["summaries"][0]["method"], "m-small");
  EXPECT_TRUE(contains(e["summaries"][0]["text"], "Initech approved a 12,000 EUR migration budget.")) << e;
}

// Every summary has its links and its full-text entry (read straight from the database).
void expect_no_half_written_summary(const fs::path& db_path) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto count = [&](const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    int64_t n = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW) n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
  };
  EXPECT_EQ(count("SELECT count(*) FROM memory_summaries s WHERE NOT EXISTS "
                  "(SELECT 1 FROM memory_summary_sources l WHERE l.summary_seq = s.seq)"),
            0);
  EXPECT_EQ(count("SELECT count(*) FROM memory_summary_sources l WHERE NOT EXISTS "
                  "(SELECT 1 FROM memory_summaries s WHERE s.seq = l.summary_seq)"),
            0);
  EXPECT_EQ(count("SELECT count(*) FROM memory_summaries s WHERE s.seq NOT IN "
                  "(SELECT rowid FROM memory_summaries_fts WHERE memory_summaries_fts MATCH 'week')"),
            0);
  sqlite3_close(db);
}

TEST(MemoryCompaction, AKillDuringCompactionLeavesNoSummaryHalfWrittenAndTheRestartFinishesIt) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), "models:\n  tiers:\n    small: {provider: openai, model: m-small, base_url: \"" +
                                           server.base_url() + "\"}\n");
  // Six customers, one old week each: six groups, each summary a slow model call.
  const int kGroups = 6;
  for (int i = 0; i < kGroups; ++i) {
    note(ws, {"Customer number " + std::to_string(i) + " renewed their support contract", "--entity",
              "customer:c" + std::to_string(i), "--at", iso_days_ago(50)});
    ScriptedReply reply = ScriptedReply::Text("Summary " + std::to_string(i) + " of the support renewal.");
    reply.delay = 400ms;
    server.push(reply);
  }
  for (int i = 0; i < kGroups; ++i) server.push(ScriptedReply::Text("Repeated summary " + std::to_string(i)));

  auto log = dir.path() / "serve.log";
  int pid = testing::spawn_cadre({"serve"}, ws, log);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(eventually([&] { return run_cadre({"status", "--json"}, ws).exit_code == kExitOk; }));
  int compact_pid = testing::spawn_cadre({"memory", "compact", "--timeout", kTimeout}, ws, dir.path() / "compact.log");
  // Kill in the middle: after some model calls, before all of them.
  ASSERT_TRUE(eventually([&] { return server.chat_requests() >= 3; }, 20s)) << read_file(log.string() + ".err");
  EXPECT_EQ(testing::stop_process(pid, SIGKILL), 128 + SIGKILL);
  testing::stop_process(compact_pid, SIGKILL);
  expect_no_half_written_summary(ws / ".cadre" / "cadre.db");
  int calls_before_restart = server.chat_requests();

  pid = testing::spawn_cadre({"serve"}, ws, log);
  ASSERT_GT(pid, 0);
  std::set<std::string> summaries;
  ASSERT_TRUE(eventually(
      [&] {
        summaries.clear();
        for (int i = 0; i < kGroups; ++i) {
          Json e = json_of(run_cadre({"memory", "entity", "customer:c" + std::to_string(i), "--json"}, ws));
          for (const auto& s : e["summaries"]) summaries.insert(s["id"]);
        }
        return summaries.size() == kGroups;
      },
      30s))
      << summaries.size() << " summaries\n"
      << read_file(log.string() + ".err");
  EXPECT_EQ(testing::stop_process(pid, SIGTERM), 0);
  expect_no_half_written_summary(ws / ".cadre" / "cadre.db");
  // Each group was summarized by the model once, but for the one call in
  // flight at the kill (its answer was never journaled).
  EXPECT_LE(server.chat_requests(), calls_before_restart + (kGroups - calls_before_restart) + 1);
  EXPECT_GE(server.chat_requests(), kGroups);
  for (int i = 0; i < kGroups; ++i) {
    Json e = json_of(run_cadre({"memory", "entity", "customer:c" + std::to_string(i), "--json"}, ws));
    ASSERT_EQ(e["summaries"].size(), 1u) << e;
  }
}

TEST(MemoryReindex, RebuildingFromTheLogGivesTheSameAnswers) {
  TempDir dir;
  auto ws = make_workspace(dir.path());
  add_distractors(ws);
  note(ws, {"Acme renewed their annual subscription", "--entity", "customer:acme", "--fact", "seats=5"});
  add_old_notes(ws);
  ASSERT_EQ(run_cadre({"memory", "compact", "--timeout", kTimeout}, ws).exit_code, kExitOk);

  const std::vector<std::vector<std::string>> queries = {
      {"subscription renewal"}, {"invoice"}, {"onboarding fee", "--until", iso_days_ago(30)},
      {"quote for a migration"}, {"anything", "--entity", "customer:acme"}};
  auto answers = [&] {
    std::vector<std::vector<std::string>> all;
    for (const auto& q : queries) all.push_back(hit_ids(search(ws, q)));
    return all;
  };
  auto before = answers();
  Json entity_before = json_of(run_cadre({"memory", "entity", "customer:acme", "--json"}, ws));

  CommandResult reindex = run_cadre({"memory", "reindex"}, ws);
  ASSERT_EQ(reindex.exit_code, kExitOk) << reindex.err;
  EXPECT_TRUE(contains(reindex.out, "reindexed 10 events")) << reindex.out;
  EXPECT_EQ(answers(), before);
  EXPECT_EQ(json_of(run_cadre({"memory", "entity", "customer:acme", "--json"}, ws)), entity_before);

  // The saved vector index is derived too: without it, search rebuilds it.
  for (const auto& f : fs::directory_iterator(ws / ".cadre" / "memory")) fs::remove(f.path());
  EXPECT_EQ(answers(), before);
}

constexpr char kRecorderAgent[] =
    "role: Account manager\n"
    "instructions: Record what you learn about customers with memory.note, then say what you did.\n"
    "tools: [memory.note, memory.search]\n"
    "memory: {scopes: [accounts]}\n"
    "max_turns: 4\n";

TEST(MemoryAgents, AnAgentsNoteKeepsItsProvenanceAndTheNextPromptCarriesItWithItsSource) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), "models:\n  tiers:\n    small: {provider: openai, model: m-small, base_url: \"" +
                                           server.base_url() + "\"}\n");
  write_file(ws / "agents" / "accounts.yaml", kRecorderAgent);
  server.push(ScriptedReply::Tool("memory__note", Json{{"text", "Hooli prefers invoices in CHF"},
                                                       {"entities", {"customer:hooli"}},
                                                       {"facts", {{"currency", "CHF"}}}}));
  server.push(ScriptedReply::Text("Noted Hooli's currency."));
  CommandResult first = run_cadre({"ask", "accounts", "Hooli called about invoices", "--timeout", kTimeout}, ws);
  ASSERT_EQ(first.exit_code, kExitOk) << first.out << first.err;

  Json e = json_of(run_cadre({"memory", "entity", "customer:hooli", "--json"}, ws));
  ASSERT_FALSE(e["facts"].empty()) << e;
  EXPECT_EQ(e["facts"][0]["value"], "CHF");
  Json noted;
  for (const auto& ev : e["recent"]) {
    if (ev["type"] == "note") noted = ev;
  }
  ASSERT_FALSE(noted.is_null()) << e;
  EXPECT_EQ(noted["scope"], "accounts");
  EXPECT_EQ(noted["actor"], "agent:accounts");
  EXPECT_FALSE(noted["task"].get<std::string>().empty()) << noted;
  EXPECT_GT(noted["step"].get<int>(), 0) << noted;
  // The agent's outcome is recorded too, about the entity the task named.
  bool outcome = false;
  for (const auto& ev : e["recent"]) outcome |= ev["type"] == "outcome";
  EXPECT_TRUE(outcome) << e;

  // The next task about Hooli opens with what memory holds, each item sourced.
  server.push(ScriptedReply::Text("Use CHF."));
  CommandResult second =
      run_cadre({"ask", "accounts", "Which currency should Hooli's next invoice use?", "--timeout", kTimeout}, ws);
  ASSERT_EQ(second.exit_code, kExitOk) << second.out << second.err;
  auto requests = server.received();
  std::string prompt = dump_json(requests.back().body);
  EXPECT_TRUE(contains(prompt, "currency=CHF (" + noted["id"].get<std::string>())) << prompt;
  EXPECT_TRUE(contains(prompt, "Hooli prefers invoices in CHF")) << prompt;

  Json trace = json_of(run_cadre({"show", second.out.substr(0, second.out.find('\n')), "--json"}, ws));
  Json context_step;
  for (const auto& t : trace["tasks"]) {
    for (const auto& s : t["steps"]) {
      if (s["kind"] == "context") context_step = s;
    }
  }
  ASSERT_TRUE(context_step["output"].contains("memory")) << context_step;
  std::set<std::string> why;
  for (const auto& item : context_step["output"]["memory"]) {
    EXPECT_FALSE(item["source"].get<std::string>().empty()) << item;
    why.insert(item["kind"]);
  }
  EXPECT_TRUE(why.count("fact")) << context_step;
  // `cadre show` says what memory put in the prompt and why.
  CommandResult shown = run_cadre({"show", second.out.substr(0, second.out.find('\n'))}, ws);
  EXPECT_TRUE(contains(shown.out, "memory  fact      customer:hooli  (named in the task")) << shown.out;
}

TEST(MemoryEmbeddings, WithAnEmbedTierVectorsComeFromTheModelInBatches) {
  TempDir dir;
  ScriptedModelServer server;
  auto ws = make_workspace(dir.path(), "models:\n  embed_batch: 4\n  tiers:\n    embed: {provider: openai, model: "
                                       "m-embed, base_url: \"" + server.base_url() + "\"}\n");
  for (int i = 0; i < 9; ++i) note(ws, {"Weekly note number " + std::to_string(i) + " about the garden shop"});
  std::string id = note(ws, {"The florist wants more tulips in spring"});
  Json found = search(ws, {"tulips for the florist"});
  ASSERT_FALSE(found["hits"].empty()) << found;
  EXPECT_EQ(found["hits"][0]["id"], id) << found;
  EXPECT_TRUE(found["hits"][0]["matched"].contains("vector")) << found;
  // 10 documents in batches of 4 (3 requests), and the query.
  EXPECT_EQ(server.embedding_requests(), 4);
  // A later search embeds only the query.
  search(ws, {"garden shop"});
  EXPECT_EQ(server.embedding_requests(), 5);

  // When the embed model is down, search still answers from full text, and says so.
  ScriptedReply down = ScriptedReply::Error(503);
  for (int i = 0; i < 4; ++i) server.push_embedding(down);
  CommandResult r = run_cadre({"memory", "search", "tulips", "--json"}, ws);
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(json_of(r)["hits"][0]["id"], id);
  EXPECT_TRUE(contains(r.err, "vector search unavailable")) << r.err;
}

}  // namespace
}  // namespace cadre
