#include "core/references.h"

#include <algorithm>
#include <cstdlib>

namespace cadre {
namespace {

constexpr std::string_view kEnvPrefix = "${env:";
constexpr std::string_view kSecretPrefix = "${secret:";
constexpr size_t kMaxSecretName = 64;

bool is_letter(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string prefixed(std::string_view field, const std::string& message) {
  return field.empty() ? message : std::string(field) + ": " + message;
}

// The name between `prefix` and "}" at the start of `text`; checks it.
// `*length` receives the length of the whole reference.
Result<Reference> read_reference(std::string_view text, ReferenceKind kind, std::string_view field,
                                 size_t* length) {
  const std::string_view prefix = kind == ReferenceKind::kEnv ? kEnvPrefix : kSecretPrefix;
  size_t close = text.find('}', prefix.size());
  if (close == std::string_view::npos) {
    return Status::InvalidArgument(
        prefixed(field, std::string(prefix) + "NAME} is not closed with '}'"));
  }
  std::string name(text.substr(prefix.size(), close - prefix.size()));
  // The text is not repeated: it might be a pasted value.
  if (kind == ReferenceKind::kEnv && !is_env_name(name)) {
    return Status::InvalidArgument(prefixed(
        field,
        "${env:NAME} needs a variable name of letters, digits and underscores, not starting "
        "with a digit"));
  }
  if (kind == ReferenceKind::kSecret && !is_secret_name(name)) {
    return Status::InvalidArgument(prefixed(
        field,
        "${secret:NAME} needs a secret name of letters, digits, '_', '.' and '-' (at most 64), "
        "starting with a letter or '_'"));
  }
  *length = close + 1;
  return Reference{kind, std::move(name)};
}

Result<std::string> env_value(const std::string& name, std::string_view field) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr)
    return Status::FailedPrecondition(
        prefixed(field, "environment variable " + name + " is not set"));
  if (*value == '\0')
    return Status::FailedPrecondition(
        prefixed(field, "environment variable " + name + " is empty"));
  return std::string(value);
}

Result<std::string> secret_value(const std::string& name, const SecretResolver& secrets,
                                 std::string_view field) {
  if (!secrets) {
    return Status::FailedPrecondition(
        prefixed(field, "secret " + name + " cannot be resolved here: no secret store is open"));
  }
  Result<std::string> value = secrets(name);
  if (!value.ok()) return value.status().with_context(field);
  return value;
}

}  // namespace

bool is_env_name(std::string_view name) {
  if (name.empty() || !is_letter(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return is_letter(c) || is_digit(c); });
}

bool is_secret_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxSecretName || !is_letter(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_letter(c) || is_digit(c) || c == '.' || c == '-'; });
}

Result<std::optional<Reference>> parse_reference(std::string_view text, std::string_view field) {
  for (ReferenceKind kind : {ReferenceKind::kEnv, ReferenceKind::kSecret}) {
    std::string_view prefix = kind == ReferenceKind::kEnv ? kEnvPrefix : kSecretPrefix;
    if (!text.starts_with(prefix)) continue;
    size_t length = 0;
    CADRE_ASSIGN_OR_RETURN(Reference reference, read_reference(text, kind, field, &length));
    if (length != text.size()) {
      return Status::InvalidArgument(
          prefixed(field, "expected one reference and nothing after its '}'"));
    }
    return std::optional<Reference>(std::move(reference));
  }
  return std::optional<Reference>();
}

Result<std::string> resolve_references(std::string_view text, const SecretResolver& secrets,
                                       std::string_view field) {
  std::string out;
  size_t done = 0;
  for (size_t at = text.find("${"); at != std::string_view::npos; at = text.find("${", done)) {
    std::string_view rest = text.substr(at);
    std::optional<ReferenceKind> kind;
    if (rest.starts_with(kEnvPrefix)) kind = ReferenceKind::kEnv;
    if (rest.starts_with(kSecretPrefix)) kind = ReferenceKind::kSecret;
    if (!kind) {  // some other "${": not ours, kept as it is
      out.append(text.substr(done, at + 2 - done));
      done = at + 2;
      continue;
    }
    size_t length = 0;
    CADRE_ASSIGN_OR_RETURN(Reference reference, read_reference(rest, *kind, field, &length));
    CADRE_ASSIGN_OR_RETURN(std::string value, reference.kind == ReferenceKind::kEnv
                                                  ? env_value(reference.name, field)
                                                  : secret_value(reference.name, secrets, field));
    out.append(text.substr(done, at - done));
    out.append(value);
    done = at + length;
  }
  out.append(text.substr(done));
  return out;
}

}  // namespace cadre
