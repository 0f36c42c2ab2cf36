#!/usr/bin/env bash
# Installs, builds, creates workspace/ from the bundled example if there is
# none, and runs `cadre serve` on it (Ctrl-C stops it gracefully).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
workspace="${CADRE_WORKSPACE:-workspace}"
example="${CADRE_EXAMPLE:-saas-founder}"
if [ ! -f "$workspace/cadre.yaml" ]; then
  ./build/cadre init "$workspace" --example "$example"
  if [ "$example" = saas-founder ]; then
    # A first objective for the agents, answered from the example's model
    # recording: the planner splits it between customer-success and ops.
    ./build/cadre -w "$workspace" objective add \
      "Acme Corp just signed up with 5 seats: welcome them and put them in today's digest." 2>/dev/null
  fi
fi
./build/cadre -w "$workspace" check
exec ./build/cadre -w "$workspace" serve
