#!/usr/bin/env bash
# Demo: backs up the project's sample shop database (scripts/sample-db) into ./demo-backups with
# the built action (dist/).
# The PostgreSQL server is a throwaway cluster made here from the machine's PostgreSQL binaries
# (Debian's postgresql package, installed by `npm run setup`), on a free port on 127.0.0.1, and
# removed at the end. Everything the action needs comes in as INPUT_* variables, as on a runner.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${PG_BIN_DIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
OUT=${DEMO_DESTINATION:-$ROOT/demo-backups}
[ -x "$BIN/initdb" ] || { echo "No PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin); run: npm run setup" >&2; exit 1; }

TMP=$(mktemp -d /tmp/pg-demo.XXXXXX)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$TMP"
cleanup() { as_pg "$BIN/pg_ctl" -D "$TMP/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$TMP"; }
trap cleanup EXIT
PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
PASSWORD="demo-$(date +%s)"

echo "== Starting a throwaway PostgreSQL ($("$BIN/postgres" --version)) on 127.0.0.1:$PORT"
as_pg "$BIN/initdb" -D "$TMP/data" -U postgres -A trust --no-sync >/dev/null
as_pg "$BIN/pg_ctl" -D "$TMP/data" -w -l "$TMP/server.log" -o "-p $PORT -k $TMP -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
PSQL=("$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$TMP" -p "$PORT" -U postgres)
"${PSQL[@]}" -d postgres -c "ALTER ROLE postgres PASSWORD '$PASSWORD'" -c "CREATE DATABASE shop"
echo "== Loading the sample database (scripts/sample-db, scale 1)"
PSQL="$BIN/psql" node scripts/sample-db/load.mjs --scale 1 --url "host=$TMP port=$PORT user=postgres dbname=shop"

echo "== Running the action: backup of shop into file://$OUT"
mkdir -p "$OUT"
OUTPUTS="$TMP/outputs"; : > "$OUTPUTS"
env "INPUT_DATABASE-URL=postgres://postgres:$PASSWORD@127.0.0.1:$PORT/shop" \
    "INPUT_DESTINATION=file://$OUT" \
    "INPUT_LABEL=demo" \
    GITHUB_OUTPUT="$OUTPUTS" GITHUB_STEP_SUMMARY=/dev/null RUNNER_TEMP="$TMP" \
    node dist/index.js | grep -v '^::add-mask::'
echo "== Outputs"
grep -v '^ghadelimiter' "$OUTPUTS" | sed 's/<<ghadelimiter.*/:/'
echo "== Restore by hand: zstd -d -c <archive>.dump.zst | pg_restore -d <target>  (see README)"
