#include "store/sqlite/group_commit_writer.h"

#include <pthread.h>

namespace cadre {

GroupCommitWriter::GroupCommitWriter(std::unique_ptr<SqliteDb> db, int max_batch)
    : db_(std::move(db)),
      max_batch_(max_batch > 0 ? max_batch : 1),
      answer_thread_([this] { answer_loop(); }),
      thread_([this] { loop(); }) {}

GroupCommitWriter::~GroupCommitWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  {
    std::lock_guard lock(answer_mutex_);
    answers_closed_ = true;
  }
  answer_wake_.notify_all();
  answer_thread_.join();
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

void GroupCommitWriter::answer(std::vector<std::pair<Done, Status>> answers) {
  {
    std::lock_guard lock(answer_mutex_);
    if (answers_.empty()) {
      answers_ = std::move(answers);
    } else {
      for (auto& a : answers) answers_.push_back(std::move(a));
    }
  }
  answer_wake_.notify_one();
}

void GroupCommitWriter::answer_loop() {
  pthread_setname_np(pthread_self(), "cadre-answer");
  std::vector<std::pair<Done, Status>> answering;
  while (true) {
    {
      std::unique_lock lock(answer_mutex_);
      answer_wake_.wait(lock, [this] { return answers_closed_ || !answers_.empty(); });
      if (answers_.empty()) return;  // closed and drained
      answering.swap(answers_);
    }
    for (auto& [done, status] : answering) done(status);
    answering.clear();
  }
}

void GroupCommitWriter::run_batch(std::deque<Op>& batch) {
  // Fast path: every operation in one transaction, no savepoints. If any
  // operation fails, the whole transaction is rolled back and each operation
  // runs again in a transaction of its own, so one failure (a stale fence,
  // say) never undoes the others and never leaves a partial write behind.
  std::vector<std::pair<Done, Status>> answers;
  answers.reserve(batch.size());
  Status begin = db_->run("BEGIN IMMEDIATE");
  if (!begin.ok()) {
    for (auto& op : batch) answers.emplace_back(std::move(op.done), begin);
    answer(std::move(answers));
    return;
  }
  bool all_ok = true;
  for (auto& op : batch) {
    Status s = op.apply(*db_);
    if (!s.ok()) {
      all_ok = false;
      break;
    }
  }
  if (all_ok) {
    Status commit = db_->run("COMMIT");
    if (commit.ok()) {
      transactions_.fetch_add(1);
      operations_.fetch_add(static_cast<int64_t>(batch.size()));
      for (auto& op : batch) answers.emplace_back(std::move(op.done), Status::Ok());
      answer(std::move(answers));
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
    answers.emplace_back(std::move(op.done), s);
  }
  answer(std::move(answers));
}

}  // namespace cadre
