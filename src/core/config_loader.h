// Loading cadre.yaml into WorkspaceConfig (core/config.h).
//
//   name: acme
//   store:  {driver: sqlite, path: .cadre/cadre.db, synchronous: normal, busy_timeout: 5s}
//   kernel: {workers: 16, lease: 15s, heartbeat: 5s, poll_interval: 250ms,
//            shutdown_grace: 10s, max_step_input_bytes: 262144, ...}
//   server: {bind: 127.0.0.1, port: 7400}
//   tools:  {file.write: {rate_per_second: 5, burst: 10}}
//
// Every section and field is optional; a missing one keeps its documented
// default. Unknown keys are diagnostics, except the sections that later
// releases own (models, connectors, memory, policies, secrets, agents),
// which are accepted and ignored for now.
//
// Thread-safety: a free function without shared state.
#pragma once

#include <string>
#include <string_view>

#include "core/config.h"
#include "core/diagnostics.h"

namespace cadre {

// Parses and validates `yaml_text`; every problem is added to `diagnostics`
// with `file` (e.g. "cadre.yaml") and its place. Returns the defaults for
// any field that is missing or wrong, so the result is always usable.
// `known_tools`, when not empty, are the names `tools:` may configure.
WorkspaceConfig load_config(std::string_view yaml_text, const std::string& file,
                            Diagnostics* diagnostics, const std::vector<std::string>& known_tools = {});

}  // namespace cadre
