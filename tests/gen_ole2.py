#!/usr/bin/env python3
"""gen_ole2.py - builds OLE2 compound files ([MS-CFB]) and VBA projects ([MS-OVBA]) for the
tests and the fuzzers, from nothing but this script (no olefile, no Office).

  gen_ole2.py cases DIR    writes the data-driven cases (tests/cases/ole2/*.case)
  gen_ole2.py seeds DIR    writes fuzz seeds: DIR/ole2/* (whole files), DIR/ovba/* (containers)
  gen_ole2.py macro FILE   a .doc-like file with a VBA project (for tests/cli/test_ole2.sh)
  gen_ole2.py plain FILE   the same document without macros

The writer lays a file out as header, FAT, directory, mini FAT, mini stream, then the big
streams, each in one run of sectors; each storage's children form a balanced binary tree
ordered as [MS-CFB] 2.6.4 says (length, then upper case). The MS-OVBA compressor is the
greedy one of [MS-OVBA] 2.4.1.3 (longest match within the window the copy-token split
allows), so the decoder's copy path runs on real tokens. Output is deterministic: the cases are
checked in, and tests/cli/test_ole2.sh checks that this script still writes them byte for byte.
"""
import hashlib
import io
import os
import struct
import sys
import zipfile
import zlib

FREESECT, ENDOFCHAIN, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")


# ---- MS-OVBA compression ----------------------------------------------------------------------

def _split(diff):
    bits = 4
    while bits < 12 and (1 << bits) < diff:
        bits += 1
    return bits


def ovba_compress(data, literal_only=False):
    out = bytearray(b"\x01")
    for start in range(0, len(data), 4096):
        chunk = data[start:start + 4096]
        body = bytearray()
        pos = 0
        while pos < len(chunk):
            flag_at = len(body)
            body.append(0)
            flags = 0
            for bit in range(8):
                if pos >= len(chunk):
                    break
                bits = _split(pos)
                max_off = 1 << bits
                max_len = (0xFFFF >> bits) + 3
                best_len, best_off = 0, 0
                if not literal_only:
                    for cand in range(pos - 1, max(-1, pos - max_off - 1), -1):
                        n = 0
                        while n < max_len and pos + n < len(chunk) and chunk[cand + n] == chunk[pos + n]:
                            n += 1
                        if n > best_len:
                            best_len, best_off = n, pos - cand
                if best_len >= 3:
                    tok = ((best_off - 1) << (16 - bits)) | (best_len - 3)
                    body += struct.pack("<H", tok)
                    flags |= 1 << bit
                    pos += best_len
                else:
                    body.append(chunk[pos])
                    pos += 1
            body[flag_at] = flags
        if len(body) > 4096:
            raise ValueError("incompressible chunk: not needed by these tests")
        out += struct.pack("<H", 0xB000 | (len(body) + 2 - 3)) + body
    return bytes(out)


# ---- VBA project -----------------------------------------------------------------------------

def _rec(rid, data):
    return struct.pack("<HI", rid, len(data)) + data


def vba_dir(project, modules):
    """modules: list of (name, text_offset)."""
    u = lambda s: s.encode("utf-16-le")
    d = bytearray()
    d += _rec(0x0001, struct.pack("<I", 1))          # PROJECTSYSKIND: 32-bit Windows
    d += _rec(0x0002, struct.pack("<I", 0x409))      # PROJECTLCID
    d += _rec(0x0014, struct.pack("<I", 0x409))      # PROJECTLCIDINVOKE
    d += _rec(0x0003, struct.pack("<H", 1252))       # PROJECTCODEPAGE
    d += _rec(0x0004, project.encode())              # PROJECTNAME
    d += _rec(0x0005, b"") + _rec(0x0040, b"")       # PROJECTDOCSTRING + Unicode
    d += _rec(0x0006, b"") + _rec(0x003D, b"")       # PROJECTHELPFILEPATH 1 + 2
    d += _rec(0x0007, struct.pack("<I", 0))          # PROJECTHELPCONTEXT
    d += _rec(0x0008, struct.pack("<I", 0))          # PROJECTLIBFLAGS
    d += struct.pack("<HIIH", 0x0009, 4, 1, 0)       # PROJECTVERSION: size says 4, 6 follow
    d += _rec(0x000C, b"") + _rec(0x003C, b"")       # PROJECTCONSTANTS + Unicode
    d += _rec(0x000F, struct.pack("<H", len(modules)))  # PROJECTMODULES
    d += _rec(0x0013, struct.pack("<H", 0xFFFF))     # PROJECTCOOKIE
    for name, off in modules:
        d += _rec(0x0019, name.encode()) + _rec(0x0047, u(name))  # MODULENAME (+ Unicode)
        d += _rec(0x001A, name.encode()) + _rec(0x0032, u(name))  # MODULESTREAMNAME (+ Unicode)
        d += _rec(0x001C, b"") + _rec(0x0048, b"")   # MODULEDOCSTRING
        d += _rec(0x0031, struct.pack("<I", off))    # MODULEOFFSET
        d += _rec(0x001E, struct.pack("<I", 0))      # MODULEHELPCONTEXT
        d += _rec(0x002C, struct.pack("<H", 0xFFFF)) # MODULECOOKIE
        d += _rec(0x0021, b"")                       # MODULETYPE procedural
        d += _rec(0x002B, b"")                       # module terminator
    d += _rec(0x0010, b"")                           # dir terminator
    return bytes(d)


def module_stream(source, cache=64):
    """A module stream: a (fake) performance cache, then the compressed source."""
    return bytes((i * 7) & 0xFF for i in range(cache)) + ovba_compress(source), cache


def vba_storage(modules):
    """modules: list of (name, source bytes). Returns the children of a VBA storage."""
    streams, recs = [], []
    for name, src in modules:
        data, off = module_stream(src)
        streams.append(("stream", name, data))
        recs.append((name, off))
    return [("stream", "_VBA_PROJECT", bytes.fromhex("cc61ffff000000")),
            ("stream", "dir", ovba_compress(vba_dir("Project", recs)))] + streams


# ---- compound file writer --------------------------------------------------------------------

def _key(name):
    return (len(name), name.upper())


def build_cfb(tree, version=3):
    """tree: children of the root: ("stream", name, bytes) / ("storage", name, children)."""
    ssz = 512 if version == 3 else 4096
    ents = [{"name": "Root Entry", "type": 5, "children": tree}]

    def flatten(idx):
        kids = []
        for node in ents[idx]["children"]:
            e = {"name": node[1], "type": 2 if node[0] == "stream" else 1}
            if node[0] == "stream":
                e["data"] = node[2]
            else:
                e["children"] = node[2]
            ents.append(e)
            kids.append(len(ents) - 1)
            if node[0] == "storage":
                flatten(len(ents) - 1)
        kids.sort(key=lambda i: _key(ents[i]["name"]))

        def balance(lo, hi):
            if lo >= hi:
                return NOSTREAM
            mid = (lo + hi) // 2
            ents[kids[mid]]["left"] = balance(lo, mid)
            ents[kids[mid]]["right"] = balance(mid + 1, hi)
            return kids[mid]
        ents[idx]["child"] = balance(0, len(kids))

    flatten(0)
    mini = bytearray()
    minifat = []
    bigs = []
    for e in ents:
        if e["type"] != 2:
            continue
        data = e["data"]
        if len(data) < 4096:  # mini sectors backwards too, as place() does
            first = len(mini) // 64
            n = (len(data) + 63) // 64
            e["start"] = first + n - 1 if n else ENDOFCHAIN
            minifat += [first + p - 1 if p else ENDOFCHAIN for p in range(n)]
            mini += b"".join(data[k * 64:(k + 1) * 64].ljust(64, b"\0") for k in reversed(range(n)))
        else:
            bigs.append(e)
    per = ssz // 4
    ndir = (len(ents) * 128 + ssz - 1) // ssz
    nminifat = (len(minifat) * 4 + ssz - 1) // ssz
    nmini = (len(mini) + ssz - 1) // ssz
    nbig = sum((len(e["data"]) + ssz - 1) // ssz for e in bigs)
    nfat = 1
    while nfat * per < nfat + ndir + nminifat + nmini + nbig:
        nfat += 1
    assert nfat <= 109
    fat = [FATSECT] * nfat
    sectors = [b""] * nfat

    def place(data):
        # a chain's sectors are laid out backwards (logical k at first + n - 1 - k), so that no
        # two of its sectors are in order in the file: a signature across a sector boundary
        # is found only by following the FAT
        n = (len(data) + ssz - 1) // ssz
        first = len(fat)
        fat.extend([0] * n)
        sectors.extend([b""] * n)
        for k in range(n):
            p = first + n - 1 - k
            fat[p] = p - 1 if k + 1 < n else ENDOFCHAIN
            sectors[p] = data[k * ssz:(k + 1) * ssz].ljust(ssz, b"\0")
        return first + n - 1 if n else ENDOFCHAIN

    dirbytes = bytearray()
    for i, e in enumerate(ents):
        dirbytes += b"X" * 128  # filled in below, once the start sectors are known
    dir_start = place(bytes(dirbytes) + b"\0" * (ndir * ssz - len(dirbytes)))
    mf = b"".join(struct.pack("<I", v) for v in minifat)
    minifat_start = place(mf + b"\xff" * ((-len(mf)) % ssz))
    mini_start = place(bytes(mini))
    for e in bigs:
        e["start"] = place(e["data"])
    ents[0]["start"] = mini_start if mini else ENDOFCHAIN
    ents[0]["size"] = len(mini)
    dirbytes = bytearray()
    for e in ents:
        nm = e["name"].encode("utf-16-le")
        assert len(nm) <= 62, e["name"]
        dirbytes += nm.ljust(64, b"\0")
        dirbytes += struct.pack("<HBB", len(nm) + 2, e["type"], 1)
        dirbytes += struct.pack("<III", e.get("left", NOSTREAM), e.get("right", NOSTREAM),
                                e.get("child", NOSTREAM))
        dirbytes += b"\0" * 16 + b"\0" * 4 + b"\0" * 16
        size = e.get("size", len(e.get("data", b"")))
        dirbytes += struct.pack("<IQ", e.get("start", ENDOFCHAIN) if e["type"] != 1 else 0, size)
    while len(dirbytes) % ssz:
        dirbytes += b"\0" * 64 + struct.pack("<HBBIII", 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM) + b"\0" * 52
    for k in range(ndir):
        sectors[dir_start - k] = bytes(dirbytes[k * ssz:(k + 1) * ssz])  # backwards, see place()
    fat += [FREESECT] * (nfat * per - len(fat))
    fatbytes = b"".join(struct.pack("<I", v) for v in fat)
    for k in range(nfat):
        sectors[k] = fatbytes[k * ssz:(k + 1) * ssz]
    hdr = bytearray(MAGIC + b"\0" * 16)
    hdr += struct.pack("<HHHHH", 0x3E, version, 0xFFFE, 9 if version == 3 else 12, 6)
    hdr += b"\0" * 6
    hdr += struct.pack("<IIIIIIIII", ndir if version == 4 else 0, nfat, dir_start, 0, 4096,
                       minifat_start if minifat else ENDOFCHAIN, nminifat, ENDOFCHAIN, 0)
    hdr += b"".join(struct.pack("<I", k if k < nfat else FREESECT) for k in range(109))
    hdr = bytes(hdr).ljust(ssz, b"\0")
    return hdr + b"".join(sectors), ents, {"ssz": ssz, "nfat": nfat, "dir_start": dir_start}


def dir_entry_at(lay, i):
    """The file offset of directory entry i (the directory's sectors are laid out backwards)."""
    per = lay["ssz"] // 128
    return (lay["dir_start"] - i // per + 1) * lay["ssz"] + (i % per) * 128


# ---- contents --------------------------------------------------------------------------------

EVIL = b"KHIEN-OLE2-TEST-PAYLOAD"


def vba_source(extra=b""):
    lines = [b'Attribute VB_Name = "Module1"', b"Sub AutoOpen()"]
    for i in range(40):
        lines.append(b"    Dim x%d As String: x%d = \"padding line %d\"" % (i, i, i))
    lines.append(b'    Shell "cmd.exe /c echo ' + EVIL + b'", vbHide')
    lines += [b"End Sub", extra]
    return b"\r\n".join(lines)


def package(filename, data):
    """An Ole10Native stream: size, then an OLE1 Package with the file."""
    p = struct.pack("<H", 2) + filename.encode() + b"\0" + b"C:\\Temp\\" + filename.encode() + b"\0"
    temp = b"C:\\Users\\x\\AppData\\Local\\Temp\\" + filename.encode() + b"\0"
    p += struct.pack("<I", 0x00030000) + struct.pack("<I", len(temp)) + temp
    p += struct.pack("<I", len(data)) + data
    return struct.pack("<I", len(p)) + p


def embedded_file():
    return b"MZ" + b"\x90" * 62 + b"embedded test file for khien " * 4


def summary():
    return bytes.fromhex("feff0000060102000000000000000000") + b"\0" * 32


def word_doc(macros=True, small=b"", big_extra=b"", version=3):
    big = bytearray(b"".join(b"Word text %05d. " % i for i in range(400)))  # 6400 bytes
    if big_extra:
        big[4090:4090 + len(big_extra)] = big_extra  # across sectors 8 and 9 (v4: 0 and 1)
    tree = [("stream", "WordDocument", bytes(big)),
            ("stream", "\x05SummaryInformation", summary()),
            ("stream", "1Table", b"table stream " * 20),
            ("storage", "Docs", [("storage", "Inner", [("stream", "Small", b"small stream ".ljust(50, b".") + small)])])]
    if macros:
        tree.append(("storage", "Macros", [("stream", "PROJECT", b'ID="{00000000}"\r\nModule=Module1\r\n'),
                                          ("storage", "VBA", vba_storage([("Module1", vba_source())]))]))
    return build_cfb(tree, version)


def vba_project_bin():
    """word/vbaProject.bin of a .docm: the VBA storage at the root."""
    tree = [("storage", "VBA", vba_storage([("Module1", vba_source()), ("ThisDocument", b'Attribute VB_Name = "ThisDocument"\r\n')])),
            ("stream", "PROJECT", b'ID="{00000000}"\r\nDocument=ThisDocument/&H00000000\r\nModule=Module1\r\n'),
            ("stream", "PROJECTwm", b"Module1\0M\0o\0d\0u\0l\0e\0001\0\0\0\0\0")]
    return build_cfb(tree)[0]


def ole_object():
    tree = [("stream", "\x01Ole10Native", package("evil.exe", embedded_file())),
            ("stream", "\x01CompObj", b"\x01\0\xfe\xff\x03\x0a\0\0" + b"\0" * 20 + b"Package\0")]
    return tree


def ppt():
    """A PowerPoint file whose "PowerPoint Document" holds an ExOleObjStg record (zlib)."""
    inner = build_cfb(ole_object())[0]
    comp = struct.pack("<I", len(inner)) + zlib.compress(inner)
    atom = struct.pack("<HHI", 0x0010, 0x1011, len(comp)) + comp  # instance 1: compressed
    other = struct.pack("<HHI", 0x0000, 0x03F3, 4) + b"\0" * 4
    body = other + atom
    doc = struct.pack("<HHI", 0x000F, 0x03E8, len(body)) + body  # a container around them
    tree = [("stream", "PowerPoint Document", doc), ("stream", "Current User", b"\x14\0\0\0" + b"\0" * 16)]
    return build_cfb(tree)[0]


# ---- cases -----------------------------------------------------------------------------------

def hexlines(b):
    h = b.hex()
    return "\n".join(h[i:i + 96] for i in range(0, len(h), 96))


def ndb(name, data):
    return "%s:0:*:%s" % (name, data.hex())


def hdb(name, data):
    return "%s:%d:%s" % (hashlib.md5(data).hexdigest(), len(data), name)


def case(header, sigs, data, expect, options=(), sigfile="t.ndb"):
    s = "".join("# %s\n" % h for h in header.strip().split("\n"))
    s += "# generated by tests/gen_ole2.py (rerun it to change this case; do not edit)\n"
    s += "--- sigs %s\n%s\n" % (sigfile, "\n".join(sigs))
    s += "--- input hex\n%s\n" % hexlines(data)
    if options:
        s += "--- options\n%s\n" % "\n".join(options)
    s += "--- expect\n%s\n" % "\n".join(expect)
    return s


def le32(b, off):
    return struct.unpack_from("<I", b, off)[0]


def cases():
    out = {}
    small_sig = b"KHIEN-MINI-STREAM-SIG"
    doc, _, _ = word_doc(macros=False, small=small_sig)
    out["0001-mini-stream"] = case(
        "a signature in a stream under 4096 bytes (mini stream, mini FAT) two storages deep",
        [ndb("Test.Mini", small_sig)], doc, ["found Test.Mini in input//Docs/Inner/Small"])
    big_sig = b"KHIEN-BIG-STREAM-SIG-AT-4090"
    doc, _, _ = word_doc(macros=False, big_extra=big_sig)
    out["0002-big-stream"] = case(
        "a signature across the 8th/9th sectors of a 6400-byte stream (regular FAT chain)",
        [ndb("Test.Big", big_sig)], doc, ["found Test.Big in input//WordDocument"])
    doc, _, _ = word_doc(macros=True)
    out["0003-vba-module"] = case(
        "a signature in the decompressed source of a VBA module (MS-OVBA, copy tokens); the\n"
        "compressed stream itself does not hold the text (a flag byte every 8 tokens)",
        [ndb("Test.Macro", b'Shell "cmd.exe /c echo ' + EVIL)], doc,
        ["found Test.Macro in input//Macros/VBA/Module1.vba"])
    obj = build_cfb(ole_object())[0]
    out["0004-ole10native"] = case(
        "the file inside an \\x01Ole10Native Package, by its file name; the MD5 is of that file only",
        [hdb("Test.Embedded", embedded_file())], obj, ["found Test.Embedded in input//evil.exe"],
        sigfile="t.hdb")
    doc, _, lay = word_doc(macros=False, small=small_sig, big_extra=big_sig)
    cut = len(doc) - 3 * 512 - 100
    out["0005-truncated"] = case(
        "a file cut inside its last big stream (whose first sectors are last in the file): the\n"
        "other streams are scanned, and the damage is a warning",
        [ndb("Test.Mini", small_sig), ndb("Test.Big", big_sig)], doc[:cut],
        ["found Test.Mini in input//Docs/Inner/Small", "warning Heuristics.Broken.OLE2"],
        options=["allmatch"])
    doc, ents, lay = word_doc(macros=False, big_extra=big_sig)
    wd = [e for e in ents if e["name"] == "WordDocument"][0]
    b = bytearray(doc)
    s3 = wd["start"] - 3  # the 4th sector's FAT entry points back to the stream's first
    b[512 + 4 * s3:512 + 4 * s3 + 4] = struct.pack("<I", wd["start"])
    out["0006-fat-cycle"] = case(
        "a FAT chain that loops back to its first sector: the walk stops at the loop and says so\n"
        "(the signature, in the 8th and 9th sectors, is never reached)",
        [ndb("Test.Big", big_sig)], bytes(b), ["clean", "warning Heuristics.Broken.OLE2"])
    vba = vba_project_bin()
    s = "# a .docm: word/vbaProject.bin (an OLE2 file, VBA storage at its root) inside the zip\n"
    s += "# generated by tests/gen_ole2.py (rerun it to change this case; do not edit)\n"
    s += "--- sigs t.ndb\n%s\n" % ndb("Test.Macro", b'Shell "cmd.exe /c echo ' + EVIL)
    s += "--- input archive zip\n"
    s += "--- member [Content_Types].xml text\n<?xml version=\"1.0\"?><Types/>\n"
    s += "--- member word/document.xml text\n<w:document/>\n"
    s += "--- member word/vbaProject.bin hex\n%s\n" % hexlines(vba)
    s += "--- expect\nfound Test.Macro in input//word/vbaProject.bin//VBA/Module1.vba\n"
    out["0007-docm"] = s
    doc, ents, lay = word_doc(macros=False, small=small_sig)
    b = bytearray(doc)
    # every sibling link of the root's children points back at the root's child: a loop
    rootchild = le32(b, dir_entry_at(lay, 0) + 76)
    for i, e in enumerate(ents):
        if i and e["type"] == 2 and e["name"] != "Small":
            struct.pack_into("<II", b, dir_entry_at(lay, i) + 68, rootchild, rootchild)
    out["0008-directory-loop"] = case(
        "sibling links that loop back in the directory tree: each entry is taken once",
        [ndb("Test.Mini", small_sig)], bytes(b), ["found Test.Mini in input//Docs/Inner/Small"])
    doc, ents, lay = word_doc(macros=False, small=small_sig)
    b = bytearray(doc)
    inner = [i for i, e in enumerate(ents) if e["name"] == "Inner"][0]
    struct.pack_into("<I", b, dir_entry_at(lay, inner) + 76, NOSTREAM)  # Inner loses its child
    out["0009-orphan-stream"] = case(
        "a stream no storage links to is still handed out (as if at the top)",
        [ndb("Test.Mini", small_sig)], bytes(b), ["found Test.Mini in input//Small"])
    doc, _, _ = word_doc(macros=False, small=small_sig, big_extra=big_sig, version=4)
    out["0010-version4"] = case(
        "version 4: 4096-byte sectors, 64-bit stream sizes",
        [ndb("Test.Mini", small_sig), ndb("Test.Big", big_sig)], doc,
        ["found Test.Mini in input//Docs/Inner/Small", "found Test.Big in input//WordDocument"],
        options=["allmatch"])
    tree = [("storage", "Tài liệu", [("stream", "Báo cáo", b"bao cao ".ljust(50, b".") + small_sig)])]
    out["0011-utf8-names"] = case(
        "UTF-16 names become UTF-8, non-ASCII kept",
        [ndb("Test.Mini", small_sig)], build_cfb(tree)[0],
        ["found Test.Mini in input//Tài liệu/Báo cáo"])
    out["0012-ppt-object"] = case(
        "PowerPoint: an ExOleObjStg record (zlib) in \"PowerPoint Document\" is an OLE2 object\n"
        "whose Ole10Native Package holds the file",
        [hdb("Test.Embedded", embedded_file())], ppt(),
        ["found Test.Embedded in input//PowerPoint Document/object-1//evil.exe"], sigfile="t.hdb")
    doc, _, lay = word_doc(macros=False, small=small_sig)
    b = bytearray(doc)
    struct.pack_into("<I", b, dir_entry_at(lay, 0) + 116, 0x7FFFFFF0)  # mini stream starts nowhere
    out["0013-bad-sector"] = case(
        "a sector number far outside the file (the root's mini stream): a warning, no crash; the\n"
        "big streams are still read",
        [ndb("Test.Mini", small_sig)], bytes(b),
        ["clean", "warning Heuristics.Broken.OLE2"])
    return out


def seeds(d):
    os.makedirs(os.path.join(d, "ole2"), exist_ok=True)
    os.makedirs(os.path.join(d, "ovba"), exist_ok=True)
    files = {
        "doc-macros": word_doc(True, b"x", b"y")[0],
        "doc-plain": word_doc(False)[0],
        "doc-v4": word_doc(True, version=4)[0],
        "vbaproject-bin": vba_project_bin(),
        "ole10native": build_cfb(ole_object())[0],
        "ppt-object": ppt(),
    }
    for k, v in files.items():
        open(os.path.join(d, "ole2", k), "wb").write(v)
    src = vba_source()
    ov = {"module-source": ovba_compress(src),
          "literal-only": ovba_compress(src[:300], literal_only=True),
          "dir": ovba_compress(vba_dir("Project", [("Module1", 64), ("ThisDocument", 64)])),
          "two-chunks": ovba_compress(src * 3)}
    for k, v in ov.items():
        open(os.path.join(d, "ovba", k), "wb").write(v)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    what, dest = sys.argv[1], sys.argv[2]
    if what == "cases":
        os.makedirs(dest, exist_ok=True)
        for name, text in cases().items():
            with open(os.path.join(dest, name + ".case"), "w", encoding="utf-8") as f:
                f.write(text)
    elif what == "seeds":
        seeds(dest)
    elif what in ("macro", "plain"):
        open(dest, "wb").write(word_doc(macros=(what == "macro"))[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
