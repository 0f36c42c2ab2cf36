// GroupCommitWriter: the single writer of a SQLite database. Callers on any
// thread submit write operations; one thread runs every operation queued
// meanwhile inside one transaction and commits once. If an operation fails,
// the batch is rolled back and each operation runs alone, so a failure never
// undoes the others nor leaves a partial write. Durability therefore
// costs one commit (one fsync with synchronous=FULL) per batch, not per
// write. A caller is answered only after its batch committed, and by a
// second thread, so that waking the callers does not hold up the next batch.
//
// Thread-safety: submit() and run() may be called from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "core/result.h"
#include "store/sqlite/sqlite_db.h"

namespace cadre {

class GroupCommitWriter {
 public:
  using Apply = std::function<Status(SqliteDb&)>;
  using Done = std::function<void(const Status&)>;

  GroupCommitWriter(std::unique_ptr<SqliteDb> db, int max_batch);
  ~GroupCommitWriter();  // drains the queue, then stops

  void submit(Apply apply, Done done);

  // Runs `fn` inside a group transaction and returns its result once committed.
  template <typename T>
  Result<T> run(const std::function<Result<T>(SqliteDb&)>& fn) {
    std::promise<void> committed;
    std::optional<Result<T>> result;
    Status commit_status;
    submit(
        [&](SqliteDb& db) {
          result.emplace(fn(db));
          return result->ok() ? Status::Ok() : result->status();
        },
        [&](const Status& s) {
          commit_status = s;
          committed.set_value();
        });
    committed.get_future().wait();
    if (!commit_status.ok() && (!result || result->ok())) return commit_status;
    return std::move(*result);
  }

  int64_t transactions() const { return transactions_.load(); }
  int64_t operations() const { return operations_.load(); }

 private:
  struct Op {
    Apply apply;
    Done done;
  };
  void loop();
  void run_batch(std::deque<Op>& batch);
  void answer(std::vector<std::pair<Done, Status>> answers);
  void answer_loop();

  std::unique_ptr<SqliteDb> db_;
  const int max_batch_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Op> queue_;
  bool stopping_ = false;
  std::atomic<int64_t> transactions_{0};
  std::atomic<int64_t> operations_{0};

  std::mutex answer_mutex_;
  std::condition_variable answer_wake_;
  std::vector<std::pair<Done, Status>> answers_;
  bool answers_closed_ = false;
  std::thread answer_thread_;
  std::thread thread_;
};

}  // namespace cadre
