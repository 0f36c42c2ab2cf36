#!/usr/bin/env bash
# Installs every Debian package Cadre needs to build, test and run.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev          # libFuzzer targets and sanitizers
  libsqlite3-dev sqlite3            # the embedded store (and the CLI for inspection)
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libhnswlib-dev                    # the vector index of memory (header-only)
  libsodium-dev                     # SHA-256 for definition versions and cache keys
  libcurl4-openssl-dev              # model APIs and connectors over HTTP(S)
  libcpp-httplib-dev                # the workspace server (and the tests' scripted model server)
  libcctz-dev tzdata                # cron time zones
  libgtest-dev libgmock-dev libbenchmark-dev
  procps                            # ps/kill used by scenario tests
  dovecot-imapd python3-aiosmtpd openssl  # email connector tests: real IMAP and SMTP servers, a self-signed cert
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
