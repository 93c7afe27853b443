#!/usr/bin/env bash
# `npm run demo`: the command-line tool (dist/cli.js, `postgres-backup` once installed) on the
# project's sample shop database (scripts/sample-db), end to end:
#   1. installs what is missing (scripts/install-deps.sh: PostgreSQL, zstd, ...; npm ci);
#   2. starts a throwaway PostgreSQL cluster from the machine's server binaries
#      (/usr/lib/postgresql/<N>/bin, or PG_BIN_DIR) on a free port on 127.0.0.1;
#   3. loads the sample database (scale 1, ~20 MB) into database `shop`;
#   4. backs it up into ./demo-backups (or DEMO_DESTINATION), lists the backups, and runs a restore
#      drill into a scratch database `shop_drill` on the same server;
#   5. prints where the archive and its manifest are, and removes the cluster.
# Runs again as often as wanted: each run adds one backup to ./demo-backups.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

bash scripts/install-deps.sh
BIN=${PG_BIN_DIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$BIN/initdb" ] || { echo "No PostgreSQL server binaries in '$BIN' (set PG_BIN_DIR)." >&2; exit 1; }
[ -f dist/cli.js ] || { echo "dist/cli.js is missing: run npm run build" >&2; exit 1; }
OUT=${DEMO_DESTINATION:-$ROOT/demo-backups}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CLI=(node "$ROOT/dist/cli.js")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/pg-demo.XXXXXX")
as_pg() { if [ "$EUID" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$EUID" -ne 0 ] || chown postgres "$TMP"
cleanup() {
  if [ -f "$TMP/data/postmaster.pid" ]; then as_pg "$BIN/pg_ctl" -D "$TMP/data" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
PASSWORD="demo-$RANDOM$RANDOM"

echo "== Starting a throwaway PostgreSQL ($("$BIN/postgres" --version)) in $TMP"
printf '%s\n' "$PASSWORD" > "$TMP/pwfile"
[ "$EUID" -ne 0 ] || chown postgres "$TMP/pwfile"
as_pg "$BIN/initdb" -D "$TMP/data" -U postgres --pwfile "$TMP/pwfile" --auth-local=trust --auth-host=scram-sha-256 \
  -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
rm -f "$TMP/pwfile"
for attempt in 1 2 3; do
  PORT=$(free_port)
  if as_pg "$BIN/pg_ctl" -D "$TMP/data" -w -t 30 -l "$TMP/server.log" \
    -o "-p $PORT -k $TMP -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null; then
    break
  fi
  [ "$attempt" -lt 3 ] || { cat "$TMP/server.log" >&2; exit 1; }
done
echo "   listening on 127.0.0.1:$PORT"
"$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$TMP" -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE shop"
URL="postgres://postgres:$PASSWORD@127.0.0.1:$PORT"

echo "== Loading the sample database (scripts/sample-db, scale 1) into shop"
PSQL="$BIN/psql" node scripts/sample-db/load.mjs --scale 1 --url "host=$TMP port=$PORT user=postgres dbname=shop"

echo "== postgres-backup backup --destination file://$OUT --label demo"
"${CLI[@]}" backup --database-url "$URL/shop" --destination "file://$OUT" --label demo --json > "$TMP/backup.json"
read_output() { node -e 'process.stdout.write(String(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]] ?? ""))' "$TMP/backup.json" "$1"; }
KEY=$(read_output backup-key)
MANIFEST=$(read_output manifest-key)
[ -n "$KEY" ] && [ -n "$MANIFEST" ] || { echo "backup printed no backup-key/manifest-key: $(cat "$TMP/backup.json")" >&2; exit 1; }

echo "== postgres-backup list"
"${CLI[@]}" list --database shop --destination "file://$OUT"

echo "== postgres-backup drill: restore $KEY into shop_drill and verify it against its manifest"
"${CLI[@]}" drill --database shop --destination "file://$OUT" --backup-key "$KEY" \
  --target-database-url "$URL/shop_drill" --drill-sql 'SELECT count(*) > 0 FROM shop.orders'

echo "== Done (the throwaway cluster is removed now)"
echo "Archive:  $OUT/$KEY"
echo "Manifest: $OUT/$MANIFEST"
echo "Restore it into a database of yours:"
echo "  node dist/cli.js restore --destination file://$OUT --database shop --backup-key '$KEY' --target-database-url postgres://USER@HOST/DB --create-database"
