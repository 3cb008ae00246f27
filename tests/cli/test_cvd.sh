#!/usr/bin/env bash
# test_cvd.sh - ClamAV .cvd/.cld containers built by the test itself (header + tar.gz, signed
# with the test's own RSA key the way ClamAV signs): a good one loads and is verified, a
# tampered, truncated or foreign-signed one is refused with a reason while the rest of the
# database directory still loads. Usage: test_cvd.sh KHIEN SRC
KHIEN=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
MK="python3 $SRC/tests/cli/make_cvd.py"
mkdir -p "$T/src" "$T/trust" "$T/other" "$T/files"
echo 'Test.CVD.Body:0:*:4556494c2d5041594c4f4144' > "$T/src/test.ndb"
echo '5d41402abc4b2a76b9719d911017c592:5:Test.CVD.Hash' > "$T/src/test.hdb"
echo 'not a database' > "$T/src/COPYING"
printf 'xxEVIL-PAYLOADxx' > "$T/files/evil.bin"
printf 'hello' > "$T/files/hello.txt"
openssl genrsa -out "$T/k1.pem" 1024 2>/dev/null
openssl genrsa -out "$T/k2.pem" 1024 2>/dev/null
$MK "$T/src" "$T/good.cvd" "$T/k1.pem" 7
$MK "$T/src" "$T/foreign.cvd" "$T/k2.pem" 7
cp "$T/good.cvdkey" "$T/trust/test.cvdkey"

mkdir -p "$T/db1"; cp "$T/good.cvd" "$T/db1/test.cvd"
"$KHIEN" db info --trust-dir "$T/trust" "$T/db1" > "$T/out" 2>&1
check "signed cvd verified" has "$T/out" "MD5 and signature verified"
check "cvd header read" has "$T/out" "version 7"
check "cvd members loaded" has "$T/out" "body signatures: 1"
check "cvd hash member loaded" has "$T/out" "hash signatures: 1"
"$KHIEN" scan --trust-dir "$T/trust" -d "$T/db1" "$T/files" > "$T/out" 2>&1; expect_status "scan with a cvd" 1 $?
check "body signature from cvd" has "$T/out" "evil.bin: Test.CVD.Body FOUND"
check "hash signature from cvd" has "$T/out" "hello.txt: Test.CVD.Hash FOUND"

"$KHIEN" db info --trust-dir "$T/empty-dir" "$T/db1" > "$T/out" 2>&1
check "without a key: loaded, reported unverified" has "$T/out" "signature NOT verified"

# tampered: one byte of the body changed
mkdir -p "$T/db2"; cp "$T/good.cvd" "$T/db2/test.cvd"
printf 'Z' | dd of="$T/db2/test.cvd" bs=1 seek=600 conv=notrunc 2>/dev/null
echo 'Other.Body:0:*:68656c6c6f' > "$T/db2/other.ndb"
"$KHIEN" scan --trust-dir "$T/trust" -d "$T/db2" "$T/files" > "$T/out" 2>&1; expect_status "tampered cvd refused, rest loads" 1 $?
check "tampered cvd reason" has "$T/out" "test.cvd: error: body MD5 does not match the header"
check "tampered cvd not used" hasnt "$T/out" "Test.CVD.Body FOUND"
check "rest of the directory used" has "$T/out" "hello.txt: Other.Body FOUND"

# truncated
mkdir -p "$T/db3"; head -c 700 "$T/good.cvd" > "$T/db3/test.cvd"
"$KHIEN" db info --trust-dir "$T/trust" "$T/db3" > "$T/out" 2>&1
check "truncated cvd refused" has "$T/out" "body MD5 does not match"
head -c 100 "$T/good.cvd" > "$T/db3/test.cvd"
"$KHIEN" db info --trust-dir "$T/trust" "$T/db3" > "$T/out" 2>&1
check "header-only cvd refused" has "$T/out" "shorter than the 512-byte header"

# signed by a key we do not trust
mkdir -p "$T/db4"; cp "$T/foreign.cvd" "$T/db4/test.cvd"
"$KHIEN" db info --trust-dir "$T/trust" "$T/db4" > "$T/out" 2>&1
check "foreign signature refused" has "$T/out" "digital signature does not verify"

# a forged signature string
mkdir -p "$T/db5"; python3 - "$T/good.cvd" "$T/db5/test.cvd" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
h = d[:512].decode().split(":")
h[6] = "b" + h[6][1:] if h[6][0] != "b" else "c" + h[6][1:]
d[:512] = ":".join(h).encode().ljust(512, b" ")
open(sys.argv[2], "wb").write(d)
PY
"$KHIEN" db info --trust-dir "$T/trust" "$T/db5" > "$T/out" 2>&1
check "altered signature refused" has "$T/out" "digital signature does not verify"

# not a cvd at all
mkdir -p "$T/db6"; head -c 2000 /dev/urandom > "$T/db6/x.cvd"
"$KHIEN" db info "$T/db6" > "$T/out" 2>&1
check "random bytes refused" has "$T/out" "not a ClamAV database header"

# .cld: header parsed, body a plain tar whose MD5 the header does not describe
$MK "$T/src" "$T/daily.cld" "$T/k1.pem" 9 --plain-tar
printf 'X' | dd of="$T/daily.cld" bs=1 seek=100 conv=notrunc 2>/dev/null  # header MD5 now stale
mkdir -p "$T/db7"; cp "$T/daily.cld" "$T/db7/daily.cld"
"$KHIEN" scan -d "$T/db7" "$T/files/evil.bin" > "$T/out" 2>&1; expect_status ".cld loads" 1 $?
check ".cld body used" has "$T/out" "evil.bin: Test.CVD.Body FOUND"
finish
