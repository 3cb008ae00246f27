#!/usr/bin/env python3
"""dga_clients.py - clients in a dnsmasq log, for measuring DGA detection the way `khien dns scan`
does it: per client, with the NXDOMAIN answers that a generator's names get.

  dga_clients.py gen BENIGN FOLD K CLIENTS FAMILY_FILE... > LOG
      Benign clients (CLIENTS of them) each ask K distinct names of the held-out benign fifth
      (FNV-1a of the name modulo 5 == FOLD) that come back NXDOMAIN, and 20 that resolve, one
      every ten minutes. Infected clients (200 a family; fewer names than K: the family is left
      out) each ask K distinct names of one held-out family, NXDOMAIN, among 20 resolving benign
      names, one every 10 ms (a generator runs through its names in a burst). Client
      addresses say what they are: 10.0.x.y benign, 10.F.x.y family number F (1-based, in the
      order given). Fixed seed: the same arguments give the same log.
  dga_clients.py eval K FAMILY_FILE... < REPORT
      Reads `khien dns scan --json --all`, prints a line per family (DGA names reported as
      family "dga" / names asked) and the benign figures (names and clients flagged).
"""
import json
import random
import sys

RESOLVING = 20
PER_FAMILY = 200


def fnv(s):
    h = 2166136261
    for c in s.encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h


def names(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip().lower()
            if line and not line.startswith("#"):
                out.append(line)
    return out


def family_name(path):
    return path.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def addr(group, i):
    return "10.%d.%d.%d" % (group, i // 250, i % 250 + 1)


def gen(benign_path, fold, k, nclients, fams):
    rnd = random.Random(20261125 + k)
    ben = sorted(set(n for n in names(benign_path) if fnv(n) % 5 == fold))
    out = sys.stdout
    qid = [0]
    t = [0]

    def ask(client, name, nx, sec=None):
        qid[0] += 1
        t[0] += 1
        if sec is None:  # infected: one query every 10 ms, a burst
            sec = t[0] // 100 % 3600
        ts = "Nov 25 %02d:%02d:%02d" % (8 + sec // 3600, sec // 60 % 60, sec % 60)
        out.write("%s dnsmasq[1]: %d %s/4000 query[A] %s from %s\n" % (ts, qid[0], client, name, client))
        reply = "NXDOMAIN" if nx else "192.0.2.%d" % (qid[0] % 250 + 1)
        out.write("%s dnsmasq[1]: %d %s/4000 reply %s is %s\n" % (ts, qid[0], client, name, reply))

    for i in range(nclients):
        c = addr(0, i)
        picked = rnd.sample(ben, k + RESOLVING)
        for j, n in enumerate(picked):  # one query every 10 minutes from 08:00
            ask(c, n, j < k, j * 600)
    for f, path in enumerate(fams, 1):
        fam = sorted(set(names(path)))
        if len(fam) < k:
            continue
        for i in range(PER_FAMILY):
            c = addr(f, i)
            asked = rnd.sample(fam, k)
            good = rnd.sample(ben, RESOLVING)
            for j in range(k + RESOLVING):
                if j % 2 == 0 and asked:
                    ask(c, asked.pop(), True)
                elif good:
                    ask(c, good.pop(), False)
                else:
                    ask(c, asked.pop(), True)


def evaluate(k, fams):
    flagged = {}  # client -> set of names reported as dga
    for line in sys.stdin:
        o = json.loads(line)
        if "client" not in o:
            continue
        flagged[o["client"]] = set(d["name"] for d in o["domains"] if d["family"] == "dga") if o["infected"] else set()
    rows = []
    for f, path in enumerate(fams, 1):
        if len(set(names(path))) < k:
            continue
        fam = set(names(path))
        got = sum(len(flagged.get(addr(f, i), set()) & fam) for i in range(PER_FAMILY))
        cl = sum(1 for i in range(PER_FAMILY) if flagged.get(addr(f, i)))
        rows.append((family_name(path), got / (PER_FAMILY * k), cl / PER_FAMILY))
    ben_clients = [c for c in flagged if c.startswith("10.0.")]
    ben_flagged = [c for c in ben_clients if flagged[c]]
    ben_names = sum(len(flagged[c]) for c in ben_clients)
    mean = sum(r[1] for r in rows) / len(rows) if rows else 0
    print("k=%d  DGA names flagged, mean over %d families: %.1f%%" % (k, len(rows), 100 * mean))
    for name, d, cl in rows:
        print("  %-26s names %5.1f%%  clients %5.1f%%" % (name, 100 * d, 100 * cl))
    print("  benign: %d of %d clients flagged (%.4f), %d of %d names flagged (FPR %.5f)" % (
        len(ben_flagged), len(ben_clients), len(ben_flagged) / max(1, len(ben_clients)), ben_names,
        len(ben_clients) * (k + RESOLVING), ben_names / max(1, len(ben_clients) * (k + RESOLVING))))


def main():
    if len(sys.argv) >= 6 and sys.argv[1] == "gen":
        gen(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "eval":
        evaluate(int(sys.argv[2]), sys.argv[3:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
