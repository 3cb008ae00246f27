#!/bin/bash
# make_container_seeds.sh OUTDIR - write the seed corpus of fuzz_container into OUTDIR.
#
# How fuzz/corpus/container/ was made (archives hold timestamps, so a re-run gives different
# bytes, not different coverage). Needs bsdtar (libarchive-tools), gzip, bzip2, xz, zstd, lz4,
# python3 and /usr/share/clamav-testfiles (clamav-testfiles). RAR and LHA archives, which no
# tool here writes, are built by hand by the python3 part (stored members only).
set -euo pipefail
out=${1:?usage: make_container_seeds.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
clam=/usr/share/clamav-testfiles
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# Members: evil.txt matches the MD5 signature, payload.bin the body signature.
printf 'EVIL-PAYLOAD\n' > evil.txt
printf 'xxEVIL-PAYLOADxx' > payload.bin
printf 'nothing to see here\n' > readme.txt
mkdir -p dir/sub && cp payload.bin dir/sub/deep.bin
set -- evil.txt payload.bin readme.txt dir

tarc() { bsdtar -c "$@"; }

# archive formats
tarc --format zip -f "$out/zip" "$@"
tarc --format zip --options zip:compression=store -f "$out/zip-store" "$@"
tarc --format zip --options zip:encryption=zipcrypt --passphrase secret -f "$out/zip-encrypted" evil.txt
tarc --format 7zip -f "$out/7z" "$@"
tarc --format 7zip --options 7zip:compression=store -f "$out/7z-store" "$@"
tarc --format 7zip --options 7zip:compression=bzip2 -f "$out/7z-bzip2" evil.txt
tarc --format 7zip --options 7zip:compression=ppmd -f "$out/7z-ppmd" evil.txt
tarc --format 7zip --options 7zip:compression=deflate -f "$out/7z-deflate" evil.txt
tarc --format ustar -f "$out/tar-ustar" evil.txt payload.bin
tarc --format v7tar -f "$out/tar-v7" evil.txt
tarc --format gnutar -f "$out/tar-gnu" payload.bin
tarc --format pax -f "$out/tar-pax" evil.txt
tarc --format ustar -z -f "$out/tar.gz" "$@"
tarc --format pax -J -f "$out/tar.xz" "$@"
tarc --format gnutar -j -f "$out/tar.bz2" "$@"
tarc --format ustar --zstd -f "$out/tar.zst" "$@"
tarc --format ustar --lzma -f "$out/tar.lzma" "$@"
tarc --format ustar --lz4 -f "$out/tar.lz4" "$@"
tarc --format ustar --lzip -f "$out/tar.lz" "$@"
tarc --format ustar -Z -f "$out/tar.Z" "$@"
tarc --format newc -f "$out/cpio-newc" evil.txt payload.bin
tarc --format cpio -f "$out/cpio-odc" evil.txt payload.bin
tarc --format ar -f "$out/ar-gnu" evil.txt payload.bin
tarc --format arbsd -f "$out/ar-bsd" evil.txt payload.bin
tarc --format xar -f "$out/xar" evil.txt payload.bin
tarc --format iso9660 --options 'iso9660:!pad,iso9660:!rockridge,iso9660:!joliet' \
     -f "$out/iso9660" evil.txt

# bare compressed streams
gzip -9nc payload.bin > "$out/stream.gz"
bzip2 -c payload.bin > "$out/stream.bz2"
xz -c payload.bin > "$out/stream.xz"
xz --format=lzma -c payload.bin > "$out/stream.lzma"
zstd -qc payload.bin > "$out/stream.zst"
lz4 -qc payload.bin > "$out/stream.lz4"
tarc --format raw -Z -f "$out/stream.Z" payload.bin
tarc --format raw --lzip -f "$out/stream.lz" payload.bin

# nesting and limits
tarc --format zip -f inner.zip evil.txt
tarc --format ustar -z -f "$out/nested-zip-in-tgz" inner.zip
cp evil.txt n0
for i in 1 2 3 4 5 6 7 8; do tarc --format zip -f "n$i" "n$((i - 1))"; done
cp n8 "$out/nested-8-zip"
# 2 MiB of 'A': a few KiB compressed
head -c $((2 << 20)) /dev/zero | tr '\0' A > big.bin
gzip -9nc big.bin > "$out/bomb-ratio.gz"
tarc --format 7zip -f "$out/bomb-filesize.7z" big.bin
head -c 800000 big.bin > a.bin && cp a.bin b.bin
tarc --format zip -f "$out/bomb-ratio.zip" a.bin b.bin
# members over 1 MiB (KHI_INMEM_MAX) go through a temporary file and stream-mode matching
{ head -c 1500000 big.bin; cat evil.txt; } > large.bin
tarc --format zip -f "$out/large-member.zip" large.bin
gzip -9nc large.bin > "$out/large-stream.gz"
mkdir many && for i in $(seq 1 210); do : > "many/$i"; done
tarc --format newc -f "$out/many-files.cpio" many

# ClamAV's test files (formats no tool here writes, and ClamAV's own encodings)
for f in clam.cab clam.7z clam.zip clam.tar.gz clam.newc.cpio clam.odc.cpio clam.bin-le.cpio \
         clam.bin-be.cpio clam.exe clam.exe.bz2 clam.bz2.zip clam.impl.zip; do
    cp "$clam/$f" "$out/$f"
done

# hand-built RAR 4, RAR 5 and LHA (stored members), and magic-only stubs for type detection
python3 - "$out" <<'EOF'
import struct, sys, zlib
out = sys.argv[1]
data = b"EVIL-PAYLOAD\n"
crc32 = zlib.crc32(data) & 0xffffffff

def rar4_block(typ, flags, body):
    head = struct.pack("<BHH", typ, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(head) & 0xffff) + head

def rar4(name):
    main = rar4_block(0x73, 0, b"\0" * 6)
    fh = struct.pack("<IIBIIBBHI", len(data), len(data), 3, crc32, 0x5a210000, 20, 0x30,
                     len(name), 0o100644) + name
    end = rar4_block(0x7b, 0x4000, b"")
    return b"Rar!\x1a\x07\x00" + main + rar4_block(0x74, 0x8000, fh) + data + end

def vint(n):
    b = bytearray()
    while True:
        c = n & 0x7f
        n >>= 7
        b.append(c | (0x80 if n else 0))
        if not n:
            return bytes(b)

def rar5_block(body):
    h = vint(len(body)) + body
    return struct.pack("<I", zlib.crc32(h) & 0xffffffff) + h

def rar5(name):
    main = rar5_block(vint(1) + vint(0) + vint(0))
    fb = (vint(2) + vint(2) + vint(len(data)) + vint(0x04) + vint(len(data)) + vint(0o100644) +
          struct.pack("<I", crc32) + vint(0) + vint(1) + vint(len(name)) + name)
    end = rar5_block(vint(5) + vint(0) + vint(0))
    return b"Rar!\x1a\x07\x01\x00" + main + rar5_block(fb) + data + end

def crc16(d):
    c = 0
    for x in d:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ 0xa001 if c & 1 else c >> 1
    return c

def lha0(name):
    h = (b"-lh0-" + struct.pack("<IIIBB", len(data), len(data), 0x5a210000, 0x20, 0) +
         bytes([len(name)]) + name + struct.pack("<H", crc16(data)))
    return bytes([len(h), sum(h) & 0xff]) + h + data + b"\0"

def put(n, b):
    open(out + "/" + n, "wb").write(b)

put("rar4", rar4(b"evil.txt"))
put("rar5", rar5(b"evil.txt"))
put("lha-lh0", lha0(b"evil.txt"))
pe = bytearray(256); pe[0:2] = b"MZ"; pe[0x3c] = 0x80; pe[0x80:0x84] = b"PE\0\0"
put("type-pe", bytes(pe) + b"EVIL-PAYLOAD")
put("type-elf", b"\x7fELF\x02\x01\x01" + b"\0" * 57 + b"EVIL-PAYLOAD")
put("type-pdf", b"%PDF-1.4\n1 0 obj\n(EVIL-PAYLOAD)\nendobj\n%%EOF\n")
put("type-ole2", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 56 + b"EVIL-PAYLOAD")
put("type-java", b"\xca\xfe\xba\xbe\0\0\0\x34EVIL-PAYLOAD")
put("type-macho", b"\xcf\xfa\xed\xfe\x07\0\0\x01EVIL-PAYLOAD")
put("type-gif", b"GIF89a\x01\0\x01\0EVIL-PAYLOAD")
put("type-swf", b"FWS\x0a\0\0\0\0EVIL-PAYLOAD")
EOF
