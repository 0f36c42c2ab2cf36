// TaskHandler: the code that carries out one kind of task ("playbook_step",
// later "agent", ...). The kernel calls run() on a fresh TaskContext every
// time the task is claimed: first run, after a wait, after a crash. The
// handler must act only through the context (see task_context.h) and return
// at once when an operation returns Status::Suspended.
//
// Thread-safety: run() is called concurrently for different tasks.
#pragma once

#include "core/json.h"
#include "core/result.h"
#include "kernel/task_context.h"

namespace cadre {

class TaskHandler {
 public:
  virtual ~TaskHandler() = default;
  virtual Result<Json> run(TaskContext& context) = 0;
};

}  // namespace cadre
