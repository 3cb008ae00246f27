#!/usr/bin/env bash
# test_pe.sh - what `khien scan --json` says of PE files: a "pe" array with one entry per PE
# object or layer (format, machine, sections, entry point, DLL), none for other files; and
# `khien db info -v` no longer lists PE-relative offsets or .mdb/.msb files as skipped. The PE
# files come from tests/cases/make_pe_cases.py. Usage: test_pe.sh KHIEN SRC
KHIEN=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
mkdir -p "$T/files/sub" "$T/db"
PYTHONPATH="$SRC/tests/cases" python3 - "$T" <<'PY'
import sys, zipfile, hashlib
import make_pe_cases as m
t = sys.argv[1]
open(t + "/files/a.exe", "wb").write(m.PE32)
open(t + "/files/b.dll", "wb").write(m.build(plus=True, dll=True))
open(t + "/files/text.txt", "w").write("not a PE\n")
with zipfile.ZipFile(t + "/files/sub/c.zip", "w") as z:
    z.writestr("in/a64.exe", m.PE64)
open(t + "/db/t.ndb", "w").write(m.ndb("Test.EP", "EP+32", "ep"))
open(t + "/db/t.mdb", "w").write("1024:%s:Test.Sect\n" % hashlib.md5(m.section(m.PE32, 1)).hexdigest())
PY
"$KHIEN" scan --json -d "$T/db" "$T/files" > "$T/out" 2>"$T/err"; expect_status "scan --json" 1 $?
python3 - "$T/out" > "$T/check" 2>&1 <<'PY'
import json, sys
by = {}
for line in open(sys.argv[1]):
    o = json.loads(line)
    if "file" in o:
        by[o["file"].rsplit("/", 1)[1]] = o
def pe(name):
    return by[name].get("pe")
a, b, c = pe("a.exe"), pe("b.dll"), pe("c.zip")
assert a == [{"object": a[0]["object"], "depth": 0, "format": "PE32", "machine": "0x014c",
              "sections": 3, "entry_point": 4112, "dll": False}], a
assert a[0]["object"].endswith("/files/a.exe"), a
assert b[0]["format"] == "PE32+" and b[0]["machine"] == "0x8664" and b[0]["dll"] is True, b
assert len(c) == 1 and c[0]["depth"] == 1 and c[0]["object"].endswith("c.zip//in/a64.exe"), c
assert c[0]["format"] == "PE32+", c
assert pe("text.txt") is None
sigs = sorted(d["signature"] for d in by["a.exe"]["detections"])
assert sigs == ["Test.EP"] or sigs == ["Test.Sect"], sigs
print("json ok")
PY
check "pe description in --json" has "$T/check" "json ok"
"$KHIEN" scan --allmatch -d "$T/db" "$T/files/a.exe" > "$T/out" 2>&1
check "EP+32 found" has "$T/out" "a.exe: Test.EP FOUND"
check "section MD5 found" has "$T/out" "a.exe: Test.Sect FOUND"
check "text output has no description" hasnt "$T/out" "PE32"
"$KHIEN" db info -v "$T/db" > "$T/out" 2>&1
check "db info: nothing skipped" has "$T/out" "skipped (not supported yet): 0"
check "db info: section hashes counted" has "$T/out" "PE section hash signatures: 1"
check "db info: body signature counted" has "$T/out" "body signatures: 1"
finish
