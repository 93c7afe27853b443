#!/usr/bin/env bash
# One-time set-up on a Debian/Ubuntu machine: PostgreSQL (server for the demo and tests, client
# tools), zstd/lz4, and the npm dependencies. Uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends postgresql postgresql-client zstd lz4 gnupg ca-certificates >/dev/null
npm ci --no-audit --no-fund
echo "Set-up done. Next: npm run demo (a backup of Pagila), npm test (the tests)."
