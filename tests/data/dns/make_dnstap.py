#!/usr/bin/env python3
"""make_dnstap.py OUT: write the dnstap sample of the DNS tests (tests/data/dns/logs/dnstap.fstrm).

A Frame Streams file (START with content type "protobuf:dnstap.Dnstap", data frames, STOP) of
Dnstap protobuf messages, encoded by hand (varints and length-delimited fields, python3 stdlib
only) so that the test does not depend on the decoder it tests. The records mirror the other
samples of tests/data/dns/logs: three clients, one allow-listed, a.b.evil-c2.com from
192.0.2.20 with its NXDOMAIN response, an IPv6 client, a resolver's own upstream query (ignored)
and two malformed frames. Importable: bench/bench_dns.sh writes its dnstap log with frame(),
start(), stop() and client_query().
"""
import socket
import struct
import sys

CONTENT_TYPE = b"protobuf:dnstap.Dnstap"
CLIENT_QUERY, CLIENT_RESPONSE, RESOLVER_QUERY = 5, 6, 3
QTYPES = {"A": 1, "AAAA": 28, "MX": 15, "TXT": 16}


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(num, v):
    return varint(num << 3 | 0) + varint(v)


def field_bytes(num, b):
    return varint(num << 3 | 2) + varint(len(b)) + b


def field_fixed32(num, v):
    return varint(num << 3 | 5) + struct.pack("<I", v)


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns_message(name, qtype="A", response=False, rcode=0, qid=0x1234):
    flags = 0x0100 | (0x8080 if response else 0) | (rcode & 0xF)
    msg = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 0)
    return msg + wire_name(name) + struct.pack(">HH", QTYPES.get(qtype, 1), 1)


def addr_bytes(addr):
    return socket.inet_pton(socket.AF_INET6 if ":" in addr else socket.AF_INET, addr)


def message(mtype, client, wire, t_ms, response=False, identity=b"ns1.test"):
    sec, nsec = t_ms // 1000, t_ms % 1000 * 1000000
    m = field_varint(1, mtype)
    m += field_varint(2, 2 if ":" in client else 1) + field_varint(3, 1)
    m += field_bytes(4, addr_bytes(client)) + field_varint(6, 40000)
    m += field_varint(8, sec) + field_fixed32(9, nsec)
    if response:
        m += field_varint(12, sec) + field_fixed32(13, nsec) + field_bytes(14, wire)
    else:
        m += field_bytes(10, wire)
    return field_bytes(1, identity) + field_bytes(2, b"khien-test") + field_bytes(14, m) + field_varint(15, 1)


def client_query(client, name, t, qtype="A"):
    """A CLIENT_QUERY frame payload; t in milliseconds since 1970."""
    return message(CLIENT_QUERY, client, dns_message(name, qtype), t)


def client_response(client, name, t, rcode, qtype="A"):
    return message(CLIENT_RESPONSE, client, dns_message(name, qtype, True, rcode), t, response=True)


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def control(ctype, content_type=True):
    body = struct.pack(">I", ctype)
    if content_type:
        body += struct.pack(">II", 1, len(CONTENT_TYPE)) + CONTENT_TYPE
    return struct.pack(">II", 0, len(body)) + body


def start():
    return control(2)


def stop():
    return control(3, False)


def sample():
    t = 1795595701123
    out = start()
    out += frame(client_query("192.0.2.10", "www.example.com", t))
    out += frame(client_query("192.0.2.20", "a.b.evil-c2.com", t + 1000))
    out += frame(client_response("192.0.2.20", "a.b.evil-c2.com", t + 1001, 3))
    # a resolver's own query upstream: the resolver's address, not a subscriber's
    out += frame(message(RESOLVER_QUERY, "192.0.2.1", dns_message("evil-c2.com"), t + 1002))
    out += frame(client_query("192.0.2.20", "michigan.org", t + 2000))
    out += frame(b"\x0a\xff\xff\xff\x0fgarbage")  # malformed: a field length past the frame
    out += frame(client_query("192.0.2.10", "good.evil-c2.com", t + 3000))
    out += frame(client_query("2001:db8::7", "update.evil-c2.com", t + 4000, "AAAA"))
    # malformed: a question name whose compression pointer points at itself
    loop = struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c" + struct.pack(">HH", 1, 1)
    out += frame(message(CLIENT_QUERY, "192.0.2.30", loop, t + 5000))
    out += stop()
    return out


if __name__ == "__main__":
    with open(sys.argv[1], "wb") as f:
        f.write(sample())
