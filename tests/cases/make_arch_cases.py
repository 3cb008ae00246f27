#!/usr/bin/env python3
"""make_arch_cases.py - write the test cases of tests/cases/{arj,zipx,chm}/ (python3 stdlib only).

No tool on Debian writes ARJ methods 1-4, Deflate64 or Implode, and none writes a CHM, so this
script has small encoders of its own, written from the format descriptions (unarj's decode.c,
APPNOTE.TXT 5.3 and 5.5, libmspack's chmd.c): an ARJ file with stored, method-1 (one block,
fixed code lengths) and method-4 members, ZIP files whose members use method 9 (zlib's output
where no match is 258 long, which is also Deflate64, and hand-made fixed-Huffman blocks with the
Deflate64-only codes) or method 6 (Implode with and without a literal tree), and a CHM whose
files are in the uncompressed section. The decoders are checked against these and against
the real files in /usr/share/clamav-testfiles (tests/cli/test_testfiles.sh). Each case proves
the decoded bytes with an MD5 signature of the member. Run it from anywhere; it rewrites the
cases it owns (numbered files in those three folders) and nothing else.
"""
import os

import casefile
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
PAYLOAD = b"MZ" + b"xxEVIL-PAYLOADxx" * 3 + bytes(range(40)) + b"xxEVIL-PAYLOADxx" * 2
EVIL_NDB = "Test.Evil:0:*:4556494c2d5041594c4f4144\n"


def hdb(data, name="Test.File"):
    return casefile.hdb(data, name)


def write_case(area, num, slug, comment, sigs, data, expect, options=None):
    casefile.write_case("make_arch_cases.py", area, num, slug, comment, sigs, data, expect, options)


class MsbBits:
    """Bits written highest first (ARJ)."""

    def __init__(self):
        self.bits = []

    def put(self, value, n):
        for i in range(n - 1, -1, -1):
            self.bits.append((value >> i) & 1)

    def bytes(self):
        b = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(int("".join(map(str, b[i:i + 8])), 2) for i in range(0, len(b), 8))


class LsbBits:
    """Bits written lowest first (Deflate, Implode)."""

    def __init__(self):
        self.acc = 0
        self.n = 0
        self.out = bytearray()

    def put(self, value, n):
        self.acc |= (value & ((1 << n) - 1)) << self.n
        self.n += n
        while self.n >= 8:
            self.out.append(self.acc & 0xFF)
            self.acc >>= 8
            self.n -= 8

    def put_msb(self, code, n):
        """A Huffman code: its highest bit goes first."""
        for i in range(n - 1, -1, -1):
            self.put((code >> i) & 1, 1)

    def bytes(self):
        out = bytes(self.out)
        return out + (bytes([self.acc & 0xFF]) if self.n else b"")


def canonical(lens):
    """Canonical Huffman codes (shorter first, then by symbol) as {symbol: (code, length)}."""
    code, codes = 0, {}
    order = sorted((l, s) for s, l in enumerate(lens) if l)
    prev = order[0][0] if order else 0
    for l, s in order:
        code <<= l - prev
        prev = l
        codes[s] = (code, l)
        code += 1
    return codes


def lz77(data, max_len, max_dist, min_len=3):
    """Greedy matches (candidates from a 3-byte hash chain): a list of ints (literals) and
    (length, distance) pairs."""
    out, i, heads = [], 0, {}

    def note(j):
        if j + 3 <= len(data):
            heads.setdefault(data[j:j + 3], []).append(j)

    while i < len(data):
        best = (0, 0)
        for j in reversed(heads.get(data[i:i + 3], [])[-64:]):
            d = i - j
            if d > max_dist:
                break
            n = 0
            while n < max_len and i + n < len(data) and data[i + n] == data[i + n - d]:
                n += 1
            if n > best[0]:
                best = (n, d)
        if best[0] >= max(min_len, 3):
            out.append(best)
            for j in range(i, i + best[0]):
                note(j)
            i += best[0]
        else:
            out.append(data[i])
            note(i)
            i += 1
    return out


# ---- ARJ ----

def arj_method4(data):
    w = MsbBits()
    for t in lz77(data, 256, 15871):
        if isinstance(t, int):
            w.put(0, 1)
            w.put(t, 8)
            continue
        length, dist = t
        c = length - 2
        k = 0
        while k < 7 and c >= (1 << (k + 1)) - 1:
            k += 1
        w.put((1 << k) - 1, k)
        if k < 7:
            w.put(0, 1)
        w.put(c - ((1 << k) - 1), k)
        p = dist - 1
        k = 0
        while k < 4 and p >= 512 * ((1 << (k + 1)) - 1):
            k += 1
        w.put((1 << k) - 1, k)
        if k < 4:
            w.put(0, 1)
        w.put(p - 512 * ((1 << k) - 1), 9 + k)
    return w.bytes()


def arj_method1(data):
    """One block; literal/length codes: symbols 0 and 1 8 bits, the other 508 9 bits;
    positions: slots 0-14 4 bits, 15-16 5 bits; the code-length code: symbols 10, 11 1 bit."""
    tokens = lz77(data, 256, 26624)
    c_lens = [8, 8] + [9] * 508
    p_lens = [4] * 15 + [5] * 2
    t_lens = [0] * 10 + [1, 1]
    cc, pc, tc = canonical(c_lens), canonical(p_lens), canonical(t_lens)
    w = MsbBits()
    w.put(len(tokens), 16)
    w.put(len(t_lens), 5)
    for i, l in enumerate(t_lens):
        w.put(l, 3)
        if i == 2:
            w.put(0, 2)  # no run of zeros after the third length
    w.put(len(c_lens), 9)
    for l in c_lens:
        w.put(*tc[l + 2])
    w.put(len(p_lens), 5)
    for l in p_lens:
        w.put(l, 3)
    for t in tokens:
        if isinstance(t, int):
            w.put(*cc[t])
            continue
        length, dist = t
        w.put(*cc[length + 253])
        q = dist - 1
        slot = q.bit_length()
        w.put(*pc[slot])
        if slot > 1:
            w.put(q - (1 << (slot - 1)), slot - 1)
    return w.bytes()


def arj_header(name, method=0, ftype=0, flags=0, csize=0, usize=0, crc=0, bad_crc=False):
    basic = struct.pack("<BBBBBBBBIIIIHHH", 30, 11, 1, 2, flags, method, ftype, 0, 0x5A4B3C2D,
                        csize, usize, crc, 0, 0o644, 0)
    basic += name + b"\0" + b"\0"
    hcrc = zlib.crc32(basic) ^ (1 if bad_crc else 0)
    return b"\x60\xea" + struct.pack("<H", len(basic)) + basic + struct.pack("<IH", hcrc, 0)


def arj_file(name, data, method, flags=0, crc=None, usize=None, cut=0, bad_hcrc=False):
    comp = {0: lambda d: d, 1: arj_method1, 2: arj_method1, 3: arj_method1, 4: arj_method4}.get(
        method, lambda d: d)(data)
    if cut:
        comp = comp[:-cut]
    return arj_header(name, method, 0, flags, len(comp) + cut, len(data) if usize is None else usize,
                      zlib.crc32(data) if crc is None else crc, bad_hcrc) + comp


def arj(*files):
    return arj_header(b"test.arj", ftype=2) + b"".join(files) + b"\x60\xea\x00\x00"


# ---- ZIP members of methods 9 and 6 ----

def zip_file(members):
    """members: (name, method, flags, compressed, crc, usize)."""
    out, cd = b"", b""
    for name, method, flags, comp, crc, usize in members:
        off = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 21, flags, method, 0, 0x5A21, crc, len(comp),
                           usize, len(name), 0) + name + comp
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 21, 21, flags, method, 0, 0x5A21, crc,
                          len(comp), usize, len(name), 0, 0, 0, 0, 0, off) + name
    return out + cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(cd),
                                  len(out), 0)


def deflate_raw(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


LBASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
         131, 163, 195, 227]
LEXTRA = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4
DBASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
         2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577, 32769, 49153]
DEXTRA = [0, 0, 0, 0] + [i // 2 for i in range(2, 30)] + [14, 14]


def fixed_lit(w, sym):
    if sym < 144:
        w.put_msb(0x30 + sym, 8)
    elif sym < 256:
        w.put_msb(0x190 + sym - 144, 9)
    elif sym < 280:
        w.put_msb(sym - 256, 7)
    else:
        w.put_msb(0xC0 + sym - 280, 8)


def d64_match(w, length, dist):
    """A match in a fixed block, with Deflate64's long lengths (code 285) and far distances."""
    if length > 258 or length == 258:
        fixed_lit(w, 285)
        w.put(length - 3, 16)
    else:
        i = max(i for i in range(28) if LBASE[i] <= length)
        fixed_lit(w, 257 + i)
        w.put(length - LBASE[i], LEXTRA[i])
    j = max(j for j in range(32) if DBASE[j] <= dist)
    w.put_msb(j, 5)
    w.put(dist - DBASE[j], DEXTRA[j])


def d64_fixed(literals, matches):
    """One final fixed block: the literals, then (length, distance) matches; returns (stream,
    decoded bytes)."""
    w = LsbBits()
    w.put(1, 1)
    w.put(1, 2)
    out = bytearray()
    for b in literals:
        fixed_lit(w, b)
        out.append(b)
    for length, dist in matches:
        d64_match(w, length, dist)
        for _ in range(length):
            out.append(out[-dist])
    fixed_lit(w, 256)
    return w.bytes(), bytes(out)


def implode(data, flags):
    """Implode with trees of equal code lengths (6 bits; literals 8 bits when bit 2 is set)."""
    has_lit, dbits = bool(flags & 4), 7 if flags & 2 else 6
    minlen = 3 if has_lit else 2
    out = bytearray()
    if has_lit:
        out += bytes([15]) + bytes([0xF7]) * 16
    out += (bytes([3]) + bytes([0xF5]) * 4) * 2
    w = LsbBits()
    for t in lz77(data, minlen + 63 + 255, 64 << dbits, minlen):
        if isinstance(t, int):
            w.put(1, 1)
            if has_lit:
                w.put_msb(255 - t, 8)
            else:
                w.put(t, 8)
            continue
        length, dist = t
        w.put(0, 1)
        w.put((dist - 1) & ((1 << dbits) - 1), dbits)
        w.put_msb(63 - ((dist - 1) >> dbits), 6)
        n = length - minlen
        w.put_msb(63 - min(n, 63), 6)
        if n >= 63:
            w.put(n - 63, 8)
    return bytes(out) + w.bytes()


# ---- CHM (uncompressed section only) ----

def encint(v):
    b = [v & 0x7F]
    v >>= 7
    while v:
        b.append(0x80 | (v & 0x7F))
        v >>= 7
    return bytes(reversed(b))


def chm(files, cut=0, length_fix=None):
    guids = bytes.fromhex("10fd017caa7bd0119e0c00a0c922e6ec11fd017caa7bd0119e0c00a0c922e6ec")
    chunk_size = 0x1000
    entries, content = b"", b""
    for name, data in files:
        length = len(data) if length_fix is None else length_fix
        entries += encint(len(name)) + name + encint(0) + encint(len(content)) + encint(length)
        content += data
    chunk = b"PMGL" + struct.pack("<IIii", chunk_size - 0x14 - len(entries) - 2, 0, -1, -1) + entries
    chunk += b"\0" * (chunk_size - 2 - len(chunk)) + struct.pack("<H", len(files))
    itsp = b"ITSP" + struct.pack("<IIIIIIiIIiII", 1, 0x54, 10, chunk_size, 2, 1, -1, 0, 0, -1, 1,
                                  0x409)
    itsp += bytes.fromhex("6a92025d2e21d0119df900a0c922e6ec") + struct.pack("<Iiii", 0x54, -1, -1, -1)
    content_off = 0x60 + 0x18 + len(itsp) + len(chunk)
    total = content_off + len(content)
    head = b"ITSF" + struct.pack("<IIIII", 3, 0x60, 1, 0x376F4CEC, 0x409) + guids
    head += struct.pack("<QQQQQ", 0x60, 0x18, 0x78, len(itsp) + len(chunk), content_off)
    hs0 = struct.pack("<IIQQ", 0x1FE, 0, total, 0)
    out = head + hs0 + itsp + chunk + content
    return out[:len(out) - cut] if cut else out


def main():
    other = b"nothing to see here, only text that repeats: " * 4
    # ARJ
    write_case("arj", 1, "stored", "an ARJ file with a stored member: handed out under its name",
               [("t.hdb", hdb(PAYLOAD))], arj(arj_file(b"evil.exe", PAYLOAD, 0)),
               ["found Test.File in input//evil.exe", "warnings 0"])
    write_case("arj", 2, "method4", "ARJ method 4 (\"fastest\"): literals and back references",
               [("t.hdb", hdb(PAYLOAD))],
               arj(arj_file(b"readme.txt", other, 4), arj_file(b"dir/evil.exe", PAYLOAD, 4)),
               ["found Test.File in input//dir/evil.exe", "warnings 0"])
    write_case("arj", 3, "method1", "ARJ method 1: one block of static Huffman codes (LZH)",
               [("t.hdb", hdb(PAYLOAD))], arj(arj_file(b"evil.exe", PAYLOAD, 1)),
               ["found Test.File in input//evil.exe", "warnings 0"])
    write_case("arj", 4, "method3", "methods 2 and 3 are decoded like method 1",
               [("t.hdb", hdb(PAYLOAD))],
               arj(arj_file(b"a.txt", other, 2), arj_file(b"evil.exe", PAYLOAD, 3)),
               ["found Test.File in input//evil.exe", "warnings 0"])
    write_case("arj", 5, "bad-crc", "a member whose CRC-32 does not match: a warning, and it is still scanned",
               [("t.hdb", hdb(PAYLOAD))], arj(arj_file(b"evil.exe", PAYLOAD, 4, crc=0x12345678)),
               ["found Test.File in input//evil.exe", "warning Heuristics.Broken.Archive"],
               ["allmatch"])
    write_case("arj", 6, "truncated", "an archive cut inside a method-4 member: what was decoded is scanned",
               [("t.ndb", EVIL_NDB)], arj(arj_file(b"evil.exe", PAYLOAD, 4))[:-30],
               ["found Test.Evil in input//evil.exe", "warning Heuristics.Broken.Archive"],
               ["allmatch"])
    write_case("arj", 7, "unknown-method", "method 7 does not exist: a warning, nothing scanned",
               [("t.hdb", hdb(PAYLOAD))], arj(arj_file(b"evil.exe", PAYLOAD, 7)),
               ["clean", "warning Heuristics.Broken.Archive"])
    write_case("arj", 8, "garbled", "a garbled (password-protected) member is reported as encrypted",
               [("t.hdb", hdb(PAYLOAD))], arj(arj_file(b"evil.exe", PAYLOAD, 0, flags=1)),
               ["clean", "warning Heuristics.Encrypted.Archive"])
    write_case("arj", 9, "huge-declared-size",
               "a member that declares 2 GiB is cut at 64 MiB: a warning, its bytes still scanned",
               [("t.ndb", EVIL_NDB)], arj(arj_file(b"evil.exe", PAYLOAD, 4, usize=0x7FFFFFFF)),
               ["found Test.Evil in input//evil.exe", "warning Heuristics.Limits.Exceeded.MaxFileSize"],
               ["allmatch"])
    write_case("arj", 10, "bad-header-crc",
               "a local header whose CRC-32 does not match is damage: the walk stops there",
               [("t.hdb", hdb(PAYLOAD))],
               arj(arj_file(b"evil.exe", PAYLOAD, 0, bad_hcrc=True)),
               ["clean", "warning Heuristics.Broken.Archive"])
    # ZIP, method 9
    text = b"".join(b"line %d: the quick brown fox jumps over the lazy dog\n" % i for i in range(200))
    write_case("zipx", 1, "deflate64-zlib",
               "Deflate64 without its own codes is Deflate: zlib's stream as method 9; libarchive\n"
               "cannot read it, fmt_zipx does, and libarchive's walk (all of it: allmatch) does not\n"
               "report it again",
               [("t.hdb", hdb(text + PAYLOAD))],
               zip_file([(b"a.txt", 8, 0, deflate_raw(other), zlib.crc32(other), len(other)),
                         (b"evil.exe", 9, 0, deflate_raw(text + PAYLOAD), zlib.crc32(text + PAYLOAD),
                          len(text + PAYLOAD))]),
               ["found Test.File in input//evil.exe", "warnings 0"], ["allmatch"])
    lits = bytes((i * 37 + 11) & 0xFF for i in range(300))
    stream, plain = d64_fixed(lits, [(60000, 300), (1000, 32769), (40000, 49153 + 7), (5, 65536),
                                     (258, 3)])
    write_case("zipx", 2, "deflate64-codes",
               "the codes only Deflate64 has: length code 285 with 16 extra bits, distance codes\n"
               "30 and 31 (32769-65536, 14 extra bits)",
               [("t.hdb", hdb(plain))], zip_file([(b"big.bin", 9, 0, stream, zlib.crc32(plain), len(plain))]),
               ["found Test.File in input//big.bin", "warnings 0"])
    write_case("zipx", 3, "deflate64-truncated", "a Deflate64 member cut short: a warning, the rest is scanned",
               [("t.ndb", EVIL_NDB)],
               zip_file([(b"evil.exe", 9, 0, deflate_raw(PAYLOAD + text)[:-200], zlib.crc32(PAYLOAD + text),
                          len(PAYLOAD + text))]),
               ["found Test.Evil in input//evil.exe", "warning Heuristics.Broken.Archive"], ["allmatch"])
    write_case("zipx", 4, "deflate64-bad-crc", "a CRC-32 mismatch is a warning; the member is scanned",
               [("t.hdb", hdb(PAYLOAD))],
               zip_file([(b"evil.exe", 9, 0, deflate_raw(PAYLOAD), 0xDEADBEEF, len(PAYLOAD))]),
               ["found Test.File in input//evil.exe", "warning Heuristics.Broken.Archive"], ["allmatch"])
    write_case("zipx", 5, "deflate64-longer-than-declared",
               "data that decodes past the declared size is cut there, with a warning",
               [("t.ndb", EVIL_NDB)],
               zip_file([(b"evil.exe", 9, 0, deflate_raw(PAYLOAD + text), zlib.crc32(PAYLOAD), 40)]),
               ["found Test.Evil in input//evil.exe", "warning Heuristics.Broken.Archive"], ["allmatch"])
    write_case("zipx", 6, "encrypted", "an encrypted Implode member: Heuristics.Encrypted.Zip",
               [("t.hdb", hdb(PAYLOAD))],
               zip_file([(b"evil.exe", 6, 1, implode(PAYLOAD, 0), zlib.crc32(PAYLOAD), len(PAYLOAD))]),
               ["clean", "warning Heuristics.Encrypted.Zip"])
    for num, flags, what in ((7, 0, "no literal tree, 4 KiB window"), (8, 6, "literal tree, 8 KiB window"),
                             (9, 2, "no literal tree, 8 KiB window"), (10, 4, "literal tree, 4 KiB window")):
        data = text[:3000] + PAYLOAD + text[:5000]
        write_case("zipx", num, "implode-flags%d" % flags, "Implode, %s" % what, [("t.hdb", hdb(data))],
                   zip_file([(b"readme.txt", 0, 0, other, zlib.crc32(other), len(other)),
                             (b"EVIL.EXE", 6, flags, implode(data, flags), zlib.crc32(data), len(data))]),
                   ["found Test.File in input//EVIL.EXE", "warnings 0"], ["allmatch"])
    write_case("zipx", 11, "implode-truncated", "an Implode member cut short: a warning, the rest is scanned",
               [("t.ndb", EVIL_NDB)],
               zip_file([(b"evil.exe", 6, 0, implode(PAYLOAD + text, 0)[:-100], zlib.crc32(PAYLOAD + text),
                          len(PAYLOAD + text))]),
               ["found Test.Evil in input//evil.exe", "warning Heuristics.Broken.Archive"], ["allmatch"])
    write_case("zipx", 12, "implode-bad-tree", "an Implode tree whose lengths do not add up: a warning",
               [("t.ndb", EVIL_NDB)],
               zip_file([(b"evil.exe", 6, 0, b"\x02\xf5\xf5\xf5" + implode(PAYLOAD, 0)[5:],
                          zlib.crc32(PAYLOAD), len(PAYLOAD))]),
               ["clean", "warning Heuristics.Broken.Archive"])
    bomb, bomb_plain = d64_fixed(b"\0", [(65538, 1)] * 128)
    write_case("zipx", 13, "deflate64-ratio",
               "8 MiB of zeros from a few kilobytes: past ratio-min and max-ratio, not scanned",
               [("t.ndb", EVIL_NDB)],
               zip_file([(b"zeros.bin", 9, 0, bomb, zlib.crc32(bomb_plain), len(bomb_plain))]),
               ["clean", "warning Heuristics.Limits.Exceeded.MaxRatio"], ["ratio-min 1048576"])
    # CHM
    page = b"<html><body>help</body></html>\n"
    write_case("chm", 1, "uncompressed", "a CHM file whose files are in the uncompressed section",
               [("t.hdb", hdb(PAYLOAD))], chm([(b"/index.html", page), (b"/evil.exe", PAYLOAD)]),
               ["found Test.File in input//evil.exe", "warnings 0"])
    write_case("chm", 2, "truncated", "a CHM file cut inside its directory: a warning",
               [("t.hdb", hdb(PAYLOAD))], chm([(b"/evil.exe", PAYLOAD)])[:0x200],
               ["clean", "warning Heuristics.Broken.Archive"])
    write_case("chm", 3, "member-past-end",
               "a file whose length runs past the end of the CHM: a warning, its bytes scanned",
               [("t.hdb", hdb(PAYLOAD))], chm([(b"/evil.exe", PAYLOAD)], length_fix=100000),
               ["found Test.File in input//evil.exe", "warning Heuristics.Broken.Archive"], ["allmatch"])


if __name__ == "__main__":
    main()
