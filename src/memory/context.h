// Context assembly: what an agent's prompt gets from memory, within a token
// budget, each item marked with its source so the trace shows why it was
// there. In order, while the budget lasts:
//   facts      of the entities the task names (customer:acme, or "Acme")
//   recent     the newest events in the agent's scopes (working memory)
//   retrieved  the best hybrid-search hits for the task: events and, for
//              compacted periods, their summaries
// An item that does not fit is skipped and smaller ones after it still go in.
//
// Thread-safety: a free function over a thread-safe Memory.
#pragma once

#include <string>
#include <vector>

#include "memory/memory.h"

namespace cadre {

struct ContextRequest {
  std::string text;                 // the task or objective
  std::vector<std::string> scopes;  // the agent's memory scopes
  int token_budget = 1500;
  int recent = 8;
  int retrieved = 8;
};

struct ContextItem {
  std::string kind;    // fact, recent, retrieved
  std::string source;  // an entity key, event id or summary id
  std::string text;    // as it goes in the prompt
  std::string why;     // "named in the task", "recent in scope support", "lexical #1, vector #3"
  int tokens = 0;
};
Json to_json(const ContextItem& item);

// About 4 characters per token: a budget estimate, not a tokenizer.
int estimate_tokens(std::string_view text);

Result<std::vector<ContextItem>> assemble_context(Memory& memory, const ContextRequest& request);

// The items as a prompt section ("" when there are none).
std::string render_context(const std::vector<ContextItem>& items);

}  // namespace cadre
