#!/usr/bin/env bash
# Installs what the demo and the tests need on a Debian/Ubuntu machine, and only what is missing:
# PostgreSQL server binaries (/usr/lib/postgresql/<N>/bin/initdb, package postgresql) and client
# tools (psql, pg_dump, pg_restore), zstd, lz4, gzip, tar, gnupg, ca-certificates; then `npm ci`
# when node_modules/ is absent. Idempotent: when everything is there it prints nothing and only
# tests a few paths with shell built-ins (a few milliseconds), so `npm test` runs it every time
# (the `pretest` script), as do `npm run demo` and `npm run setup`.
# Packages come from apt-get, as root or through sudo. Without either it installs nothing, prints
# the one command to run and exits 1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

have_pg() { compgen -G "/usr/lib/postgresql/*/bin/$1" >/dev/null; }
have() { command -v "$1" >/dev/null 2>&1; }

packages=()
have_pg initdb || packages+=(postgresql)
{ have_pg psql && have_pg pg_dump && have_pg pg_restore; } || packages+=(postgresql-client)
have zstd || packages+=(zstd)
have lz4 || packages+=(lz4)
have gzip || packages+=(gzip)
have tar || packages+=(tar)
have gpg || packages+=(gnupg)
[ -s /etc/ssl/certs/ca-certificates.crt ] || packages+=(ca-certificates)

if [ "${#packages[@]}" -gt 0 ]; then
  command_line="apt-get update && apt-get install -y --no-install-recommends ${packages[*]}"
  if ! have apt-get; then
    echo "Missing: ${packages[*]} (Debian/Ubuntu package names). This script installs them with apt-get only;" >&2
    echo "install them with your system's package manager, then run this command again." >&2
    exit 1
  fi
  if [ "$EUID" -eq 0 ]; then
    sudo=()
  elif have sudo && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
    sudo=(sudo)
  else
    echo "Missing system packages: ${packages[*]}. Installing them needs root; run:" >&2
    echo "  sudo sh -c '$command_line'" >&2
    exit 1
  fi
  echo "== Installing ${packages[*]} (apt-get)" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=120 update >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=120 install -y \
    --no-install-recommends "${packages[@]}" >/dev/null
  have_pg initdb || {
    echo "apt-get installed ${packages[*]} but /usr/lib/postgresql/*/bin/initdb is still missing." >&2
    exit 1
  }
fi

if [ ! -d node_modules ]; then
  echo "== npm ci (node_modules/ is absent)" >&2
  npm ci --prefer-offline --no-audit --no-fund >&2
fi
