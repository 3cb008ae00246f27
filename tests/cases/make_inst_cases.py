#!/usr/bin/env python3
"""make_inst_cases.py - write the test cases of tests/cases/{inst,sis}/ (python3 stdlib only).

No Debian tool writes NSIS, AutoIt, InstallShield or SIS files, so this script builds small
ones from the format descriptions (docs/internals/FORMATS.md, the comments of
lib/formats/fmt_{inst,ishield,nsis,autoit,sis}.c): a minimal PE32 whose overlay holds a zip,
an InstallShield file list (plain, and with data1.hdr + data1.cab), an MSI-based InstallShield
table, NSIS data (per-block deflate, solid LZMA), AutoIt EA05 (MT19937) and EA06 resources
(stored and LZSS-compressed), and SIS release 6 files (compressed and not). The readers are
also checked against the real files in /usr/share/clamav-testfiles
(tests/cli/test_testfiles.sh). Each case proves the decoded bytes with an MD5 signature. Run
it from anywhere; it rewrites the numbered cases of those two folders and nothing else.
"""
import bz2
import io
import lzma
import os

import casefile
import struct
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
PAYLOAD = b"MZ" + b"xxEVIL-PAYLOADxx" * 3 + bytes(range(40)) + b"xxEVIL-PAYLOADxx" * 2
MASK32 = 0xFFFFFFFF


def hdb(data, name="Test.File"):
    return casefile.hdb(data, name)


def write_case(area, num, slug, comment, data, expect, sigs=None, options=None):
    casefile.write_case("make_inst_cases.py", area, num, slug, comment, sigs or [("t.hdb", hdb(PAYLOAD))],
                        data, expect, options)


def pe(overlay):
    """A PE32 with one section of 0x200 raw bytes at 0x200; overlay follows at 0x400."""
    dos = bytearray(0x40)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, 0x40)
    coff = struct.pack("<4sHHIIIHH", b"PE\0\0", 0x14C, 1, 0, 0, 0, 0xE0, 0x102)
    opt = bytearray(0xE0)
    struct.pack_into("<HBB", opt, 0, 0x10B, 1, 0)
    struct.pack_into("<I", opt, 16, 0x1000)  # entry point
    struct.pack_into("<I", opt, 28, 0x400000)  # image base
    struct.pack_into("<II", opt, 32, 0x1000, 0x200)  # alignments
    struct.pack_into("<I", opt, 56, 0x2000)  # size of image
    struct.pack_into("<I", opt, 60, 0x200)  # size of headers
    struct.pack_into("<H", opt, 68, 2)  # subsystem GUI
    struct.pack_into("<I", opt, 92, 16)  # number of data directories
    sect = struct.pack("<8sIIIIIIHHI", b".text", 0x200, 0x1000, 0x200, 0x200, 0, 0, 0, 0, 0x60000020)
    head = bytes(dos) + coff + bytes(opt) + sect
    head += bytes(0x200 - len(head))
    return head + b"\xc3" + bytes(0x1FF) + overlay


def pe_rsrc(rtype, rname, data):
    """A PE32 with .text and a .rsrc section holding one resource: type rtype (a number), name
    rname (a string), language 0x409; data directory 2 points at the table."""
    head = bytearray(pe(b"")[:0x400])
    struct.pack_into("<H", head, 0x40 + 6, 2)  # two sections
    table = bytearray()
    table += struct.pack("<IIHHHH", 0, 0, 0, 0, 0, 1) + struct.pack("<II", rtype, 0x80000000 | 0x18)
    table += struct.pack("<IIHHHH", 0, 0, 0, 0, 1, 0)  # 0x18: names
    name_off = 0x60
    table += struct.pack("<II", 0x80000000 | name_off, 0x80000000 | 0x30)
    table += struct.pack("<IIHHHH", 0, 0, 0, 0, 0, 1) + struct.pack("<II", 0x409, 0x48)  # 0x30: languages
    data_off = 0x80
    table += struct.pack("<IIII", 0x2000 + data_off, len(data), 0, 0)  # 0x48: the data entry
    table += bytes(name_off - len(table))
    u = rname.encode("utf-16-le")
    table += struct.pack("<H", len(u) // 2) + u
    table += bytes(data_off - len(table)) + data
    raw = bytes(table) + bytes(-len(table) % 0x200)
    opt = 0x40 + 24
    struct.pack_into("<II", head, opt + 96 + 16, 0x2000, len(table))  # resource directory
    struct.pack_into("<I", head, opt + 56, 0x2000 + len(raw))  # size of image
    sect = struct.pack("<8sIIIIIIHHI", b".rsrc", len(raw), 0x2000, len(raw), 0x400, 0, 0, 0, 0, 0x40000040)
    at = opt + 0xE0 + 40
    head[at:at + 40] = sect
    return bytes(head) + raw


# ---- InstallShield ----

def is_entry(name, data, version="0.0.0.0"):
    return b"%s\0Disk1\\%s\0%s\0%d\0" % (name, name, version.encode(), len(data)) + data


def is_cab_and_hdr(name, data):
    """data1.hdr with one file table entry and data1.cab holding the file in one zlib chunk."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = c.compress(data) + c.flush()
    chunk = struct.pack("<H", len(raw)) + raw
    cab = b"ISc(" + bytes(0x200 - 4) + chunk
    base = 0x200
    objs = bytearray(0x50)
    dirs_off = 0x50  # relative to base
    names = name + b"\0"
    struct.pack_into("<I", objs, 0x0C, dirs_off)
    struct.pack_into("<I", objs, 0x28, 1)  # files
    struct.pack_into("<I", objs, 0x2C, 4 + len(names))  # dir_sz2: the table follows the names
    item = bytearray(87)
    struct.pack_into("<HQQQ", item, 0, 4, len(data), len(chunk), 0x200)
    struct.pack_into("<I", item, 58, 4)  # name offset from dirs
    struct.pack_into("<H", item, 85, 1)  # data1.cab
    hdr = bytearray(b"ISc(" + bytes(8) + struct.pack("<II", base, 0))
    hdr += bytes(base - len(hdr)) + objs + bytes(4) + names + item
    return bytes(hdr), cab


def is_msi(files):
    out = b"InstallShield\0" + struct.pack("<II", len(files), 0) + bytes(24)
    skey = [0xEC, 0xCA, 0x79, 0xF8]
    for name, data, comp in files:
        z = comp if comp is not None else zlib.compress(data)
        key = bytes(c ^ skey[i & 3] for i, c in enumerate(name))
        enc = bytes((((b ^ key[(i & 0x3FF) % len(key)]) << 4) | ((b ^ key[(i & 0x3FF) % len(key)]) >> 4)) & 0xFF
                    for i, b in enumerate(z))
        fb = bytearray(0x138)
        fb[:len(name)] = name
        struct.pack_into("<II", fb, 0x104, 6, 0)
        struct.pack_into("<Q", fb, 0x10C, len(enc))
        out += bytes(fb) + enc
    return out


# ---- NSIS ----

def nsis_firsthdr(data, hdr_len):
    return struct.pack("<I", 0) + b"\xef\xbe\xad\xdeNullsoftInst" + struct.pack("<II", hdr_len, 28 + len(data) + 4) + data + b"CRC!"


def raw_deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def nsis_script(files, unicode=False):
    """An NSIS script header: flags, eight (offset, count) pairs, the entries (one
    EW_EXTRACTFILE, opcode 20, per (name, data position) in files, with a SetOutPath-like
    entry of another opcode between), then the string table (ANSI or UTF-16LE; it starts
    with an empty string)."""
    strings, ents = (b"\0\0" if unicode else b"\0"), b""
    for name, pos in files:
        off = len(strings) // 2 if unicode else len(strings)
        strings += name + (b"\0\0" if unicode else b"\0")
        ents += struct.pack("<7I", 11, 0, 0, 0, 0, 0, 0)  # EW_CREATEDIR: not a file
        ents += struct.pack("<7I", 20, 0x3, off, pos, 0, 0, 0)
    head = 4 + 8 * 8
    pairs = [(head, 0), (head, 0), (head, len(ents) // 28), (head + len(ents), 0)] + [(0, 0)] * 4
    return struct.pack("<I", 0) + b"".join(struct.pack("<II", o, c) for o, c in pairs) + ents + strings


def nsis_bzip2(data):
    """data as NSIS's bzip2 writes it: bzip2 level 9 with the framing replaced, each block
    announced by the byte 0x31 (no 48-bit magic, no CRC), the stream ended by 0x17."""
    z = bz2.compress(data, 9)
    b = "".join(format(x, "08b") for x in z)
    block, eos = format(0x314159265359, "048b"), format(0x177245385090, "048b")
    end = b.rfind(eos)
    starts, at = [], 32
    while True:
        at = b.find(block, at)
        if at < 0 or at >= end:
            break
        starts.append(at)
        at += 48
    out = ""
    for i, st in enumerate(starts):
        out += "00110001" + b[st + 48 + 32: starts[i + 1] if i + 1 < len(starts) else end]
    out += "00010111"
    out += "0" * (-len(out) % 8)
    return bytes(int(out[i:i + 8], 2) for i in range(0, len(out), 8))


def nsis_lzma(data):
    dict_size = 1 << 16
    body = lzma.compress(data, format=lzma.FORMAT_RAW,
                         filters=[{"id": lzma.FILTER_LZMA1, "dict_size": dict_size, "lc": 3, "lp": 0, "pb": 2}])
    return bytes([0x5D]) + struct.pack("<I", dict_size) + body


# ---- AutoIt ----

class MT:
    def __init__(self, seed):
        self.s = [seed & MASK32]
        for i in range(1, 624):
            p = self.s[-1]
            self.s.append((1812433253 * (p ^ (p >> 30)) + i) & MASK32)
        self.i = 624

    def byte(self):
        if self.i >= 624:
            for k in range(624):
                y = (self.s[k] & 0x80000000) | (self.s[(k + 1) % 624] & 0x7FFFFFFF)
                self.s[k] = self.s[(k + 397) % 624] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
            self.i = 0
        y = self.s[self.i]
        self.i += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        return (y >> 1) & 0xFF


class Lame:
    def __init__(self, seed):
        self.g = []
        for _ in range(17):
            seed = (1 - seed * 0x53A9B4FB) & MASK32
            self.g.append(seed)
        self.c0, self.c1 = 0, 10
        for _ in range(9):
            self.step()

    def step(self):
        rol = lambda x, n: ((x << n) | (x >> (32 - n))) & MASK32
        v = (rol(self.g[self.c0], 9) + rol(self.g[self.c1], 13)) & MASK32
        self.g[self.c0] = v
        self.c0 = self.c0 - 1 if self.c0 else 16
        self.c1 = self.c1 - 1 if self.c1 else 16
        return v

    def byte(self):
        self.step()
        return self.step() >> 24


def au3_crypt(ea06, seed, data):
    g = Lame(seed) if ea06 else MT(seed)
    return bytes(b ^ g.byte() for b in data)


def au3_lzss(ea06, data):
    """Literals, except that a repeat of the 16 bytes 16 back becomes one match."""
    bits = []
    put = lambda v, n: bits.extend((v >> (n - 1 - i)) & 1 for i in range(n))
    i = 0
    lit = 1 if ea06 else 0
    while i < len(data):
        if i >= 16 and data[i:i + 16] == data[i - 16:i]:
            put(1 - lit, 1)
            put(16, 15)
            put(3, 2)  # length 16 = 3 + 3 + (3 bits: 7) -> 10 + (5 bits) ...
            put(7, 3)
            put(3, 5)  # 3 + 10 + 3 = 16
            i += 16
        else:
            put(lit, 1)
            put(data[i], 8)
            i += 1
    bits += [0] * (-len(bits) % 8)
    body = bytes(int("".join(map(str, bits[k:k + 8])), 2) for k in range(0, len(bits), 8))
    return (b"EA06" if ea06 else b"EA05") + struct.pack(">I", len(data)) + body


def au3_resource(ea06, sub, path, data, compress, sum16, bad_crc=False):
    k = (0x18EE, 0xADBC, 0xB33F, 0xF820, 0xF479, 0x87BC, 0xA685, 0x2477) if ea06 else \
        (0x16FA, 0x29BC, 0xA25E, 0x29AC, 0xF25E, 0x45AA, 0xC3D2, 0x22AF)
    enc = lambda s: s.encode("utf-16-le") if ea06 else s.encode()
    out = au3_crypt(ea06, k[0], b"FILE")
    out += struct.pack("<I", len(sub) ^ k[1]) + au3_crypt(ea06, k[2] + len(sub), enc(sub))
    out += struct.pack("<I", len(path) ^ k[3]) + au3_crypt(ea06, k[4] + len(path), enc(path))
    body = au3_lzss(ea06, data) if compress else data
    crc = zlib.adler32(body) ^ (1 if bad_crc else 0)
    out += bytes([1 if compress else 0]) + struct.pack("<III", len(body) ^ k[5], len(data) ^ k[5], crc ^ k[6])
    out += bytes(16)
    out += au3_crypt(ea06, k[7] if ea06 else sum16 + k[7], body)
    return out


def au3(ea06, resources):
    pw = bytes(range(1, 17))
    head = bytes.fromhex("a3484bbe986c4aa9994c530a86d6487d") + (b"AU3!EA06" if ea06 else b"AU3!EA05") + pw
    return head + b"".join(au3_resource(ea06, *r, sum(pw)) for r in resources) + b"\0" * 8


# ---- SIS ----

def sis(files, compressed=True, nfiles=None):
    """Release 6, Unicode names, one language; files: (dest name, data)."""
    hdr_len = 0x64
    recs_at = hdr_len + 2
    rec_len = 4 + 6 * 4 + 4 + 4 + 4 + 8
    strings_at = recs_at + rec_len * len(files)
    blob = b""
    recs = b""
    datas = []
    for name, data in files:
        src = ("C:\\build\\" + name).encode("utf-16-le")
        dst = ("!:\\sys\\bin\\" + name).encode("utf-16-le")
        body = zlib.compress(data) if compressed else data
        datas.append((src, dst, body, len(data)))
    pos = strings_at
    for src, dst, body, olen in datas:
        src_at = pos
        dst_at = src_at + len(src)
        body_at = dst_at + len(dst)
        pos = body_at + len(body)
        recs += struct.pack("<I", 1) + struct.pack("<6I", 0, 0, len(src), src_at, len(dst), dst_at)
        recs += struct.pack("<III", len(body), body_at, olen) + struct.pack("<II", 0, 0)
        blob += src + dst + body
    h = bytearray(hdr_len)
    struct.pack_into("<IIII", h, 0, 0x10000000, 0x10003A12, 0x10000419, 0)
    struct.pack_into("<HHHH", h, 0x10, 0, 1, len(files) if nfiles is None else nfiles, 0)
    struct.pack_into("<I", h, 0x20, 0xC8)
    struct.pack_into("<HH", h, 0x24, 1 | (0 if compressed else 8), 0)
    struct.pack_into("<II", h, 0x30, hdr_len, recs_at)
    return bytes(h) + b"\0\0" + recs + blob


def main():
    area = "inst"
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zi = zipfile.ZipInfo("evil.exe", date_time=(2026, 11, 25, 11, 42, 16))  # fixed: reproducible
        zi.compress_type = zipfile.ZIP_DEFLATED
        zi.external_attr = 0o600 << 16
        zf.writestr(zi, PAYLOAD)
    write_case(area, 1, "overlay-zip", "a PE whose overlay is a zip file: the overlay is handed out and opened",
               pe(z.getvalue()), ["found Test.File in input//overlay//evil.exe", "warnings 0"])
    write_case(area, 2, "plain-pe", "a PE with an overlay of no known kind: nothing is opened, nothing said",
               pe(b"just some trailing bytes" * 20), ["clean", "warnings 0"])
    write_case(area, 3, "ishield-list", "an InstallShield setup's file list in the overlay: each file by its name",
               pe(is_entry(b"setup.ini", b"[Startup]\r\n") + is_entry(b"evil.exe", PAYLOAD)),
               ["found Test.File in input//evil.exe", "warnings 0"])
    hdr, cab = is_cab_and_hdr(b"evil.exe", PAYLOAD)
    write_case(area, 4, "ishield-cab", "an InstallShield cabinet (data1.hdr + data1.cab, a zlib chunk) in a setup's list",
               pe(is_entry(b"data1.cab", cab) + is_entry(b"data1.hdr", hdr)),
               ["found Test.File in input//data1.cab/evil.exe", "warnings 0"])
    write_case(area, 5, "ishield-list-cut", "an InstallShield file list whose second entry runs past the end: the first is scanned, a warning",
               pe(is_entry(b"evil.exe", PAYLOAD) + b"b.txt\0Disk1\\b.txt\x001\x009999\x00abc"),
               ["found Test.File in input//evil.exe", "warning Heuristics.Broken.Archive"],
               options=["allmatch"])
    write_case(area, 6, "ishield-msi", "an MSI-based InstallShield setup: the file de-obfuscated and inflated",
               pe(b"NB10" + bytes(12) + is_msi([(b"readme.txt", b"hello", None), (b"evil.exe", PAYLOAD, None)])),
               ["found Test.File in input//evil.exe", "warnings 0"])
    write_case(area, 7, "ishield-msi-damaged", "an MSI-based InstallShield file whose zlib data is garbage: a warning, no crash",
               pe(is_msi([(b"evil.exe", PAYLOAD, b"\x78\x9c" + b"\xff" * 40)])),
               ["clean", "warning Heuristics.Broken.Archive"])
    hdr_block = b"script header " * 4
    blocks = b""
    for d in (hdr_block, PAYLOAD):
        c = raw_deflate(d)
        blocks += struct.pack("<I", 0x80000000 | len(c)) + c
    write_case(area, 8, "nsis-deflate", "an NSIS installer compressed block by block with deflate: the file is file-1",
               pe(nsis_firsthdr(blocks, len(hdr_block))), ["found Test.File in input//file-1", "warnings 0"])
    solid = nsis_lzma(struct.pack("<I", len(hdr_block)) + hdr_block + struct.pack("<I", len(PAYLOAD)) + PAYLOAD)
    write_case(area, 9, "nsis-solid-lzma", "a solid LZMA NSIS installer: the stream decompressed and split",
               pe(nsis_firsthdr(solid, len(hdr_block))), ["found Test.File in input//file-1", "warnings 0"])
    c = raw_deflate(PAYLOAD)
    cut = struct.pack("<I", 0x80000000 | len(c)) + c[: len(c) // 2]
    write_case(area, 10, "nsis-truncated", "an NSIS block cut in half (its length runs past the end): a warning",
               pe(nsis_firsthdr(struct.pack("<I", 0x80000000 | 2000) + c, 4)),
               ["clean", "warning Heuristics.Broken.Archive"])
    bomb = nsis_lzma(struct.pack("<I", 4) + b"hdr!" + struct.pack("<I", 4 << 20) + bytes(4 << 20))
    write_case(area, 11, "nsis-bomb", "an NSIS solid block of 4 MiB of zeros from about 1 KiB: max-ratio stops it",
               pe(nsis_firsthdr(bomb, 4)), ["clean", "warning Heuristics.Limits.Exceeded.MaxRatio"],
               options=["max-ratio 50", "ratio-min 65536"])
    # named files: ANSI (a variable code 0xFD and two bytes, then a path) and UTF-16 (code 3)
    script = nsis_script([(b"\xfd\x15\x80\\bin\\setup.exe", 0)])
    blocks = b""
    for d in (script, PAYLOAD, PAYLOAD):
        c = raw_deflate(d)
        blocks += struct.pack("<I", 0x80000000 | len(c)) + c
    write_case(area, 15, "nsis-names", "NSIS file names from the script: the first file named by its File entry "
               "(a variable, then a path: the base name), the second, which no entry names, file-2",
               pe(nsis_firsthdr(blocks, len(script))),
               ["found Test.File in input//setup.exe", "found Test.File in input//file-2", "warnings 0"],
               options=["allmatch"])
    uname = "\u0003\u8015$\\Tài liệu\\hóa-đơn.exe".encode("utf-16-le")
    # the first File entry names position 0 (readme), the second the payload after it
    script = nsis_script([(b"r\0e\0a\0d\0m\0e\0", 0), (uname, 4 + len(b"readme"))], unicode=True)
    solid = nsis_lzma(struct.pack("<I", len(script)) + script + struct.pack("<I", len(b"readme")) + b"readme" +
                      struct.pack("<I", len(PAYLOAD)) + PAYLOAD)
    write_case(area, 16, "nsis-names-unicode", "a solid Unicode NSIS installer: names in UTF-16 (Vietnamese, "
               "after a variable code) come out as UTF-8 base names",
               pe(nsis_firsthdr(solid, len(script))), ["found Test.File in input//hóa-đơn.exe", "warnings 0"])
    text = b"MsgBox(0, 'x', 'y')\r\n"
    write_case(area, 12, "autoit-ea05", "AutoIt EA05 (MT19937): a stored script and a compressed FileInstall file",
               pe(au3(False, [(">AUTOIT SCRIPT<", "script", text, False),
                              ("C:\\work\\evil.exe", "evil.exe", PAYLOAD, True)])),
               ["found Test.File in input//evil.exe", "warnings 0"])
    write_case(area, 13, "autoit-ea06", "AutoIt EA06 (its own keystream, UTF-16 names): a compressed FileInstall file",
               pe(au3(True, [(">>>AUTOIT SCRIPT<<<", "script", text, True),
                             ("C:\\work\\evil.exe", "evil.exe", PAYLOAD, True)])),
               ["found Test.File in input//evil.exe", "warnings 0"])
    write_case(area, 14, "autoit-bad-crc", "an AutoIt resource whose Adler-32 does not match: scanned, and a warning",
               pe(au3(True, [("C:\\evil.exe", "evil.exe", PAYLOAD, False, True)])),
               ["found Test.File in input//evil.exe", "warning Heuristics.Broken.Archive"],
               options=["allmatch"])
    script = au3(True, [(">>>AUTOIT SCRIPT<<<", "script", text, True),
                        ("C:\\work\\evil.exe", "evil.exe", PAYLOAD, True)])
    write_case(area, 17, "autoit-resource", "AutoIt 3.2.6+ keeps the script in the resource RCDATA \"SCRIPT\", "
               "not the overlay: found through the resource table",
               pe_rsrc(10, "SCRIPT", script), ["found Test.File in input//evil.exe", "warnings 0"])
    write_case(area, 18, "rcdata-not-autoit", "an RCDATA \"SCRIPT\" resource that is not AutoIt's: nothing opened, "
               "nothing said", pe_rsrc(10, "script", PAYLOAD[::-1]), ["clean", "warnings 0"])
    script = nsis_script([(b"setup.exe", 0)])
    blocks = b""
    for d in (script, PAYLOAD):
        c = nsis_bzip2(d)
        blocks += struct.pack("<I", 0x80000000 | len(c)) + c
    write_case(area, 19, "nsis-bzip2", "an NSIS installer compressed block by block with NSIS's bzip2 (no stream "
               "header, blocks framed by 0x31, no CRCs)", pe(nsis_firsthdr(blocks, len(script))),
               ["found Test.File in input//setup.exe", "warnings 0"])
    big = bytes(range(256)) * 4000  # 1 MB: two bzip2 blocks, a few hundred bytes compressed
    script = nsis_script([(b"big.bin", 0), (b"evil.exe", 4 + len(big))])
    solid = nsis_bzip2(struct.pack("<I", len(script)) + script + struct.pack("<I", len(big)) + big +
                       struct.pack("<I", len(PAYLOAD)) + PAYLOAD)
    write_case(area, 20, "nsis-bzip2-solid", "a solid NSIS bzip2 installer of two bzip2 blocks: the file after "
               "1 MB of data is in the second block", pe(nsis_firsthdr(solid, len(script))),
               ["found Test.File in input//evil.exe", "warnings 0"])
    cut = solid[: len(solid) - 40]
    write_case(area, 21, "nsis-bzip2-cut", "a solid NSIS bzip2 stream cut short: what decoded is scanned, and a "
               "warning", pe(nsis_firsthdr(cut, len(script))), ["clean", "warning Heuristics.Broken.Archive"])
    inner = pe(b"")[:0x200] + PAYLOAD + bytes(0x200 - len(PAYLOAD))  # a PE whose code is the payload
    write_case(area, 22, "embedded-pe", "a plain PE carrying another PE as data (after 17 bytes of junk, so "
               "not at a 16-byte boundary): found by the embedded-PE search, cut at its last section",
               pe(b"junk-before-it!!!" + inner + b"trailing data"), ["found Test.Inner in input//embedded-pe-411",
               "warnings 0"], sigs=[("t.hdb", hdb(inner, "Test.Inner"))])
    area = "sis"
    write_case(area, 1, "compressed", "a SIS release 6 file with a zlib-compressed file: named by its destination",
               sis([("readme.txt", b"read me"), ("evil.exe", PAYLOAD)]),
               ["found Test.File in input//evil.exe", "warnings 0"])
    write_case(area, 2, "stored", "a SIS release 6 file with the not-compressed option: the data as it is",
               sis([("evil.exe", PAYLOAD)], compressed=False),
               ["found Test.File in input//evil.exe", "warnings 0"])
    write_case(area, 3, "table-cut", "a SIS file that declares more records than it holds: a warning after the real ones",
               sis([("evil.exe", PAYLOAD)], nfiles=3),
               ["found Test.File in input//evil.exe", "warning Heuristics.Broken.Archive"],
               options=["allmatch"])
    s = bytearray(sis([("evil.exe", PAYLOAD)]))
    struct.pack_into("<I", s, 0x66 + 4 + 24 + 4, 0x7FFFFFF0)  # the data offset points far outside
    write_case(area, 4, "data-outside", "a SIS file record whose data lies outside the file: a warning, no crash",
               bytes(s), ["clean", "warning Heuristics.Broken.Archive"])


if __name__ == "__main__":
    main()
