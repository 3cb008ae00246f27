#!/usr/bin/env bash
# test_console.sh - the central console and real agents on loopback (SQLite backend):
# enrolment, heartbeat, a planted EICAR reaching the server once, a server outage during a
# detection, an agent restart with a full queue, revocation, bad and oversized bodies, a wrong
# key, SQL-meta characters and Vietnamese text, logins and roles, roll-ups, policies and the
# planned scan (exclusions honoured, once a month); commands to agents (scan now, quarantine
# restore and delete, update without a mirror) run once and reported; the quarantine action;
# real-time protection catching a file written into a new directory.
# Usage: test_console.sh KHIEN SRC
KHIEN=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
K() { "$KHIEN" "$@"; }
SPID=""
MPID=""
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; [ -n "$MPID" ] && kill "$MPID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
DB="${KH_TEST_DB_URL:-sqlite:$T/console.db}"
start_server() {
    rm -f "$T/port"
    "$KHIEN" server --db "$DB" --tls-dir "$T/tls" --listen 127.0.0.1:${1:-0} --port-file "$T/port" > "$T/server.log" 2>&1 &
    SPID=$!
    for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
    PORT=$(cat "$T/port"); URL="https://127.0.0.1:$PORT"
}
stop_server() { kill "$SPID"; wait "$SPID" 2>/dev/null; SPID=""; }
PIN=$("$KHIEN" console pin --tls-dir "$T/tls")
curl() { command curl -k --pinnedpubkey "$PIN" "$@"; }
api() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
jq_() { python3 -c "import json,sys; d=json.load(open('$T/body')); print($1)"; }

K console init --db "$DB" --demo "$SRC/data/org/laichau" > /dev/null; expect_status "init with the Lai Châu tree" 0 $?
KHIEN_PASSWORD='mật khẩu của tỉnh' K console user --db "$DB" --role province admin > /dev/null
KHIEN_PASSWORD='mật khẩu sở tài chính' K console user --db "$DB" --role unit --unit "Sở Tài chính" stc > /dev/null
KHIEN_PASSWORD='short' K console user --db "$DB" --role province weak > "$T/out" 2>&1; expect_status "short password refused" 1 $?
TOK=$(K console token --db "$DB" --unit "Xã Mường Kim" --uses 2)
TOK_STC=$(K console token --db "$DB" --unit "Sở Tài chính" --uses 1)
check "token made" test ${#TOK} -eq 64
K console token --db "$DB" --unit "Xã Không Có" > "$T/out" 2>&1; expect_status "token for an unknown unit" 1 $?
start_server
check "server listening" test -n "$PORT"

# --- enrolment ---
check "key of the certificate kept private" test "$(stat -c %a "$T/tls/console.key")" = 600
K agent enrol --server "$URL" --token "$TOK" --state "$T/a0" > "$T/out" 2>&1; expect_status "https without a pin refused" 1 $?
check "pin demanded" has "$T/out" "needs its pin"
K agent enrol --server "$URL" --token "$TOK" --pin "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" --state "$T/a0" > "$T/out" 2>&1
expect_status "a wrong pin (impostor) refused" 1 $?
K agent enrol --server "$URL" --token "$TOK" --pin "$PIN" --state "$T/a1" --hostname "Máy kế toán 01" > "$T/out" 2>&1; expect_status "enrol" 0 $?
check "identity kept private" test "$(stat -c %a "$T/a1/identity")" = 600
K agent enrol --server "$URL" --token "$TOK" --pin "$PIN" --state "$T/a2" > /dev/null 2>&1; expect_status "second use of a 2-use token" 0 $?
K agent enrol --server "$URL" --token "$TOK" --pin "$PIN" --state "$T/a3" > "$T/out" 2>&1; expect_status "used-up token refused" 1 $?
check "refusal says why" has "$T/out" "unknown, used up or expired"
K agent enrol --server "$URL" --token "$(printf '0%.0s' $(seq 64))" --pin "$PIN" --state "$T/a4" > /dev/null 2>&1; expect_status "forged token refused" 1 $?
K agent enrol --server "$URL" --token "$TOK_STC" --pin "$PIN" --state "$T/stc1" > /dev/null 2>&1; expect_status "enrol in another unit" 0 $?

# --- a planted EICAR reaches the server once ---
mkdir -p "$T/scan"; eicar "$T/scan/eicar.com"; echo clean > "$T/scan/ok.txt"
K agent run --server "$URL" --state "$T/a1" --db "$SRC/data/db" --scan "$T/scan" --once > "$T/out" 2>&1; expect_status "agent round with a scan" 0 $?
check "detection queued and sent" has "$T/out" "1 detection(s) queued"
K agent run --server "$URL" --state "$T/a1" --once > /dev/null 2>&1; expect_status "heartbeat only" 0 $?
S=$(curl -s -X POST -d '{"user":"admin","password":"mật khẩu của tỉnh"}' "$URL/api/v1/login" | python3 -c "import json,sys; print(json.load(sys.stdin)['session'])")
check "login" test ${#S} -eq 64
MK=$(api -H "Authorization: Bearer $S" "$URL/api/v1/units" > /dev/null; jq_ "[u['id'] for u in d['units'] if u['name']=='Xã Mường Kim'][0]")
api -H "Authorization: Bearer $S" "$URL/api/v1/rollup?unit=$MK" > "$T/code"
check "roll-up for the commune" test "$(cat "$T/code")" = 200
check "one detection, stored once" test "$(jq_ "d['detections']")" = 1
check "two endpoints, both reporting" test "$(jq_ "(d['endpoints'], d['reporting'])")" = "(2, 2)"
check "infection index 1/2" test "$(jq_ "d['infection_index']")" = 0.5
check "top signature" test "$(jq_ "d['top_signatures'][0]['signature']")" = "Eicar-Test-Signature"
api -H "Authorization: Bearer $S" "$URL/api/v1/rollup" > /dev/null
check "province roll-up counts all units" test "$(jq_ "d['endpoints']")" = 3
check "province children named in Vietnamese" test "$(jq_ "d['children'][0]['name']")" = "Tỉnh Lai Châu"

# --- a server outage during a detection; the agent restarts with a full queue ---
stop_server
eicar "$T/scan/eicar2.com"
K agent run --server "$URL" --state "$T/a1" --db "$SRC/data/db" --scan "$T/scan" --once > "$T/out" 2>&1; expect_status "server down: agent keeps the events" 1 $?
check "events kept on disk" has "$T/out" "2 event(s) kept"
start_server "$PORT"
K agent run --server "$URL" --state "$T/a1" --once > "$T/out" 2>&1; expect_status "restarted agent delivers the queue" 0 $?
S=$(curl -s -X POST -d '{"user":"admin","password":"mật khẩu của tỉnh"}' "$URL/api/v1/login" | python3 -c "import json,sys; print(json.load(sys.stdin)['session'])")
api -H "Authorization: Bearer $S" "$URL/api/v1/rollup?unit=$MK" > /dev/null
check "each detection arrives once (1 + 2)" test "$(jq_ "d['detections']")" = 3
# a resend of the same event ids is stored once
EV='{"events":[{"uid":"fixed-id-1","time":1790000000,"path":"C:\\\\a.exe","signature":"Test.Resend"}]}'
K agent post --server "$URL" --state "$T/a2" /api/v1/events "$EV" > "$T/out1" 2>&1
K agent post --server "$URL" --state "$T/a2" /api/v1/events "$EV" > "$T/out2" 2>&1
check "first send stored" has "$T/out1" '"stored":1'
check "resend not duplicated" has "$T/out2" '"duplicates":1'

# --- SQL-meta characters and Vietnamese in every string field ---
NASTY="x'); DROP TABLE events;-- \"Mã độc\" ; ' OR 1=1 -- đường dẫn\\tệp"
export NASTY
python3 - "$T" <<'PY'
import json, os, sys
n = os.environ["NASTY"]
t = sys.argv[1]
ev = {"events": [{"uid": n, "time": 1790000001, "path": n, "sha256": "ab", "signature": "Trojan." + n, "action": "x'); --đ"}]}
hb = {"hostname": n, "os": n, "agent_version": "1'; --ă", "engine_version": "Mã'\"; DROP--"}
open(t + "/ev.json", "w").write(json.dumps(ev, ensure_ascii=False))
open(t + "/hb.json", "w").write(json.dumps(hb, ensure_ascii=False))
PY
EV=$(cat "$T/ev.json"); HB=$(cat "$T/hb.json")
K agent post --server "$URL" --state "$T/a2" /api/v1/events "$EV" > "$T/out" 2>&1; expect_status "nasty strings accepted" 0 $?
K agent post --server "$URL" --state "$T/a2" /api/v1/heartbeat "$HB" > "$T/out" 2>&1; expect_status "nasty heartbeat accepted" 0 $?
api -H "Authorization: Bearer $S" "$URL/api/v1/rollup?unit=$MK&from=1780000000" > /dev/null
check "text stored byte for byte" python3 -c "
import json, os; d=json.load(open('$T/body')); n=os.environ['NASTY']
assert any(t['signature']=='Trojan.'+n for t in d['top_signatures']), d['top_signatures']"
api -H "Authorization: Bearer $S" "$URL/api/v1/top-endpoints?unit=$MK&from=1780000000" > /dev/null
check "top infected endpoints name the host" python3 -c "
import json, os; d=json.load(open('$T/body')); n=os.environ['NASTY']
assert any(e['hostname']==n and e['detections']>=1 for e in d['endpoints']), d"
api -H "Authorization: Bearer $S" "$URL/api/v1/top-endpoints?limit=0" > "$T/code"; check "top endpoints: bad limit is 400" test "$(cat "$T/code")" = 400
api -H "Authorization: Bearer $S" "$URL/api/v1/units" > /dev/null
check "tables intact" test "$(jq_ "len(d['units'])")" -gt 40

# --- malformed requests: 4xx with a reason, nothing changes ---
api -X POST -d '{bad json' "$URL/api/v1/enrol" > "$T/code"; check "bad JSON is 400" test "$(cat "$T/code")" = 400
check "bad JSON reason" grep -q "not a JSON object" "$T/body"
head -c 2000000 /dev/zero | tr '\0' 'a' > "$T/big"
api -X POST --data-binary @"$T/big" "$URL/api/v1/enrol" > "$T/code"; check "oversized body is 413" test "$(cat "$T/code")" = 413
K agent post --server "$URL" --state "$T/a2" /api/v1/events '{"events":[{"uid":"a","time":1}, {"time":"x"}]}' > "$T/out" 2>&1
check "one bad event refuses the batch" has "$T/out" "400"
K agent post --server "$URL" --state "$T/a2" /api/v1/events '{"events":[{"uid":"partial-ok","time":5,"signature":"S"},{"uid":7}]}' > /dev/null 2>&1
api -H "Authorization: Bearer $S" "$URL/api/v1/rollup?unit=$MK&from=0" > /dev/null
check "nothing of a refused batch stored" python3 -c "
import json; d=json.load(open('$T/body')); assert all(t['signature']!='S' for t in d['top_signatures'])"
api -X POST -H 'X-Khien-Endpoint: 1' -H 'X-Khien-Time: 1' -H "X-Khien-Signature: $(printf 'ab%.0s' $(seq 64))" -d '{}' "$URL/api/v1/heartbeat" > "$T/code"
check "stale or forged signature is 401" test "$(cat "$T/code")" = 401
# the wrong key: a2's identity file with a1's endpoint number
mkdir -p "$T/wrong"; sed "s/^endpoint=.*/endpoint=1/" "$T/a2/identity" > "$T/wrong/identity"; chmod 600 "$T/wrong/identity"
K agent post --server "$URL" --state "$T/wrong" /api/v1/heartbeat '{}' > "$T/out" 2>&1
check "wrong key refused" has "$T/out" "401"
api "$URL/api/v1/rollup" > "$T/code"; check "no session is 401" test "$(cat "$T/code")" = 401
api -X POST -d '{"user":"admin","password":"sai"}' "$URL/api/v1/login" > "$T/code"; check "wrong password is 401" test "$(cat "$T/code")" = 401
api "$URL/api/v2/nothing" > "$T/code"; check "unknown path is 404" test "$(cat "$T/code")" = 404

# --- roles: a unit user sees its own unit only ---
S2=$(curl -s -X POST -d '{"user":"stc","password":"mật khẩu sở tài chính"}' "$URL/api/v1/login" | python3 -c "import json,sys; print(json.load(sys.stdin)['session'])")
api -H "Authorization: Bearer $S2" "$URL/api/v1/rollup?unit=$MK" > "$T/code"; check "unit user kept out of another unit" test "$(cat "$T/code")" = 403
api -H "Authorization: Bearer $S2" "$URL/api/v1/rollup" > "$T/code"; check "unit user sees its own" test "$(cat "$T/code")" = 200
check "own unit figures" test "$(jq_ "(d['name'], d['endpoints'])")" = "('Sở Tài chính', 1)"
api -H "Authorization: Bearer $S2" "$URL/api/v1/units" > /dev/null; check "unit user's tree is its own" test "$(jq_ "len(d['units'])")" = 1
api -X POST -H "Authorization: Bearer $S2" "$URL/api/v1/endpoints/1/revoke" > "$T/code"; check "unit user cannot revoke" test "$(cat "$T/code")" = 403

# --- policies and the planned scan ---
STC=$(api -H "Authorization: Bearer $S" "$URL/api/v1/units" > /dev/null; jq_ "[u['id'] for u in d['units'] if u['name']=='Sở Tài chính'][0]")
api -H "Authorization: Bearer $S" "$URL/api/v1/policy?unit=$MK" > /dev/null
check "no policy yet: the default" test "$(jq_ "(d['inherited_from'], d['policy']['scan_plan']['every'], d['policy']['scan_plan']['paths'])")" = "(None, 'month', [])"
mkdir -p "$T/plan/Tài liệu" "$T/plan/bỏ qua"; eicar "$T/plan/Tài liệu/x.com"; eicar "$T/plan/bỏ qua/y.com"
POL=$(python3 -c "import json,sys; print(json.dumps({'scan_plan': {'every': 'month', 'day': 1, 'hour': 0, 'paths': [sys.argv[1]], 'exclude': [sys.argv[1] + '/bỏ qua']}}, ensure_ascii=False))" "$T/plan")
api -X POST -H "Authorization: Bearer $S" -d "$POL" "$URL/api/v1/policy?unit=0" > "$T/code"; check "province policy set" test "$(cat "$T/code")" = 200
api -X POST -H "Authorization: Bearer $S" -d '{"scan_plan":{"every":"week"}}' "$URL/api/v1/policy?unit=$MK" > "$T/code"; check "bad policy is 400" test "$(cat "$T/code")" = 400
check "bad policy says why" has "$T/body" '\"month\" or \"quarter\"'
api -X POST -H "Authorization: Bearer $S" -d '{}' "$URL/api/v1/policy?unit=987654" > "$T/code"; check "policy of an unknown unit is 404" test "$(cat "$T/code")" = 404
api -X POST -H "Authorization: Bearer $S2" -d '{}' "$URL/api/v1/policy?unit=$STC" > "$T/code"; check "unit user cannot set policies" test "$(cat "$T/code")" = 403
api -H "Authorization: Bearer $S" "$URL/api/v1/policy?unit=$MK" > /dev/null
check "commune inherits the province's policy" test "$(jq_ "(d['inherited_from'], d['policy']['scan_plan']['exclude'][0].endswith('/bỏ qua'))")" = "(0, True)"
api -X POST -H "Authorization: Bearer $S" -d '{"update_interval": 7200}' "$URL/api/v1/policy?unit=$STC" > /dev/null
api -H "Authorization: Bearer $S2" "$URL/api/v1/policy" > /dev/null
check "a unit's own setting over the province's plan" test "$(jq_ "(d['inherited_from'] == $STC, d['policy']['update_interval'], d['policy']['scan_plan']['paths'] == ['$T/plan'])")" = "(True, 7200, True)"
api -H "Authorization: Bearer $S" "$URL/api/v1/rollup?unit=$MK&from=0" > /dev/null; BEFORE=$(jq_ "d['detections']")
K agent run --server "$URL" --state "$T/a2" --db "$SRC/data/db" --once > "$T/out" 2>&1; expect_status "agent fetches its policy" 0 $?
check "policy kept by the agent" has "$T/a2/policy.json" "bỏ qua"
K agent run --server "$URL" --state "$T/a2" --db "$SRC/data/db" --once > "$T/out" 2>&1; expect_status "planned scan round" 0 $?
check "planned scan ran" has "$T/out" "planned scan done (every month"
check "excluded folder not scanned: one detection" has "$T/out" ": 1 detection(s) queued"
K agent run --server "$URL" --state "$T/a2" --db "$SRC/data/db" --once > "$T/out" 2>&1
check "not again in the same month" hasnt "$T/out" "planned scan"
api -H "Authorization: Bearer $S" "$URL/api/v1/rollup?unit=$MK&from=0" > /dev/null
check "the planned scan's detection reached the server once" test "$(jq_ "d['detections']")" = $((BEFORE + 1))
check "scan results delivered" test ! -e "$T/a2/scans.json"
check "plan compliance: 1 of the commune's 2 endpoints" test "$(jq_ "(d['plan_endpoints'], d['plan_done'], d['plan_compliance'])")" = "(2, 1, 0.5)"
api -H "Authorization: Bearer $S" "$URL/api/v1/rollup" > /dev/null
check "province: all 3 endpoints under the plan, 1 done" test "$(jq_ "(d['plan_endpoints'], d['plan_done'])")" = "(3, 1)"
K agent post --server "$URL" --state "$T/a2" /api/v1/scans '{"scans":[{"uid":"s1","started":10,"finished":5}]}' > "$T/out" 2>&1
check "a scan that ends before it starts is refused" has "$T/out" "not before it"

# --- signature updates from a signed mirror ---
mkdir -p "$T/keys" "$T/trust" "$T/sigs" "$T/mirror"
K db keygen khien-test -o "$T/keys" > /dev/null && cp "$T/keys/khien-test.pub" "$T/trust/"
echo 'Test.Update.Body:0:*:4556494c2d4f4e45' > "$T/sigs/main.ndb"
K db pack "$T/sigs" --version 7 --key "$T/keys/khien-test.key" -o "$T/v7.kpkg" > /dev/null
K mirror add --trust-dir "$T/trust" "$T/mirror" "$T/v7.kpkg" > /dev/null
"$KHIEN" server --mirror "$T/mirror" --listen 127.0.0.1:0 --port-file "$T/mport" > "$T/mirror.log" 2>&1 & MPID=$!
for _ in $(seq 100); do [ -s "$T/mport" ] && break; sleep 0.05; done
MIRROR="http://127.0.0.1:$(cat "$T/mport")"
api -H "Authorization: Bearer $S" "$URL/api/v1/rollup?unit=$MK" > /dev/null; FRESH=$(jq_ "d['fresh_24h']")
K agent run --server "$URL" --state "$T/a2" --db "$T/agentdb" --mirror "$MIRROR" --trust-dir "$T/trust" --once > "$T/out" 2>&1
expect_status "agent round with a signature update" 0 $?
check "signatures installed from the mirror" has "$T/out" "signatures updated to version 7"
api -H "Authorization: Bearer $S" "$URL/api/v1/rollup?unit=$MK" > /dev/null
check "the console sees fresh signatures" test "$(jq_ "d['fresh_24h']")" = $((FRESH + 1))
K agent run --server "$URL" --state "$T/a2" --db "$T/agentdb" --mirror "$MIRROR" --trust-dir "$T/trust" --once > "$T/out" 2>&1
check "next round: up to date, nothing installed" hasnt "$T/out" "signatures updated"
K agent run --server "$URL" --state "$T/a2" --db "$T/agentdb2" --mirror "$MIRROR" --trust-dir "$T/keys/nowhere" --once > "$T/out" 2>&1
check "a package no trusted key signed is not installed" has "$T/out" "signature update failed"
kill "$MPID"; MPID=""

# --- commands to an agent; the quarantine action; real-time protection ---
EP2=$(sed -n 's/^endpoint=//p' "$T/a2/identity")
mkdir -p "$T/cmdscan" "$T/rt"; eicar "$T/cmdscan/tải về.com"
api -X POST -H "Authorization: Bearer $S" -d "{\"action\":\"quarantine\",\"realtime\":true,\"realtime_paths\":[\"$T/rt\"]}" "$URL/api/v1/policy?unit=$MK" > "$T/code"
check "policy: quarantine, real-time on" test "$(cat "$T/code")" = 200
api -X POST -H "Authorization: Bearer $S" -d "{\"kind\":\"scan\",\"args\":{\"paths\":[\"$T/cmdscan\"]}}" "$URL/api/v1/endpoints/$EP2/commands" > "$T/code"
check "scan-now command accepted" test "$(cat "$T/code")" = 200
CSCAN=$(jq_ "d['command']")
api -X POST -H "Authorization: Bearer $S2" -d '{"kind":"update"}' "$URL/api/v1/endpoints/$EP2/commands" > "$T/code"
check "unit user cannot send commands" test "$(cat "$T/code")" = 403
api -X POST -H "Authorization: Bearer $S" -d '{"kind":"format_disk"}' "$URL/api/v1/endpoints/$EP2/commands" > "$T/code"
check "unknown command kind is 400" test "$(cat "$T/code")" = 400
check "... and says which" has "$T/body" "unknown command kind 'format_disk'"
api -X POST -H "Authorization: Bearer $S" -d '{"kind":"update"}' "$URL/api/v1/endpoints/987654/commands" > "$T/code"
check "command for an unknown endpoint is 404" test "$(cat "$T/code")" = 404
api -H "Authorization: Bearer $S" "$URL/api/v1/endpoints/$EP2/commands" > /dev/null
check "command pending until the agent's heartbeat" test "$(jq_ "d['commands'][0]['state']")" = pending
K agent run --server "$URL" --state "$T/a2" --db "$SRC/data/db" --once > "$T/out" 2>&1; expect_status "agent round with a command" 0 $?
check "the agent ran the scan command" has "$T/out" "command $CSCAN (scan): scanned 1 file(s)"
check "the detected file was quarantined" test ! -e "$T/cmdscan/tải về.com"
api -H "Authorization: Bearer $S" "$URL/api/v1/endpoints/$EP2/commands" > /dev/null
check "command reported done, with the agent's words" test "$(jq_ "(d['commands'][0]['state'], d['commands'][0]['detail'])")" = "('ok', 'scanned 1 file(s), 68 byte(s): 1 detection(s)')"
check "command delivered then" test "$(jq_ "d['commands'][0]['delivered'] > 0 and d['commands'][0]['done'] >= d['commands'][0]['delivered']")" = True
check "command results delivered" test ! -e "$T/a2/commands.json"
api -H "Authorization: Bearer $S" "$URL/api/v1/endpoints/$EP2/events" > /dev/null
check "event says quarantined, with the entry" test "$(jq_ "(d['events'][0]['action'], d['events'][0]['path'].endswith('tải về.com'), len(d['events'][0]['quarantine_id']))")" = "('quarantined', True, 32)"
QID=$(jq_ "d['events'][0]['quarantine_id']")
api -H "Authorization: Bearer $S2" "$URL/api/v1/endpoints/$EP2/events" > "$T/code"
check "a unit user cannot see another unit's endpoint" test "$(cat "$T/code")" = 404
api -X POST -H "Authorization: Bearer $S" -d "{\"kind\":\"quarantine_restore\",\"args\":{\"id\":\"$QID\"}}" "$URL/api/v1/endpoints/$EP2/commands" > /dev/null
CREST=$(jq_ "d['command']")
api -X POST -H "Authorization: Bearer $S" -d '{"kind":"quarantine_delete","args":{"id":"abcdef"}}' "$URL/api/v1/endpoints/$EP2/commands" > /dev/null
CDEL=$(jq_ "d['command']")
api -X POST -H "Authorization: Bearer $S" -d '{"kind":"update"}' "$URL/api/v1/endpoints/$EP2/commands" > /dev/null
K agent run --server "$URL" --state "$T/a2" --db "$SRC/data/db" --once > "$T/out" 2>&1; expect_status "agent round with three commands" 0 $?
check "restored to where it was" test -f "$T/cmdscan/tải về.com"
check "a missing entry: not deleted, said so" has "$T/out" "command $CDEL (quarantine_delete): not deleted"
check "update without a mirror: said so" has "$T/out" "no mirror configured"
api -H "Authorization: Bearer $S" "$URL/api/v1/endpoints/$EP2/commands" > /dev/null
check "states: failed, failed, ok, ok" test "$(jq_ "[c['state'] for c in d['commands']]")" = "['failed', 'failed', 'ok', 'ok']"
check "the restore's id" test "$(jq_ "[c['id'] for c in d['commands'] if c['kind'] == 'quarantine_restore'][0]")" = "$CREST"
K agent run --server "$URL" --state "$T/a2" --db "$SRC/data/db" --once > "$T/out" 2>&1
check "commands done are not run again" hasnt "$T/out" "command "
K agent post --server "$URL" --state "$T/a2" /api/v1/commands "{\"results\":[{\"id\":$CSCAN,\"ok\":false}]}" > "$T/out" 2>&1
check "a resent result is a duplicate, the first one stays" has "$T/out" '"duplicates":1'
K agent post --server "$URL" --state "$T/stc1" /api/v1/commands "{\"results\":[{\"id\":$CSCAN,\"ok\":true}]}" > "$T/out" 2>&1
check "another endpoint cannot report this endpoint's command" has "$T/out" "404"
# real-time: the agent as a daemon, a file written into a directory made after it started
K agent run --server "$URL" --state "$T/a2" --db "$SRC/data/db" --interval 1 > "$T/rt.log" 2>&1 & APID=$!
for _ in $(seq 100); do grep -q "real-time protection on" "$T/rt.log" && break; sleep 0.1; done
check "real-time protection started" has "$T/rt.log" "real-time protection on"
mkdir -p "$T/rt/Tài liệu mới"; eicar "$T/rt/Tài liệu mới/hóa đơn.exe"
for _ in $(seq 100); do
    api -H "Authorization: Bearer $S" "$URL/api/v1/endpoints/$EP2/events" > /dev/null
    [ "$(jq_ "d['events'][0]['path'].endswith('hóa đơn.exe')")" = True ] && break; sleep 0.2
done
check "real-time detection reached the console" test "$(jq_ "(d['events'][0]['path'] == '$T/rt/Tài liệu mới/hóa đơn.exe', d['events'][0]['action'])")" = "(True, 'quarantined')"
check "... and the file is in the quarantine" test ! -e "$T/rt/Tài liệu mới/hóa đơn.exe"
kill "$APID"; wait "$APID" 2>/dev/null
api -H "Authorization: Bearer $S" "$URL/api/v1/endpoints?unit=$MK" > /dev/null
check "inventory: the commune's two endpoints" test "$(jq_ "[e['id'] for e in d['endpoints']] == sorted(e['id'] for e in d['endpoints']) and len(d['endpoints'])")" = 2
check "inventory: real-time on, reporting, hostname intact" test "$(jq_ "[(e['realtime'], e['status'], e['hostname']) for e in d['endpoints'] if e['id'] == $EP2][0][:2]")" = "(True, 'reporting')"
check "inventory: the hostname the agent reports" test "$(jq_ "[e['hostname'] for e in d['endpoints'] if e['id'] == $EP2][0]")" = "$(hostname)"
api -H "Authorization: Bearer $S2" "$URL/api/v1/endpoints?unit=$MK" > "$T/code"
check "inventory of another unit refused" test "$(cat "$T/code")" = 403
# a bounded queue while the console is away: the oldest is dropped, counted, and reported
mkdir -p "$T/two"; eicar "$T/two/a.com"; eicar "$T/two/b.com"
stop_server
K agent run --server "$URL" --state "$T/a2" --db "$SRC/data/db" --scan "$T/two" --queue-max 1 --once > "$T/out" 2>&1
check "console away: one event kept of two" has "$T/out" "1 event(s) kept"
start_server "$PORT"
K agent run --server "$URL" --state "$T/a2" --queue-max 1 --once > /dev/null 2>&1; expect_status "queue delivered" 0 $?
S=$(curl -s -X POST -d '{"user":"admin","password":"mật khẩu của tỉnh"}' "$URL/api/v1/login" | python3 -c "import json,sys; print(json.load(sys.stdin)['session'])")
api -H "Authorization: Bearer $S" "$URL/api/v1/endpoints?unit=$MK" > /dev/null
check "the drop reported to the console" test "$(jq_ "[e['queue_dropped'] for e in d['endpoints'] if e['id'] == $EP2][0]")" = 1
K agent run --server "$URL" --state "$T/a2" --bogus > "$T/out" 2>&1; expect_status "unknown agent option refused" 2 $?
check "... by name" has "$T/out" "unknown option or argument '--bogus'"

# --- revocation ---
api -X POST -H "Authorization: Bearer $S" "$URL/api/v1/endpoints/1/revoke" > "$T/code"; check "revoke" test "$(cat "$T/code")" = 200
K agent run --server "$URL" --state "$T/a1" --once > "$T/out" 2>&1; expect_status "revoked agent stops" 3 $?
check "revoked agent told why" has "$T/out" "revoked"
finish
