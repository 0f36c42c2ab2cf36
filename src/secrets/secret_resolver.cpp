#include "secrets/secret_resolver.h"

#include <sodium.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "core/redact.h"

namespace cadre {
namespace {

// Names this process has resolved at least once.
bool first_use_in_process(const std::string& name) {
  static std::mutex mutex;
  static std::set<std::string> used;
  std::lock_guard<std::mutex> lock(mutex);
  return used.insert(name).second;
}

// The values, wiped when the last resolver holding them goes away.
struct LoadedValues {
  std::map<std::string, std::string, std::less<>> values;
  ~LoadedValues() {
    for (auto& [name, value] : values) sodium_memzero(value.data(), value.size());
  }
};

}  // namespace

Result<SecretResolver> load_secrets(const SecretStore& store, SecretUseHook on_first_use) {
  CADRE_ASSIGN_OR_RETURN(std::vector<SecretInfo> names, store.list());
  auto loaded = std::make_shared<LoadedValues>();
  for (const SecretInfo& info : names) {
    CADRE_ASSIGN_OR_RETURN(std::string value, store.get(info.name));
    register_secret_value(info.name, value);
    loaded->values.emplace(info.name, std::move(value));
  }
  return SecretResolver([loaded, on_first_use = std::move(on_first_use)](
                            std::string_view name) -> Result<std::string> {
    auto it = loaded->values.find(name);
    if (it == loaded->values.end()) {
      return Status::NotFound("secret " + std::string(name) + " is not set (cadre secret set " +
                              std::string(name) + ")");
    }
    if (on_first_use && first_use_in_process(it->first)) on_first_use(it->first);
    return it->second;
  });
}

}  // namespace cadre
