#!/usr/bin/env bash
# test_web.sh - the web console in a real browser (Debian chromium through chromedriver,
# driven by tests/web/console_test.py): login, the province's figures in Vietnamese and
# English, a unit whose name holds markup shown as text, an endpoint's quarantined detection
# restored through a command that the agent runs, logout.
# Usage: test_web.sh KHIEN SRC
KHIEN=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
K() { "$KHIEN" "$@"; }
if ! command -v chromedriver > /dev/null || [ ! -x /usr/bin/chromium ]; then
    bad "chromium and chromedriver installed" "apt-get install chromium chromium-driver (scripts/install-deps.sh)"
    finish
fi
SPID=""; DPID=""
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; [ -n "$DPID" ] && kill "$DPID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
DB="sqlite:$T/console.db"
K console init --db "$DB" --demo "$SRC/data/org/laichau" > /dev/null
TRICKY='<b>Phường "Tân" & <img src=x onerror=alert(1)></b>'
K console unit --db "$DB" --parent "Tỉnh Lai Châu" "$TRICKY" > /dev/null; expect_status "a unit named with markup" 0 $?
export KHIEN_PASSWORD='mật khẩu của tỉnh'
K console user --db "$DB" --role province admin > /dev/null
TOK=$(K console token --db "$DB" --unit "Xã Mường Kim")
"$KHIEN" server --db "$DB" --tls-dir "$T/tls" --listen 127.0.0.1:0 --port-file "$T/port" > "$T/server.log" 2>&1 & SPID=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
URL="https://127.0.0.1:$(cat "$T/port")"
PIN=$(K console pin --tls-dir "$T/tls")
K agent enrol --server "$URL" --token "$TOK" --pin "$PIN" --state "$T/a" > /dev/null; expect_status "agent enrolled" 0 $?
S=$(curl -sk -X POST -d "{\"user\":\"admin\",\"password\":\"$KHIEN_PASSWORD\"}" "$URL/api/v1/login" | python3 -c "import json,sys; print(json.load(sys.stdin)['session'])")
ids() { curl -sk -H "Authorization: Bearer $S" "$URL/api/v1/units" | python3 -c "import json,sys; print([u['id'] for u in json.load(sys.stdin)['units'] if u['name'] == sys.argv[1]][0])" "$1"; }
MK=$(ids "Xã Mường Kim"); TRICKY_ID=$(ids "$TRICKY")
curl -sk -o /dev/null -H "Authorization: Bearer $S" -d '{"action":"quarantine"}' "$URL/api/v1/policy?unit=0"
mkdir -p "$T/scan"; eicar "$T/scan/tệp độc hại.com"
K agent run --server "$URL" --state "$T/a" --once > /dev/null 2>&1; expect_status "agent fetches the policy" 0 $?
K agent run --server "$URL" --state "$T/a" --db "$SRC/data/db" --scan "$T/scan" --once > "$T/out" 2>&1; expect_status "agent reports a quarantined detection" 0 $?
check "file quarantined" test ! -e "$T/scan/tệp độc hại.com"
# the page itself: served with a strict content policy
curl -sk -D "$T/headers" -o "$T/index.html" "$URL/"
check "page served" has "$T/index.html" '<script src="/app.js"'
check "content security policy" grep -qi "content-security-policy: default-src 'none'; script-src 'self'" "$T/headers"
curl -sk -o /dev/null -w '%{http_code}' "$URL/nothing-here" > "$T/code"; check "unknown page is 404" test "$(cat "$T/code")" = 404
curl -sk -o "$T/body" -w '%{http_code}' -b "khien_session=$S" -X POST -d '{"kind":"update"}' "$URL/api/v1/endpoints/1/commands" > "$T/code"
check "a cookie-only change without X-Khien-Request is refused (CSRF)" test "$(cat "$T/code")" = 403
DPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
chromedriver --port="$DPORT" > "$T/driver.log" 2>&1 & DPID=$!
for _ in $(seq 100); do curl -s "http://127.0.0.1:$DPORT/status" 2>/dev/null | grep -q '"ready": *true' && break; sleep 0.1; done
(
    for _ in $(seq 600); do [ -e "$T/restore-asked" ] && break; sleep 0.1; done
    K agent run --server "$URL" --state "$T/a" --db "$SRC/data/db" --once > "$T/agent2.out" 2>&1
    touch "$T/agent-ran"
) & BG=$!
TRICKY_UNIT="$TRICKY" TRICKY_UNIT_ID="$TRICKY_ID" UNIT_ID="$MK" UNIT_NAME="Xã Mường Kim" HOSTNAME_="$(hostname)" \
ENDPOINT="$(sed -n 's/^endpoint=//p' "$T/a/identity")" \
    python3 "$SRC/tests/web/console_test.py" "http://127.0.0.1:$DPORT" "$URL" "$T" > "$T/web.out" 2>&1
status=$?
cat "$T/web.out"
while read -r word rest; do
    case "$word" in ok) ok "browser: $rest" ;; FAIL) bad "browser: $rest" ;; esac
done < "$T/web.out"
expect_status "browser scenario" 0 $status
wait "$BG"
check "the restore command ran on the agent" has "$T/agent2.out" "(quarantine_restore): restored"
check "the file is back" test -f "$T/scan/tệp độc hại.com"
finish
