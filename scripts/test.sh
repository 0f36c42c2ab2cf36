#!/usr/bin/env bash
# Installs, builds and runs the whole test suite: unit and scenario tests
# (ctest), then every fuzz target for a bounded time (FUZZ_SECONDS each).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/install-test-peers.sh
./scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
./scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
