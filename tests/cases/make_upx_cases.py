#!/usr/bin/env python3
"""make_upx_cases.py - write the test cases of tests/cases/upx/ (python3 stdlib only).

Debian 12 has no UPX packer (upx-ucl left bookworm), so this script packs a small PE32 the way
UPX's win32/pe format does, with encoders of its own for NRV2B, NRV2D and NRV2E (8-bit and le32
bit streams, written from the UCL decoders' description: the encoder emits exactly the bits the
decoder reads) and Python's raw LZMA1 for the LZMA method: sections UPX0 (empty) and UPX1
(compressed image + stub), the "UPX!" pack header before the data, the stub's `pusha; mov esi,
SRC; lea edi, [esi+D]` at the entry point, the ctok32 call filter (0x26) with its unfilter loop
and the final `popa; jmp OEP`. The real UPX output is covered by clam-upx.exe (NRV2B) and
clam.ea05/06.exe (NRV2E) in tests/cli/test_testfiles.sh. Each case proves the unpacked bytes
with body signatures over the code (calls with their original relative operands) and an MD5
signature of an executable embedded in the packed program. Run it from anywhere; it rewrites
the numbered cases of tests/cases/upx/ and nothing else.
"""
import lzma
import os

import casefile
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = 0x400000
MARKER = b"KHIEN-UPX-" * 6 + b"TEST-MARKER"    # repeats: never a literal run in the packed file
LAST = {}


def hdb(data, name):
    return casefile.hdb(data, name)


def write_case(num, slug, comment, sigs, data, expect, options=None):
    casefile.write_case("make_upx_cases.py", "upx", num, slug, comment, sigs, data, expect, options)


def pe(sections, ep, size_of_image, head=0x400, extra_head=None):
    """A PE32: sections are (name, va, vsize, raw bytes or None, raw_off)."""
    h = bytearray(head)
    h[0:2] = b"MZ"
    struct.pack_into("<I", h, 0x3C, 0x80)
    h[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<HHIIIHH", h, 0x84, 0x14C, len(sections), 0, 0, 0, 224, 0x010F)
    o = 0x98
    struct.pack_into("<HBBIIIIII", h, o, 0x10B, 2, 0x19, 0x200, 0, 0, ep, 0x1000, 0x1000)
    struct.pack_into("<IIIHHHHHHIIIIHHIIIIII", h, o + 28, BASE, 0x1000, 0x200, 4, 0, 0, 0, 4, 0,
                     0, size_of_image, head, 0, 2, 0, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    t = o + 224
    body = bytearray()
    for i, (name, va, vsize, raw, raw_off) in enumerate(sections):
        rs = len(raw) if raw else 0
        struct.pack_into("<8sIIIIIIHHI", h, t + 40 * i, name, vsize, va, rs, raw_off if rs else 0,
                         0, 0, 0, 0, 0xE0000060)
    if extra_head:
        off, b = extra_head
        h[off:off + len(b)] = b
    out = bytearray(h)
    for name, va, vsize, raw, raw_off in sections:
        if raw:
            out += bytes(raw_off - len(out))
            out += raw
    return bytes(out)


# ---- the program that gets packed ----
def embedded_pe():
    code = b"\x6a\x00\xc3" + b"KHIEN-EMBEDDED-PAYLOAD" * 4
    return pe([(b".text", 0x1000, 0x1000, code + bytes(-len(code) % 0x200), 0x200)], 0x1000,
              0x2000, head=0x200)


def program():
    """Image from RVA 0x1000: code with calls at 0x1000, data with a marker and an embedded PE."""
    code = bytearray()
    code += b"\x55\x8b\xec"                      # push ebp; mov ebp, esp
    for k in range(6):                           # call +0x100*k (relative), jmp back
        code += b"\xe8" + struct.pack("<i", 0x100 + 0x40 * k - (len(code) + 5))
    code += b"\xe9" + struct.pack("<i", 0x300 - (len(code) + 5))
    code += b"\xe8" + b"\x00" * 4 + b"\x5d\xc3"
    text = bytes(code) + bytes(0x400 - len(code))
    data = MARKER + b"\0" + bytes(range(256)) * 4
    data += b"\0" * (-len(data) % 16)
    emb_off = len(text) + len(data)
    img = text + data + embedded_pe()
    img += bytes(-len(img) % 0x1000)
    return img, emb_off


# ---- NRV encoders ----
class BitWriter:
    def __init__(self, le32):
        self.le32, self.out, self.pos, self.n = le32, bytearray(), None, 0

    def bit(self, b):
        width = 32 if self.le32 else 8
        if self.pos is None or self.n == width:
            self.pos, self.n, self.word = len(self.out), 0, 0
            self.out += bytes(width // 8)
        self.word = self.word * 2 + b
        self.n += 1
        w = self.word << (width - self.n)
        if self.le32:
            struct.pack_into("<I", self.out, self.pos, w)
        else:
            self.out[self.pos] = w

    def byte(self, b):
        self.out.append(b)

    def done(self):
        return bytes(self.out)


def gamma_b(w, v):          # value*2 + bit, then 1 = stop
    bits = bin(v)[3:]
    for i, c in enumerate(bits):
        w.bit(int(c))
        w.bit(1 if i == len(bits) - 1 else 0)


def gamma_d(w, v):          # NRV2D/2E offsets: rounds of (bit, stop), a "go on" adds a bit
    def gen(v):
        x, a = v >> 1, v & 1
        if x == 1:
            return [a]
        return gen((x >> 1) + 1) + [0, x & 1, a]
    for b in gen(v) + [1]:
        w.bit(b)


def nrv_encode(data, method, le32):
    w = BitWriter(le32)
    far = 0xD00 if method == "2b" else 0x500
    table, last, i = {}, 1, 0
    while i < len(data):
        best_len, best_off = 0, 0
        key = data[i:i + 3]
        if len(key) == 3 and key in table:
            j = table[key]
            off = i - j
            n = 0
            while i + n < len(data) and data[j + n] == data[i + n] and n < 0x2000:
                n += 1
            if off < 0x20000 and n >= 3 + (off > far):
                best_len, best_off = n, off
        if len(key) == 3:
            table[key] = i
        if not best_len:
            w.bit(1)
            w.byte(data[i])
            i += 1
            continue
        w.bit(0)
        off, L = best_off, best_len
        m = L - 1 - (off > far)
        if method == "2b":
            if off == last:
                gamma_b(w, 2)
            else:
                gamma_b(w, ((off - 1) >> 8) + 3)
                w.byte((off - 1) & 0xFF)
            if m < 4:
                w.bit(m >> 1)
                w.bit(m & 1)
            else:
                w.bit(0)
                w.bit(0)
                gamma_b(w, m - 2)
        else:
            if method == "2d":
                lb = m >> 1 if m < 4 else 0
            else:
                lb = 1 if m < 3 else 0
            if off == last:
                gamma_d(w, 2)
                w.bit(lb)
            else:
                enc = (off - 1) * 2 + (1 - lb)
                gamma_d(w, (enc >> 8) + 3)
                w.byte(enc & 0xFF)
            if method == "2d":
                if m < 4:
                    w.bit(m & 1)
                else:
                    w.bit(0)
                    gamma_b(w, m - 2)
            else:
                if m < 3:
                    w.bit(m - 1)
                elif m < 5:
                    w.bit(1)
                    w.bit(m - 3)
                else:
                    w.bit(0)
                    gamma_b(w, m - 3)
        last = off
        for k in range(1, L):
            if i + k + 3 <= len(data):
                table[data[i + k:i + k + 3]] = i + k
        i += L
    w.bit(0)                               # the end: offset 0xffffffff
    if method == "2b":
        gamma_b(w, 0x1000002)
    else:
        gamma_d(w, 0x1000002)
    w.byte(0xFF)
    return w.done()


def ctok32(img, cto):
    """UPX's filter 0x26: E8/E9 operands become absolute, big-endian, tagged with cto."""
    b, i, count = bytearray(img), 0, 0
    while i + 5 <= len(b):
        if b[i] in (0xE8, 0xE9):
            rel = struct.unpack_from("<i", b, i + 1)[0]
            target = (rel + i + 1) & 0xFFFFFFFF
            if target < len(b):
                b[i + 1] = cto
                b[i + 2:i + 5] = bytes([(target >> 16) & 0xFF, (target >> 8) & 0xFF, target & 0xFF])
                i += 5
                count += 1
                continue
        i += 1
    return bytes(b), count


METHODS = {"2b": (2, 3), "2d": (5, 6), "2e": (8, 9), "lzma": (14, 14)}


def pack(img, method, le32=True, filt=True, header=True):
    cto = 0x42
    u = img
    count = 0
    if filt:
        u, count = ctok32(img, cto)
    if method == "lzma":
        props = bytes([3, 0, 2, 0])
        comp = b"\x18\x02" + lzma.compress(u, format=lzma.FORMAT_RAW, filters=[
            {"id": lzma.FILTER_LZMA1, "lc": 3, "lp": 0, "pb": 2, "dict_size": 1 << 20}])
    else:
        comp = nrv_encode(u, method, le32)
    LAST["comp"] = len(comp)
    upx1_va = 0x1000 + len(img)
    src = BASE + upx1_va
    stub_off = len(comp) + (-len(comp) % 16)
    ep = upx1_va + stub_off
    stub = bytearray(b"\x60\xbe" + struct.pack("<I", src) + b"\x8d\xbe" +
                     struct.pack("<i", 0x1000 - upx1_va) + b"\x57")
    if method == "lzma":
        stub += (b"\x89\xe5\x8d\x9c\x24\x80\xc1\xff\xff\x31\xc0\x50\x39\xdc\x75\xfb\x46\x46\x53\x68" +
                 struct.pack("<I", len(u)) + b"\x57\x83\xc3\x04\x53\x68" +
                 struct.pack("<I", len(comp)) + b"\x56\x83\xc3\x04\x53\x50\xc7\x03" + props)
    else:
        stub += b"\x83\xcd\xff\xeb\x10" + b"\x90" * 16
    if filt:
        stub += (b"\x5e\x89\xf7\xb9" + struct.pack("<I", count) +
                 b"\x8a\x07\x47\x2c\xe8\x3c\x01\x77\xf7\x80\x3f" + bytes([cto]) + b"\x75\xf2")
    at = len(stub) + 1
    stub += b"\x61\xe9" + struct.pack("<i", 0x1000 - (ep + at + 5))
    upx1 = comp + bytes(stub_off - len(comp)) + bytes(stub)
    upx1 += bytes(-len(upx1) % 0x200)
    m = METHODS[method][0 if le32 else 1]
    hdr = b"UPX!" + bytes([13, 9, m, 8]) + struct.pack("<IIIII", 0, 0, len(u), len(comp), 0)
    hdr += bytes([0x26 if filt else 0, cto if filt else 0, 0, 0])
    size = upx1_va + ((len(upx1) + 0xFFF) & ~0xFFF)
    return pe([(b"UPX0", 0x1000, len(img), None, 0), (b"UPX1", upx1_va, len(upx1), upx1, 0x400)],
              ep, size, extra_head=(0x3E0, hdr) if header else None)


def main():
    img, emb_off = program()
    emb = embedded_pe()
    code_sig = img[:40].hex()
    sigs = [("t.ndb", "Test.UPX.Code:1:*:%s\nTest.UPX.Marker:0:*:%s\n" %
             (code_sig, MARKER.hex())),
            ("t.hdb", hdb(emb, "Test.UPX.Embedded"))]
    expect = ["found Test.UPX.Code in input//upx-unpacked", "found Test.UPX.Marker in input//upx-unpacked",
              "found Test.UPX.Embedded in input//upx-unpacked//embedded-pe-%x" % (0x400 + emb_off), "warnings 0"]
    n = 1
    for method, le32, slug in [("2b", True, "nrv2b"), ("2d", True, "nrv2d"), ("2e", True, "nrv2e"),
                               ("lzma", True, "lzma"), ("2b", False, "nrv2b-8bit"),
                               ("2d", False, "nrv2d-8bit"), ("2e", False, "nrv2e-8bit")]:
        write_case(n, slug, "a PE packed the way UPX packs win32/pe, method %s%s, with the call filter "
                   "0x26:\nthe unpacked PE holds the code with its original call operands, the marker "
                   "and an embedded PE" % (method.upper(), " le32" if le32 and method != "lzma" else ""),
                   sigs, pack(img, method, le32), ["options", "allmatch"][1:] and expect,
                   options=["allmatch"])
        n += 1
    # renamed sections, no UPX! header: the stub alone is recognised, methods tried in turn
    f = bytearray(pack(img, "2e"))
    f[0x3E0:0x400] = bytes(32)
    t = 0x98 + 224
    f[t:t + 8] = b".text\0\0\0"
    f[t + 40:t + 48] = b".data\0\0\0"
    write_case(n, "renamed-no-header", "UPX NRV2E with the sections renamed and the UPX! header wiped: "
               "the entry-point stub\nis enough", sigs, bytes(f), expect, options=["allmatch"])
    n += 1
    # damaged: the second half of the compressed data is zeros
    f = bytearray(pack(img, "2b"))
    half = LAST["comp"] // 2
    f[0x400 + half:0x400 + LAST["comp"]] = bytes(LAST["comp"] - half)
    write_case(n, "damaged", "UPX NRV2B whose compressed data is zeros from the middle on: a warning, "
               "and what was\ndecoded is still scanned (the code and the marker at its start match)",
               sigs, bytes(f), ["found Test.UPX.Code in input//upx-unpacked",
                                "found Test.UPX.Marker in input//upx-unpacked",
                           "warning Heuristics.Broken.Executable"], options=["allmatch"])
    n += 1
    # UPX section names and stub, garbage where the data should be
    f = bytearray(pack(img, "2b"))
    for k in range(0x400, 0x400 + LAST["comp"]):
        f[k] = (k * 7 + 3) & 0xFF
    write_case(n, "garbage-data", "UPX names, header and stub over garbage: a warning, no crash, "
               "nothing found", sigs, bytes(f),
               ["clean", "warning Heuristics.Broken.Executable"])
    n += 1
    # a plain PE whose sections are named UPX0/UPX1 but whose entry point is no UPX stub
    f = pe([(b"UPX0", 0x1000, 0x1000, None, 0), (b"UPX1", 0x2000, 0x200, b"\xc3" + bytes(0x1FF), 0x400)],
           0x2000, 0x3000)
    write_case(n, "names-only", "sections named UPX0/UPX1 without a UPX stub: left alone, silently",
               sigs, f, ["clean", "warnings 0"])
    n += 1
    # truncated inside the compressed data: the stub (after the data) is gone too
    f = pack(img, "2e")
    write_case(n, "truncated", "UPX NRV2E cut short inside its compressed data, so the entry point is "
               "past the end:\nnot recognised, no crash", sigs, f[:0x400 + LAST["comp"] // 2],
               ["clean"])


if __name__ == "__main__":
    main()
