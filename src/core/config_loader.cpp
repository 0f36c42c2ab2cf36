#include "core/config_loader.h"

#include <limits>

#include "core/yaml_util.h"

namespace cadre {
namespace {

constexpr int64_t kMaxBytesLimit = int64_t{1} << 40;  // 1 TiB: anything above is a typo
constexpr DurationMs kMaxDuration = int64_t{365} * 24 * 3600 * 1000;

void read_store(YamlReader& reader, const YamlField& section, StoreConfig* store) {
  auto map = reader.read_map(section, {"driver", "path", "synchronous", "busy_timeout"});
  if (!map) return;
  if (const auto* f = map->find("driver")) {
    if (auto v = reader.as_string(*f)) {
      if (*v == "sqlite") {
        store->driver = *v;
      } else {
        reader.error(*f, "unknown driver '" + *v + "' (this release supports sqlite)" +
                             did_you_mean(*v, {"sqlite"}));
      }
    }
  }
  if (const auto* f = map->find("path")) {
    if (auto v = reader.as_string(*f)) {
      if (v->empty()) {
        reader.error(*f, "must not be empty");
      } else {
        store->path = *v;
      }
    }
  }
  if (const auto* f = map->find("synchronous")) {
    if (auto v = reader.as_string(*f)) {
      if (*v == "normal" || *v == "full") {
        store->synchronous = *v;
      } else {
        reader.error(*f, "must be normal or full, got '" + *v + "'");
      }
    }
  }
  if (const auto* f = map->find("busy_timeout")) {
    if (auto v = reader.as_duration(*f)) store->busy_timeout = *v;
  }
}

void read_kernel(YamlReader& reader, const YamlField& section, KernelConfig* kernel) {
  auto map =
      reader.read_map(section, {"workers", "lease", "heartbeat", "poll_interval", "shutdown_grace",
                                "max_step_input_bytes", "max_step_output_bytes",
                                "max_run_journal_bytes", "max_run_steps", "max_foreach_items"});
  if (!map) return;
  auto read_int = [&](const char* name, int64_t min, int64_t max, auto* out) {
    if (const auto* f = map->find(name)) {
      if (auto v = reader.as_int(*f, min, max)) {
        *out = static_cast<std::remove_pointer_t<decltype(out)>>(*v);
      }
    }
  };
  auto read_duration = [&](const char* name, DurationMs min, DurationMs* out) {
    if (const auto* f = map->find(name)) {
      if (auto v = reader.as_duration(*f, min)) {
        if (*v > kMaxDuration) {
          reader.error(*f, "must be at most 365d");
        } else {
          *out = *v;
        }
      }
    }
  };
  read_int("workers", 1, 1024, &kernel->workers);
  read_duration("lease", 1, &kernel->lease);
  read_duration("heartbeat", 1, &kernel->heartbeat);
  read_duration("poll_interval", 1, &kernel->poll_interval);
  read_duration("shutdown_grace", 0, &kernel->shutdown_grace);
  read_int("max_step_input_bytes", 1, kMaxBytesLimit, &kernel->max_step_input_bytes);
  read_int("max_step_output_bytes", 1, kMaxBytesLimit, &kernel->max_step_output_bytes);
  read_int("max_run_journal_bytes", 1, kMaxBytesLimit, &kernel->max_run_journal_bytes);
  read_int("max_run_steps", 1, std::numeric_limits<int>::max(), &kernel->max_run_steps);
  read_int("max_foreach_items", 1, std::numeric_limits<int>::max(), &kernel->max_foreach_items);

  if (kernel->heartbeat >= kernel->lease) {
    const YamlField* at = map->find("heartbeat");
    if (at == nullptr) at = map->find("lease");
    if (at != nullptr) {
      reader.error(*at, "heartbeat (" + format_duration(kernel->heartbeat) +
                            ") must be shorter than lease (" + format_duration(kernel->lease) +
                            ")");
    }
  }
}

void read_server(YamlReader& reader, const YamlField& section, ServerConfig* server) {
  auto map = reader.read_map(section, {"bind", "port"});
  if (!map) return;
  if (const auto* f = map->find("bind")) {
    if (auto v = reader.as_string(*f)) {
      if (v->empty()) {
        reader.error(*f, "must not be empty");
      } else {
        server->bind = *v;
      }
    }
  }
  if (const auto* f = map->find("port")) {
    if (auto v = reader.as_int(*f, 1, 65535)) server->port = static_cast<int>(*v);
  }
}

void read_tools(YamlReader& reader, const YamlField& section, const std::vector<std::string>& known_tools,
                std::map<std::string, ToolLimits>* tools) {
  auto map = reader.read_map(section, known_tools);
  if (!map) return;
  for (const auto& tool : map->fields()) {
    if (tool.name.empty()) {
      reader.error(tool.key_pos, tool.path, "tool name must not be empty");
      continue;
    }
    auto limits_map = reader.read_map(tool, {"rate_per_second", "burst"});
    if (!limits_map) continue;
    ToolLimits limits;
    if (const auto* f = limits_map->find("rate_per_second")) {
      if (auto v = reader.as_number(*f, 0, 1e9)) limits.rate_per_second = *v;
    }
    if (const auto* f = limits_map->find("burst")) {
      if (auto v = reader.as_int(*f, 1, 1000000)) limits.burst = static_cast<int>(*v);
    }
    (*tools)[tool.name] = limits;
  }
}

}  // namespace

WorkspaceConfig load_config(std::string_view yaml_text, const std::string& file,
                            Diagnostics* diagnostics, const std::vector<std::string>& known_tools) {
  WorkspaceConfig config;
  Diagnostics local;
  if (diagnostics == nullptr) diagnostics = &local;
  auto root = parse_yaml(yaml_text, file, diagnostics);
  if (!root) return config;
  YamlReader reader(file, diagnostics);
  try {
    auto map =
        reader.read_map(*root, yaml_pos(*root), "", {"name", "store", "kernel", "server", "tools"},
                        {"models", "connectors", "memory", "policies", "secrets", "agents"});
    if (!map) return config;
    if (const auto* f = map->find("name")) {
      if (auto v = reader.as_string(*f)) {
        if (v->empty()) {
          reader.error(*f, "must not be empty");
        } else {
          config.name = *v;
        }
      }
    }
    if (const auto* f = map->find("store")) read_store(reader, *f, &config.store);
    if (const auto* f = map->find("kernel")) read_kernel(reader, *f, &config.kernel);
    if (const auto* f = map->find("server")) read_server(reader, *f, &config.server);
    if (const auto* f = map->find("tools")) read_tools(reader, *f, known_tools, &config.tools);
  } catch (const std::exception& e) {
    // yaml-cpp may throw on malformed nodes; never let it escape.
    reader.error({0, 0}, "", std::string("internal YAML error: ") + e.what());
  }
  return config;
}

}  // namespace cadre
