// Memory in the SQLite store: the event log and what is derived from it
// (entities, facts, full-text search), summaries and their links,
// compaction groups, stored vectors, rebuilding, and surviving a restart.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <random>
#include <thread>

#include "core/id.h"
#include "store/sqlite/schema.h"
#include "store/store.h"
#include "test_support.h"

// Filters are written with designated initializers naming only the fields a
// test sets; the others keep their defaults on purpose.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace cadre {
namespace {

using testing::TempDir;

constexpr TimeMs kHour = 3600 * 1000;
constexpr TimeMs kDay = 24 * kHour;
constexpr TimeMs kWeek = 7 * kDay;

TimeMs at(const char* iso) {
  return parse_time_utc(iso).value();
}

MemoryEvent event(const std::string& id, const std::string& text,
                  std::vector<std::string> entities = {}, TimeMs when = 0,
                  Json facts = Json::object()) {
  MemoryEvent e;
  e.id = id;
  e.text = text;
  e.entities = std::move(entities);
  e.at = when;
  e.facts = std::move(facts);
  return e;
}

std::vector<std::string> ids_of(const std::vector<MemoryEvent>& events) {
  std::vector<std::string> ids;
  for (const auto& e : events) ids.push_back(e.id);
  return ids;
}

class MemoryStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  void open() {
    StoreOptions options;
    options.path = (dir_.path() / "cadre.db").string();
    auto opened = open_sqlite_store(options);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
  }

  MemoryStore& memory() { return store_->memory(); }

  int append(std::vector<MemoryEvent>& events) {
    auto added = memory().append_events(events);
    EXPECT_TRUE(added.ok()) << added.status().to_string();
    return added.ok() ? *added : -1;
  }

  MemoryEvent append_one(MemoryEvent e) {
    std::vector<MemoryEvent> events = {std::move(e)};
    append(events);
    return events[0];
  }

  std::vector<int64_t> search(const std::string& query, const MemoryFilter& filter = {},
                              int limit = 10) {
    auto found = memory().lexical_search(query, filter, limit);
    EXPECT_TRUE(found.ok()) << found.status().to_string();
    std::vector<int64_t> labels;
    if (found.ok())
      for (const auto& r : *found) labels.push_back(r.label);
    return labels;
  }

  std::vector<std::string> recent(const MemoryFilter& filter, int limit = 100) {
    auto found = memory().recent_events(filter, limit);
    EXPECT_TRUE(found.ok()) << found.status().to_string();
    return found.ok() ? ids_of(*found) : std::vector<std::string>{};
  }

  MemorySummary summary(const std::string& id, const std::string& subject, TimeMs period_start,
                        std::vector<std::string> sources, const std::string& text) {
    MemorySummary s;
    s.id = id;
    s.subject = subject;
    s.scope = "shared";
    s.period_start = period_start;
    s.period_end = period_start + kWeek;
    s.sources = std::move(sources);
    s.text = text;
    s.method = "extractive";
    return s;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  TimeMs t0_ = at("2026-01-05T09:00:00Z");  // a Monday
};

// --- the event log ---

TEST_F(MemoryStoreTest, AppendingAnIdAgainKeepsTheFirstEventAndFillsItsSeq) {
  std::vector<MemoryEvent> first = {event("mem_1", "first words", {}, t0_),
                                    event("mem_2", "second words", {}, t0_)};
  EXPECT_EQ(append(first), 2);
  EXPECT_EQ(first[0].seq, 1);
  EXPECT_EQ(first[1].seq, 2);

  std::vector<MemoryEvent> again = {event("mem_1", "changed words", {}, t0_),
                                    event("mem_3", "third", {}, t0_),
                                    event("mem_3", "third again in the same call", {}, t0_)};
  EXPECT_EQ(append(again), 1);
  EXPECT_EQ(again[0].seq, 1) << "the stored seq is filled in";
  EXPECT_EQ(again[1].seq, 3);
  EXPECT_EQ(again[2].seq, 3) << "a repeat within one call is the same event";
  EXPECT_EQ(*memory().event_count(), 3);
  EXPECT_EQ((*memory().find_event("mem_1"))->text, "first words");
  EXPECT_TRUE(search("changed").empty()) << "the repeat was not indexed";
  EXPECT_FALSE(memory().find_event("mem_404")->has_value());
}

TEST_F(MemoryStoreTest, AnEventIsStoredWithAllItsFields) {
  MemoryEvent e = event("mem_full", "Acme renewed", {"customer:acme", "person:ann"}, t0_,
                        Json{{"plan", "pro"}, {"seats", 12}});
  e.type = "outcome";
  e.scope = "sales";
  e.data = Json{{"amount", 1200}, {"nested", {{"ok", true}}}};
  e.task_id = "tsk_1";
  e.step_seq = 4;
  e.actor = "agent:sales";
  append_one(e);
  auto stored = memory().events_by_seq({1, 99});
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u) << "missing seqs are skipped";
  const MemoryEvent& s = (*stored)[0];
  EXPECT_EQ(s.seq, 1);
  EXPECT_EQ(s.type, "outcome");
  EXPECT_EQ(s.scope, "sales");
  EXPECT_EQ(s.data, e.data);
  EXPECT_EQ(s.facts, e.facts);
  EXPECT_EQ(s.entities, e.entities);
  EXPECT_EQ(s.at, t0_);
  EXPECT_EQ(s.task_id, "tsk_1");
  EXPECT_EQ(s.step_seq, 4);
  EXPECT_EQ(s.actor, "agent:sales");
  Json json = to_json(s);
  EXPECT_EQ(json["at"], "2026-01-05T09:00:00.000Z");
  EXPECT_EQ(json["entities"][1], "person:ann");
}

TEST_F(MemoryStoreTest, AnInvalidEventRefusesTheWholeCallAndNamesTheField) {
  std::vector<MemoryEvent> events = {event("mem_ok", "fine", {}, t0_), event("", "no id", {}, t0_)};
  auto added = memory().append_events(events);
  ASSERT_TRUE(added.status().is(StatusCode::kInvalidArgument)) << added.status().to_string();
  EXPECT_NE(added.status().message().find("id"), std::string::npos) << added.status().message();

  events = {event("mem_ok", "fine", {}, t0_), event("mem_empty", "", {}, t0_)};
  added = memory().append_events(events);
  ASSERT_TRUE(added.status().is(StatusCode::kInvalidArgument));
  EXPECT_NE(added.status().message().find("text"), std::string::npos) << added.status().message();

  events = {event("mem_facts", "bad facts", {"customer:acme"}, t0_, Json::array({1}))};
  EXPECT_TRUE(memory().append_events(events).status().is(StatusCode::kInvalidArgument));
  events = {event("mem_entity", "bad entity", {""}, t0_)};
  EXPECT_TRUE(memory().append_events(events).status().is(StatusCode::kInvalidArgument));

  EXPECT_EQ(*memory().event_count(), 0) << "nothing of a refused call was appended";
  std::vector<MemoryEvent> none;
  EXPECT_EQ(append(none), 0);
}

TEST_F(MemoryStoreTest, ConcurrentAppendsAllLandWithDistinctSeqs) {
  constexpr int kThreads = 4;
  constexpr int kCalls = 40;
  std::vector<std::thread> threads;
  std::vector<std::vector<int64_t>> seqs(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int c = 0; c < kCalls; ++c) {
        std::vector<MemoryEvent> events = {
            event("mem_" + std::to_string(t) + "_" + std::to_string(c) + "_a", "alpha",
                  {"customer:acme"}, t0_),
            event("mem_" + std::to_string(t) + "_" + std::to_string(c) + "_b", "beta", {}, t0_)};
        auto added = memory().append_events(events);
        ASSERT_TRUE(added.ok()) << added.status().to_string();
        ASSERT_EQ(*added, 2);
        seqs[t].push_back(events[0].seq);
        seqs[t].push_back(events[1].seq);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<int64_t> all;
  for (const auto& s : seqs) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "seqs are unique";
  EXPECT_EQ(*memory().event_count(), kThreads * kCalls * 2);
  EXPECT_EQ((*memory().get_entity("customer:acme"))->events, kThreads * kCalls);
}

TEST_F(MemoryStoreTest, SearchesRunWhileEventsAreAppended) {
  std::atomic<bool> done = false;
  std::atomic<int> searches = 0;
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!done) {
        auto found = memory().lexical_search("\"renewal\" OR \"invoice\"", {}, 20);
        ASSERT_TRUE(found.ok()) << found.status().to_string();
        auto filtered = memory().lexical_search("renewal", {.entities = {"customer:acme"}}, 20);
        ASSERT_TRUE(filtered.ok()) << filtered.status().to_string();
        ++searches;
      }
    });
  }
  for (int call = 0; call < 30; ++call) {
    std::vector<MemoryEvent> events;
    for (int i = 0; i < 100; ++i) {
      std::string id = "mem_" + std::to_string(call) + "_" + std::to_string(i);
      events.push_back(event(id, (i % 2 ? "renewal of " : "invoice for ") + id, {"customer:acme"}, t0_ + i));
    }
    ASSERT_EQ(append(events), 100);
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_GT(searches.load(), 0);
  EXPECT_EQ(search("renewal", {}, 5000).size(), 1500u) << "every appended event is found";
}

// --- entities and facts ---

TEST_F(MemoryStoreTest, AFactIsReplacedOnlyByANewerEvent) {
  append_one(
      event("mem_new", "moved to pro", {"customer:acme"}, t0_ + 2 * kHour, Json{{"plan", "pro"}}));
  append_one(event("mem_old", "was on basic", {"customer:acme"}, t0_,
                   Json{{"plan", "basic"}, {"region", "eu"}}));
  auto acme = memory().get_entity("customer:acme");
  ASSERT_TRUE(acme.ok() && acme->has_value());
  ASSERT_EQ((*acme)->facts.size(), 2u);
  EXPECT_EQ((*acme)->facts[0].name, "plan") << "facts come by name";
  EXPECT_EQ((*acme)->facts[0].value, "pro") << "an older event does not overwrite a newer fact";
  EXPECT_EQ((*acme)->facts[0].event_id, "mem_new");
  EXPECT_EQ((*acme)->facts[0].at, t0_ + 2 * kHour);
  EXPECT_EQ((*acme)->facts[1].name, "region");
  EXPECT_EQ((*acme)->facts[1].value, "eu") << "a fact the newer event did not set is taken";

  // Same time: the later append wins.
  append_one(event("mem_tie", "now enterprise", {"customer:acme"}, t0_ + 2 * kHour,
                   Json{{"plan", "enterprise"}}));
  acme = memory().get_entity("customer:acme");
  EXPECT_EQ((*acme)->facts[0].value, "enterprise");
  EXPECT_EQ((*acme)->facts[0].event_id, "mem_tie");

  // Within one call too: the order of the call does not matter, only when.
  std::vector<MemoryEvent> mixed = {
      event("mem_b1", "later", {"customer:beta"}, t0_ + kHour, Json{{"plan", "pro"}}),
      event("mem_b2", "earlier", {"customer:beta"}, t0_, Json{{"plan", "basic"}}),
      event("mem_b3", "same time as later", {"customer:beta"}, t0_ + kHour, Json{{"seats", 3}}),
      event("mem_b4", "same time, appended last", {"customer:beta"}, t0_ + kHour,
            Json{{"seats", 5}})};
  ASSERT_EQ(append(mixed), 4);
  auto beta = memory().get_entity("customer:beta");
  ASSERT_EQ((*beta)->facts.size(), 2u);
  EXPECT_EQ((*beta)->facts[0].value, "pro");
  EXPECT_EQ((*beta)->facts[0].event_id, "mem_b1");
  EXPECT_EQ((*beta)->facts[1].value, 5);
  EXPECT_EQ((*beta)->events, 4);
  EXPECT_EQ((*beta)->first_at, t0_);

  // Values keep their JSON type; null is a value too.
  append_one(event("mem_json", "details", {"customer:acme"}, t0_ + 3 * kHour,
                   Json{{"limits", {{"seats", 10}}}, {"region", nullptr}}));
  acme = memory().get_entity("customer:acme");
  EXPECT_EQ((*acme)->facts[0].value, Json({{"seats", 10}}));
  EXPECT_TRUE((*acme)->facts[2].value.is_null());
  Json json = to_json(**acme);
  ASSERT_EQ(json["facts"].size(), 3u) << json;
  EXPECT_EQ(json["facts"][1]["name"], "plan");
  EXPECT_EQ(json["facts"][1]["event"], "mem_tie");
  EXPECT_EQ(json["facts"][1]["at"], "2026-01-05T11:00:00.000Z");
}

TEST_F(MemoryStoreTest, EntitiesCountTheirEventsAndAreFoundBySlug) {
  append_one(event("mem_1", "one", {"customer:Acme", "person:ann"}, t0_ + kDay));
  append_one(event("mem_2", "two", {"customer:Acme", "customer:Acme"}, t0_));
  append_one(event("mem_3", "three", {"company:acme"}, t0_ + 2 * kDay));
  append_one(event("mem_4", "four", {"odd-key"}, t0_));

  auto acme = memory().get_entity("customer:Acme");
  ASSERT_TRUE(acme->has_value());
  EXPECT_EQ((*acme)->kind, "customer");
  EXPECT_EQ((*acme)->slug, "acme");
  EXPECT_EQ((*acme)->events, 2) << "an entity named twice in one event counts once";
  EXPECT_EQ((*acme)->first_at, t0_) << "first_at is the earliest event, not the first appended";
  EXPECT_EQ((*acme)->last_at, t0_ + kDay);
  EXPECT_EQ((*memory().find_event("mem_2"))->entities, std::vector<std::string>{"customer:Acme"});

  auto odd = memory().get_entity("odd-key");
  EXPECT_EQ((*odd)->kind, "");
  EXPECT_EQ((*odd)->slug, "odd-key");

  EXPECT_EQ(*memory().entities_by_slug({"acme"}),
            (std::vector<std::string>{"company:acme", "customer:Acme"}));
  EXPECT_EQ(*memory().entities_by_slug({"ann", "nobody"}), std::vector<std::string>{"person:ann"});
  EXPECT_TRUE(memory().entities_by_slug({})->empty());
  EXPECT_FALSE(memory().get_entity("customer:nobody")->has_value());
}

// --- reading events back ---

TEST_F(MemoryStoreTest, RecentEventsAreNewestFirstAndMeetEveryFilter) {
  auto add = [&](const std::string& id, std::vector<std::string> entities, TimeMs when,
                 const std::string& scope = "shared", const std::string& type = "note") {
    MemoryEvent e = event(id, "text of " + id, std::move(entities), when);
    e.scope = scope;
    e.type = type;
    append_one(e);
  };
  add("a1", {"customer:acme"}, t0_);
  add("b1", {"customer:beta"}, t0_ + 1);
  add("ab", {"customer:acme", "customer:beta"}, t0_ + 2, "sales", "email");
  add("a2", {"customer:acme"}, t0_ + 3, "sales");
  add("old", {"customer:acme"}, t0_ - kDay, "shared", "email");  // appended last, happened first
  add("none", {}, t0_ + 4, "ops");
  add("same_time", {}, t0_ + 4, "ops");

  EXPECT_EQ(recent({}),
            (std::vector<std::string>{"same_time", "none", "a2", "ab", "b1", "a1", "old"}));
  EXPECT_EQ(recent({}, 2), (std::vector<std::string>{"same_time", "none"}));
  EXPECT_EQ(recent({.entities = {"customer:acme"}}),
            (std::vector<std::string>{"a2", "ab", "a1", "old"}));
  EXPECT_EQ(recent({.entities = {"customer:acme", "customer:beta"}}),
            (std::vector<std::string>{"a2", "ab", "b1", "a1", "old"}))
      << "an event of both entities comes once";
  EXPECT_EQ(recent({.entities = {"customer:acme", "customer:beta"}}, 3),
            (std::vector<std::string>{"a2", "ab", "b1"}));
  EXPECT_EQ(recent({.scopes = {"sales"}}), (std::vector<std::string>{"a2", "ab"}));
  EXPECT_EQ(recent({.scopes = {"sales", "ops"}}),
            (std::vector<std::string>{"same_time", "none", "a2", "ab"}));
  EXPECT_EQ(recent({.types = {"email"}}), (std::vector<std::string>{"ab", "old"}));
  EXPECT_EQ(recent({.entities = {"customer:acme"}, .scopes = {"shared"}}),
            (std::vector<std::string>{"a1", "old"}));
  EXPECT_EQ(recent({.entities = {"customer:acme"}, .types = {"email"}}),
            (std::vector<std::string>{"ab", "old"}));
  EXPECT_EQ(recent({.since = t0_ + 1, .until = t0_ + 3}), (std::vector<std::string>{"ab", "b1"}))
      << "since is inclusive, until exclusive";
  EXPECT_EQ(recent({.entities = {"customer:acme"}, .since = t0_}),
            (std::vector<std::string>{"a2", "ab", "a1"}));
  EXPECT_EQ(recent({.scopes = {"ops"}, .until = t0_ + 4}), std::vector<std::string>{});
  EXPECT_TRUE(recent({.entities = {"customer:nobody"}}).empty());
  EXPECT_TRUE(recent({}, 0).empty());
}

TEST_F(MemoryStoreTest, AnEntitysNewestEventsAreExactAcrossThousandsOfEvents) {
  // Enough events for several of the store's buckets (8,192 events each),
  // with times that mostly grow but sometimes jump back or ahead.
  std::mt19937 random(11);
  const std::vector<std::string> entities = {"customer:acme", "customer:beta", "person:ann",
                                             "project:rare"};
  std::vector<MemoryEvent> all;
  TimeMs when = t0_;
  for (int i = 0; i < 20000; ++i) {
    when += kHour;
    TimeMs at_time = when;
    if (random() % 50 == 0) at_time -= static_cast<TimeMs>(random() % 2000) * kHour;  // backdated
    if (random() % 200 == 0) at_time += static_cast<TimeMs>(random() % 500) * kHour;  // ahead
    std::vector<std::string> named;
    if (i == 100 || i == 12000) {
      named = {"customer:acme"};  // an early event dated after all others, in an old bucket
      at_time = t0_ + (i == 100 ? 40000 : 39000) * kHour;
    } else if (i == 9000) {
      named = {"person:ann"};  // and a late one dated before all
      at_time = t0_ - 5000 * kHour;
    } else if (i % 1000 == 7) {
      named = {"project:rare"};
    } else if (random() % 4 != 0) {
      named = {entities[random() % 3]};
      if (random() % 5 == 0) named.push_back(entities[random() % 3]);
    }
    MemoryEvent e =
        event("mem_" + std::to_string(i), "alpha note " + std::to_string(i), named, at_time);
    e.scope = random() % 3 == 0 ? "sales" : "shared";
    all.push_back(e);
  }
  for (size_t start = 0; start < all.size(); start += 1000) {
    std::vector<MemoryEvent> batch(
        all.begin() + static_cast<long>(start),
        all.begin() + static_cast<long>(std::min(all.size(), start + 1000)));
    ASSERT_EQ(append(batch), static_cast<int>(batch.size()));
    for (size_t i = 0; i < batch.size(); ++i) all[start + i].seq = batch[i].seq;
  }
  auto expected = [&](const MemoryFilter& f, int limit) {
    std::vector<MemoryEvent> matching;
    for (const auto& e : all) {
      bool named = false;
      for (const auto& key : f.entities)
        named = named || std::find(e.entities.begin(), e.entities.end(), key) != e.entities.end();
      bool scoped = f.scopes.empty() ||
                    std::find(f.scopes.begin(), f.scopes.end(), e.scope) != f.scopes.end();
      if (named && scoped && e.at >= f.since && (f.until == 0 || e.at < f.until))
        matching.push_back(e);
    }
    std::sort(matching.begin(), matching.end(), [](const MemoryEvent& a, const MemoryEvent& b) {
      return std::tie(a.at, a.seq) > std::tie(b.at, b.seq);
    });
    if (static_cast<int>(matching.size()) > limit) matching.resize(static_cast<size_t>(limit));
    return ids_of(matching);
  };
  auto check = [&](const MemoryFilter& f, int limit) {
    EXPECT_EQ(recent(f, limit), expected(f, limit));
    auto found = memory().lexical_search("alpha", f, 100000);
    ASSERT_TRUE(found.ok()) << found.status().to_string();
    std::vector<int64_t> seqs;
    for (const auto& r : *found) seqs.push_back(r.label);
    auto ids = ids_of(*memory().events_by_seq(seqs));
    std::sort(ids.begin(), ids.end());
    auto want = expected(f, 100000);
    std::sort(want.begin(), want.end());
    EXPECT_EQ(ids, want) << "search with the same filter";
  };
  TimeMs mid = t0_ + 10000 * kHour;
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "appended" : "rebuilt");
    check({.entities = {"customer:acme"}}, 50);
    check({.entities = {"customer:acme"}}, 3000);
    check({.entities = {"customer:acme", "person:ann"}}, 200);
    check({.entities = {"project:rare"}}, 50);
    check({.entities = {"customer:beta"}, .scopes = {"sales"}}, 100);
    check({.entities = {"customer:beta"}, .until = mid}, 100);
    check({.entities = {"person:ann"}, .since = mid, .until = mid + 3000 * kHour}, 100);
    check({.entities = {"customer:acme"}, .since = t0_ + 30000 * kHour}, 10);
    check({.entities = {"person:ann"}, .until = t0_}, 10);
    EXPECT_EQ(recent({.entities = {"customer:acme"}}, 2),
              (std::vector<std::string>{"mem_100", "mem_12000"}));
    ASSERT_TRUE(memory().rebuild_derived().ok());
  }
}

// --- full-text search ---

TEST_F(MemoryStoreTest, SearchMatchesWordStemsAndRanksBetterMatchesFirst) {
  int64_t renewed =
      append_one(event("mem_1", "Acme renewed their subscription for two years", {}, t0_)).seq;
  int64_t other = append_one(event("mem_2", "Beta asked about invoices", {}, t0_)).seq;
  int64_t twice =
      append_one(event("mem_3", "Renewal talk: the renewal is due, renewals matter", {}, t0_)).seq;

  EXPECT_EQ(search("\"renewal\""), (std::vector<int64_t>{twice, renewed}))
      << "'renewed' is found by 'renewal'; more hits rank higher";
  EXPECT_EQ(search("invoice"), std::vector<int64_t>{other});
  EXPECT_EQ(search("\"renewal\" OR \"invoices\"", {}, 2).size(), 2u) << "capped at the limit";
  EXPECT_TRUE(search("nothinglikethis").empty());
  EXPECT_TRUE(search("   ").empty()) << "a blank query finds nothing";
  auto scored = memory().lexical_search("renew", {}, 10);
  ASSERT_EQ(scored->size(), 2u);
  EXPECT_GT((*scored)[0].score, (*scored)[1].score);
  EXPECT_GT((*scored)[1].score, 0) << "higher is better";
}

TEST_F(MemoryStoreTest, SearchAppliesFiltersToEventsAndSummaries) {
  auto add = [&](const std::string& id, std::vector<std::string> entities, TimeMs when,
                 const std::string& scope, const std::string& type) {
    MemoryEvent e = event(id, "contract renewal for " + id, std::move(entities), when);
    e.scope = scope;
    e.type = type;
    return append_one(e).seq;
  };
  int64_t acme = add("acme", {"customer:acme"}, t0_, "shared", "note");
  int64_t beta = add("beta", {"customer:beta"}, t0_ + kDay, "sales", "email");
  int64_t later = add("later", {"customer:acme"}, t0_ + 2 * kWeek, "sales", "note");
  MemorySummary s = summary("sum_1", "customer:acme", at("2026-01-05T00:00:00Z"), {"acme"},
                            "Acme discussed a contract renewal");
  ASSERT_TRUE(memory().put_summary(s).ok());
  int64_t sum = kSummaryLabelBit | s.seq;

  auto sorted = [&](const std::string& q, const MemoryFilter& f) {
    auto labels = search(q, f);
    std::sort(labels.begin(), labels.end());
    return labels;
  };
  EXPECT_EQ(sorted("renewal", {}), (std::vector<int64_t>{acme, beta, later, sum}));
  EXPECT_EQ(sorted("renewal", {.entities = {"customer:acme"}}),
            (std::vector<int64_t>{acme, later, sum}))
      << "a summary matches an entity filter by its subject";
  EXPECT_EQ(sorted("renewal", {.scopes = {"sales"}}), (std::vector<int64_t>{beta, later}));
  EXPECT_EQ(sorted("renewal", {.types = {"email"}}), (std::vector<int64_t>{beta}))
      << "summaries only when asked for by type";
  EXPECT_EQ(sorted("renewal", {.types = {"summary"}}), (std::vector<int64_t>{sum}));
  EXPECT_EQ(sorted("renewal", {.types = {"note", "summary"}}),
            (std::vector<int64_t>{acme, later, sum}));
  EXPECT_EQ(sorted("renewal", {.since = t0_ + kDay}), (std::vector<int64_t>{beta, later, sum}))
      << "the summary's week ends after `since`";
  EXPECT_EQ(sorted("renewal", {.since = t0_ + kWeek}), (std::vector<int64_t>{later}));
  EXPECT_EQ(sorted("renewal", {.until = t0_ + kDay}), (std::vector<int64_t>{acme, sum}));
  EXPECT_EQ(sorted("renewal", {.entities = {"customer:beta"}, .scopes = {"shared"}}),
            std::vector<int64_t>{});
}

TEST_F(MemoryStoreTest, ScoresAreFts5Bm25) {
  // Lengths of one byte, of two (a longer varint in FTS5's docsize table) and
  // beyond what the store caches (looked up by FTS5 instead).
  std::vector<MemoryEvent> events;
  std::string filler;
  for (int i = 0; i < 70000; ++i) filler += " filler";
  events.push_back(event("mem_short", "renewal due", {}, t0_));
  events.push_back(event("mem_mid", "renewal renewal pricing talk", {}, t0_));
  std::string long_text = "renewal";
  for (int i = 0; i < 200; ++i) long_text += " word" + std::to_string(i % 50);
  events.push_back(event("mem_long", long_text + " pricing", {}, t0_));
  events.push_back(event("mem_huge", "renewal pricing" + filler, {}, t0_));
  events.push_back(event("mem_none", "nothing relevant", {}, t0_));
  ASSERT_EQ(append(events), 5);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_.path() / "cadre.db").string().c_str(), &db), SQLITE_OK);
  for (const std::string query :
       {"renewal", "renewal OR pricing", "\"pricing\" OR \"due\" OR \"talk\""}) {
    SCOPED_TRACE(query);
    std::vector<std::pair<int64_t, double>> expected;
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "SELECT rowid, -bm25(memory_events_fts) FROM memory_events_fts "
                                 "WHERE memory_events_fts MATCH ?1 ORDER BY rank",
                                 -1, &stmt, nullptr),
              SQLITE_OK);
    sqlite3_bind_text(stmt, 1, query.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(stmt) == SQLITE_ROW)
      expected.emplace_back(sqlite3_column_int64(stmt, 0), sqlite3_column_double(stmt, 1));
    sqlite3_finalize(stmt);
    ASSERT_GE(expected.size(), 3u);
    for (const MemoryFilter& filter : {MemoryFilter{}, MemoryFilter{.scopes = {"shared"}}}) {
      auto found = memory().lexical_search(query, filter, 10);
      ASSERT_TRUE(found.ok()) << found.status().to_string();
      ASSERT_EQ(found->size(), expected.size());
      for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ((*found)[i].label, expected[i].first) << i;
        EXPECT_NEAR((*found)[i].score, expected[i].second, 1e-9) << i;
      }
    }
  }
  sqlite3_close(db);
}

TEST_F(MemoryStoreTest, SelectiveFiltersFindTheFewMatchesAmongMany) {
  // More matches than the store ranks before filtering row by row: the few
  // that pass rank last, so they are found only by filtering first.
  std::vector<MemoryEvent> events;
  for (int i = 0; i < 1500; ++i)
    events.push_back(
        event("mem_" + std::to_string(i), "renewal renewal", {"customer:big"}, t0_ + i));
  auto rare = [&](const std::string& id, const std::string& words,
                  std::vector<std::string> entities, const std::string& scope, TimeMs when) {
    MemoryEvent e = event(id, "renewal " + words, std::move(entities), when);
    e.scope = scope;
    events.push_back(e);
  };
  rare("rare_a", "with many other words around it", {"customer:rare"}, "shared", t0_ - 3 * kDay);
  rare("rare_b", "with even more other words around it here", {"customer:rare"}, "secret",
       t0_ - 2 * kDay);
  rare("rare_c", "other", {"person:ann"}, "secret", t0_ - kDay);
  rare("rare_d", "and a very long tail of words that pushes it down the list", {"customer:big"},
       "secret", t0_ + 5000);
  ASSERT_EQ(append(events), 1504);
  auto ids = [&](const MemoryFilter& filter) {
    auto found = memory().lexical_search("renewal", filter, 10);
    EXPECT_TRUE(found.ok()) << found.status().to_string();
    std::vector<int64_t> seqs;
    for (const auto& r : *found) seqs.push_back(r.label);
    return ids_of(*memory().events_by_seq(seqs));
  };
  EXPECT_EQ(ids({.entities = {"customer:rare"}}), (std::vector<std::string>{"rare_a", "rare_b"}))
      << "best first: the shorter text ranks higher";
  EXPECT_EQ(ids({.entities = {"customer:rare", "person:ann"}}),
            (std::vector<std::string>{"rare_c", "rare_a", "rare_b"}));
  EXPECT_EQ(ids({.entities = {"customer:rare"}, .scopes = {"secret"}}),
            std::vector<std::string>{"rare_b"});
  EXPECT_EQ(ids({.scopes = {"secret"}}), (std::vector<std::string>{"rare_c", "rare_b", "rare_d"}));
  EXPECT_EQ(ids({.entities = {"customer:big"}, .scopes = {"secret"}}),
            std::vector<std::string>{"rare_d"})
      << "an entity of many events, selective with the scope";
  EXPECT_EQ(ids({.until = t0_}), (std::vector<std::string>{"rare_c", "rare_a", "rare_b"}));
  EXPECT_EQ(ids({.entities = {"customer:rare"}, .since = t0_ - 2 * kDay}),
            std::vector<std::string>{"rare_b"});
  EXPECT_EQ(ids({.scopes = {"shared"}}).size(), 10u);
}

TEST_F(MemoryStoreTest, AMalformedQueryIsAnInvalidArgumentNotACrash) {
  append_one(event("mem_1", "some text to search", {}, t0_));
  for (const char* query : {"\"unterminated", "AND", "text AND", "(((text", "nosuchcolumn:text",
                            "NEAR(", "text)", "*", "\"a\" OR OR \"b\"", "^"}) {
    auto found = memory().lexical_search(query, {}, 10);
    EXPECT_TRUE(found.status().is(StatusCode::kInvalidArgument))
        << query << ": " << found.status().to_string();
    auto filtered = memory().lexical_search(query, {.scopes = {"shared"}}, 10);
    EXPECT_TRUE(filtered.status().is(StatusCode::kInvalidArgument)) << query;
  }
  EXPECT_EQ(search("\"text\"").size(), 1u) << "the store still answers";
}

// --- summaries ---

TEST_F(MemoryStoreTest, ASummaryOfTheSameSubjectAndPeriodReplacesTheOlderOne) {
  TimeMs week = at("2026-01-05T00:00:00Z");
  int64_t e1 = append_one(event("mem_1", "first", {"customer:acme"}, t0_)).seq;
  int64_t e2 = append_one(event("mem_2", "second", {"customer:acme"}, t0_ + kHour)).seq;

  MemorySummary first =
      summary("sum_a", "customer:acme", week, {"mem_1"}, "Acme talked about pelicans");
  ASSERT_TRUE(memory().put_summary(first).ok());
  EXPECT_GT(first.seq, 0);
  EXPECT_GT(first.created_at, 0) << "created_at is filled in";
  ASSERT_TRUE(memory().put_vectors("emb", {{0, kSummaryLabelBit | first.seq, {1, 0}}}).ok());

  MemorySummary again =
      summary("sum_a", "customer:acme", week, {"mem_1"}, "different text, same id");
  ASSERT_TRUE(memory().put_summary(again).ok());
  EXPECT_EQ(again.seq, first.seq) << "the same id is not written twice";
  EXPECT_EQ(again.created_at, first.created_at) << "what is stored is filled in";
  EXPECT_EQ((*memory().summaries_by_seq({first.seq}))[0].text, "Acme talked about pelicans");

  MemorySummary other_scope = summary("sum_s", "customer:acme", week, {"mem_1"}, "private view");
  other_scope.scope = "sales";
  ASSERT_TRUE(memory().put_summary(other_scope).ok());

  MemorySummary second =
      summary("sum_b", "customer:acme", week, {"mem_1", "mem_2"}, "Acme talked about walruses");
  second.created_at = t0_;
  ASSERT_TRUE(memory().put_summary(second).ok());
  EXPECT_GT(second.seq, other_scope.seq) << "a replacement gets a new seq";
  EXPECT_EQ(second.created_at, t0_);

  EXPECT_TRUE(memory().summaries_by_seq({first.seq})->empty()) << "the older summary is gone";
  EXPECT_TRUE(search("pelicans").empty()) << "and so is its full-text entry";
  EXPECT_EQ(search("walruses"), std::vector<int64_t>{kSummaryLabelBit | second.seq});
  EXPECT_TRUE(memory().vectors_after(0, 10)->empty()) << "and its stored vector";
  auto covering = memory().covering_summaries({e1, e2});
  EXPECT_EQ(*covering,
            (std::vector<std::pair<int64_t, int64_t>>{{e1, second.seq}, {e2, second.seq}}));

  auto of = memory().summaries_of("customer:acme", 10);
  ASSERT_EQ(of->size(), 2u) << "the summary of another scope stays";
  const MemorySummary& stored = (*of)[0];
  EXPECT_EQ(stored.id, "sum_b");
  EXPECT_EQ(stored.sources, (std::vector<std::string>{"mem_1", "mem_2"}));
  EXPECT_EQ(stored.period_end, week + kWeek);
  EXPECT_EQ(stored.method, "extractive");
  EXPECT_EQ((*of)[1].id, "sum_s");
  EXPECT_EQ(to_json(stored)["period_start"], "2026-01-05T00:00:00.000Z");
}

TEST_F(MemoryStoreTest, ASummaryWithUnknownSourcesOrMissingFieldsIsRefusedWhole) {
  append_one(event("mem_1", "first", {"customer:acme"}, t0_));
  TimeMs week = at("2026-01-05T00:00:00Z");
  MemorySummary kept = summary("sum_kept", "customer:acme", week, {"mem_1"}, "kept text");
  ASSERT_TRUE(memory().put_summary(kept).ok());

  MemorySummary bad = summary("sum_bad", "customer:acme", week, {"mem_1", "mem_404"}, "bad text");
  Status s = memory().put_summary(bad);
  ASSERT_TRUE(s.is(StatusCode::kInvalidArgument)) << s.to_string();
  EXPECT_NE(s.message().find("mem_404"), std::string::npos) << s.message();
  EXPECT_EQ(memory().summaries_of("customer:acme", 10)->size(), 1u)
      << "the summary it would replace stays";
  EXPECT_EQ((*memory().summaries_of("customer:acme", 10))[0].id, "sum_kept");
  EXPECT_TRUE(search("bad").empty());

  MemorySummary no_text = summary("sum_x", "customer:acme", week, {}, "");
  EXPECT_TRUE(memory().put_summary(no_text).is(StatusCode::kInvalidArgument));
  MemorySummary no_subject = summary("sum_y", "", week, {}, "text");
  EXPECT_TRUE(memory().put_summary(no_subject).is(StatusCode::kInvalidArgument));
  MemorySummary empty_period = summary("sum_z", "customer:acme", week, {}, "text");
  empty_period.period_end = week;
  EXPECT_TRUE(memory().put_summary(empty_period).is(StatusCode::kInvalidArgument));
}

TEST_F(MemoryStoreTest, CoveringSummariesGivesTheNewestSummaryOfEachCoveredEvent) {
  TimeMs week = at("2026-01-05T00:00:00Z");
  int64_t both = append_one(event("mem_1", "both", {"customer:acme", "person:ann"}, t0_)).seq;
  int64_t acme_only = append_one(event("mem_2", "acme", {"customer:acme"}, t0_)).seq;
  int64_t uncovered = append_one(event("mem_3", "nobody", {"customer:acme"}, t0_)).seq;
  MemorySummary acme = summary("sum_acme", "customer:acme", week, {"mem_1", "mem_2"}, "acme week");
  MemorySummary ann = summary("sum_ann", "person:ann", week, {"mem_1"}, "ann week");
  ASSERT_TRUE(memory().put_summary(acme).ok());
  ASSERT_TRUE(memory().put_summary(ann).ok());
  auto covering = memory().covering_summaries({uncovered, both, acme_only, 999});
  ASSERT_TRUE(covering.ok());
  EXPECT_EQ(*covering,
            (std::vector<std::pair<int64_t, int64_t>>{{both, ann.seq}, {acme_only, acme.seq}}));
}

// --- compaction ---

TEST_F(MemoryStoreTest, CompactionGroupsAreBySubjectAndMondayWeekOldestFirst) {
  TimeMs week1 = at("2026-01-05T00:00:00Z");  // Monday
  TimeMs week2 = week1 + kWeek;
  auto add = [&](const std::string& id, std::vector<std::string> entities, TimeMs when,
                 const std::string& scope = "shared") {
    MemoryEvent e = event(id, "text " + id, std::move(entities), when);
    e.scope = scope;
    append_one(e);
  };
  add("w1_sunday", {"customer:acme"}, week2 - 1);  // Sunday 23:59:59.999 still belongs to week 1
  add("w1_both", {"customer:acme", "person:ann"}, week1 + kHour);
  add("w1_ops", {}, week1 + 2 * kHour, "ops");
  add("w2_monday", {"customer:acme"}, week2);
  add("w0_old", {"person:ann"}, week1 - 1);  // the Sunday before
  add("w3_future", {"customer:acme"}, week2 + kWeek + kHour);

  auto groups = memory().compaction_groups(week2 + kWeek, 100);
  ASSERT_TRUE(groups.ok()) << groups.status().to_string();
  ASSERT_EQ(groups->size(), 5u);
  auto check = [&](size_t i, const std::string& subject, const std::string& scope, TimeMs start,
                   std::vector<std::string> ids) {
    SCOPED_TRACE(i);
    const CompactionGroup& g = (*groups)[i];
    EXPECT_EQ(g.subject, subject);
    EXPECT_EQ(g.scope, scope);
    EXPECT_EQ(g.period_start, start);
    EXPECT_EQ(g.period_end, start + kWeek);
    EXPECT_EQ(g.event_ids, ids);
  };
  check(0, "person:ann", "shared", week1 - kWeek, {"w0_old"});
  check(1, "customer:acme", "shared", week1, {"w1_both", "w1_sunday"});
  check(2, "person:ann", "shared", week1, {"w1_both"});
  check(3, "scope:ops", "ops", week1, {"w1_ops"});
  check(4, "customer:acme", "shared", week2, {"w2_monday"});

  auto first_two = memory().compaction_groups(week2 + kWeek, 2);
  ASSERT_EQ(first_two->size(), 2u);
  EXPECT_EQ((*first_two)[1].subject, "customer:acme");
  EXPECT_TRUE(memory().compaction_groups(week1 - 1, 10)->empty())
      << "only events before the cutoff";

  // Summarizing acme's first week leaves ann's summary of the shared event pending.
  MemorySummary s =
      summary("sum_1", "customer:acme", week1, {"w1_both", "w1_sunday"}, "acme's week");
  ASSERT_TRUE(memory().put_summary(s).ok());
  groups = memory().compaction_groups(week2 + kWeek, 100);
  ASSERT_EQ(groups->size(), 4u);
  check(0, "person:ann", "shared", week1 - kWeek, {"w0_old"});
  check(1, "person:ann", "shared", week1, {"w1_both"});
  check(2, "scope:ops", "ops", week1, {"w1_ops"});
  check(3, "customer:acme", "shared", week2, {"w2_monday"});
}

TEST_F(MemoryStoreTest, CompactionGroupsKeepScopesApart) {
  TimeMs week = at("2026-01-05T00:00:00Z");
  MemoryEvent shared = event("mem_shared", "shared news", {"customer:acme"}, week + kHour);
  MemoryEvent secret = event("mem_secret", "sales secret", {"customer:acme"}, week + 2 * kHour);
  secret.scope = "sales";
  append_one(shared);
  append_one(secret);
  auto groups = memory().compaction_groups(week + kWeek, 10);
  ASSERT_EQ(groups->size(), 2u) << "a summary never mixes scopes";
  EXPECT_EQ((*groups)[0].scope, "sales");
  EXPECT_EQ((*groups)[0].event_ids, std::vector<std::string>{"mem_secret"});
  EXPECT_EQ((*groups)[1].scope, "shared");
  for (auto& g : *groups) {
    MemorySummary s =
        summary("sum_" + g.scope, g.subject, g.period_start, g.event_ids, "summary " + g.scope);
    s.scope = g.scope;
    ASSERT_TRUE(memory().put_summary(s).ok());
  }
  EXPECT_EQ(memory().summaries_of("customer:acme", 10)->size(), 2u) << "neither replaced the other";
  EXPECT_TRUE(memory().compaction_groups(week + kWeek, 10)->empty());
}

// --- vectors ---

TEST_F(MemoryStoreTest, VectorsMoveTheMarkAndANewEmbedderStartsAGeneration) {
  for (int i = 1; i <= 3; ++i)
    append_one(
        event("mem_" + std::to_string(i), "event " + std::to_string(i), {"customer:acme"}, t0_));
  MemorySummary s =
      summary("sum_1", "customer:acme", at("2026-01-05T00:00:00Z"), {"mem_1"}, "the summary");
  ASSERT_TRUE(memory().put_summary(s).ok());
  int64_t sum = kSummaryLabelBit | s.seq;

  auto state = memory().vector_state();
  EXPECT_EQ(state->embedder, "");
  EXPECT_EQ(state->generation, 0);
  auto pending = memory().docs_without_vectors(10);
  ASSERT_EQ(pending->size(), 4u);
  EXPECT_EQ((*pending)[0].label, 1);
  EXPECT_EQ((*pending)[0].text, "event 1");
  EXPECT_EQ((*pending)[3].label, sum) << "events first, then summaries";
  EXPECT_EQ((*pending)[3].text, "the summary");
  EXPECT_EQ(memory().docs_without_vectors(2)->size(), 2u);

  ASSERT_TRUE(memory().put_vectors("mini", {{0, 1, {0.5f, -1.25f}}, {0, 2, {1e-7f, 3.0f}}}).ok());
  EXPECT_EQ(memory().vector_state()->embedder, "mini");
  EXPECT_EQ(memory().vector_state()->generation, 0) << "nothing was dropped";
  pending = memory().docs_without_vectors(10);
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].label, 3);
  EXPECT_EQ((*pending)[1].label, sum);

  ASSERT_TRUE(memory().put_vectors("mini", {{0, sum, {0, 1}}, {0, 3, {1, 0}}}).ok());
  EXPECT_TRUE(memory().docs_without_vectors(10)->empty());
  auto stored = memory().vectors_after(0, 10);
  ASSERT_EQ(stored->size(), 4u);
  EXPECT_EQ((*stored)[0].label, 1);
  EXPECT_EQ((*stored)[0].values, (std::vector<float>{0.5f, -1.25f})) << "floats round-trip exactly";
  EXPECT_EQ((*stored)[1].values, (std::vector<float>{1e-7f, 3.0f}));
  EXPECT_EQ((*stored)[2].label, sum);
  int64_t last = (*stored)[3].vseq;
  EXPECT_LT((*stored)[0].vseq, (*stored)[1].vseq);
  EXPECT_EQ(memory().vectors_after((*stored)[1].vseq, 10)->size(), 2u);
  EXPECT_EQ(memory().vectors_after(0, 1)->size(), 1u);

  // Storing a label again replaces its vector under a new vseq.
  ASSERT_TRUE(memory().put_vectors("mini", {{0, 1, {2, 2}}}).ok());
  auto replaced = memory().vectors_after(last, 10);
  ASSERT_EQ(replaced->size(), 1u);
  EXPECT_EQ((*replaced)[0].values, (std::vector<float>{2, 2}));
  EXPECT_EQ(memory().vectors_after(0, 10)->size(), 4u);
  last = (*replaced)[0].vseq;

  // A different embedder drops everything first: a new generation, all docs pending.
  ASSERT_TRUE(memory().put_vectors("large", {}).ok());
  state = memory().vector_state();
  EXPECT_EQ(state->embedder, "large");
  EXPECT_EQ(state->generation, 1);
  EXPECT_TRUE(memory().vectors_after(0, 10)->empty());
  EXPECT_EQ(memory().docs_without_vectors(10)->size(), 4u);
  ASSERT_TRUE(memory().put_vectors("large", {{0, 1, {1, 2, 3}}}).ok());
  EXPECT_GT((*memory().vectors_after(0, 10))[0].vseq, last) << "vseq keeps growing across drops";
  EXPECT_EQ(memory().vector_state()->generation, 1);
  ASSERT_TRUE(memory().put_vectors("mini", {{0, 2, {1}}}).ok());
  EXPECT_EQ(memory().vector_state()->generation, 2);
  EXPECT_EQ(memory().vectors_after(0, 10)->size(), 1u);

  EXPECT_TRUE(memory().put_vectors("", {{0, 1, {1}}}).is(StatusCode::kInvalidArgument));
  EXPECT_TRUE(memory().put_vectors("mini", {{0, 1, {}}}).is(StatusCode::kInvalidArgument));
}

// --- rebuilding and restarting ---

TEST_F(MemoryStoreTest, RebuildingDerivedTablesGivesTheSameAnswers) {
  std::mt19937 random(7);
  const std::vector<std::string> entities = {"customer:acme", "customer:beta", "person:ann",
                                             "person:bob"};
  const std::vector<std::string> words = {"renewal", "invoice", "meeting",
                                          "pricing", "churn",   "upgrade"};
  std::vector<MemoryEvent> events;
  for (int i = 0; i < 200; ++i) {
    MemoryEvent e = event(
        "mem_" + std::to_string(i),
        words[random() % words.size()] + " " + words[random() % words.size()] + " note",
        {entities[random() % entities.size()]}, t0_ + static_cast<TimeMs>(random() % 1000) * kHour,
        Json{{"stage", static_cast<int>(random() % 5)}, {"owner", words[random() % words.size()]}});
    if (i % 3 == 0) e.entities.push_back(entities[random() % entities.size()]);
    if (i % 7 == 0) e.entities.clear();
    events.push_back(e);
  }
  ASSERT_EQ(append(events), 200);
  MemorySummary s = summary("sum_1", "customer:acme", at("2026-01-05T00:00:00Z"),
                            {"mem_1", "mem_2"}, "renewal summary");
  ASSERT_TRUE(memory().put_summary(s).ok());
  ASSERT_TRUE(memory().put_vectors("mini", {{0, 1, {1}}}).ok());

  auto snapshot = [&] {
    Json out = Json::object();
    for (const auto& key : entities) out["entity"][key] = to_json(**memory().get_entity(key));
    out["slug"] = *memory().entities_by_slug({"acme", "ann"});
    for (const auto& w : words) {
      Json ranked = Json::array();
      auto found = memory().lexical_search(w, {}, 20);
      for (const auto& r : *found) ranked.push_back({r.label, r.score});
      out["search"][w] = ranked;
      out["search_acme"][w] = search(w, {.entities = {"customer:acme"}}, 20);
    }
    out["recent"] = ids_of(*memory().recent_events({.entities = {"person:bob"}}, 50));
    out["covering"] = *memory().covering_summaries({1, 2, 3});
    out["groups"] = memory().compaction_groups(t0_ + 2000 * kHour, 1000)->size();
    return out;
  };
  Json before = snapshot();
  ASSERT_TRUE(memory().rebuild_derived().ok());
  Json after = snapshot();
  EXPECT_EQ(before, after) << Json::diff(before, after).dump();
  EXPECT_EQ(before["covering"].size(), 2u);
  auto state = memory().vector_state();
  EXPECT_EQ(state->generation, 1) << "stored vectors were dropped";
  EXPECT_EQ(state->embedder, "");
  EXPECT_TRUE(memory().vectors_after(0, 10)->empty());
  EXPECT_EQ(memory().docs_without_vectors(1000)->size(), 201u);
}

TEST_F(MemoryStoreTest, MemorySurvivesCloseAndReopen) {
  append_one(
      event("mem_1", "the renewal is signed", {"customer:acme"}, t0_, Json{{"plan", "pro"}}));
  MemorySummary s =
      summary("sum_1", "customer:acme", at("2026-01-05T00:00:00Z"), {"mem_1"}, "signed renewal");
  ASSERT_TRUE(memory().put_summary(s).ok());
  ASSERT_TRUE(memory().put_vectors("mini", {{0, 1, {0.25f}}}).ok());
  store_.reset();
  open();

  EXPECT_EQ(*memory().event_count(), 1);
  EXPECT_EQ((*memory().get_entity("customer:acme"))->facts[0].value, "pro");
  EXPECT_EQ(search("renew").size(), 2u);
  EXPECT_EQ(memory().summaries_of("customer:acme", 10)->size(), 1u);
  EXPECT_EQ(memory().vector_state()->embedder, "mini");
  EXPECT_EQ(memory().vectors_after(0, 10)->size(), 1u);
  EXPECT_EQ(memory().docs_without_vectors(10)->size(), 1u) << "only the summary";
  EXPECT_EQ(append_one(event("mem_2", "more", {}, t0_)).seq, 2);
}

TEST(MemoryStoreFiles, AVersion2DatabaseIsUpgradedWithItsDataKept) {
  TempDir dir;
  std::string path = (dir.path() / "cadre.db").string();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const auto& migrations = sqlite_schema::migrations();
    ASSERT_GE(migrations.size(), 3u);
    for (size_t i = 0; i < 2; ++i)
      ASSERT_EQ(sqlite3_exec(db, std::string(migrations[i]).c_str(), nullptr, nullptr, nullptr),
                SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(
                  db, "PRAGMA user_version = 2; INSERT INTO trigger_state VALUES ('pb#0', 1234);",
                  nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  StoreOptions options;
  options.path = path;
  auto opened = open_sqlite_store(options);
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  Store& store = **opened;
  EXPECT_EQ(*store.trigger_last_fire("pb#0"), 1234);
  std::vector<MemoryEvent> events = {event("mem_1", "after the upgrade", {"customer:acme"}, 1)};
  ASSERT_TRUE(store.memory().append_events(events).ok());
  EXPECT_EQ(store.memory().lexical_search("upgrade", {}, 10)->size(), 1u);
}

}  // namespace
}  // namespace cadre
