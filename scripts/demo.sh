#!/usr/bin/env bash
# demo.sh - what `make run` starts: the console on SQLite with the Lai Châu organisation tree,
# a local agent enrolled in Sở Khoa học và Công nghệ that scans ClamAV's test files once and
# reports, then the console stays up in the foreground (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
K=${KHIEN:-build/khien}
D=${DEMO_DIR:-build/demo}
PORT=${PORT:-8080}
mkdir -p "$D"
DB="sqlite:$D/console.db"
"$K" console init --db "$DB" --demo data/org/laichau
PASS=${KHIEN_PASSWORD:-khien-demo-2026}
KHIEN_PASSWORD="$PASS" "$K" console user --db "$DB" --role province admin > /dev/null
"$K" server --db "$DB" --tls-dir "$D/tls" --listen "127.0.0.1:$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT INT TERM
sleep 0.5
if [ ! -f "$D/agent/identity" ]; then
    TOKEN=$("$K" console token --db "$DB" --unit "Sở Khoa học và Công nghệ")
    PIN=$("$K" console pin --tls-dir "$D/tls")
    "$K" agent enrol --server "https://127.0.0.1:$PORT" --token "$TOKEN" --pin "$PIN" --state "$D/agent"
fi
"$K" agent run --server "https://127.0.0.1:$PORT" --state "$D/agent" --db data/db \
    --scan /usr/share/clamav-testfiles --once || true
cat <<MSG

Khiên web console: https://127.0.0.1:$PORT/  (user admin, password $PASS; Vietnamese and
English; the certificate is the console's own, made at first start: its pin is
$("$K" console pin --tls-dir "$D/tls"))
The same figures from the JSON API:
  S=\$(curl -sk -X POST -d '{"user":"admin","password":"$PASS"}' https://127.0.0.1:$PORT/api/v1/login \\
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["session"])')
  curl -sk -H "Authorization: Bearer \$S" https://127.0.0.1:$PORT/api/v1/rollup | python3 -m json.tool
Ctrl-C stops the server.
MSG
wait $SERVER
