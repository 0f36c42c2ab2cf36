#!/usr/bin/env bash
# Regenerates examples/saas-founder/models/recording.jsonl, the model
# traffic the example replays offline. Run it after changing the example's
# agents (their prompts are part of each recorded request): it plays the
# demo objective against the scripted model server of the tests
# (tests/tools/saas-founder-demo.json holds the answers) with
# `cadre serve --record`, then keeps what was recorded.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh >/dev/null
work="$(mktemp -d)"
trap 'kill $serve $server 2>/dev/null || true; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
./build/cadre-test-model-server tests/tools/saas-founder-demo.json --port "$port" >"$work/server.log" 2>&1 &
server=$!
./build/cadre init "$work/ws" --example saas-founder >/dev/null
# The same workspace, with both tiers pointed at the scripted server.
sed -i -E "s|\{provider: replay, model: ([^,]+), recording: models/recording.jsonl\}|{provider: openai, model: \1, base_url: \"http://127.0.0.1:$port/v1\"}|" \
  "$work/ws/cadre.yaml"
./build/cadre -w "$work/ws" serve --record "$work/recording.jsonl" >"$work/serve.log" 2>&1 &
serve=$!
./build/cadre -w "$work/ws" objective add \
  "Acme Corp just signed up with 5 seats: welcome them and put them in today's digest." --wait --timeout 60
kill -TERM "$serve"; wait "$serve" || true
cp "$work/recording.jsonl" examples/saas-founder/models/recording.jsonl
echo "recorded $(wc -l < examples/saas-founder/models/recording.jsonl) exchanges into examples/saas-founder/models/recording.jsonl"
