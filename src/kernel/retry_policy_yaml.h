// Reading a `retry:` block from a workspace file, shared by playbook steps
// and connectors:
//
//   retry: {attempts: 5, backoff: 1s, multiplier: 2, max_backoff: 1m,
//           jitter: true, on: [unavailable, deadline_exceeded]}
//
// Thread-safety: free functions; the reader is the caller's.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/yaml_util.h"
#include "kernel/retry_policy.h"

namespace cadre {

// The names `on:` accepts: every error code but ok and suspended.
std::vector<std::string> retry_code_names();

// The policy, starting from `defaults`; problems become diagnostics and
// yield nullopt only when the block is not a mapping.
std::optional<RetryPolicy> read_retry_policy(YamlReader& reader, const YamlField& field,
                                             const RetryPolicy& defaults = {});

}  // namespace cadre
