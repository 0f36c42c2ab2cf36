// The redactor (see redact.h). Registering copies the current snapshot, adds
// the value and publishes the copy; readers never take the write lock.
#include "core/redact.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

#include "core/json.h"

namespace cadre {

namespace redact_detail {
std::atomic<bool> any_registered{false};
}  // namespace redact_detail

namespace {

struct Pattern {
  std::string value;
  std::string replacement;  // "[secret:NAME]"
};

// Longest value first, so a value that contains another is replaced whole.
struct Snapshot {
  std::vector<Pattern> patterns;
};

struct Registry {
  std::mutex write_mutex;
  std::atomic<std::shared_ptr<const Snapshot>> current{std::make_shared<const Snapshot>()};
};

Registry& registry() {
  static Registry instance;
  return instance;
}

// The value as it appears inside a JSON string ("a\"b" for a"b).
std::string json_escaped(std::string_view value) {
  std::string quoted = dump_json(Json(std::string(value)));
  return quoted.size() >= 2 ? quoted.substr(1, quoted.size() - 2) : std::string();
}

void add_pattern(std::vector<Pattern>& patterns, const std::string& value,
                 const std::string& replacement) {
  bool known = std::any_of(patterns.begin(), patterns.end(),
                           [&](const Pattern& p) { return p.value == value; });
  if (!known) patterns.push_back(Pattern{value, replacement});
}

// Where each pattern next occurs at or after `from`, and which occurs first.
class Matcher {
 public:
  Matcher(const Snapshot& snapshot, std::string_view text)
      : patterns_(snapshot.patterns), text_(text), next_(patterns_.size()) {
    for (size_t i = 0; i < patterns_.size(); ++i) next_[i] = text_.find(patterns_[i].value);
  }

  // The earliest match at or after `from` (the longest where several start
  // there), or nullptr; its position in `*at`.
  const Pattern* next_match(size_t from, size_t* at) {
    const Pattern* best = nullptr;
    size_t best_at = std::string_view::npos;
    for (size_t i = 0; i < patterns_.size(); ++i) {
      if (next_[i] != std::string_view::npos && next_[i] < from)
        next_[i] = text_.find(patterns_[i].value, from);
      // Patterns are sorted longest first, so a strict < keeps the longer one on a tie.
      if (next_[i] < best_at) {
        best_at = next_[i];
        best = &patterns_[i];
      }
    }
    *at = best_at;
    return best;
  }

 private:
  const std::vector<Pattern>& patterns_;
  std::string_view text_;
  std::vector<size_t> next_;
};

}  // namespace

void register_secret_value(std::string_view name, std::string_view value) {
  if (value.size() < kMinRedactedValueBytes) return;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.write_mutex);
  auto next = std::make_shared<Snapshot>(*r.current.load());
  const std::string replacement = "[secret:" + std::string(name) + "]";
  add_pattern(next->patterns, std::string(value), replacement);
  std::string escaped = json_escaped(value);
  if (escaped != value && escaped.size() >= kMinRedactedValueBytes)
    add_pattern(next->patterns, escaped, replacement);
  std::stable_sort(
      next->patterns.begin(), next->patterns.end(),
      [](const Pattern& a, const Pattern& b) { return a.value.size() > b.value.size(); });
  r.current.store(std::move(next));
  redact_detail::any_registered.store(true, std::memory_order_relaxed);
}

std::optional<std::string> redacted_copy(std::string_view text) {
  if (!has_secrets() || text.empty()) return std::nullopt;
  std::shared_ptr<const Snapshot> snapshot = registry().current.load();
  Matcher matcher(*snapshot, text);
  size_t at = 0;
  const Pattern* match = matcher.next_match(0, &at);
  if (match == nullptr) return std::nullopt;
  std::string out;
  out.reserve(text.size());
  size_t done = 0;
  while (match != nullptr) {
    out.append(text.substr(done, at - done));
    out.append(match->replacement);
    done = at + match->value.size();
    match = matcher.next_match(done, &at);
  }
  out.append(text.substr(done));
  return out;
}

std::string redact(std::string_view text) {
  std::optional<std::string> clean = redacted_copy(text);
  return clean ? std::move(*clean) : std::string(text);
}

Json redact_json(const Json& value) {
  std::optional<std::string> clean = redacted_copy(dump_json(value));
  if (!clean) return value;
  Result<Json> parsed = parse_json(*clean, "redacted JSON");
  return parsed.ok() ? std::move(parsed).value() : Json(std::move(*clean));
}

void clear_secret_values_for_testing() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.write_mutex);
  r.current.store(std::make_shared<const Snapshot>());
  redact_detail::any_registered.store(false, std::memory_order_relaxed);
}

}  // namespace cadre
