#!/usr/bin/env python3
"""dnsq.py HOST PORT NAME [TYPE]: one UDP DNS query on loopback; prints 'RCODE addr...'.
A minimal stub for tests (no dig on the test machines): A/AAAA answers are decoded."""
import random, socket, struct, sys

RCODES = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}

def skip_name(m, o):
    while True:
        n = m[o]
        if n == 0:
            return o + 1
        if n & 0xC0 == 0xC0:
            return o + 2
        o += 1 + n

def main():
    host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    qtype = {"A": 1, "AAAA": 28}[sys.argv[4] if len(sys.argv) > 4 else "A"]
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(q, (host, port))
    m, _ = s.recvfrom(4096)
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", m[:12])
    o = 12
    for _ in range(qd):
        o = skip_name(m, o) + 4
    out = [RCODES.get(flags & 0xF, str(flags & 0xF))]
    for _ in range(an):
        o = skip_name(m, o)
        t, _, _, rdlen = struct.unpack(">HHIH", m[o:o + 10])
        o += 10
        rd = m[o:o + rdlen]
        o += rdlen
        if t == 1:
            out.append(socket.inet_ntop(socket.AF_INET, rd))
        elif t == 28:
            out.append(socket.inet_ntop(socket.AF_INET6, rd))
    print(" ".join(out))

main()
