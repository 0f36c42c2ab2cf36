// The tools agents (and playbook steps) use memory through:
//   memory.search  {query, entity?, type?, limit?}   hybrid search (read)
//   memory.note    {text, entities?, facts?, type?, scope?}  records an
//                  event (write; idempotent: its id comes from the step's
//                  idempotency key, so a retried step records it once)
//   memory.entity  {key}                             facts and recent events (read)
// An agent reads and writes only its memory scopes (agent_scopes); a
// playbook step reads every scope and writes "shared" unless it names one.
//
// Thread-safety: the tools may be invoked from several workers at once.
#pragma once

#include "kernel/tool.h"
#include "memory/memory.h"

namespace cadre {

// `memory` may be null where tools are only declared (cadre check): calling
// one then fails.
Status register_memory_tools(ToolRegistry& registry, Memory* memory);

}  // namespace cadre
