#!/usr/bin/env bash
# test_pdf.sh - PDF documents through `khien scan`: a Flate bomb is a WARNING line (exit 0) and,
# with --alert-exceeds-max, a detection (exit 1); a stream's payload is found under its layered
# name; and tests/cases/pdf/make_cases.py still writes the checked-in cases byte for byte.
# Usage: test_pdf.sh KHIEN SRC
KHIEN=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
GEN="$SRC/tests/cases/pdf/make_cases.py"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
K() { "$KHIEN" "$@"; }

mkdir -p "$T/gen"
python3 "$GEN" "$T/gen"
check "generator wrote the cases" test -s "$T/gen/0012-bomb.case"
for f in "$T"/gen/*.case; do
    check "generated as checked in: $(basename "$f")" cmp -s "$f" "$SRC/tests/cases/pdf/$(basename "$f")"
done

# the input of a case file as bytes
case_input() { sed -n '/^--- input hex$/,/^--- /p' "$1" | grep -v '^---' | tr -d ' \n' | xxd -r -p > "$2"; }
case_input "$T/gen/0012-bomb.case" "$T/bomb.pdf"
case_input "$T/gen/0001-flate.case" "$T/flate.pdf"
echo 'Test.Evil:0:*:4556494c2d5041594c4f4144' > "$T/t.ndb"

K scan --no-summary -d "$T/t.ndb" "$T/bomb.pdf" > "$T/out" 2>&1
st=$?
check "bomb: the payload after it is found" has "$T/out" "bomb.pdf//obj-5: Test.Evil FOUND"
check "bomb: a MaxRatio warning on the stream" has "$T/out" \
    "bomb.pdf//obj-4: Heuristics.Limits.Exceeded.MaxRatio WARNING"
expect_status "bomb: exit 1 (the payload)" 1 $st

K scan --no-summary -d "$T/t.ndb" "$T/flate.pdf" > "$T/out" 2>&1
expect_status "flate: found, exit 1" 1 $?
check "flate: named by its object" has "$T/out" "flate.pdf//obj-4: Test.Evil FOUND"

case_input "$T/gen/0013-bomb-alert.case" "$T/bomb2.pdf"
K scan --no-summary -d "$T/t.ndb" "$T/bomb2.pdf" > "$T/out" 2>&1
expect_status "bomb alone: a warning, exit 0" 0 $?
K scan --no-summary --alert-exceeds-max -d "$T/t.ndb" "$T/bomb2.pdf" > "$T/out" 2>&1
expect_status "bomb alone with --alert-exceeds-max: exit 1" 1 $?
check "bomb alone with --alert-exceeds-max: a detection" has "$T/out" \
    "bomb2.pdf//obj-4: Heuristics.Limits.Exceeded.MaxRatio FOUND"
finish
