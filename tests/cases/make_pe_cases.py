#!/usr/bin/env python3
"""make_pe_cases.py - write the test cases of tests/cases/ndb-pe/ and tests/cases/mdb/
(python3 stdlib only), and cross-check them with ClamAV.

The inputs are a minimal valid PE32 and PE32+ built here: headers of 0x400 bytes, FileAlignment
0x200, SectionAlignment 0x1000, three sections

    .text  VA 0x1000  raw 0x400  size 0x200   (entry point RVA 0x1010 = file offset 0x410)
    .data  VA 0x2000  raw 0x600  size 0x400
    .rsrc  VA 0x3000  raw 0xA00  size 0x200   (the last section; the file ends at 0xC00)

filled with pseudo-random bytes and an 8-byte marker at each place a signature form points at.
Each .ndb case puts the signature that must hit next to the same one a byte before and a byte
after (and the range form one byte short), with allmatch, so a detection nobody expected fails
the case; the same bytes in a file that is not a PE must not match at all.

    python3 make_pe_cases.py              rewrite the numbered cases of ndb-pe/ and mdb/
    python3 make_pe_cases.py --clamscan   run clamscan on every case's input with its
                                          databases and say where its detections agree
"""
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import casefile

HERE = os.path.dirname(os.path.abspath(__file__))
EP_RVA = 0x1010
EP = 0x410
SECT = [(b".text", 0x1000, 0x400, 0x200), (b".data", 0x2000, 0x600, 0x400),
        (b".rsrc", 0x3000, 0xA00, 0x200)]
SIZE = 0xC00

# marker name -> (file offset, bytes); each appears once in the file
MARK = {
    "ep": (EP + 0x20, b"EPplus!!"),       # EP+32
    "epm": (EP - 0x10, b"EPminus!"),      # EP-16 (the start of .text)
    "s0": (0x400 + 0x40, b"Sect0at+"),    # S0+64
    "s1": (0x600 + 0x30, b"Sect1at+"),    # S1+48
    "s2": (0xA00 + 0x08, b"Sect2at+"),    # S2+8 = SL+8
    "se": (0x9F8, b"InData!!"),           # the last 8 bytes of .data: SE1
    "edge": (0xA00, b"EdgeOf1!"),         # the first byte after .data: SE1 includes it, as ClamAV
}
HDR = b"InHeader"  # put in the headers only by variant()


def hx(b):
    return b.hex()


def filler(n, seed):
    out = bytearray()
    h = hashlib.sha256(seed).digest()
    while len(out) < n:
        h = hashlib.sha256(h).digest()
        out += bytes(c & 0x7F | 0x80 for c in h)   # high bytes: never ASCII marker text
    return out[:n]


def build(plus=False, dll=False):
    """A PE32 (or PE32+) of SIZE bytes with the sections above and the markers in place."""
    h = bytearray(0x400)
    h[0:2] = b"MZ"
    struct.pack_into("<I", h, 0x3C, 0x80)
    h[0x80:0x84] = b"PE\0\0"
    optsize = 240 if plus else 224
    chars = 0x0102 | (0x2000 if dll else 0) | (0 if plus else 0x0100)
    struct.pack_into("<HHIIIHH", h, 0x84, 0x8664 if plus else 0x14C, len(SECT), 0, 0, 0, optsize,
                     chars)
    o = 0x98
    struct.pack_into("<HBBIIIII", h, o, 0x20B if plus else 0x10B, 14, 0, 0x200, 0x600, 0,
                     EP_RVA, 0x1000)
    if plus:
        struct.pack_into("<Q", h, o + 24, 0x140000000)
    else:
        struct.pack_into("<II", h, o + 24, 0x2000, 0x400000)
    # SectionAlignment, FileAlignment, OS/image/subsystem versions, Win32VersionValue,
    # SizeOfImage, SizeOfHeaders, CheckSum, Subsystem, DllCharacteristics
    struct.pack_into("<IIHHHHHHIIIIHH", h, o + 32, 0x1000, 0x200, 6, 0, 0, 0, 6, 0, 0, 0x4000,
                     0x400, 0, 3, 0x8140)
    if plus:
        struct.pack_into("<QQQQII", h, o + 72, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    else:
        struct.pack_into("<IIIIII", h, o + 72, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    t = o + optsize
    for i, (name, va, raw, rs) in enumerate(SECT):
        struct.pack_into("<8sIIIIIIHHI", h, t + 40 * i, name, rs, va, rs, raw, 0, 0, 0, 0,
                         0x60000020 if i == 0 else 0xC0000040)
    d = h + filler(SIZE - 0x400, b"plus" if plus else b"pe32")
    d[EP:EP + 1] = b"\xc3"
    placed = [(off, m) for off, m in MARK.values() if off is not None]
    for off, m in placed:
        d[off:off + len(m)] = m
    for off, m in placed:
        assert d.count(m) == 1, m
    assert d.count(HDR) == 0
    return bytes(d)


MARK["hdr"] = (None, HDR)  # placed by variant() alone
PE32 = build()
PE64 = build(plus=True)


def section(d, i):
    _, _, raw, rs = SECT[i]
    return d[raw:raw + rs]


def not_pe(d):
    """The same bytes, but "PX\\0\\0" where the PE signature was: an MZ file that is no PE."""
    return d[:0x80] + b"PX" + d[0x82:]


def not_mz(d):
    """The same bytes as plain data: "XZ" instead of "MZ"."""
    return b"XZ" + d[2:]


def bad_ep(d):
    """The same PE with its entry point at RVA 0x5000, beyond every section."""
    d = bytearray(d)
    struct.pack_into("<I", d, 0x98 + 16, 0x5000)
    return bytes(d)


def variant(ep=None, falign=None, rsz1=None):
    """PE32 with another entry point RVA, FileAlignment or SizeOfRawData of section 1; a
    marker "hdr" is put at the entry point when it lies in the headers."""
    d = bytearray(PE32)
    if ep is not None:
        struct.pack_into("<I", d, 0x98 + 16, ep)
        if ep < 0x400:
            d[ep:ep + 8] = MARK["hdr"][1]
    if falign is not None:
        struct.pack_into("<I", d, 0x98 + 36, falign)
    if rsz1 is not None:
        struct.pack_into("<I", d, 0x98 + 224 + 40 + 16, rsz1)
    return bytes(d)


def ndb(name, off, mark, target=1):
    return "%s:%d:%s:%s\n" % (name, target, off, hx(MARK[mark][1]))


def ndb_var(name, off, mark, target=1):
    """The marker with a one-to-two byte gap after its first two bytes: a variable length."""
    m = MARK[mark][1]
    return "%s:%d:%s:%s{1-2}%s\n" % (name, target, off, hx(m[:2]), hx(m[3:]))


CASES = []  # (area, num, slug, comment, sigs, data, expect, options)


def case(area, num, slug, comment, sigs, data, expect, options=("allmatch",)):
    CASES.append((area, num, slug, comment, sigs, data, expect, list(options) if options else None))


def cases():
    e, s1, s2 = "ep", "s1", "s2"
    case("ndb-pe", 1, "ep-plus",
         "EP+n and EP+n,m: the start of the match at the entry point's file offset (0x410) + n;\n"
         "a byte before, a byte after and a range one byte short do not match",
         [("t.ndb", ndb("Hit.EP", "EP+32", e) + ndb("Miss.Before", "EP+31", e) +
           ndb("Miss.After", "EP+33", e) + ndb("Hit.Range", "EP+30,2", e) +
           ndb("Miss.Range", "EP+29,2", e) + ndb_var("Hit.Var", "EP+32", e) +
           ndb_var("Miss.Var.Before", "EP+31", e) + ndb_var("Miss.Var.After", "EP+33", e) +
           ndb_var("Hit.Var.Range", "EP+28,4", e) + ndb_var("Miss.Var.Range", "EP+28,3", e))],
         PE32, ["found Hit.EP", "found Hit.Range", "found Hit.Var", "found Hit.Var.Range",
                "rejected 0", "skipped 0", "loaded-body 10"])
    case("ndb-pe", 2, "ep-minus",
         "EP-n and EP-n,m: n bytes before the entry point; EP-n past the start of the file\n"
         "never matches",
         [("t.ndb", ndb("Hit.EPM", "EP-16", "epm") + ndb("Miss.Before", "EP-17", "epm") +
           ndb("Miss.After", "EP-15", "epm") + ndb("Hit.Range", "EP-17,1", "epm") +
           ndb("Miss.Range", "EP-18,1", "epm") + ndb_var("Hit.Var", "EP-16", "epm") +
           ndb_var("Miss.Var", "EP-15", "epm") + ndb("Miss.BeforeFile", "EP-2000,4000", "epm"))],
         PE32, ["found Hit.EPM", "found Hit.Range", "found Hit.Var"])
    case("ndb-pe", 3, "section-plus",
         "Sx+n and Sx+n,m: section x's raw start (x from 0) + n; a section that does not exist\n"
         "never matches",
         [("t.ndb", ndb("Hit.S0", "S0+64", "s0") + ndb("Hit.S1", "S1+48", s1) +
           ndb("Hit.S2", "S2+8", s2) + ndb("Miss.S1.Before", "S1+47", s1) +
           ndb("Miss.S1.After", "S1+49", s1) + ndb("Miss.S0.For.S1", "S0+48", s1) +
           ndb("Hit.Range", "S1+40,8", s1) + ndb("Miss.Range", "S1+40,7", s1) +
           ndb("Miss.NoSection", "S3+0,4096", s2) + ndb_var("Hit.Var", "S1+48", s1) +
           ndb_var("Miss.Var", "S1+49", s1))],
         PE32, ["found Hit.S0", "found Hit.S1", "found Hit.S2", "found Hit.Range", "found Hit.Var"])
    case("ndb-pe", 4, "last-section",
         "SL+n and SL+n,m: the last section's raw start + n",
         [("t.ndb", ndb("Hit.SL", "SL+8", s2) + ndb("Miss.Before", "SL+7", s2) +
           ndb("Miss.After", "SL+9", s2) + ndb("Hit.Range", "SL+0,8", s2) +
           ndb("Miss.Range", "SL+0,7", s2) + ndb_var("Hit.Var", "SL+8", s2) +
           ndb_var("Miss.Var", "SL+9", s2))],
         PE32, ["found Hit.SL", "found Hit.Range", "found Hit.Var"])
    case("ndb-pe", 5, "section-anywhere",
         "SEx: a start anywhere in section x's raw data, up to its end included (ClamAV's\n"
         "[raw, raw + size]); SEx,m m bytes further",
         [("t.ndb", ndb("Hit.SE1", "SE1", "se") + ndb("Miss.SE0", "SE0", "se") +
           ndb("Miss.SE2", "SE2", "se") + ndb("Hit.SE1.Edge", "SE1", "edge") +
           ndb("Hit.SE2.Edge", "SE2", "edge") + ndb("Miss.SE0.Edge", "SE0", "edge") +
           ndb("Hit.SE0.Shift", "SE0,48", s1) + ndb("Miss.SE0.Shift", "SE0,47", s1) +
           ndb_var("Hit.Var", "SE1", "se") + ndb_var("Miss.Var", "SE2", "se") +
           ndb_var("Hit.Var.Shift", "SE0,48", s1) + ndb_var("Miss.Var.Shift", "SE0,47", s1) +
           ndb("Miss.NoSection", "SE7", "se"))],
         PE32, ["found Hit.SE1", "found Hit.SE1.Edge", "found Hit.SE2.Edge", "found Hit.SE0.Shift",
                "found Hit.Var", "found Hit.Var.Shift"])
    case("ndb-pe", 6, "pe32plus",
         "every form on a PE32+ with the same layout",
         [("t.ndb", ndb("Hit.EP", "EP+32", e) + ndb("Miss.EP", "EP+33", e) +
           ndb("Hit.EPM", "EP-16", "epm") + ndb("Hit.S1", "S1+48", s1) +
           ndb("Miss.S1", "S1+47", s1) + ndb("Hit.SL", "SL+8", s2) + ndb("Hit.SE1", "SE1", "se") +
           ndb("Miss.SE0", "SE0", "se") + ndb_var("Hit.Var", "EP+32", e))],
         PE64, ["found Hit.EP", "found Hit.EPM", "found Hit.S1", "found Hit.SL", "found Hit.SE1",
                "found Hit.Var"])
    allsigs = (ndb("PE.EP", "EP+32", e) + ndb("PE.EPM", "EP-16", "epm") +
               ndb("PE.S1", "S1+48", s1) + ndb("PE.SL", "SL+8", s2) + ndb("PE.SE", "SE1", "se") +
               ndb_var("PE.Var", "EP+32", e) + ndb("Any.Marker", "*", e, target=0))
    case("ndb-pe", 7, "mz-not-pe",
         "the same bytes with the PE signature broken (an MZ file that is no PE): the markers\n"
         "are there (Any.Marker) but no offset relative to a PE layout matches",
         [("t.ndb", allsigs)], not_pe(PE32), ["found Any.Marker"])
    case("ndb-pe", 8, "data-not-pe",
         "the same bytes as plain data (\"XZ\" for \"MZ\"): no PE-relative offset matches",
         [("t.ndb", allsigs)], not_mz(PE32), ["found Any.Marker"])
    case("ndb-pe", 9, "ldb-subsig",
         "PE-relative offsets in logical subsignatures (Target:1), each where the .ndb one hits;\n"
         "one subsignature a byte off keeps its signature from matching",
         [("t.ldb", "Ldb.Hit;Target:1;0&1&2;EP+32:%s;S1+48:%s;SE1:%s\n"
           "Ldb.Miss;Target:1;0&1;EP+32:%s;S1+47:%s\n"
           "Ldb.Count;Target:1;0>0;SL+8:%s\n" % (
               hx(MARK[e][1]), hx(MARK[s1][1]), hx(MARK["se"][1]), hx(MARK[e][1]),
               hx(MARK[s1][1]), hx(MARK[s2][1])))],
         PE32, ["found Ldb.Hit", "found Ldb.Count", "rejected 0", "skipped 0"])
    case("ndb-pe", 10, "bad-target",
         "ClamAV accepts PE-relative offsets for targets 1 (PE), 6 (ELF) and 9 (Mach-O) only:\n"
         "any other target is an error naming the line; ELF and Mach-O ones are skipped (no\n"
         "layout of those here), as is \"VI\" (version information)",
         [("t.ndb", ndb("Bad.Any", "EP+32", e, target=0) + ndb("Bad.Ole", "S1+48", s1, target=2) +
           ndb("Skip.Elf", "EP+0", e, target=6) + ndb("Skip.Macho", "SE0", e, target=9) +
           "Skip.VI:1:VI:%s\n" % hx(MARK[e][1]) + ndb("Bad.Form", "S1-4", s1) +
           ndb("Good", "EP+32", e)),
          ("t.ldb", "Ldb.Bad;Target:0;0;EP+32:%s\n" % hx(MARK[e][1]))],
         PE32, ["found Good", "rejected 4", "skipped 3", "diag t.ndb:1",
                "diag valid only for target type 1 (PE), 6 (ELF) or 9 (Mach-O), not 0",
                "diag t.ndb:6", "diag t.ldb:1"])
    case("ndb-pe", 12, "ep-unmapped",
         "an entry point (RVA 0x5000) in no section and past the headers: ClamAV calls the PE\n"
         "broken and matches no offset relative to it, sections' included",
         [("t.ndb", allsigs)], bad_ep(PE32), ["found Any.Marker"])
    case("ndb-pe", 13, "ep-in-headers",
         "an entry point RVA (0x100) below SizeOfHeaders: it is that file offset itself",
         [("t.ndb", ndb("Hit.EP.Hdr", "EP+0", "hdr") + ndb("Miss.EP.Hdr", "EP+1", "hdr") +
           ndb("Hit.S1", "S1+48", s1))],
         variant(ep=0x100), ["found Hit.EP.Hdr", "found Hit.S1"])
    case("ndb-pe", 14, "file-alignment",
         "FileAlignment 0x1000 with sections at multiples of 0x200 only: ClamAV falls back to\n"
         "0x200; a SizeOfRawData of 0x3f0 counts as 0x400 (rounded up), so SE1 still reaches\n"
         "the end of the aligned section",
         [("t.ndb", ndb("Hit.S1", "S1+48", s1) + ndb("Miss.S1", "S1+49", s1) +
           ndb("Hit.EP", "EP+32", e) + ndb("Hit.SE1.Edge", "SE1", "edge") +
           ndb("Hit.SL", "SL+8", s2)),
          ("t.mdb", "1024:%s:Sect.Data.Aligned\n1008:%s:Sect.Data.Raw\n" % (
              hashlib.md5(section(PE32, 1)).hexdigest(),
              hashlib.md5(section(PE32, 1)[:0x3f0]).hexdigest()))],
         variant(falign=0x1000, rsz1=0x3f0),
         ["found Hit.S1", "found Hit.EP", "found Hit.SE1.Edge", "found Hit.SL",
          "found Sect.Data.Aligned"])
    case("ndb-pe", 16, "ldb-entrypoint",
         "an .ldb's EntryPoint: target key is the entry point's file offset as EP+n offsets see\n"
         "it (ClamAV's layout): 0x100 for an entry point RVA in the headers, 0x%x in .text" % EP,
         [("t.ldb", "Hit.Ldb.EP;Engine:51-255,Target:1,EntryPoint:256-256;0;%s\n"
           "Miss.Ldb.EP;Engine:51-255,Target:1,EntryPoint:257-300;0;%s\n"
           "Hit.Ldb.EP.Range;Engine:51-255,Target:1,EntryPoint:200-256;0;%s\n" % ((hx(MARK["hdr"][1]),) * 3))],
         variant(ep=0x100), ["found Hit.Ldb.EP", "found Hit.Ldb.EP.Range", "rejected 0"])
    big = "%s{1-3000}%s" % (hx(b"Se"), hx(b"2at+"))
    case("ndb-pe", 15, "long-gap",
         "a variable-length pattern with a gap too long for Vectorscan's leftmost-start tracking\n"
         "(it refuses SE1 with it): EP/Sx/SL offsets, a window of the signature's own width,\n"
         "still load and match exactly. \"Se\" also begins the S0 marker at EP+48, 2,500 bytes\n"
         "before \"2at+\": that is a match too (ClamAV agrees)",
         [("t.ndb", "Hit.SL:1:SL+8:%s\nMiss.SL:1:SL+9:%s\nHit.S2:1:S2+0,8:%s\n"
           "Miss.S2:1:S2+0,7:%s\nHit.EP:1:EP+0,48:%s\nMiss.EP:1:EP+0,47:%s\n"
           "Miss.EP.After:1:EP+49,100:%s\n" % ((big,) * 7))],
         PE32, ["found Hit.SL", "found Hit.S2", "found Hit.EP", "rejected 0", "loaded-body 7"])
    # .mdb / .msb
    md5 = lambda b: hashlib.md5(b).hexdigest()
    d0, d1, d2 = section(PE32, 0), section(PE32, 1), section(PE32, 2)
    case("mdb", 1, "md5-by-section",
         ".mdb: SECTIONSIZE:MD5:NAME, the MD5 of each section's raw data",
         [("t.mdb", "512:%s:Sect.Text\n1024:%s:Sect.Data\n512:%s:Sect.Rsrc\n" % (
             md5(d0), md5(d1), md5(d2)))],
         PE32, ["found Sect.Text", "found Sect.Data", "found Sect.Rsrc", "rejected 0"])
    case("mdb", 2, "any-size",
         "a section size of \"*\" (ClamAV's newer form, functionality level 73)",
         [("t.mdb", "*:%s:Sect.Any:73\n" % md5(d1))], PE32, ["found Sect.Any"])
    case("mdb", 3, "wrong-size",
         "the right MD5 with a size a byte off, or another section's size, does not match",
         [("t.mdb", "1023:%s:Sect.Short\n1025:%s:Sect.Long\n512:%s:Sect.Other\n" % (
             md5(d1), md5(d1), md5(d1)))], PE32, ["clean", "rejected 0"])
    case("mdb", 4, "msb-sha",
         ".msb: the same with SHA-1 and SHA-256 (the hash's length says which)",
         [("t.msb", "1024:%s:Sect.Sha1\n512:%s:Sect.Sha256\n" % (
             hashlib.sha1(d1).hexdigest(), hashlib.sha256(d2).hexdigest()))],
         PE32, ["found Sect.Sha1", "found Sect.Sha256"])
    secsigs = [("t.mdb", "1024:%s:Sect.Data\n*:%s:Sect.Any:73\n" % (md5(d1), md5(d1)))]
    case("mdb", 5, "not-pe",
         "the same bytes in an MZ file that is no PE, and the section's bytes alone: section\n"
         "hashes are not whole-file hashes",
         secsigs, not_pe(PE32), ["clean"])
    case("mdb", 6, "section-alone", "the section's bytes as a file of their own do not match",
         secsigs, d1, ["clean"])
    case("mdb", 9, "ep-unmapped",
         "a PE whose entry point maps to no byte of the file: ClamAV hashes none of its sections",
         secsigs, bad_ep(PE32), ["clean"])
    case("mdb", 7, "pe32plus", "section hashes of a PE32+",
         [("t.mdb", "1024:%s:Sect.Data64\n" % md5(section(PE64, 1)))], PE64,
         ["found Sect.Data64"])
    case("mdb", 8, "malformed",
         "bad lines are errors naming file:line; the rest loads",
         [("t.mdb", "%s:1024:Swapped\n1024:%s\n1024:zz%s:NotHex\nabc:%s:BadSize\n"
           "1024:%s:Sect.Data\n" % (md5(d1), md5(d1), md5(d1)[2:], md5(d1), md5(d1)))],
         PE32, ["found Sect.Data", "rejected 4", "diag t.mdb:1", "diag t.mdb:2", "diag t.mdb:3",
                "diag t.mdb:4"])


STREAM_SIZE = 9 << 20


def stream_case():
    """The PE at the start of a 9 MiB file scanned through a file: the streaming path."""
    sigs = [("t.ndb", ndb("Hit.EP", "EP+32", "ep") + ndb("Miss.EP", "EP+33", "ep") +
             ndb_var("Hit.Var", "EP+32", "ep") + ndb_var("Miss.Var", "EP+31", "ep") +
             ndb_var("Hit.SE1", "SE1", "se") + ndb("Hit.SL", "SL+8", "s2")),
            ("t.mdb", "1024:%s:Sect.Data\n" % hashlib.md5(section(PE32, 1)).hexdigest())]
    expect = ["found Hit.EP", "found Hit.Var", "found Hit.SE1", "found Hit.SL", "found Sect.Data"]
    return sigs, expect


def write_stream_case():
    sigs, expect = stream_case()
    lines = ["# the offsets and section hashes on a PE read in chunks: a 9 MiB file (the PE, then",
             "# zeros) scanned through a file takes the streaming path",
             "# (written by tests/cases/make_pe_cases.py: edit the script, not this file)"]
    for name, body in sigs:
        lines += ["--- sigs " + name, body.rstrip("\n")]
    lines += ["--- input zeros %d" % STREAM_SIZE, "--- patch 0"]
    h = PE32.hex()
    lines += [h[i:i + 64] for i in range(0, len(h), 64)]
    lines += ["--- options", "via-file", "allmatch", "--- expect"] + expect
    with open(os.path.join(HERE, "ndb-pe", "0011-streamed.case"), "w") as f:
        f.write("\n".join(lines) + "\n")


def write_all():
    for area in ("ndb-pe", "mdb"):
        d = os.path.join(HERE, area)
        for f in os.listdir(d) if os.path.isdir(d) else []:
            p = os.path.join(d, f)
            if f.endswith(".case") and "written by tests/cases/make_pe_cases.py" in open(p).read():
                os.unlink(p)
    for area, num, slug, comment, sigs, data, expect, options in CASES:
        casefile.write_case("make_pe_cases.py", area, num, slug, comment, sigs, data, expect,
                            options)
    write_stream_case()


def refused_lines(sigs, data):
    """The names of the signature lines ClamAV refuses to load, each tried alone."""
    out = []
    for name, body in sigs:
        for line in body.splitlines():
            with tempfile.TemporaryDirectory() as tmp:
                p = os.path.join(tmp, name)
                with open(p, "w") as f:
                    f.write(line + "\n")
                inp = os.path.join(tmp, "input")
                with open(inp, "wb") as f:
                    f.write(data)
                r = subprocess.run(["clamscan", "--no-summary", "--bytecode=no", "-d", p, inp],
                                   capture_output=True, text=True)
            if "Malformed database" in r.stderr + r.stdout or "Can't load" in r.stderr:
                out.append("%s:%s" % (name, line.split(":")[0].split(";")[0][:12]))
    return out


def clamscan():
    """Run clamscan on each case; compare its detections with the case's found lines."""
    if not shutil.which("clamscan"):
        print("clamscan not found")
        return 2
    agree = differ = 0
    sigs, expect = stream_case()
    streamed = ("ndb-pe", 11, "streamed", "", sigs, PE32 + bytes(STREAM_SIZE - len(PE32)), expect,
                None)
    for area, num, slug, comment, sigs, data, expect, options in CASES + [streamed]:
        with tempfile.TemporaryDirectory() as tmp:
            args = ["clamscan", "--no-summary", "--allmatch", "--bytecode=no"]
            for name, body in sigs:
                p = os.path.join(tmp, name)
                with open(p, "w") as f:
                    f.write(body)
                args += ["-d", p]
            inp = os.path.join(tmp, "input")
            with open(inp, "wb") as f:
                f.write(data)
            r = subprocess.run(args + [inp], capture_output=True, text=True)
        found = set()
        for line in r.stdout.splitlines():
            if line.endswith(" FOUND"):
                found.add(line.split(": ", 1)[1][:-6].replace(".UNOFFICIAL", ""))
        want = set(x[6:] for x in expect if x.startswith("found "))
        loaderr = "Malformed database" in r.stderr or "Malformed database" in r.stdout
        if found == want and r.returncode in (0, 1):
            agree += 1
            print("agree    %s/%04d-%s: %s" % (area, num, slug, ", ".join(sorted(found)) or "clean"))
        else:
            differ += 1
            print("DIFFER   %s/%04d-%s: clamscan %s%s, khien %s" % (
                area, num, slug, ", ".join(sorted(found)) or "clean",
                " (database refused: %s)" % r.stderr.strip().splitlines()[-1] if loaderr else "",
                ", ".join(sorted(want)) or "clean"))
        rej = [int(x.split()[1]) for x in expect if x.startswith("rejected ")]
        if rej and rej[0]:
            refused = refused_lines(sigs, data)
            print("         each line alone: clamscan refuses %d (%s), khien rejects %d" % (
                len(refused), ", ".join(refused), rej[0]))
    print("%d agree, %d differ" % (agree, differ))
    return 0


if __name__ == "__main__":
    cases()
    if sys.argv[1:] == ["--clamscan"]:
        sys.exit(clamscan())
    write_all()
