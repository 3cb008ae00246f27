#!/usr/bin/env bash
# test_pdf.sh - PDF documents through `khien scan`: a Flate bomb is a WARNING line (exit 0) and,
# with --alert-exceeds-max, a detection (exit 1); a stream's payload is found under its layered
# name; tests/cases/pdf/make_cases.py still writes the checked-in cases byte for byte; and
# PDFs encrypted by qpdf with an empty user password (RC4 40/128, AES-128, AES-256 R5 and R6,
# object streams) are decrypted: JavaScript, an embedded file (named in Vietnamese) and a
# Flate stream are found, while a PDF that needs a password is reported encrypted.
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
# --- encrypted PDFs: what qpdf writes for an empty user password ---
command -v qpdf > /dev/null || { bad "qpdf is installed (scripts/install-deps.sh)" "qpdf missing"; finish; }
python3 - "$T/plain.pdf" <<'PY'
import sys, zlib
js = b"app.alert('EVIL-PAYLOAD-JS')"
def stream(d, extra=b""):
    return b"<< /Length %d %s>>\nstream\n" % (len(d), extra) + d + b"\nendstream"
objs = [b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS (" + js +
        b") >> /Names << /EmbeddedFiles << /Names [(f) 6 0 R] >> >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        stream(zlib.compress(b"MZxxEVIL-PAYLOADxx in a Flate stream"), b"/Filter /FlateDecode "),
        stream(b"MZ embedded EVIL-PAYLOAD-EF", b"/Type /EmbeddedFile "),
        # /UF: "hóa-đơn.exe" in UTF-16BE
        b"<< /Type /Filespec /F (hoa-don.exe) /UF <FEFF006800F30061002D011101A1006E002E006500780065> /EF << /F 5 0 R >> >>"]
out, offs = b"%PDF-1.7\n", []
for i, o in enumerate(objs):
    offs.append(len(out))
    out += b"%d 0 obj\n" % (i + 1) + o + b"\nendobj\n"
x = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offs)
out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, x)
open(sys.argv[1], "wb").write(out)
PY
W=--allow-weak-crypto
qpdf $W --encrypt "" owner 40 -- "$T/plain.pdf" "$T/rc4-40.pdf"
qpdf $W --encrypt "" owner 128 --use-aes=n -- "$T/plain.pdf" "$T/rc4-128.pdf"
qpdf $W --encrypt "" owner 128 --use-aes=n --cleartext-metadata -- "$T/plain.pdf" "$T/rc4-128-meta.pdf"
qpdf --encrypt "" owner 128 --use-aes=y -- "$T/plain.pdf" "$T/aes-128.pdf"
qpdf --encrypt "" owner 256 --force-R5 -- "$T/plain.pdf" "$T/aes-256-r5.pdf"
qpdf --encrypt "" owner 256 -- "$T/plain.pdf" "$T/aes-256.pdf"
qpdf --object-streams=generate --encrypt "" owner 128 --use-aes=y -- "$T/plain.pdf" "$T/aes-128-objstm.pdf"
qpdf --object-streams=generate --encrypt "" owner 256 -- "$T/plain.pdf" "$T/aes-256-objstm.pdf"
for f in rc4-40 rc4-128 rc4-128-meta aes-128 aes-256-r5 aes-256 aes-128-objstm aes-256-objstm; do
    check "$f: no payload in the raw bytes" test "$(grep -c EVIL-PAYLOAD "$T/$f.pdf")" -eq 0
    K scan --allmatch --no-summary -d "$T/t.ndb" "$T/$f.pdf" > "$T/out" 2>&1
    check "$f: JavaScript decrypted" has "$T/out" "$f.pdf//js-1: Test.Evil FOUND"
    check "$f: embedded file decrypted, named in Vietnamese" has "$T/out" "$f.pdf//hóa-đơn.exe: Test.Evil FOUND"
    check "$f: Flate stream decrypted" grep -qE "$f.pdf//obj-[0-9]+: Test.Evil FOUND" "$T/out"
    check "$f: not reported encrypted" hasnt "$T/out" "Heuristics.Encrypted"
done
qpdf --encrypt "secret" owner 256 -- "$T/plain.pdf" "$T/userpw.pdf"
K scan --no-summary -d "$T/t.ndb" "$T/userpw.pdf" > "$T/out" 2>&1
expect_status "user password: a warning, exit 0" 0 $?
check "user password: reported encrypted" has "$T/out" "userpw.pdf: Heuristics.Encrypted.PDF WARNING"
K scan --no-summary --alert-encrypted -d "$T/t.ndb" "$T/userpw.pdf" > "$T/out" 2>&1
expect_status "user password with --alert-encrypted: exit 1" 1 $?
# a changed /ID makes every key wrong: the password check must fail, not decrypt garbage
python3 - "$T/rc4-128.pdf" "$T/badid.pdf" <<'PY'
import re, sys
d = open(sys.argv[1], "rb").read()
m = re.search(rb"/ID\s*\[\s*<([0-9a-fA-F])", d)
i = m.start(1)
open(sys.argv[2], "wb").write(d[:i] + (b"0" if d[i:i+1] != b"0" else b"1") + d[i+1:])
PY
K scan --no-summary -d "$T/t.ndb" "$T/badid.pdf" > "$T/out" 2>&1
check "a wrong /ID: reported encrypted" has "$T/out" "badid.pdf: Heuristics.Encrypted.PDF WARNING"
check "a wrong /ID: nothing decrypted" hasnt "$T/out" "Test.Evil"
finish
