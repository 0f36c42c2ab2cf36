// The process-wide redactor: every secret value this process has loaded is
// registered here, and text bound for the outside (the database, logs, error
// messages, API output) passes through redact(), which replaces each
// occurrence of a value with "[secret:NAME]".
//
// The choke points call has_secrets() first: one relaxed atomic load, so a
// process that never loaded a secret pays nothing else.
//
// Values shorter than 4 bytes are ignored (they would redact ordinary
// words). Besides the raw value, its JSON-escaped form is registered when it
// differs, so a value inside JSON text is found too. Values are kept for the
// life of the process, also after a secret changes: the old value may still
// sit in memory somewhere.
//
// Thread-safety: every function may be called from any thread. Registering
// publishes a new immutable snapshot; redact() reads a snapshot without
// blocking writers.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <string_view>

#include "core/json.h"

namespace cadre {

// The shortest value that is registered.
inline constexpr size_t kMinRedactedValueBytes = 4;

namespace redact_detail {
extern std::atomic<bool> any_registered;
}  // namespace redact_detail

// True once any value has been registered in this process.
inline bool has_secrets() {
  return redact_detail::any_registered.load(std::memory_order_relaxed);
}

// Adds `value` under `name` (a secret's name: it appears in the replacement).
void register_secret_value(std::string_view name, std::string_view value);

// `text` with every registered value replaced by "[secret:NAME]"; the longer
// value wins where two start at the same place.
std::string redact(std::string_view text);

// The redacted text, or nullopt when `text` holds no registered value (no
// copy is made then): for hot paths such as binding a database parameter.
std::optional<std::string> redacted_copy(std::string_view text);

// `value` with every registered value replaced in its JSON text (so in its
// strings and keys), as the store keeps it; the text as one string in the
// odd case that the replaced text is no longer JSON.
Json redact_json(const Json& value);

// Forgets every registered value. For tests only: a real process never
// unlearns a secret.
void clear_secret_values_for_testing();

}  // namespace cadre
