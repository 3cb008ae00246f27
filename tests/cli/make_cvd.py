#!/usr/bin/env python3
"""make_cvd.py - build a ClamAV .cvd/.cld from a directory of database files, signed with an
RSA key as ClamAV's header signature works (RSA over the body MD5, base-64 digits, least
significant first). For the tests: usage
  make_cvd.py SRC_DIR OUT.cvd KEY.pem VERSION [--plain-tar]
The public part is written beside OUT as OUT.cvdkey (n=, e=)."""
import hashlib, io, os, re, subprocess, sys, tarfile, time

src, out, keyfile, version = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
plain = "--plain-tar" in sys.argv
text = subprocess.run(["openssl", "rsa", "-in", keyfile, "-noout", "-text"],
                      capture_output=True, text=True, check=True).stdout
def field(name):
    m = re.search(name + r":\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
    return int(re.sub(r"[\s:]", "", m.group(1)), 16)
n = field("modulus")
d = field("privateExponent")
e = int(re.search(r"publicExponent: (\d+)", text).group(1))

buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w" if plain else "w:gz", format=tarfile.USTAR_FORMAT) as t:
    for name in sorted(os.listdir(src)):
        t.add(os.path.join(src, name), arcname=name)
body = buf.getvalue()
md5 = hashlib.md5(body).digest()
s = pow(int.from_bytes(md5, "big"), d, n)
alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
digits = []
while s:
    digits.append(alphabet[s & 63])
    s >>= 6
dsig = "".join(digits)
nsigs = sum(1 for f in os.listdir(src) for _ in open(os.path.join(src, f), errors="replace"))
header = f"ClamAV-VDB:25 Nov 2026 08-30 +0000:{version}:{nsigs}:200:{md5.hex()}:{dsig}:khien-test:{int(time.time())}"
assert len(header) <= 512
with open(out, "wb") as f:
    f.write(header.encode().ljust(512, b" ") + body)
with open(out + "key", "w") as f:
    f.write(f"n={n}\ne={e}\n")
