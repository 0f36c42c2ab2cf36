#!/usr/bin/env bash
# Installs the real protocol peers the tests talk to (tests/peers: the MCP
# reference "everything" server from npm), exactly as package-lock.json pins
# them. Idempotent: does nothing when node_modules matches the lock file.
# Needs Node.js 20 or newer and npm (the machines have them; Debian's own
# nodejs package is 18, too old for the pinned server).
set -euo pipefail
cd "$(dirname "$0")/.."
peers=tests/peers
stamp="$peers/node_modules/.cadre-lock-sha256"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install-test-peers: node and npm are needed (Node.js 20 or newer)" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "install-test-peers: Node.js $(node --version) is too old; the MCP test server needs 20 or newer" >&2
  exit 1
fi

want=$(sha256sum "$peers/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "installing test peers into $peers/node_modules"
npm ci --prefix "$peers" --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
