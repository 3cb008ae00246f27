#!/usr/bin/env bash
# test_update.sh - signed updates end to end: packages and deltas made by the publisher's
# commands, served by khien server and by another web server on loopback, installed by
# khien update; every refusal case; kill -9 at random points of an install; a mirror that
# dies mid-download; offline media; mirror sync; reload notification.
# Usage: test_update.sh KHIEN SRC
KHIEN=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
K() { "$KHIEN" "$@"; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

mkdir -p "$T/keys" "$T/trust" "$T/other" "$T/s1" "$T/s2" "$T/s3"
K db keygen khien-test -o "$T/keys" > /dev/null && cp "$T/keys/khien-test.pub" "$T/trust/"
K db keygen other -o "$T/other" > /dev/null
check "keygen refuses to overwrite" bash -c "! '$KHIEN' db keygen khien-test -o '$T/keys' 2>/dev/null"
check "secret key is private" test "$(stat -c %a "$T/keys/khien-test.key")" = 600
echo 'V1.Body:0:*:4556494c2d4f4e45' > "$T/s1/main.ndb"
python3 -c "
import random; r=random.Random(1)
print('\n'.join('%032x:%d:Rand.%d' % (r.getrandbits(128), r.randint(100,10**6), i) for i in range(20000)))" > "$T/s1/main.hdb"
cp "$T/s1/"* "$T/s2/"; echo 'V2.Body:0:*:4556494c2d54574f' >> "$T/s2/main.ndb"
cp "$T/s2/"* "$T/s3/"; echo 'V3.Body:0:*:4556494c2d5448524545' > "$T/s3/extra.ndb"
sed -i '5d' "$T/s3/main.hdb"
for v in 1 2 3; do K db pack "$T/s$v" --version $v --key "$T/keys/khien-test.key" -o "$T/v$v.kpkg" > /dev/null; done
K db diff "$T/v1.kpkg" "$T/v2.kpkg" --key "$T/keys/khien-test.key" -o "$T/d12.kdelta" > /dev/null
K db diff "$T/v2.kpkg" "$T/v3.kpkg" --key "$T/keys/khien-test.key" -o "$T/d23.kdelta" > /dev/null
check "delta is much smaller than the package" test "$(stat -c %s "$T/d12.kdelta")" -lt "$(( $(stat -c %s "$T/v2.kpkg") / 10 ))"
K db verify --trust-dir "$T/trust" "$T/v1.kpkg" "$T/d12.kdelta" "$T/d23.kdelta" > "$T/out" 2>&1
expect_status "verify good files" 0 $?
check "verify names the signer" has "$T/out" "signed by khien-test"

printf 'xxEVIL-THREExx' > "$T/sample3"; printf 'xxEVIL-TWOxx' > "$T/sample2"

# --- offline media ---
K update --db-dir "$T/db1" --trust-dir "$T/trust" --from "$T/v1.kpkg" > "$T/out" 2>&1; expect_status "offline full install" 0 $?
check "offline message" has "$T/out" "updated from version 0 to 1 (full package)"
K update --db-dir "$T/db1" --trust-dir "$T/trust" --from "$T/d12.kdelta" > "$T/out" 2>&1; expect_status "offline delta" 0 $?
check "delta message" has "$T/out" "updated from version 1 to 2 (delta)"
cmp -s "$T/db1/current/main.ndb" "$T/s2/main.ndb"; check "delta result identical to version 2" test $? -eq 0
cmp -s "$T/db1/current/main.hdb" "$T/s2/main.hdb"; check "unchanged file kept identical" test $? -eq 0
K scan --no-summary -d "$T/db1" "$T/sample2" > "$T/out" 2>&1; expect_status "scanner reads DIR/current" 1 $?
K db status --db-dir "$T/db1" > "$T/out"; check "status shows rollback version" has "$T/out" "version 2 installed"
check "status shows kept version" has "$T/out" "version 1 kept for rollback"

# --- refusals ---
refuse() { # name file expected-text
    K update --db-dir "$T/db1" --trust-dir "$T/trust" --from "$2" > "$T/out" 2>&1; local st=$?
    if [ $st -eq 1 ] && has "$T/out" "$3" && [ "$(readlink "$T/db1/current")" = versions/2 ]; then ok "refused: $1"
    else bad "refused: $1" "status $st, version $(readlink "$T/db1/current")" "$(cat "$T/out")"; fi
}
refuse "older version (rollback)" "$T/v1.kpkg" "not newer than the installed 2"
refuse "same version" "$T/v2.kpkg" "not newer than the installed 2"
K db pack "$T/s3" --version 3 --key "$T/other/other.key" -o "$T/foreign.kpkg" > /dev/null
refuse "unknown key" "$T/foreign.kpkg" "not in the trust directory"
python3 - "$T/v3.kpkg" "$T" <<'PY'
import io, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
def rebuild(name, change):
    members = []
    with tarfile.open(src) as t:
        for m in t.getmembers():
            members.append((m, t.extractfile(m).read()))
    members = change(members)
    with tarfile.open(f"{out}/{name}", "w:gz", format=tarfile.PAX_FORMAT) as t:
        for m, d in members:
            m.size = len(d); t.addfile(m, io.BytesIO(d))
def manifest(ms):
    return [(m, d.replace(b'"version": 3', b'"version": 4') if m.name == "manifest.json" else d) for m, d in ms]
def member(ms):
    return [(m, d.replace(b"V3.Body", b"V3.Bodz") if m.name == "extra.ndb" else d) for m, d in ms]
def extra(ms):
    m = tarfile.TarInfo("evil.ndb"); return ms + [(m, b"Evil:0:*:41424344\n")]
def missing(ms):
    return [(m, d) for m, d in ms if m.name != "extra.ndb"]
rebuild("t-manifest.kpkg", manifest); rebuild("t-member.kpkg", member)
rebuild("t-extra.kpkg", extra); rebuild("t-missing.kpkg", missing)
PY
refuse "altered manifest" "$T/t-manifest.kpkg" "signature does not verify"
refuse "altered member" "$T/t-member.kpkg" "does not match its manifest entry"
refuse "member not in the manifest" "$T/t-extra.kpkg" "not in the manifest"
refuse "member missing" "$T/t-missing.kpkg" "truncated: extra.ndb missing"
head -c 3000 "$T/v3.kpkg" > "$T/trunc.kpkg"
refuse "truncated file" "$T/trunc.kpkg" "truncated"
head -c 2000000 /dev/urandom > "$T/junk.kpkg"
refuse "not a package" "$T/junk.kpkg" "not a package"
K update --db-dir "$T/db0" --trust-dir "$T/trust" --from "$T/v1.kpkg" > /dev/null
K update --db-dir "$T/db0" --trust-dir "$T/trust" --from "$T/d23.kdelta" > "$T/out" 2>&1; expect_status "delta for another base refused" 1 $?
check "delta base named" has "$T/out" "delta applies to version 2, installed is 1"
K update --db-dir "$T/db1" --rollback > "$T/out" 2>&1; expect_status "rollback" 0 $?
check "rollback message" has "$T/out" "rolled back from version 2 to 1"
K update --db-dir "$T/db1" --trust-dir "$T/trust" --from "$T/d12.kdelta" > /dev/null 2>&1; expect_status "forward again after rollback" 0 $?

# --- a mirror served by khien server ---
mkdir -p "$T/mirror"
K mirror add --trust-dir "$T/trust" "$T/mirror" "$T/v1.kpkg" "$T/v3.kpkg" "$T/d12.kdelta" "$T/d23.kdelta" > /dev/null
check "mirror index written" python3 -c "import json; i=json.load(open('$T/mirror/latest.json')); assert i['version']==3 and len(i['deltas'])==2, i"
K mirror add --trust-dir "$T/trust" "$T/mirror" "$T/foreign.kpkg" > "$T/out" 2>&1; expect_status "mirror refuses a foreign package" 1 $?
"$KHIEN" server --mirror "$T/mirror" --listen 127.0.0.1:0 --port-file "$T/port" > "$T/srv.log" 2>&1 & PIDS+=($!)
wait_port "$T/port"; PORT=$(cat "$T/port"); M="http://127.0.0.1:$PORT"
K update --db-dir "$T/db2" --trust-dir "$T/trust" --mirror "$M" > "$T/out" 2>&1; expect_status "first update from a mirror" 0 $?
check "first install is the full package" has "$T/out" "updated from version 0 to 3 (full package"
K scan --no-summary -d "$T/db2" "$T/sample3" > /dev/null 2>&1; expect_status "new version scans" 1 $?
K update --db-dir "$T/db2" --trust-dir "$T/trust" --mirror "$M" > "$T/out" 2>&1; expect_status "up to date" 0 $?
check "up to date message" has "$T/out" "up to date at version 3"
K update --db-dir "$T/db3" --trust-dir "$T/trust" --from "$T/v1.kpkg" > /dev/null
K update --db-dir "$T/db3" --trust-dir "$T/trust" --mirror "$M" > "$T/out" 2>&1; expect_status "chain of deltas" 0 $?
check "two deltas applied" has "$T/out" "updated from version 1 to 3 (2 deltas)"
cmp -s "$T/db3/current/main.hdb" "$T/s3/main.hdb"; check "chained result identical" test $? -eq 0
curl -s -o /dev/null -w '%{http_code}' "$M/../etc/passwd" > "$T/code"; check "server refuses paths outside" test "$(cat "$T/code")" = 404
curl -s -r 10- -o "$T/range" "$M/latest.json"; check "server honours ranges" test "$(stat -c %s "$T/range")" -eq "$(( $(stat -c %s "$T/mirror/latest.json") - 10 ))"

# --- a chain with a gap falls back to the full package ---
mkdir -p "$T/gap"; K mirror add --trust-dir "$T/trust" "$T/gap" "$T/v3.kpkg" "$T/d23.kdelta" > /dev/null
python3 -m http.server --bind 127.0.0.1 0 --directory "$T/gap" > "$T/py.log" 2>&1 & PIDS+=($!)
for _ in $(seq 100); do PY=$(grep -o 'port [0-9]*' "$T/py.log" | awk '{print $2}'); [ -n "$PY" ] && break; sleep 0.05; done
K update --db-dir "$T/db4" --trust-dir "$T/trust" --from "$T/v1.kpkg" > /dev/null
K update --db-dir "$T/db4" --trust-dir "$T/trust" --mirror "http://127.0.0.1:$PY" > "$T/out" 2>&1; expect_status "plain web server as mirror" 0 $?
check "gap in the chain: full package" has "$T/out" "full package, no usable delta"

# --- mirrors that fail: one down, one cut off mid-download; the next one completes ---
mkdir -p "$T/flaky"; cp "$T/mirror/"* "$T/flaky/"
python3 "$SRC/tests/cli/flaky_server.py" "$T/flaky" "$T/fport" & PIDS+=($!)
wait_port "$T/fport"; FP=$(cat "$T/fport")
K update --db-dir "$T/db5" --trust-dir "$T/trust" --mirror http://127.0.0.1:1 --mirror "http://127.0.0.1:$FP" > "$T/out" 2>&1
expect_status "all mirrors failing" 1 $?
check "failure names the mirrors" has "$T/out" "127.0.0.1:1"
check "partial download kept for resume" bash -c "ls '$T/db5/downloads/'*.part > /dev/null 2>&1"
K db status --db-dir "$T/db5" > /dev/null; expect_status "nothing half-installed" 1 $?
K update --db-dir "$T/db5" --trust-dir "$T/trust" --mirror "http://127.0.0.1:$FP" --mirror "$M" > "$T/out" 2>&1
expect_status "next mirror completes the download" 0 $?
check "installed from the good mirror" has "$T/out" "from $M"
check "no partial file left" bash -c "! ls '$T/db5/downloads/'*.part > /dev/null 2>&1"

# --- mirror sync: a district mirrors the province ---
K mirror sync --trust-dir "$T/trust" "$M" "$T/district" > "$T/out" 2>&1; expect_status "mirror sync" 0 $?
check "synced files" test -f "$T/district/khien-db-3.kpkg" -a -f "$T/district/khien-db-2-3.kdelta"
K mirror sync --trust-dir "$T/other" "$M" "$T/district2" > "$T/out" 2>&1; expect_status "sync refuses untrusted" 1 $?
K update --db-dir "$T/db6" --trust-dir "$T/trust" --mirror "file://$T/district" > "$T/out" 2>&1; expect_status "file:// mirror (USB media)" 0 $?

# --- reload notification ---
bash -c "trap 'echo reloaded > \"$T/hup\"; exit 0' HUP; while :; do sleep 0.05; done" & HP=$!; PIDS+=($HP)
echo $HP > "$T/agent.pid"; sleep 0.2
K update --db-dir "$T/db7" --trust-dir "$T/trust" --from "$T/v1.kpkg" --notify-pid "$T/agent.pid" > /dev/null 2>&1
for _ in $(seq 50); do [ -f "$T/hup" ] && break; sleep 0.05; done
check "running process told to reload" test -f "$T/hup"

# --- kill -9 at random points of an install: the database always loads ---
K update --db-dir "$T/dbk" --trust-dir "$T/trust" --from "$T/v1.kpkg" > /dev/null
good=0; states=""
for i in $(seq 25); do
    "$KHIEN" update --db-dir "$T/dbk" --trust-dir "$T/trust" --from "$T/v3.kpkg" > /dev/null 2>&1 & up=$!
    sleep "0.0$((RANDOM % 10))"; kill -9 $up 2>/dev/null; wait $up 2>/dev/null
    v=$(readlink "$T/dbk/current")
    "$KHIEN" scan --no-cache --no-summary -d "$T/dbk" "$T/sample2" > /dev/null 2>&1; st=$?
    if [ $st -le 1 ] && { [ "$v" = versions/1 ] || [ "$v" = versions/3 ]; }; then good=$((good + 1)); fi
    states="$states ${v#versions/}"
    [ "$v" = versions/3 ] && "$KHIEN" update --db-dir "$T/dbk" --rollback > /dev/null 2>&1
done
echo "versions seen after kill -9:$states"
check "kill -9 during install never breaks the database (25/25)" test $good -eq 25
K update --db-dir "$T/dbk" --trust-dir "$T/trust" --from "$T/v3.kpkg" > /dev/null 2>&1
K db status --db-dir "$T/dbk" > "$T/out" 2>&1
check "after the kills a clean install works" has "$T/out" "version 3 installed"
check "no staging left behind" bash -c "! ls -d '$T/dbk/versions/'.new-* > /dev/null 2>&1"
finish
