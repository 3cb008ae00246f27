#!/usr/bin/env bash
# test_ole2.sh - OLE2 documents through `khien scan`: the JSON result says "macros": true for a
# document with a VBA project and says nothing of macros for one without; a .docm (zip) holding
# the project says so too; and tests/gen_ole2.py still writes the checked-in cases and seeds
# byte for byte. Usage: test_ole2.sh KHIEN SRC
KHIEN=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
GEN="$SRC/tests/gen_ole2.py"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
K() { "$KHIEN" "$@"; }
echo 'Test.Nothing:0:*:6b6869656e2d6e6f2d737563682d6279746573' > "$T/t.ndb"

python3 "$GEN" macro "$T/macro.doc" && python3 "$GEN" plain "$T/plain.doc"
check "generator wrote the documents" test -s "$T/macro.doc" -a -s "$T/plain.doc"

K scan --json --no-summary -d "$T/t.ndb" "$T/macro.doc" "$T/plain.doc" > "$T/out" 2>"$T/err"
expect_status "clean documents exit 0" 0 $?
grep -F '"file":"'"$T/macro.doc"'"' "$T/out" > "$T/macro.json"
grep -F '"file":"'"$T/plain.doc"'"' "$T/out" > "$T/plain.json"
check "macro document: \"macros\":true" has "$T/macro.json" '"macros":true'
check "macro document: status clean" has "$T/macro.json" '"status":"clean"'
check "plain document: no macros key" hasnt "$T/plain.json" '"macros"'
check "plain document: scanned its streams" grep -qE '"objects":[4-9]' "$T/plain.json"

# a .docm: the project is word/vbaProject.bin inside the zip
mkdir -p "$T/docm/word"
python3 - "$T/docm/word/vbaProject.bin" <<PY
import sys
sys.path.insert(0, "$SRC/tests")
import gen_ole2
open(sys.argv[1], "wb").write(gen_ole2.vba_project_bin())
PY
echo '<?xml version="1.0"?><Types/>' > "$T/docm/[Content_Types].xml"
(cd "$T/docm" && bsdtar --format zip -cf "$T/report.docm" "[Content_Types].xml" word) 2>"$T/err"
check "docm built" test -s "$T/report.docm"
K scan --json --no-summary -d "$T/t.ndb" "$T/report.docm" > "$T/out" 2>"$T/err"
check "docm: \"macros\":true" has "$T/out" '"macros":true'

# the checked-in cases and seeds are what the generator writes
python3 "$GEN" cases "$T/cases" && python3 "$GEN" seeds "$T/seeds"
check "cases are the generator's" diff -r "$T/cases" "$SRC/tests/cases/ole2"
# (the corpora may also keep reproducers of fuzzer findings: only the generated seeds are compared)
for f in "$T"/seeds/*/*; do
    rel=${f#"$T/seeds/"}
    check "seed $rel is the generator's" cmp -s "$f" "$SRC/fuzz/corpus/$rel"
done
finish
