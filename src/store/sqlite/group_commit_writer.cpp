#include "store/sqlite/group_commit_writer.h"

#include <pthread.h>

namespace cadre {

GroupCommitWriter::GroupCommitWriter(std::unique_ptr<SqliteDb> db, int max_batch)
    : db_(std::move(db)), max_batch_(max_batch > 0 ? max_batch : 1), thread_([this] { loop(); }) {}

GroupCommitWriter::~GroupCommitWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void GroupCommitWriter::submit(Apply apply, Done done) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({std::move(apply), std::move(done)});
  }
  wake_.notify_one();
}

void GroupCommitWriter::loop() {
  pthread_setname_np(pthread_self(), "cadre-writer");
  std::deque<Op> batch;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && static_cast<int>(batch.size()) < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    run_batch(batch);
    batch.clear();
  }
}

void GroupCommitWriter::run_batch(std::deque<Op>& batch) {
  // Fast path: every operation in one transaction, no savepoints. If any
  // operation fails, the whole transaction is rolled back and each operation
  // runs again in a transaction of its own, so one failure (a stale fence,
  // say) never undoes the others and never leaves a partial write behind.
  std::vector<Status> results;
  results.reserve(batch.size());
  Status begin = db_->run("BEGIN IMMEDIATE");
  if (!begin.ok()) {
    for (auto& op : batch) op.done(begin);
    return;
  }
  bool all_ok = true;
  for (auto& op : batch) {
    results.push_back(op.apply(*db_));
    if (!results.back().ok()) {
      all_ok = false;
      break;
    }
  }
  if (all_ok) {
    Status commit = db_->run("COMMIT");
    if (commit.ok()) {
      transactions_.fetch_add(1);
      operations_.fetch_add(static_cast<int64_t>(batch.size()));
      for (size_t i = 0; i < batch.size(); ++i) batch[i].done(results[i]);
      return;
    }
  }
  (void)db_->run("ROLLBACK");
  for (auto& op : batch) {
    Status s = db_->run("BEGIN IMMEDIATE");
    if (s.ok()) {
      s = op.apply(*db_);
      Status end = db_->run(s.ok() ? "COMMIT" : "ROLLBACK");
      if (s.ok() && !end.ok()) {
        (void)db_->run("ROLLBACK");
        s = end;
      }
      if (s.ok()) transactions_.fetch_add(1);
    }
    operations_.fetch_add(1);
    op.done(s);
  }
}

}  // namespace cadre
