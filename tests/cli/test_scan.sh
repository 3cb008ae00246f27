#!/usr/bin/env bash
# test_scan.sh - khien scan end to end: exit codes, output forms, walking, limits, archives made
# by real tools, quarantine round trip. Usage: test_scan.sh KHIEN SRC
KHIEN=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
DB="$SRC/data/db"
K() { "$KHIEN" "$@"; }

# --- the program ---
K --help > "$T/out" 2>&1; expect_status "help exits 0" 0 $?
check "help lists scan" has "$T/out" "scan"
K frobnicate > "$T/out" 2>&1; expect_status "unknown command exits 2" 2 $?
check "unknown command is named" has "$T/out" "'frobnicate' is not a command"
K scan -d "$DB" > "$T/out" 2>&1; expect_status "scan without paths exits 2" 2 $?
K scan -j 0 -d "$DB" /etc/hostname > "$T/out" 2>&1; expect_status "bad -j exits 2" 2 $?
check "bad -j explained" has "$T/out" "-j takes a number"
KHIEN_DB= K scan --no-cache /etc/hostname > "$T/out" 2>&1; st=$?
if [ -d /var/lib/khien/db ] || [ -d /usr/local/share/khien/db ]; then ok "no database (skipped: one is installed)"; else
  expect_status "no database exits 2" 2 $st; check "no database explained" has "$T/out" "no signature database"; fi

# --- a small tree ---
mkdir -p "$T/tree/sub" "$T/tree/tài liệu"
eicar "$T/tree/sub/eicar.com"
eicar "$T/tree/tài liệu/bảng lương.com"
echo "hello" > "$T/tree/clean.txt"
: > "$T/tree/empty"
K scan -d "$DB" "$T/tree" > "$T/out" 2>"$T/err"; expect_status "infected tree exits 1" 1 $?
check "detection line like clamscan" has "$T/out" "$T/tree/sub/eicar.com: Eicar-Test-Signature FOUND"
check "Vietnamese path survives" has "$T/out" "$T/tree/tài liệu/bảng lương.com: Eicar-Test-Signature FOUND"
check "clean file OK" has "$T/out" "$T/tree/clean.txt: OK"
check "empty file OK" has "$T/out" "$T/tree/empty: OK"
check "summary counts files" has "$T/out" "Scanned files: 4"
check "summary counts infected" has "$T/out" "Infected files: 2"
check "no progress line when piped" hasnt "$T/err" "MB/s"
K scan -i -d "$DB" "$T/tree" > "$T/out" 2>&1
check "-i hides clean files" hasnt "$T/out" ": OK"
K scan --no-summary -d "$DB" "$T/tree/clean.txt" > "$T/out" 2>&1; expect_status "clean file exits 0" 0 $?
check "--no-summary" hasnt "$T/out" "SCAN SUMMARY"
check "compiled cache written" bash -c "ls '$T/cache'/hs-*.db >/dev/null 2>&1"

# --- exit codes with errors ---
K scan -d "$DB" "$T/tree/clean.txt" "$T/nonexistent" > "$T/out" 2>&1; expect_status "error only exits 2" 2 $?
check "missing file reported" has "$T/out" "$T/nonexistent: No such file or directory ERROR"
K scan -d "$DB" "$T/tree/sub/eicar.com" "$T/nonexistent" > "$T/out" 2>&1; expect_status "found beats error (1)" 1 $?
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
  mkdir -p "$T/perm"; echo secret > "$T/perm/locked"; chmod 600 "$T/perm/locked"; echo fine > "$T/perm/open"; chmod 644 "$T/perm/open"
  chmod 755 "$T/perm"; chmod 755 "$DB" 2>/dev/null
  runuser -u nobody -- "$KHIEN" scan --no-cache -d "$DB" "$T/perm" > "$T/out" 2>&1; st=$?
  expect_status "permission denied exits 2" 2 $st
  check "permission denied reported, scan goes on" has "$T/out" "$T/perm/locked: cannot open: Permission denied ERROR"
  check "other file still scanned" has "$T/out" "$T/perm/open: OK"
else
  ok "permission test (skipped: not root)"
fi

# --- JSON ---
K scan --json -d "$DB" "$T/tree" > "$T/out" 2>&1
check "every JSON line parses" python3 -c "
import json,sys
lines=open('$T/out',encoding='utf-8').read().splitlines()
objs=[json.loads(l) for l in lines]
assert 'summary' in objs[-1] and objs[-1]['summary']['infected']==2, objs[-1]
files={o['file']:o for o in objs[:-1]}
e=files['$T/tree/tài liệu/bảng lương.com']
assert e['status']=='infected' and e['detections'][0]['signature']=='Eicar-Test-Signature', e
assert files['$T/tree/clean.txt']['status']=='clean'
assert len(objs)==5
"

# --- threads agree ---
K scan -j 1 -i --no-summary -d "$DB" "$T/tree" | sort > "$T/j1"
K scan -j 2 -i --no-summary -d "$DB" "$T/tree" | sort > "$T/j2"
check "-j 1 and -j 2 find the same" cmp -s "$T/j1" "$T/j2"

# --- exclusions, symlinks, special files ---
K scan --exclude '*.com' -d "$DB" "$T/tree" > "$T/out" 2>&1; expect_status "--exclude basename glob" 0 $?
K scan --exclude "$T/tree/sub" -d "$DB" "$T/tree" > "$T/out" 2>&1
check "--exclude a directory by path" hasnt "$T/out" "sub/eicar.com"
mkdir -p "$T/links" "$T/outside"; eicar "$T/outside/target.com"; ln -s "$T/outside/target.com" "$T/links/link.com"
ln -s "$T/outside" "$T/links/dirlink"; mkfifo "$T/links/fifo"
timeout 20 "$KHIEN" scan -d "$DB" "$T/links" > "$T/out" 2>&1; expect_status "symlinks not followed, fifo skipped" 0 $?
timeout 20 "$KHIEN" scan --follow-symlinks -d "$DB" "$T/links" > "$T/out" 2>&1; expect_status "--follow-symlinks" 1 $?
check "followed link reported" has "$T/out" "link.com: Eicar-Test-Signature FOUND"

# --- a list of paths ---
printf '%s\n\n%s\n' "$T/tree/clean.txt" "$T/tree/sub/eicar.com" > "$T/list.txt"
K scan -f "$T/list.txt" -d "$DB" > "$T/out" 2>&1; expect_status "--file-list" 1 $?
check "--file-list scans each listed path" has "$T/out" "Scanned files: 2"

# --- standard input ---
eicar "$T/stdin.bin"
K scan -d "$DB" - < "$T/stdin.bin" > "$T/out" 2>&1; expect_status "stdin" 1 $?
check "stdin named" has "$T/out" "stdin: Eicar-Test-Signature FOUND"

# --- archives made by real tools, nested ---
mkdir -p "$T/arc"; eicar "$T/arc/eicar.com"
( cd "$T/arc" && zip -q inner.zip eicar.com && tar czf mid.tar.gz inner.zip && bsdtar -c --format 7zip -f outer.7z mid.tar.gz && rm -f eicar.com inner.zip mid.tar.gz )
K scan -d "$DB" "$T/arc/outer.7z" > "$T/out" 2>&1; expect_status "nested archive found" 1 $?
check "layered path named" has "$T/out" "outer.7z//mid.tar.gz//inner.zip//eicar.com: Eicar-Test-Signature FOUND"
K scan --max-depth 2 -d "$DB" "$T/arc/outer.7z" > "$T/out" 2>&1; expect_status "depth limit stops before the payload" 0 $?
check "depth limit reported" has "$T/out" "Heuristics.Limits.Exceeded.MaxRecursion WARNING"
K scan --max-depth 2 --alert-exceeds-max -d "$DB" "$T/arc/outer.7z" > "$T/out" 2>&1; expect_status "--alert-exceeds-max makes it a detection" 1 $?
K scan --no-archive -d "$DB" "$T/arc/outer.7z" > "$T/out" 2>&1; expect_status "--no-archive" 0 $?
if [ -f /usr/share/clamav-testfiles/clam_cache_emax.tgz ]; then
  K scan -d "$DB" /usr/share/clamav-testfiles/clam_cache_emax.tgz > "$T/out" 2>&1; expect_status "10 levels of tgz" 1 $?
  check "deepest member named" has "$T/out" "clam08.tgz//clam.exe: ClamAV-Test-File FOUND"
fi

# --- deterministic ar archives (ar rcD) store members without file type bits ---
# regression 2026-11-25 (issue 2): such members were skipped, hiding everything in .a files
mkdir -p "$T/ar"; eicar "$T/ar/e.com"; ( cd "$T/ar" && gzip e.com && ar rcD d.a e.com.gz 2>/dev/null && rm e.com.gz )
K scan -d "$DB" "$T/ar/d.a" > "$T/out" 2>&1; expect_status "member of an ar rcD archive" 1 $?
check "ar member named" has "$T/out" "d.a//e.com.gz//e.com: Eicar-Test-Signature FOUND"

# --- encrypted zip ---
mkdir -p "$T/enc"; eicar "$T/enc/eicar.com"; ( cd "$T/enc" && zip -q -P secret enc.zip eicar.com && rm eicar.com )
K scan -d "$DB" "$T/enc/enc.zip" > "$T/out" 2>&1; expect_status "encrypted member is a warning" 0 $?
check "encrypted member reported" has "$T/out" "enc.zip//eicar.com: Heuristics.Encrypted.Zip WARNING"
K scan --alert-encrypted -d "$DB" "$T/enc/enc.zip" > "$T/out" 2>&1; expect_status "--alert-encrypted" 1 $?

# --- a decompression bomb: 256 MiB of zeros in a gzip of ~250 KiB ---
head -c 268435456 /dev/zero | gzip -9 > "$T/bomb.gz"
/usr/bin/time -f '%M' -o "$T/rss" "$KHIEN" scan -d "$DB" "$T/bomb.gz" > "$T/out" 2>&1; expect_status "bomb is a warning" 0 $?
check "bomb reported as MaxRatio" has "$T/out" "bomb.gz//bomb: Heuristics.Limits.Exceeded.MaxRatio WARNING"
check "bomb does not exhaust memory (<200 MB)" test "$(cat "$T/rss")" -lt 204800
# a large stored member spills to disk and is still scanned
mkdir -p "$T/big"; eicar "$T/big/big.bin"; head -c 40000000 /dev/urandom >> "$T/big/big.bin"
( cd "$T/big" && tar cf big.tar big.bin && gzip -1 big.tar && rm big.bin )
K scan --max-ratio 0 -d "$DB" "$T/big/big.tar.gz" > "$T/out" 2>&1
check "member past the in-memory size is scanned" has "$T/out" "big.tar.gz//big.bin: Eicar-Test-Signature FOUND"
K scan --max-filesize 1M -d "$DB" "$T/big/big.tar.gz" > "$T/out" 2>&1
check "member over --max-filesize reported" has "$T/out" "Heuristics.Limits.Exceeded.MaxFileSize WARNING"
# time per file: reading the 40 MB file takes far longer than 1 ms (it runs out on the file
# itself or on its member, depending on the machine)
K scan --max-ratio 0 --max-scantime 1 -d "$DB" "$T/big/big.tar.gz" > "$T/out" 2>&1; expect_status "--max-scantime: warning only" 0 $?
check "time limit reported" has "$T/out" "Heuristics.Limits.Exceeded.MaxScanTime WARNING"
check "nothing scanned after the time is up" hasnt "$T/out" "Eicar-Test-Signature"
K scan --max-ratio 0 --max-scantime 1 --alert-exceeds-max -d "$DB" "$T/big/big.tar.gz" > "$T/out" 2>&1; expect_status "--max-scantime with --alert-exceeds-max" 1 $?
check "time limit as a detection" has "$T/out" "Heuristics.Limits.Exceeded.MaxScanTime FOUND"
K scan --max-scantime 1x -d "$DB" "$T/big/big.tar.gz" > "$T/out" 2>&1; expect_status "--max-scantime 1x refused" 2 $?

# --- quarantine round trip ---
mkdir -p "$T/q"; eicar "$T/q/evil.com"; chmod 640 "$T/q/evil.com"; sum=$(sha256sum < "$T/q/evil.com")
K scan --quarantine "$T/qdir" -d "$DB" "$T/q" > "$T/out" 2>&1; expect_status "quarantine scan exits 1" 1 $?
check "quarantined file is gone" test ! -e "$T/q/evil.com"
check "quarantine reported" has "$T/out" "evil.com: moved to quarantine"
K quarantine --dir "$T/qdir" list > "$T/list" 2>&1
check "list shows the entry" has "$T/list" "$T/q/evil.com"
id=$(awk '{print $1}' "$T/list" | head -1)
K quarantine --dir "$T/qdir" list --json > "$T/listj" 2>&1
check "list --json has sha256" python3 -c "import json; e=json.loads(open('$T/listj').readline()); assert e['sha256']=='${sum%% *}', e"
K quarantine --dir "$T/qdir" restore "$id" > "$T/out" 2>&1; expect_status "restore exits 0" 0 $?
check "restored content identical" test "$(sha256sum < "$T/q/evil.com")" = "$sum"
check "restored mode kept" test "$(stat -c %a "$T/q/evil.com")" = 640
K quarantine --dir "$T/qdir" restore "$id" > "$T/out" 2>&1; expect_status "restoring twice fails" 2 $?
K scan --quarantine "$T/qdir" -d "$DB" "$T/q" > /dev/null 2>&1
id=$(K quarantine --dir "$T/qdir" list | awk '{print $1}' | head -1)
echo "new file" > "$T/q/evil.com"
K quarantine --dir "$T/qdir" restore "$id" > "$T/out" 2>&1; expect_status "restore never overwrites" 2 $?
check "overwrite refusal explained" has "$T/out" "already exists"
K quarantine --dir "$T/qdir" restore "$id" --to "$T/q/evil.restored" > "$T/out" 2>&1; expect_status "restore --to" 0 $?
check "restored elsewhere" cmp -s "$T/q/evil.restored" "$T/stdin.bin"
K quarantine --dir "$T/qdir" delete 0123456789abcdef0123456789abcdef > "$T/out" 2>&1; expect_status "delete unknown id fails" 2 $?
# a name that is not UTF-8 (Windows-1258 "hóa đơn" from an older system): nothing lost
mkdir -p "$T/cp"; NAME=$(printf 'h\xf3a \xf0\xf5n.com'); eicar "$T/cp/$NAME"
K scan --json --quarantine "$T/qcp" -d "$DB" "$T/cp" > "$T/out.json" 2>&1; expect_status "scan a non-UTF-8 name" 1 $?
check "JSON keeps the name, odd bytes as \\xNN" python3 -c "import json; o=json.loads(open('$T/out.json').readline()); assert o['file'].endswith('/h\\\\xf3a \\\\xf0\\\\xf5n.com'), o"
check "quarantined" test ! -e "$T/cp/$NAME"
id=$(K quarantine --dir "$T/qcp" list | awk '{print $1}' | head -1)
K quarantine --dir "$T/qcp" list --json > "$T/listj" 2>&1
check "the list shows it" has "$T/listj" 'h\\xf3a'
K quarantine --dir "$T/qcp" restore "$id" > "$T/out" 2>&1; expect_status "restored" 0 $?
check "back under its own bytes" test -f "$T/cp/$NAME"

# --- db info ---
printf 'Good:0:*:41424344\nBad:0:*:4g\n' > "$T/t.ndb"
K db info "$T/t.ndb" > "$T/out" 2>&1
check "db info names the rejected line" has "$T/out" "$T/t.ndb:2: rejected"
check "db info counts" has "$T/out" "body signatures: 1"

# --- progress on a terminal ---
if command -v script >/dev/null; then
  script -qec "$KHIEN scan -j 1 -i -d $DB /usr/lib/x86_64-linux-gnu" /dev/null > "$T/tty" 2>&1 || true
  check "progress line on a terminal" has "$T/tty" "MB/s"
fi
finish
