#include "kernel/retry_policy_yaml.h"

#include <algorithm>
#include <cmath>

namespace cadre {

std::vector<std::string> retry_code_names() {
  std::vector<std::string> names;
  for (int i = static_cast<int>(StatusCode::kInvalidArgument);
       i < static_cast<int>(StatusCode::kSuspended); ++i) {
    names.emplace_back(status_code_name(static_cast<StatusCode>(i)));
  }
  return names;
}

namespace {

std::string format_number(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  return Json(value).dump();
}

// " (did you mean 'x'?)" when one code is close, else the list of codes.
std::string code_hint(std::string_view word, const std::vector<std::string>& codes) {
  std::string hint = did_you_mean(word, codes);
  if (!hint.empty()) return hint;
  std::string list;
  for (size_t i = 0; i < codes.size(); ++i) {
    list += (i == 0 ? "" : i + 1 == codes.size() ? " or " : ", ") + codes[i];
  }
  return " (use " + list + ")";
}

}  // namespace

std::optional<RetryPolicy> read_retry_policy(YamlReader& reader, const YamlField& field,
                                             const RetryPolicy& defaults) {
  auto map =
      reader.read_map(field, {"attempts", "backoff", "multiplier", "max_backoff", "jitter", "on"});
  if (!map) return std::nullopt;
  RetryPolicy policy = defaults;
  if (const auto* f = map->find("attempts")) {
    if (auto v = reader.as_int(*f, 1, 100)) policy.max_attempts = static_cast<int>(*v);
  }
  if (const auto* f = map->find("backoff")) {
    if (auto v = reader.as_duration(*f)) policy.initial_backoff = *v;
  }
  if (const auto* f = map->find("multiplier")) {
    if (auto v = reader.as_number(*f, -1e9, 1e9)) {
      if (*v < 1 || *v > 100) {
        reader.error(*f, "must be between 1 and 100, got " + format_number(*v));
      } else {
        policy.multiplier = *v;
      }
    }
  }
  if (const auto* f = map->find("max_backoff")) {
    if (auto v = reader.as_duration(*f)) {
      if (*v < policy.initial_backoff) {
        reader.error(*f, "max_backoff (" + format_duration(*v) + ") is shorter than backoff (" +
                             format_duration(policy.initial_backoff) + ")");
      } else {
        policy.max_backoff = *v;
      }
    }
  }
  if (const auto* f = map->find("jitter")) {
    if (auto v = reader.as_bool(*f)) policy.jitter = *v;
  }
  if (const auto* f = map->find("on")) {
    std::vector<YamlField> elements;
    if (auto names = reader.as_string_list(*f, &elements)) {
      static const std::vector<std::string> kCodes = retry_code_names();
      policy.retry_on.clear();
      for (size_t i = 0; i < names->size(); ++i) {
        StatusCode code;
        const std::string& name = (*names)[i];
        if (std::find(kCodes.begin(), kCodes.end(), name) != kCodes.end() &&
            status_code_from_name(name, &code)) {
          policy.retry_on.push_back(code);
        } else {
          reader.error(elements[i], "unknown error code '" + name + "'" + code_hint(name, kCodes));
        }
      }
    }
  }
  return policy;
}

}  // namespace cadre
