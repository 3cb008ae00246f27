#!/usr/bin/env bash
# bench_console.sh - the console under simulated agents, and its roll-up over many events.
# usage: bash bench/bench_console.sh [sqlite|postgres]   env: AGENTS (10000), DURATION (30 s),
#        DETECTIONS (1000 per second), THREADS (16), EVENTS (1000000), BUILD (build),
#        SERVERS (1; with postgres, that many server processes share the database and the
#        agents are spread over them)
# 1. enrols AGENTS agents, then sends AGENTS/60 heartbeats/s and DETECTIONS events/s for
#    DURATION seconds (console_loadgen) and checks the server stored every acknowledged event once;
# 2. adds EVENTS events straight into the database and times the province roll-up.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
K=$BUILD/khien
BACKEND=${1:-sqlite}
SERVERS=${SERVERS:-1}
AGENTS=${AGENTS:-10000}; SECONDS_=${DURATION:-30}; DET=${DETECTIONS:-1000}; THREADS=${THREADS:-16}; EVENTS=${EVENTS:-1000000}
T=$(mktemp -d /tmp/khien-bench.XXXXXX); chmod 755 "$T"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
cleanup() { kill ${SPIDS:-0} "${SPID:-0}" 2>/dev/null; [ "$BACKEND" = postgres ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/pg" -m immediate stop >/dev/null 2>&1; rm -rf "$T"; }
trap cleanup EXIT
if [ "$BACKEND" = postgres ]; then
    chown postgres "$T"
    runuser -u postgres -- "$PGBIN/initdb" -D "$T/pg" --auth=trust -U khien -E UTF8 --no-locale > /dev/null
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/pg" -w -l "$T/pg.log" -o "-k $T -c listen_addresses=''" start > /dev/null
    psql -h "$T" -U khien -d postgres -qc "CREATE DATABASE khien"
    DB="postgresql://khien@/khien?host=$T"
else
    DB="sqlite:$T/console.db"
fi
"$K" console init --db "$DB" --demo "$ROOT/data/org/laichau" > /dev/null
KHIEN_PASSWORD=bench-password-1 "$K" console user --db "$DB" --role province admin > /dev/null
TOKEN=$("$K" console token --db "$DB" --unit "Sở Tài chính" --uses "$AGENTS")
[ "$BACKEND" = postgres ] || SERVERS=1
SPIDS=""; URLS=""
for i in $(seq "$SERVERS"); do
    "$K" server --db "$DB" --plain-http --listen 127.0.0.1:0 --port-file "$T/port$i" > "$T/server$i.log" 2>&1 & SPIDS="$SPIDS $!"
    for _ in $(seq 100); do [ -s "$T/port$i" ] && break; sleep 0.05; done
    URLS="$URLS${URLS:+,}http://127.0.0.1:$(cat "$T/port$i")"
done
URL=${URLS%%,*}
echo "== $BACKEND: $SERVERS server process(es), $AGENTS agents, $SECONDS_ s, $DET detections/s, $THREADS client threads (same 2-core machine)"
"$BUILD/console_loadgen" "$URLS" "$TOKEN" "$AGENTS" "$SECONDS_" "$DET" "$THREADS" | tee "$T/load.txt"
S=$(curl -s -X POST -d '{"user":"admin","password":"bench-password-1"}' "$URL/api/v1/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["session"])')
stored=$(curl -s -H "Authorization: Bearer $S" "$URL/api/v1/rollup?from=0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["detections"])')
acked=$(awk '/acknowledged/ {print $NF}' "$T/load.txt")
echo "events acknowledged $acked, stored $stored: $([ "$acked" = "$stored" ] && echo 'none lost, none duplicated' || echo MISMATCH)"
kill $SPIDS; wait $SPIDS 2>/dev/null || true; SPIDS=""
echo "== roll-up over $EVENTS more events"
SQL="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < $EVENTS)
INSERT INTO events(endpoint_id, uid, time, signature) SELECT 1 + x % $AGENTS, 'bulk-' || x, $(date +%s) - x % 2592000, 'Bulk.Sig.' || (x % 200) FROM c;"
if [ "$BACKEND" = postgres ]; then
    psql -h "$T" -U khien -d khien -qc "INSERT INTO events(endpoint_id, uid, time, signature) SELECT 1 + x % $AGENTS, 'bulk-' || x, $(date +%s) - x % 2592000, 'Bulk.Sig.' || (x % 200) FROM generate_series(1, $EVENTS) x; ANALYZE;"
else
    sqlite3 "$T/console.db" "$SQL ANALYZE;"
fi
"$K" server --db "$DB" --plain-http --listen 127.0.0.1:0 --port-file "$T/rport" > "$T/rserver.log" 2>&1 & SPID=$!
for _ in $(seq 100); do [ -s "$T/rport" ] && break; sleep 0.05; done
URL="http://127.0.0.1:$(cat "$T/rport")"
S=$(curl -s -X POST -d '{"user":"admin","password":"bench-password-1"}' "$URL/api/v1/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["session"])')
for i in 1 2 3; do
    curl -s -o /dev/null -w "province roll-up (30 days, with children and top signatures): %{time_total} s\n" -H "Authorization: Bearer $S" "$URL/api/v1/rollup"
done
for i in 1 2 3; do
    curl -s -o /dev/null -w "province top 10 infected endpoints (30 days): %{time_total} s\n" -H "Authorization: Bearer $S" "$URL/api/v1/top-endpoints"
done
