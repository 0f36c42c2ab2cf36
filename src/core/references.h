// References to values kept outside the workspace's files: "${env:NAME}"
// (an environment variable) and "${secret:NAME}" (a secret in the
// workspace's encrypted store, `cadre secret set`). cadre.yaml holds only
// references, never the values, because it is committed with the workspace.
//
// Errors name the field and the variable or secret, never a value (a text
// that fails to parse may be a pasted key, so it is not repeated either).
//
// Thread-safety: the functions are pure but for getenv and the resolver.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace cadre {

// A secret's value by name; NotFound (naming the secret) when there is none.
using SecretResolver = std::function<Result<std::string>(std::string_view name)>;

enum class ReferenceKind { kEnv, kSecret };

struct Reference {
  ReferenceKind kind;
  std::string name;
};

// Letters, digits and underscores, not starting with a digit.
bool is_env_name(std::string_view name);
// [A-Za-z_][A-Za-z0-9_.-]{0,63}
bool is_secret_name(std::string_view name);

// `text` as one whole reference: nullopt when it is not shaped like one
// ("${env:" or "${secret:" ... "}"); InvalidArgument when it is but the
// name is not valid.
Result<std::optional<Reference>> parse_reference(std::string_view text, std::string_view field);

// `text` with every ${env:NAME} and ${secret:NAME} replaced by its value;
// any other text, including other "${...}", is kept as it is. `secrets` may
// be empty: a ${secret:...} is then an error. Errors (FailedPrecondition for
// an unset variable, the resolver's for a secret) are prefixed by `field`.
Result<std::string> resolve_references(std::string_view text, const SecretResolver& secrets,
                                       std::string_view field);

}  // namespace cadre
