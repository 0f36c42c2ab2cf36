// What an operator does from the CLI (and later the API): answer approval
// items and flip the kill switch. Each checks its input, records who acted
// in the audit log in the same transaction, and returns errors as values.
//
// Thread-safety: free functions over a thread-safe Store.
#pragma once

#include <string>

#include "store/store.h"

namespace cadre {

// "operator:NAME": $CADRE_ACTOR, else $USER, else "operator".
std::string operator_identity();

// Answers item `id` exactly once. An edit (`answer.args` set) is allowed on
// editable items only and must pass the item's schema; errors name the field.
// kConflict (naming who answered and how) when it was already answered.
Result<ApprovalRecord> answer_approval(Store& store, const std::string& id, ApprovalAnswer answer,
                                       TimeMs now);

// The kill switch: `target` is "*" (everything) or an agent's name.
Status set_pause(Store& store, const std::string& target, bool paused, const std::string& by,
                 const std::string& reason, TimeMs now);

}  // namespace cadre
