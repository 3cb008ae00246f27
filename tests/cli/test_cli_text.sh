#!/usr/bin/env bash
# test_cli_text.sh - the report texts in Vietnamese (src/cli_text.c): every text a command asks
# cli_tr for is in the catalogue, each Vietnamese text has its English key's printf conversions
# in the same order, and `khien scan` / `khien dns scan` print their summaries in Vietnamese with
# KHIEN_LANG=vi or --lang vi (diacritics intact, the same figures as in English, clamscan's
# FOUND lines and the key=value fields unchanged), English by default.
# Usage: test_cli_text.sh KHIEN SRC
KHIEN=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"

check "the catalogue: every cli_tr text translated, conversions alike" python3 - "$SRC" <<'PY'
import glob, re, sys
src = sys.argv[1]
STR = r'"(?:[^"\\]|\\.)*"'
def cstr(lits):  # adjacent C string literals -> text
    return "".join(bytes(l[1:-1], "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")
                   for l in re.findall(STR, lits))
body = open(src + "/src/cli_text.c", encoding="utf-8").read()
table = body[body.index("texts[] = {"):body.index("};", body.index("texts[] = {"))]
LITS = r"((?:%s\s*)+)" % STR  # adjacent literals, as clang-format splits them
pairs = [(cstr(a), cstr(b)) for a, b in re.findall(r"\{\s*%s,\s*%s\}" % (LITS, LITS), table)]
assert len(pairs) >= 20, pairs
conv = re.compile(r"%[-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l|z|j|t|L)?[diouxXeEfFgGaAcspn%]")
keys = set()
for en, vi in pairs:
    assert conv.findall(en) == conv.findall(vi), (en, vi)
    assert en not in keys, ("twice", en)
    keys.add(en)
    assert vi != en or not re.search("[a-z]{3}", en), ("not translated", en)
used = set()
for f in glob.glob(src + "/src/*.c"):
    code = re.sub(r"/\*.*?\*/", "", open(f, encoding="utf-8").read(), flags=re.S)  # not comments
    for m in re.finditer(r"cli_tr\(\s*((?:%s\s*)+)\)" % STR, code):
        used.add(cstr(m.group(1)))
assert used, "no cli_tr calls found"
missing = used - keys
assert not missing, ("not in the catalogue", missing)
unused = keys - used
assert not unused, ("in the catalogue, never asked for", unused)
PY

# --- khien dns scan ---
D="$SRC/tests/data/dns"
"$KHIEN" dns scan --no-dga -l "$D/lists" "$D/logs/dnsmasq.log" > "$T/en" 2>&1
KHIEN_LANG=vi "$KHIEN" dns scan --no-dga -l "$D/lists" "$D/logs/dnsmasq.log" > "$T/vi" 2>&1
"$KHIEN" dns scan --lang vi --no-dga -l "$D/lists" "$D/logs/dnsmasq.log" > "$T/vi2" 2>&1
check "dns scan: English by default" has "$T/en" "----------- DNS SUMMARY -----------"
check "dns scan: KHIEN_LANG=vi gives the Vietnamese summary" has "$T/vi" "----------- TÓM TẮT DNS -----------"
check "dns scan: the status word with its diacritics" has "$T/vi" ": NHIỄM MÃ ĐỘC families=emotet"
check "dns scan: --lang vi does the same" has "$T/vi2" "Máy khách: 3, nhiễm mã độc: 3"
check "dns scan: the same figures in both languages" python3 -c "
import re, sys
def figs(p):  # the numbers of every line but the timing one
    return [re.findall(r'\d+', l) for l in open(p, encoding='utf-8') if not re.search(r'(sec|giây)', l)]
assert figs(sys.argv[1]) == figs(sys.argv[2]), (figs(sys.argv[1]), figs(sys.argv[2]))
" "$T/en" "$T/vi"
"$KHIEN" dns scan --lang fr -l "$D/lists" "$D/logs/dnsmasq.log" > "$T/out" 2>&1
expect_status "dns scan: another language is refused" 2 $?
check "dns scan: the refusal says which ones there are" has "$T/out" "--lang takes en or vi, not 'fr'"
KHIEN_LANG=en_US.UTF-8 "$KHIEN" dns scan --no-dga -l "$D/lists" "$D/logs/dnsmasq.log" > "$T/en2" 2>&1
check "dns scan: KHIEN_LANG=en_US.UTF-8 is English" has "$T/en2" "DNS SUMMARY"

# --- khien scan ---
mkdir -p "$T/files"
printf 'hello\n' > "$T/files/a.txt"
eicar "$T/files/eicar.com"
printf '%s:%s:Eicar-Test-Signature\n' "$(md5sum < "$T/files/eicar.com" | cut -d' ' -f1)" \
  "$(stat -c %s "$T/files/eicar.com")" > "$T/sig.hdb"
"$KHIEN" scan --no-progress -d "$T/sig.hdb" "$T/files" > "$T/sen" 2>&1
KHIEN_LANG=vi "$KHIEN" scan --no-progress -d "$T/sig.hdb" "$T/files" > "$T/svi" 2>&1
expect_status "scan in Vietnamese still exits 1 on a detection" 1 $?
check "scan: English by default" has "$T/sen" "Infected files: 1"
check "scan: the Vietnamese summary" has "$T/svi" "----------- TÓM TẮT QUÉT -----------"
check "scan: its lines in Vietnamese" has "$T/svi" "Tệp nhiễm mã độc: 1"
check "scan: clamscan's FOUND line unchanged" has "$T/svi" "eicar.com: Eicar-Test-Signature FOUND"
check "scan: no English summary line left" hasnt "$T/svi" "Scanned files:"

finish
