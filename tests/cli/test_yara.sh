#!/usr/bin/env bash
# test_yara.sh - YARA rules through the program: metadata in --json (Vietnamese text intact),
# compiled .yarc files from yarac, rules in a database directory beside ClamAV files, and
# db info counts. Usage: test_yara.sh KHIEN SRC
KHIEN=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
mkdir -p "$T/db" "$T/files"
# rule names are ASCII in YARA; metadata may hold any UTF-8
cat > "$T/db/rules.yar" <<'R'
import "pe"
rule Tai_Lieu_Doc_Hai : phishing {
  meta:
    author = "Đội ứng cứu sự cố tỉnh Lai Châu"
    description = "Tài liệu giả mạo công văn"
    reference = "https://example.org/canh-bao/123"
  strings:
    $s = "CONG-VAN-GIA-MAO" nocase
  condition:
    $s and not pe.is_pe
}
R
cat > "$T/db/fast.yar" <<'R'
rule Hex_Fast { meta: author = "SOC" strings: $a = { 48 45 58 2D ?? 41 53 54 } condition: $a }
R
echo 'C.Body:0:*:68656c6c6f2d636c616d' > "$T/db/c.ndb"
printf 'xx cong-van-gia-mao xx' > "$T/files/doc.txt"
printf '..HEX-FAST..' > "$T/files/hex.bin"
printf 'hello-clam' > "$T/files/c.bin"
echo clean > "$T/files/ok.txt"

"$KHIEN" scan --json -d "$T/db" "$T/files" > "$T/out" 2>&1; expect_status "yara + clamav dir exits 1" 1 $?
check "json carries YARA metadata, UTF-8 intact" python3 -c "
import json
objs=[json.loads(l) for l in open('$T/out',encoding='utf-8')]
by={o['file'].rsplit('/',1)[-1]:o for o in objs if 'file' in o}
d=by['doc.txt']['detections'][0]
assert d['signature']=='YARA.Tai_Lieu_Doc_Hai' and d['kind']=='yara', d
assert d['meta']['author']=='Đội ứng cứu sự cố tỉnh Lai Châu', d
assert d['meta']['description']=='Tài liệu giả mạo công văn', d
h=by['hex.bin']['detections'][0]
assert h['signature']=='YARA.Hex_Fast' and h['meta']=={'author':'SOC'}, h
assert by['c.bin']['detections'][0]['signature']=='C.Body'
assert by['ok.txt']['status']=='clean'
"
"$KHIEN" db info "$T/db" > "$T/info" 2>&1
check "db info counts YARA rules" has "$T/info" "YARA rules: 2 (1 hex-only, in the Vectorscan pass)"

if command -v yarac >/dev/null; then
    mkdir -p "$T/cdb"
    yarac "$T/db/rules.yar" "$T/cdb/rules.yarc"
    "$KHIEN" scan --no-summary -d "$T/cdb" "$T/files/doc.txt" > "$T/out" 2>&1; expect_status "compiled .yarc" 1 $?
    check "compiled rule reported" has "$T/out" "doc.txt: YARA.Tai_Lieu_Doc_Hai FOUND"
    head -c 100 "$T/cdb/rules.yarc" > "$T/cdb/broken.yarc"
    "$KHIEN" scan --no-summary -d "$T/cdb" "$T/files/doc.txt" > "$T/out" 2>&1; expect_status "a damaged .yarc is skipped" 1 $?
    check "damaged .yarc reported" has "$T/out" "broken.yarc: error: not compiled YARA rules"
else
    ok "yarac (skipped: not installed)"
fi
finish
