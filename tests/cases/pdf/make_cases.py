#!/usr/bin/env python3
"""make_cases.py - writes the PDF cases whose streams are binary (Flate, LZW, RunLength...).

The cases of this folder that a person can read (plain streams, /JS strings, a file that only
looks like a PDF) are written by hand; this script writes the others as '--- input hex' from
the small PDFs built below, with python's own zlib. Run it from anywhere; it rewrites only
the files it names and is deterministic (same bytes every run; tests/cli/test_pdf.sh checks
that). Usage: make_cases.py [OUTPUT_DIR] (default: this folder).
"""
import os
import sys
import zlib

HERE = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
EVIL_NDB = "Test.Evil:0:*:4556494c2d5041594c4f4144\n"
PAYLOAD = b"MZxxEVIL-PAYLOADxx"


def pdf(objects, trailer=b"trailer\n<< /Root 1 0 R >>\n", xref=True, tail=b"%%EOF\n"):
    """A PDF with the given (num, body) objects, a correct xref unless told otherwise."""
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offs = []
    for num, body in objects:
        offs.append((num, len(out)))
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    xpos = len(out)
    if xref:
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(offs) + 1)
        for _, o in offs:
            out += b"%010d 00000 n \n" % o
    out += trailer + b"startxref\n%d\n" % xpos + tail
    return bytes(out)


def stream(dict_body, data, length=True):
    d = b"<< " + dict_body + (b" /Length %d" % len(data) if length else b"") + b" >>"
    return d + b"\nstream\n" + data + b"\nendstream"


def catalog():
    return (1, b"<< /Type /Catalog /Pages 2 0 R >>")


def lzw_encode(data, early=1):
    """PDF LZWDecode: MSB-first codes of 9-12 bits, clear 256, EOD 257."""
    table = {bytes([i]): i for i in range(256)}
    nxt, bits = 258, 9
    acc, nacc, out = 0, 0, bytearray()

    def emit(code):
        nonlocal acc, nacc
        acc = acc << bits | code
        nacc += bits
        while nacc >= 8:
            out.append((acc >> (nacc - 8)) & 0xFF)
            nacc -= 8

    emit(256)
    w = b""
    for c in data:
        wc = w + bytes([c])
        if wc in table:
            w = wc
            continue
        emit(table[w])
        if nxt < 4096:
            table[wc] = nxt
            nxt += 1
            # the decoder adds each entry one code later: it widens at nxt + early == 2**bits
            if nxt + early > (1 << bits) and bits < 12:
                bits += 1
        w = bytes([c])
    if w:
        emit(table[w])
    emit(257)
    if nacc:
        out.append((acc << (8 - nacc)) & 0xFF)
    return bytes(out)


def runlength(data):
    out = bytearray()
    i = 0
    while i < len(data):
        j = i
        while j < len(data) and j - i < 128 and data[j] == data[i]:
            j += 1
        if j - i >= 2:
            out += bytes([257 - (j - i), data[i]])
            i = j
            continue
        j = i + 1
        # literal blocks of at most 3 bytes, so that no text survives in the encoded stream
        while j < len(data) and j - i < 3 and not (j + 1 < len(data) and data[j] == data[j + 1]):
            j += 1
        out += bytes([j - i - 1]) + data[i:j]
        i = j
    return bytes(out + b"\x80")


def ascii_hex(data):
    h = data.hex()
    return ("\n".join(h[i:i + 64] for i in range(0, len(h), 64)) + ">").encode()


def png_up(data, columns):
    """PNG predictor rows, every row filtered with 'Up' (type 2)."""
    rows = [data[i:i + columns].ljust(columns, b"\0") for i in range(0, len(data), columns)]
    out, prev = bytearray(), bytes(columns)
    for r in rows:
        out.append(2)
        out += bytes((r[k] - prev[k]) & 0xFF for k in range(columns))
        prev = r
    return bytes(out)


def hexdump(b):
    h = b.hex()
    return "\n".join(h[i:i + 96] for i in range(0, len(h), 96)) + "\n"


def write(name, comment, sigs, data, expect, options=None):
    with open(os.path.join(HERE, name), "w") as f:
        for line in comment.strip().split("\n"):
            f.write("# " + line + "\n")
        f.write("# (written by make_cases.py)\n")
        for sname, body in sigs:
            f.write("--- sigs %s\n%s" % (sname, body))
        f.write("--- input hex\n" + hexdump(data))
        if options:
            f.write("--- options\n" + "".join(o + "\n" for o in options))
        f.write("--- expect\n" + "".join(e + "\n" for e in expect))


def main():
    body = b"% some text before\n" + PAYLOAD + b"\n" + b"q 1 0 0 1 0 0 cm Q\n" * 4
    write("0001-flate.case", "a FlateDecode stream is inflated and handed out as obj-4",
          [("t.ndb", EVIL_NDB)],
          pdf([catalog(), (4, stream(b"/Filter /FlateDecode", zlib.compress(body)))]),
          ["found Test.Evil in input//obj-4"])

    write("0002-ahx-flate.case",
          "a filter chain with abbreviated names: ASCIIHex, then Flate ([/AHx /Fl])",
          [("t.ndb", EVIL_NDB)],
          pdf([catalog(), (4, stream(b"/Filter [/AHx /Fl]", ascii_hex(zlib.compress(body))))]),
          ["found Test.Evil in input//obj-4"])

    write("0004-lzw.case", "an LZWDecode stream (EarlyChange 1, the default), with a 9-to-10-bit code change",
          [("t.ndb", EVIL_NDB)],
          pdf([catalog(), (4, stream(b"/Filter /LZWDecode",
                                     lzw_encode(bytes(range(256)) * 2 + body)))]),
          ["found Test.Evil in input//obj-4"])

    write("0005-runlength.case", "a RunLengthDecode stream: runs and literal blocks",
          [("t.ndb", EVIL_NDB)],
          pdf([catalog(), (4, stream(b"/Filter /RunLengthDecode",
                                     runlength(b"\0" * 300 + PAYLOAD + b"aaaab" * 3)))]),
          ["found Test.Evil in input//obj-4"])

    write("0006-png-predictor.case",
          "a Flate stream with a PNG predictor (/Predictor 12 /Columns 8): rows filtered 'Up'",
          [("t.ndb", EVIL_NDB)],
          pdf([catalog(), (4, stream(b"/Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 8 >>",
                                     zlib.compress(png_up(body, 8))))]),
          ["found Test.Evil in input//obj-4"])

    objs = [(6, b"<< /Type /Page /Parent 2 0 R >>"),
            (7, b"<< /Type /Action /S /Named /N (" + PAYLOAD + b") >>")]
    hdr = b" ".join(b"%d %d" % (n, 0) for n, _ in objs)
    texts, offs, pos = b"", [], 0
    for n, t in objs:
        offs.append(b"%d %d" % (n, len(texts)))
        texts += t + b"\n"
    hdr = b" ".join(offs) + b"\n"
    write("0007-objstm.case",
          "a compressed object stream: each object inside is handed out as objstm-N/obj-M",
          [("t.ndb", EVIL_NDB)],
          pdf([catalog(), (5, stream(b"/Type /ObjStm /N 2 /First %d /Filter /FlateDecode" % len(hdr),
                                     zlib.compress(hdr + texts)))]),
          ["found Test.Evil in input//objstm-5/obj-7"])

    # a broken xref (offsets pointing nowhere, a startxref past the end) and an incremental
    # update that redefines object 4: the second version carries the payload
    first = pdf([catalog(), (4, stream(b"/Filter /FlateDecode", zlib.compress(b"harmless")))],
                xref=False, tail=b"%%EOF\n")
    first = first.replace(b"startxref\n", b"xref\n0 3\n0000000000 65535 f \n0000099999 00000 n \n"
                          b"0000088888 00000 n \nstartxref\n")
    update = (b"4 0 obj\n" + stream(b"/Filter /FlateDecode", zlib.compress(body)) +
              b"\nendobj\nxref\n0 1\n0000000000 65535 f \ntrailer\n<< /Prev 77777 /Root 1 0 R >>\n"
              b"startxref\n999999\n%%EOF\n")
    write("0010-broken-xref.case",
          "a broken xref and an incremental update: objects are found without the xref, and the\n"
          "update's object 4 is one more part with the same name",
          [("t.ndb", EVIL_NDB)], first + update, ["found Test.Evil in input//obj-4"])

    co = zlib.compressobj()
    head = co.compress(b"BT /F1 12 Tf (" + PAYLOAD + b") Tj ET\n") + co.flush(zlib.Z_SYNC_FLUSH)
    rest = co.compress(bytes((i * 7919) % 251 for i in range(4000))) + co.flush()
    trunc = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n4 0 obj\n<< /Filter /FlateDecode"
             b" /Length 9999 >>\nstream\n" + head + rest[:len(rest) // 3])
    write("0011-truncated-stream.case",
          "a file cut in the middle of a Flate stream (no endstream, a /Length past the end):\n"
          "what inflated is handed out",
          [("t.ndb", EVIL_NDB)], trunc, ["found Test.Evil in input//obj-4"])

    bomb = zlib.compress(zlib.compress(bytes(64 << 20), 9), 9)
    write("0012-bomb.case",
          "a Flate bomb: a few hundred bytes that inflate (twice) to 64 MiB; decoding stops at\n"
          "1 MiB (1000 times its size, past 1 MiB) with a MaxRatio warning, the next stream is\n"
          "still read",
          [("t.ndb", EVIL_NDB)],
          pdf([catalog(), (4, stream(b"/Filter [/FlateDecode /FlateDecode]", bomb)),
               (5, stream(b"/Filter /FlateDecode", zlib.compress(body)))]),
          ["found Test.Evil in input//obj-5", "warning Heuristics.Limits.Exceeded.MaxRatio"])

    write("0013-bomb-alert.case",
          "the same bomb with alert-exceeds: the limit is a detection, reported on the stream",
          [("t.ndb", EVIL_NDB)],
          pdf([catalog(), (4, stream(b"/Filter [/FlateDecode /FlateDecode]", bomb))]),
          ["found Heuristics.Limits.Exceeded.MaxRatio in input//obj-4"], options=["alert-exceeds"])

    write("0014-encrypted-fake.case",
          "a trailer with /Encrypt: streams are handed out raw unless their filters decode them\n"
          "without an error, so a fake /Encrypt does not hide a Flate stream",
          [("t.ndb", EVIL_NDB)],
          pdf([catalog(), (4, stream(b"/Filter /FlateDecode", zlib.compress(body))),
               (9, b"<< /Filter /Standard /V 1 /R 2 /O (x) /U (y) /P -4 >>")],
              trailer=b"trailer\n<< /Root 1 0 R /Encrypt 9 0 R /ID [<01> <01>] >>\n"),
          ["found Test.Evil in input//obj-4"])

    enc = bytes((i * 131 + 7) % 256 for i in range(64)) + b"EVIL-PAYLOAD"
    write("0015-encrypted-raw.case",
          "an encrypted document whose stream does not inflate: handed out raw, no warning",
          [("t.hdb", "%s:%d:Test.File\n" % (__import__("hashlib").md5(enc).hexdigest(), len(enc)))],
          pdf([catalog(), (4, stream(b"/Filter /FlateDecode", enc)),
               (9, b"<< /Filter /Standard /V 1 /R 2 /O (x) /U (y) /P -4 >>")],
              trailer=b"trailer\n<< /Root 1 0 R /Encrypt 9 0 R >>\n"),
          ["found Test.File in input//obj-4"])


if __name__ == "__main__":
    main()
