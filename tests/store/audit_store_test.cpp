// The audit log in the SQLite store: appends form one hash chain from the
// genesis hash, also from many threads at once and inside a kernel commit;
// verification names the first record touched by each kind of tampering
// done with raw SQL on the database file, and an exported head catches what
// the chain alone cannot (a cut tail, a rewritten last entry).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <map>
#include <thread>

#include "core/id.h"
#include "store/audit_chain.h"
#include "store/store.h"
#include "test_support.h"

namespace cadre {
namespace {

using testing::TempDir;

constexpr TimeMs kStart = 1'800'000'000'000;

AuditEntry entry(int n, const std::string& actor = "agent:ops", const std::string& objective = "") {
  AuditEntry e;
  e.at = kStart + n;
  e.actor = actor;
  e.action = n % 2 ? "tool.effect" : "policy.decision";
  e.subject = "email.send";
  e.objective_id = objective;
  e.data = {{"n", n}, {"args_sha256", std::string(64, 'a')}, {"rule", "outbound"}};
  return e;
}

class AuditStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }

  std::string db_path() const { return (dir_.path() / "cadre.db").string(); }

  void open() {
    StoreOptions options;
    options.path = db_path();
    auto opened = open_sqlite_store(options);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
  }

  AuditStore& audit() { return store_->audit(); }

  std::vector<AuditEntry> append(int count) {
    std::vector<AuditEntry> out;
    for (int i = 1; i <= count; ++i) {
      auto appended = audit().append(entry(i));
      EXPECT_TRUE(appended.ok()) << appended.status().to_string();
      if (appended.ok()) out.push_back(*appended);
    }
    return out;
  }

  std::vector<AuditEntry> all() {
    std::vector<AuditEntry> out;
    AuditFilter filter;
    filter.limit = 500;
    while (true) {
      auto page = audit().list(filter);
      EXPECT_TRUE(page.ok()) << page.status().to_string();
      if (!page.ok() || page->empty()) return out;
      filter.after_seq = page->back().seq;
      out.insert(out.end(), page->begin(), page->end());
    }
  }

  AuditVerification verify(const std::optional<AuditHead>& head = std::nullopt, int page_size = 1000) {
    auto verified = verify_audit_chain(audit(), head, page_size);
    EXPECT_TRUE(verified.ok()) << verified.status().to_string();
    return verified.ok() ? *verified : AuditVerification{};
  }

  AuditHead head_now() {
    auto head = audit().head();
    EXPECT_TRUE(head.ok() && head->has_value());
    return {(*head)->seq, (*head)->hash};
  }

  // Tampering as someone with the file would: the store closed, raw SQL, reopened.
  void tamper(const std::string& sql) {
    store_.reset();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message << "\n" << sql;
    open();
  }

  static std::string quoted(const std::string& text) { return "'" + text + "'"; }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(AuditStoreTest, AnEmptyLogIsIntactAndHasNoHead) {
  AuditVerification v = verify();
  EXPECT_TRUE(v.ok);
  EXPECT_EQ(v.entries, 0);
  EXPECT_EQ(v.head_seq, 0);
  EXPECT_EQ(v.head_hash, kAuditGenesisHash);
  auto head = audit().head();
  ASSERT_TRUE(head.ok());
  EXPECT_FALSE(head->has_value());
}

TEST_F(AuditStoreTest, AppendsFormAChainFromTheGenesisHash) {
  auto appended = append(5);
  ASSERT_EQ(appended.size(), 5u);
  std::string previous = kAuditGenesisHash;
  for (int i = 0; i < 5; ++i) {
    const AuditEntry& e = appended[i];
    EXPECT_EQ(e.seq, i + 1);
    EXPECT_EQ(e.prev_hash, previous) << "#" << e.seq << " links to the entry before it";
    EXPECT_EQ(e.hash, audit_hash(e.prev_hash, e)) << "#" << e.seq;
    previous = e.hash;
  }
  auto stored = all();
  ASSERT_EQ(stored.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(stored[i].hash, appended[i].hash) << "what is read back is what was hashed";
    EXPECT_EQ(stored[i].data, appended[i].data);
  }
  EXPECT_EQ(head_now().seq, 5);
  EXPECT_EQ(head_now().hash, appended.back().hash);
  AuditVerification v = verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.entries, 5);
  EXPECT_EQ(v.head_seq, 5);
  EXPECT_EQ(v.head_hash, appended.back().hash);
}

TEST_F(AuditStoreTest, TheChainSurvivesReopeningAndVerifiesAcrossPages) {
  append(23);
  store_.reset();
  open();
  append(4);  // continues the chain read from the file
  AuditVerification v = verify(std::nullopt, 5);
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.entries, 27);
  EXPECT_EQ(v.head_seq, 27);
}

TEST_F(AuditStoreTest, ListFiltersByObjectiveAndAfterSeq) {
  for (int i = 1; i <= 9; ++i) ASSERT_TRUE(audit().append(entry(i, "agent:ops", i % 3 == 0 ? "obj_a" : "")).ok());
  AuditFilter filter;
  filter.objective_id = "obj_a";
  auto mine = audit().list(filter);
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 3u);
  EXPECT_EQ((*mine)[0].seq, 3);
  EXPECT_EQ((*mine)[2].seq, 9);
  filter.after_seq = 3;
  filter.limit = 1;
  auto next = audit().list(filter);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ((*next)[0].seq, 6);
}

TEST_F(AuditStoreTest, AppendsFromEightThreadsFormOneGapFreeChain) {
  constexpr int kThreads = 8;
  constexpr int kEach = 150;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!audit().append(entry(i, "agent:t" + std::to_string(t))).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  auto entries = all();
  ASSERT_EQ(entries.size(), static_cast<size_t>(kThreads * kEach));
  std::map<std::string, int> by_actor;
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].seq, static_cast<int64_t>(i + 1)) << "no gaps, no duplicates";
    ++by_actor[entries[i].actor];
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(by_actor["agent:t" + std::to_string(t)], kEach);
  AuditVerification v = verify();
  EXPECT_TRUE(v.ok) << "broken at #" << v.first_bad_seq << ": " << v.problem;
  EXPECT_EQ(v.entries, kThreads * kEach);
}

TEST_F(AuditStoreTest, TwoStoresOnOneFileAppendToOneChain) {
  // Two stores are two writers, as `cadre serve` and a CLI command are.
  StoreOptions options;
  options.path = db_path();
  auto other = open_sqlite_store(options);
  ASSERT_TRUE(other.ok()) << other.status().to_string();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    Store* store = t % 2 ? other->get() : store_.get();
    threads.emplace_back([&, store, t] {
      for (int i = 0; i < 50; ++i) {
        if (!store->audit().append(entry(i, "agent:t" + std::to_string(t))).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  AuditVerification v = verify();
  EXPECT_TRUE(v.ok) << "broken at #" << v.first_bad_seq << ": " << v.problem;
  EXPECT_EQ(v.entries, 200);
}

TEST_F(AuditStoreTest, AnEntryAppendedInACommitJoinsTheChainOnlyIfTheCommitHolds) {
  append(2);
  NewObjective n;
  n.objective.id = new_id("obj", kStart);
  n.objective.title = "audited";
  n.objective.owner = "test";
  n.objective.source = "manual";
  NewTask task;
  task.id = new_id("tsk", kStart);
  task.key = "a";
  task.kind = "test";
  n.tasks.push_back(task);
  ASSERT_TRUE(store_->create_objective(n, kStart).ok());
  auto claimed = store_->claim_tasks("w1", 1, kStart, 10000);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  const TaskRecord& t = claimed->at(0);

  AuditEntry decision = entry(3);
  decision.objective_id = t.objective_id;
  decision.task_id = t.id;
  auto committed = store_->commit({t.id, t.fence}, {StepStarted{1, "email.send", "tool", "k1", Json::object(), 1, kStart},
                                                    AuditAppended{decision}});
  ASSERT_TRUE(committed.ok()) << committed.status().to_string();

  // A stale fence: the whole commit is refused, its audit entry with it.
  auto stale = store_->commit({t.id, t.fence - 1}, {AuditAppended{entry(4)}});
  EXPECT_FALSE(stale.ok());

  auto entries = all();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[2].seq, 3);
  EXPECT_EQ(entries[2].task_id, t.id);
  EXPECT_EQ(entries[2].objective_id, t.objective_id);
  EXPECT_EQ(entries[2].prev_hash, entries[1].hash);
  AuditFilter filter;
  filter.objective_id = t.objective_id;
  EXPECT_EQ(audit().list(filter)->size(), 1u);
  AuditVerification v = verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.entries, 3);
}

// --- tampering with the file ---

TEST_F(AuditStoreTest, AnUpdatedFieldIsCaughtAtItsRecord) {
  append(10);
  tamper("UPDATE audit_log SET subject = 'payments.refund' WHERE seq = 4");
  AuditVerification v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 4);
  EXPECT_EQ(v.kind, AuditProblem::kAltered);
  EXPECT_EQ(v.head_seq, 3) << "entries before it are sound";
  EXPECT_NE(v.problem.find("does not match its content"), std::string::npos) << v.problem;
}

TEST_F(AuditStoreTest, UpdatedDataIsCaughtAtItsRecord) {
  append(10);
  tamper("UPDATE audit_log SET data = '{\"n\":6,\"rule\":\"allow-all\"}' WHERE seq = 6");
  AuditVerification v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 6);
  EXPECT_EQ(v.kind, AuditProblem::kAltered);
}

TEST_F(AuditStoreTest, AnAlteredPrevHashOfTheFirstEntryIsCaught) {
  append(3);
  tamper("UPDATE audit_log SET prev_hash = '" + std::string(64, '1') + "' WHERE seq = 1");
  AuditVerification v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 1);
  EXPECT_EQ(v.kind, AuditProblem::kBrokenLink);
}

TEST_F(AuditStoreTest, ADeletedMiddleRowIsCaughtAsAGap) {
  append(10);
  tamper("DELETE FROM audit_log WHERE seq = 5");
  AuditVerification v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 6);
  EXPECT_EQ(v.kind, AuditProblem::kGap);
  EXPECT_NE(v.problem.find("#5 is missing"), std::string::npos) << v.problem;
}

TEST_F(AuditStoreTest, DeletedFirstRowsAreCaught) {
  append(10);
  tamper("DELETE FROM audit_log WHERE seq <= 2");
  AuditVerification v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 3);
  EXPECT_EQ(v.kind, AuditProblem::kNotFromStart);
}

TEST_F(AuditStoreTest, AForgedRowInsertedWithTheLaterOnesRenumberedIsCaught) {
  auto appended = append(10);
  // Make room at #5 (seq is the primary key: move the tail out of the way and back).
  tamper("UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 5;"
         "UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000;"
         "INSERT INTO audit_log (seq, at, actor, action, subject, data, prev_hash, hash) VALUES "
         "(5, 1, 'operator:mallory', 'approval.answered', 'apr_x', '{}', " +
         quoted(appended[3].hash) + ", " + quoted(std::string(64, 'f')) + ")");
  AuditVerification v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 5);
  EXPECT_EQ(v.kind, AuditProblem::kAltered);
}

TEST_F(AuditStoreTest, AForgedRowWithARecomputedHashIsCaughtAtTheNextRecord) {
  auto appended = append(10);
  AuditEntry forged = entry(99, "operator:mallory");
  forged.seq = 5;
  forged.prev_hash = appended[3].hash;
  forged.hash = audit_hash(forged.prev_hash, forged);
  tamper("UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 5;"
         "UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000;"
         "INSERT INTO audit_log (seq, at, actor, action, subject, data, prev_hash, hash) VALUES (5, " +
         std::to_string(forged.at) + ", 'operator:mallory', " + quoted(forged.action) + ", 'email.send', " +
         quoted(dump_json(forged.data)) + ", " + quoted(forged.prev_hash) + ", " + quoted(forged.hash) + ")");
  AuditVerification v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 6) << "the forged #5 is self-consistent; the old #5, now #6, does not follow it";
  EXPECT_EQ(v.kind, AuditProblem::kBrokenLink);
  EXPECT_EQ(v.head_seq, 5);
}

TEST_F(AuditStoreTest, ARewrittenRowWithARecomputedHashIsCaughtAtTheNextRecord) {
  auto appended = append(10);
  AuditEntry rewritten = appended[3];
  rewritten.data["rule"] = "allow-all";
  rewritten.hash = audit_hash(rewritten.prev_hash, rewritten);
  tamper("UPDATE audit_log SET data = " + quoted(dump_json(rewritten.data)) + ", hash = " + quoted(rewritten.hash) +
         " WHERE seq = 4");
  AuditVerification v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 5);
  EXPECT_EQ(v.kind, AuditProblem::kBrokenLink);
  EXPECT_NE(v.problem.find("#4"), std::string::npos) << "names the entry it should follow: " << v.problem;
}

TEST_F(AuditStoreTest, SwappedRowsAreCaughtAtTheFirstOfThem) {
  append(10);
  tamper("CREATE TEMP TABLE swap AS SELECT * FROM audit_log WHERE seq IN (3, 7);"
         "UPDATE audit_log SET (at, actor, action, subject, objective_id, task_id, data, prev_hash, hash) = "
         "(SELECT at, actor, action, subject, objective_id, task_id, data, prev_hash, hash FROM swap "
         " WHERE swap.seq = 10 - audit_log.seq) WHERE seq IN (3, 7)");
  AuditVerification v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 3);
}

TEST_F(AuditStoreTest, SwappedContentsKeepingTheHashesAreCaughtAtTheFirstOfThem) {
  append(10);
  tamper("CREATE TEMP TABLE swap AS SELECT * FROM audit_log WHERE seq IN (2, 8);"
         "UPDATE audit_log SET (at, actor, action, subject, data) = "
         "(SELECT at, actor, action, subject, data FROM swap WHERE swap.seq = 10 - audit_log.seq) "
         "WHERE seq IN (2, 8)");
  AuditVerification v = verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 2);
  EXPECT_EQ(v.kind, AuditProblem::kAltered);
}

TEST_F(AuditStoreTest, ACutTailIsCaughtOnlyAgainstAnExportedHead) {
  append(10);
  AuditHead exported = head_now();
  tamper("DELETE FROM audit_log WHERE seq > 7");
  AuditVerification alone = verify();
  EXPECT_TRUE(alone.ok) << "a shorter chain is still a valid chain";
  EXPECT_EQ(alone.entries, 7);
  AuditVerification v = verify(exported);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.kind, AuditProblem::kTruncated);
  EXPECT_EQ(v.first_bad_seq, 8);
  EXPECT_NE(v.problem.find("#8..#10"), std::string::npos) << v.problem;
}

TEST_F(AuditStoreTest, TheExportedHeadStillMatchesAfterMoreAppends) {
  append(4);
  AuditHead exported = head_now();
  append(3);
  AuditVerification v = verify(exported);
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.head_seq, 7);
}

TEST_F(AuditStoreTest, ARewrittenLastEntryIsCaughtOnlyAgainstAnExportedHead) {
  auto appended = append(6);
  AuditHead exported = head_now();
  AuditEntry last = appended.back();
  last.subject = "something else";
  last.hash = audit_hash(last.prev_hash, last);
  tamper("UPDATE audit_log SET subject = 'something else', hash = " + quoted(last.hash) + " WHERE seq = 6");
  EXPECT_TRUE(verify().ok);
  AuditVerification v = verify(exported);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 6);
  EXPECT_EQ(v.kind, AuditProblem::kHeadMismatch);
}

// --- the verifier over any source ---

TEST_F(AuditStoreTest, DuplicateAndReorderedEntriesFromAnySourceAreCaught) {
  auto entries = append(4);
  auto check = [](std::vector<AuditEntry> feed) {
    AuditChainVerifier verifier;
    for (const auto& e : feed) {
      if (!verifier.add(e)) break;
    }
    return verifier.finish();
  };
  AuditVerification duplicate = check({entries[0], entries[1], entries[1], entries[2]});
  EXPECT_FALSE(duplicate.ok);
  EXPECT_EQ(duplicate.kind, AuditProblem::kDuplicate);
  EXPECT_EQ(duplicate.first_bad_seq, 2);
  AuditVerification reordered = check({entries[0], entries[2], entries[1]});
  EXPECT_FALSE(reordered.ok);
  EXPECT_EQ(reordered.first_bad_seq, 3) << "#3 after #1 is a gap";
  AuditVerification backwards = check({entries[0], entries[1], entries[0]});
  EXPECT_EQ(backwards.kind, AuditProblem::kOutOfOrder);
  EXPECT_TRUE(check(entries).ok);

  // A page reader that fails: the error is returned, not a verdict.
  auto failed = verify_audit_chain([](int64_t) -> Result<std::vector<AuditEntry>> {
    return Status::Unavailable("database is locked");
  });
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
}

TEST(AuditHead, ReadsWhatHeadExportsAndRefusesAnythingElse) {
  AuditHead head{42, std::string(64, 'c')};
  Json exported = to_json(head);
  exported["at"] = 123;
  auto read = audit_head_from_json(exported);
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  EXPECT_EQ(read->seq, 42);
  EXPECT_EQ(read->hash, head.hash);
  for (const Json& bad : {Json::array(), Json{{"hash", head.hash}}, Json{{"seq", -1}, {"hash", head.hash}},
                          Json{{"seq", "42"}, {"hash", head.hash}}, Json{{"seq", 42}, {"hash", "abc"}},
                          Json{{"seq", 42}, {"hash", std::string(64, 'C')}}}) {
    auto refused = audit_head_from_json(bad);
    EXPECT_FALSE(refused.ok()) << dump_json(bad);
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace cadre
