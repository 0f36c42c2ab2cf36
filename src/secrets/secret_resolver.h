// Loading a workspace's secrets into a process: every value is decrypted
// once, registered with the redactor (core/redact.h) so it never leaves the
// process in any output, and answered by name from memory afterwards.
//
// `on_first_use(name)` runs the first time this process resolves each
// name (whatever resolver answers it), so secret use can be audited by
// name without an entry on every call.
//
// Thread-safety: the returned resolver may be called from any thread;
// on_first_use may run on any of them, once per name per process.
#pragma once

#include <functional>
#include <string>

#include "core/references.h"
#include "secrets/secret_store.h"

namespace cadre {

using SecretUseHook = std::function<void(const std::string& name)>;

// All secrets of `store`, registered with the redactor, behind a resolver.
// With no secrets (no file yet) the resolver answers NotFound and no key
// is needed. Fails when any secret does not open.
Result<SecretResolver> load_secrets(const SecretStore& store, SecretUseHook on_first_use);

}  // namespace cadre
