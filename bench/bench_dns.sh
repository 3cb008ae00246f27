#!/usr/bin/env bash
# bench_dns.sh - khien dns: throughput of every log parser with the indicator matcher, against
# `grep -F -f` as a floor, indicator-set load time and memory, in one run.
#
#   bash bench/bench_dns.sh
#
# Environment knobs:
#   KHIEN    the khien binary                  (default: build/khien under the repository root)
#   N_IND    indicators                        (default 1500000: every Maltrail domain + synthetic)
#   N_LINES  lines of the BIND and dnsmasq logs (default 5000000; the other formats get N_LINES/5)
#   OUT      work and output directory         (default: bench/out/dns under the repository root)
#   SEED     generator seed                    (default 7)
#
# The indicator list is every domain of ../shared/data/maltrail (malware, malicious,
# suspicious) topped up with synthetic names to N_IND. The logs: 50,000 clients; 97% of queries
# go to a pool of popular names (../shared/data/benign with www./api./cdn. prefixes), 1% to a
# listed domain or a subdomain of one, 2% to random names, as resolvers see. Times are wall
# clock of one process reading one file (-j 1: one core); khien's own lines/s (reading only,
# lists loaded) are printed beside. dnstap gets N_LINES/5 CLIENT_QUERY frames written with
# tests/data/dns/make_dnstap.py; its "lines" are frames (records). docs/benchmarks.md ("DNS")
# explains the figures.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED="$ROOT/../shared/data"
KHIEN=${KHIEN:-$ROOT/build/khien}
N_IND=${N_IND:-1500000}
N_LINES=${N_LINES:-5000000}
OUT=${OUT:-$ROOT/bench/out/dns}
SEED=${SEED:-7}
MODEL="$ROOT/data/dns/dga.model"

[ -x "$KHIEN" ] || { echo "bench_dns: no khien at $KHIEN (build first, or set KHIEN)" >&2; exit 2; }
[ -d "$SHARED/maltrail" ] || { echo "bench_dns: ../shared/data/maltrail is needed" >&2; exit 2; }
mkdir -p "$OUT"

PARAMS="$N_IND $N_LINES $SEED v2"
if [ "$(cat "$OUT/params" 2>/dev/null)" = "$PARAMS" ]; then
    echo "== reusing the indicators and logs in $OUT ($PARAMS)"
else
echo "== generating $N_IND indicators and the logs in $OUT (seed $SEED)"
python3 - "$SHARED" "$OUT" "$N_IND" "$N_LINES" "$SEED" "$ROOT" <<'PY'
import os, random, sys, gzip
shared, out, n_ind, n_lines, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
sys.path.insert(0, os.path.join(sys.argv[6], "tests/data/dns"))
import make_dnstap as tap
rnd = random.Random(seed)
doms = set()
for top in ("malware", "malicious", "suspicious"):
    d = os.path.join(shared, "maltrail/trails/static", top)
    for f in sorted(os.listdir(d)):
        for line in open(os.path.join(d, f), errors="replace"):
            line = line.split("#")[0].strip().lower()
            if line and "." in line and not any(ch in line for ch in " :/([|\\+*") \
               and not line.replace(".", "").isdigit():
                doms.add(line.rstrip("."))
n_real = len(doms)
tlds = ["com", "net", "org", "info", "ru", "xyz", "top", "vn", "biz", "online"]
alpha = "abcdefghijklmnopqrstuvwxyz0123456789"
while len(doms) < n_ind:
    doms.add("".join(rnd.choice(alpha) for _ in range(rnd.randint(6, 16))) + "." + rnd.choice(tlds))
doms = sorted(doms)
with open(os.path.join(out, "indicators.txt"), "w") as f:
    f.write("".join(d + "\n" for d in doms))
print(f"indicators: {len(doms)} ({n_real} from Maltrail)")
benign = [l.strip() for l in open(os.path.join(shared, "benign/top-domains-train.txt")) if l.strip()]
pool = [p + b for b in benign[:5000] for p in ("", "www.", "api.", "cdn.")]
clients = ["10.%d.%d.%d" % (rnd.randrange(256), rnd.randrange(256), rnd.randrange(1, 255)) for _ in range(50000)]
bad = rnd.sample(doms, 20000)
def names(n):
    for i in range(n):
        r = rnd.random()
        if r < 0.01:
            q = rnd.choice(bad)
            if r < 0.005:
                q = "x%d.%s" % (i % 97, q)
        elif r < 0.03:
            q = "".join(rnd.choice(alpha) for _ in range(rnd.randint(5, 14))) + "." + rnd.choice(tlds)
        else:
            q = pool[int(rnd.paretovariate(1.2)) % len(pool)]
        yield i, rnd.choice(clients), q
def write(name, n, fmt, head=""):
    with open(os.path.join(out, name), "w") as f:
        f.write(head)
        buf = []
        for i, c, q in names(n):
            s, ms = 1795595701 + i // 20000, (i * 7) % 1000
            hh, mm, ss = (8 + s // 3600 % 24) % 24, s // 60 % 60, s % 60
            buf.append(fmt(i, c, q, s, ms, hh, mm, ss))
            if len(buf) >= 100000:
                f.write("".join(buf)); buf = []
        f.write("".join(buf))
write("bind.log", n_lines, lambda i, c, q, s, ms, hh, mm, ss:
      "25-Nov-2026 %02d:%02d:%02d.%03d queries: info: client @0x7f1c8c0a1b68 %s#%d (%s): query: %s IN A +E(0)K (192.0.2.1)\n" % (hh, mm, ss, ms, c, 1024 + i % 60000, q, q))
write("dnsmasq.log", n_lines, lambda i, c, q, s, ms, hh, mm, ss:
      "Nov 25 %02d:%02d:%02d dnsmasq[1234]: query[A] %s from %s\n" % (hh, mm, ss, q, c))
m = n_lines // 5
write("unbound.log", m, lambda i, c, q, s, ms, hh, mm, ss: "[%d] unbound[1234:0] info: %s %s. A IN\n" % (s, c, q))
write("zeek-dns.log", m, lambda i, c, q, s, ms, hh, mm, ss:
      "%d.%06d\tC%d\t%s\t%d\t192.0.2.1\t53\tudp\t%d\t0.01\t%s\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t-\t-\tF\n" % (s, ms * 1000, i, c, 1024 + i % 60000, i % 65536, q),
      "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n")
write("eve.json", m, lambda i, c, q, s, ms, hh, mm, ss:
      '{"timestamp":"2026-11-25T%02d:%02d:%02d.%03d000+0000","flow_id":%d,"event_type":"dns","src_ip":"%s","src_port":%d,"dest_ip":"192.0.2.1","dest_port":53,"proto":"UDP","dns":{"type":"query","id":%d,"rrname":"%s","rrtype":"A","tx_id":0}}\n' % (hh, mm, ss, ms, i, c, 1024 + i % 60000, i % 65536, q))
def winname(q):
    return "".join("(%d)%s" % (len(l), l) for l in q.split(".")) + "(0)"
write("windows-dns.log", m, lambda i, c, q, s, ms, hh, mm, ss:
      "11/25/2026 %d:%02d:%02d AM 0E2C PACKET  000000A1B2C3D4E0 UDP Rcv %-15s %04x   Q [0001   D   NOERROR] A      %s\n" % (hh % 12 or 12, mm, ss, c, i % 65536, winname(q)))
write("pdns.log", m, lambda i, c, q, s, ms, hh, mm, ss:
      'Nov 25 %02d:%02d:%02d ns1 pdns-recursor[1]: msg="Question" subsystem="syncres" level="0" prio="Info" tid="1" ts="%d.%03d" qname="%s" qtype="A" remote="%s:%d"\n' % (hh, mm, ss, s, ms, q, c, 1024 + i % 60000))
write("queries.csv", m, lambda i, c, q, s, ms, hh, mm, ss: "%d.%03d,%s,%s,A,NOERROR\n" % (s, ms, c, q), "time,client,qname,qtype,rcode\n")
with open(os.path.join(out, "dnstap.fstrm"), "wb") as f:
    f.write(tap.start())
    buf = []
    for i, c, q in names(m):
        buf.append(tap.frame(tap.client_query(c, q, (1795595701 + i // 20000) * 1000 + (i * 7) % 1000)))
        if len(buf) >= 100000:
            f.write(b"".join(buf)); buf = []
    f.write(b"".join(buf) + tap.stop())
with open(os.path.join(out, "dnstap.count"), "w") as f:
    f.write("%d\n" % m)
PY
echo "$PARAMS" > "$OUT/params"
fi

IND="$OUT/indicators.txt"
ind_mb=$(du -m "$IND" | cut -f1)
echo
echo "== indicator set: load time and memory (list file ${ind_mb} MB)"
printf '25-Nov-2026 08:35:01.000 queries: info: client 192.0.2.1#1 (a.example): query: a.example IN A + (192.0.2.1)\n' > "$OUT/one.log"
/usr/bin/time -f "%e %M" -o "$OUT/time.load" "$KHIEN" dns scan --no-dga -q -l "$IND" "$OUT/one.log" > "$OUT/load.out" 2>&1 || true
read -r load_wall load_rss < <(tail -1 "$OUT/time.load")
grep -E "^Indicators|Indicator tables|Time:" "$OUT/load.out"
echo "wall ${load_wall} s, peak RSS $((load_rss / 1024)) MB (program + tables)"
MT="$SHARED/maltrail/trails/static"
/usr/bin/time -f "%e %M" -o "$OUT/time.mt" "$KHIEN" dns scan --no-dga -q -l "$MT" "$OUT/one.log" > "$OUT/mt.out" 2>/dev/null || true
read -r mt_wall mt_rss < <(tail -1 "$OUT/time.mt")
echo "the Maltrail trails themselves ($MT, $(du -sm "$MT" | cut -f1) MB):"
grep -E "^Indicators|Indicator tables|Time:" "$OUT/mt.out"
echo "wall ${mt_wall} s, peak RSS $((mt_rss / 1024)) MB"

row() { # format file [extra args]
    local fmt=$1 file=$2; shift 2
    local lines; lines=$(wc -l < "$OUT/$file")
    [ "$fmt" != dnstap ] || lines=$(cat "$OUT/dnstap.count") # binary: frames, not lines
    /usr/bin/time -f "%e %M" -o "$OUT/time.$fmt" "$KHIEN" dns scan -q -l "$IND" "$@" --format "$fmt" "$OUT/$file" > "$OUT/scan.$fmt.out" 2>&1 || true
    local wall rss; read -r wall rss < <(tail -1 "$OUT/time.$fmt")
    local own; own=$(grep -oE '\(([0-9]+) lines/s\)' "$OUT/scan.$fmt.out" | tr -dc 0-9)
    local inf; inf=$(grep -oE 'infected: [0-9]+' "$OUT/scan.$fmt.out" | tr -dc 0-9)
    local tag=$fmt; [ "$1" = --no-dga ] || tag="$fmt+dga"
    printf '%-11s %10d %8.2f %14s %10d %10s\n' "$tag" "$lines" "$wall" "$own" "$((rss / 1024))" "$inf"
}
echo
echo "== khien dns scan -j 1, $N_IND indicators, parent-domain walk (lines/s: reading+matching only)"
printf '%-11s %10s %8s %14s %10s %10s\n' format lines wall_s lines/s rss_MB infected
for f in bind:bind.log dnsmasq:dnsmasq.log unbound:unbound.log zeek:zeek-dns.log eve:eve.json windows:windows-dns.log pdns:pdns.log csv:queries.csv dnstap:dnstap.fstrm; do
    row "${f%%:*}" "${f#*:}" --no-dga
done
row bind bind.log --model "$MODEL"
row dnsmasq dnsmasq.log --model "$MODEL"

echo
echo "== floor: grep -F -f (fixed strings, no parsing, no label boundaries, no attribution)"
for f in bind.log dnsmasq.log; do
    lines=$(wc -l < "$OUT/$f")
    /usr/bin/time -f "%e %M" -o "$OUT/time.grep" grep -F -c -f "$IND" "$OUT/$f" > "$OUT/grep.out" 2>&1 || true
    read -r wall rss < <(tail -1 "$OUT/time.grep")
    printf 'grep %-12s %10d lines %8.2f s %12.0f lines/s  rss %d MB  (%s matching lines)\n' "$f" "$lines" "$wall" \
        "$(echo "$lines / $wall" | bc -l)" "$((rss / 1024))" "$(cat "$OUT/grep.out")"
done

echo
echo "== one big file on several threads (-j N cuts a plain log in parts; lines/s: reading+matching only)"
printf '%-11s %4s %10s %8s %14s %10s\n' format jobs lines wall_s lines/s rss_MB
for f in bind:bind.log dnsmasq:dnsmasq.log; do
    fmt=${f%%:*} file=${f#*:}
    lines=$(wc -l < "$OUT/$file")
    for j in 1 2 4; do
        [ "$j" -le "$(nproc)" ] || continue
        /usr/bin/time -f "%e %M" -o "$OUT/time.j" "$KHIEN" dns scan -q -j "$j" --no-dga -l "$IND" --format "$fmt" "$OUT/$file" > "$OUT/scan.j.out" 2>&1 || true
        read -r wall rss < <(tail -1 "$OUT/time.j")
        own=$(grep -oE '\(([0-9]+) lines/s\)' "$OUT/scan.j.out" | tr -dc 0-9)
        printf '%-11s %4d %10d %8.2f %14s %10d\n' "$fmt" "$j" "$lines" "$wall" "$own" "$((rss / 1024))"
    done
done
