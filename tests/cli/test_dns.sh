#!/usr/bin/env bash
# test_dns.sh - khien dns scan/score/train end to end: every log format on real-shaped samples,
# detection per client, allow-list, parent-domain edge cases, IDN, malformed lines, compressed
# logs, JSON/CSV output, parallel reading, the shipped DGA model, and (when ../shared exists)
# the real Maltrail trails. Usage: test_dns.sh KHIEN SRC
KHIEN=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
D="$SRC/tests/data/dns"
L=(-l "$D/lists/emotet.txt" -a "$D/lists/allow.txt")
MODEL="$SRC/data/dns/dga.model"
K() { "$KHIEN" "$@"; }

# --- the command ---
K dns --help > "$T/out" 2>&1; expect_status "dns help exits 0" 0 $?
check "dns help lists scan" has "$T/out" "scan"
K --help > "$T/out" 2>&1; check "khien help lists dns" has "$T/out" "dns "
K dns frob > "$T/out" 2>&1; expect_status "unknown dns command exits 2" 2 $?
K dns scan "${L[@]}" > "$T/out" 2>&1; expect_status "scan without logs exits 2" 2 $?
K dns scan --format nosuch "$D/logs/bind.log" > "$T/out" 2>&1; expect_status "unknown format exits 2" 2 $?
check "unknown format explained" has "$T/out" "unknown format 'nosuch'"

# --- every format, detected automatically ---
for f in bind.log unbound.log dnsmasq.log zeek-dns.log eve.json windows-dns.log pdns.log queries.csv; do
  K dns scan --no-dga "${L[@]}" "$D/logs/$f" > "$T/out" 2> "$T/err"; st=$?
  expect_status "$f: infected clients exit 1" 1 $st
  check "$f: a.b.evil-c2.com attributed to 192.0.2.20" grep -qE '^192\.0\.2\.20: INFECTED families=emotet domains=a\.b\.evil-c2\.com\(1\)' "$T/out"
  check "$f: IPv6 client found" grep -qE '^2001:(db8|0db8:0000:0000:0000:0000:0000):+0*7: INFECTED' "$T/out"
  check "$f: allow-listed client clean" hasnt "$T/out" "192.0.2.10:"
  check "$f: michigan.org is not higan.org" hasnt "$T/out" "michigan"
  check "$f: infected count" has "$T/out" "Clients: 3, infected: 2"
  check "$f: malformed line named with its number" grep -qE "$f:[0-9]+: malformed line skipped" "$T/err"
done
K dns scan --no-dga --format bind "${L[@]}" "$D/logs/bind.log" > "$T/out" 2>&1; expect_status "--format bind" 1 $?
K dns scan --no-dga --format dnsmasq "${L[@]}" "$D/logs/bind.log" > "$T/out" 2>&1; expect_status "wrong --format finds nothing" 0 $?
check "wrong --format counts malformed lines" has "$T/out" "malformed 7"
printf 'hello\nworld\n' > "$T/junk.log"
K dns scan --no-dga "${L[@]}" "$T/junk.log" > "$T/out" 2>&1; expect_status "unknown log format exits 2" 2 $?
check "unknown log format explained" has "$T/out" "not a known DNS log format"
K dns scan --no-dga "${L[@]}" "$T/nonexistent.log" > "$T/out" 2>&1; expect_status "missing log exits 2" 2 $?

# --- outputs ---
K dns scan --no-dga --json "${L[@]}" "$D/logs/dnsmasq.log" > "$T/out" 2>/dev/null
check "JSON lines parse, one per infected client and a summary" python3 -c "
import json,sys
rows=[json.loads(l) for l in open('$T/out')]
c={r['client']:r for r in rows if 'client' in r}
s=[r for r in rows if 'summary' in r][0]['summary']
assert set(c)=={'192.0.2.20','2001:db8::7'}, c.keys()
r=c['192.0.2.20']
assert r['families']==['emotet'] and r['domains'][0]['name']=='a.b.evil-c2.com' and r['queries']==2 and r['nxdomain']==1
assert r['first_seen'].endswith('T08:35:02Z') and r['last_seen'].endswith('T08:35:03Z')
assert s['infected_clients']==2 and s['malformed']==2 and s['lines']==10
"
K dns scan --no-dga --csv --all "${L[@]}" "$D/logs/queries.csv" > "$T/out" 2>/dev/null
check "CSV header" has "$T/out" "client,first_seen,last_seen,families,domains,queries,hit_queries,nxdomain,dga_names,infected"
check "CSV infected row" grep -q '^192.0.2.20,2026-11-25T08:35:02Z,2026-11-25T08:35:03Z,emotet,a.b.evil-c2.com,2,1,1,0,yes$' "$T/out"
check "CSV --all lists clean clients" grep -q '^192.0.2.10,.*,no$' "$T/out"

# --- several files, compressed, in parallel ---
gzip -c "$D/logs/bind.log" > "$T/bind.log.gz"
if command -v zstd >/dev/null; then zstd -q -c "$D/logs/dnsmasq.log" > "$T/dnsmasq.log.zst"; else cp "$D/logs/dnsmasq.log" "$T/dnsmasq.log.zst"; fi
xz -c "$D/logs/eve.json" > "$T/eve.json.xz"
K dns scan --no-dga -q -j 3 "${L[@]}" "$T/bind.log.gz" "$T/dnsmasq.log.zst" "$T/eve.json.xz" "$D/logs/zeek-dns.log" > "$T/out" 2>&1
expect_status "compressed logs, -j 3" 1 $?
check "gzip+zstd+xz+plain lines all read" has "$T/out" "Log lines: 41 (records 23"
check "merged counts per client" grep -qE '^192\.0\.2\.20: INFECTED families=emotet domains=a\.b\.evil-c2\.com\(4\) queries=8' "$T/out"
cat "$D/logs/unbound.log" | K dns scan --no-dga "${L[@]}" - > "$T/out" 2>&1; expect_status "standard input" 1 $?

# --- names: IDN, case, trailing dot, parents ---
printf 'bücher-böse.example\n# comment\nEVIL.Example.ORG.\n' > "$T/idn.txt"
cat > "$T/idn.log" <<'LOG'
Nov 25 08:35:01 dnsmasq[1]: query[A] www.xn--bcher-bse-67a3d.example from 10.0.0.1
Nov 25 08:35:01 dnsmasq[1]: query[A] a.b.c.evil.example.org. from 10.0.0.2
Nov 25 08:35:01 dnsmasq[1]: query[A] notevil.example.org from 10.0.0.3
Nov 25 08:35:01 dnsmasq[1]: query[A] evil.example.org.au from 10.0.0.4
LOG
K dns scan --no-dga -l "$T/idn.txt" "$T/idn.log" > "$T/out" 2>&1
check "IDN list entry matches the punycode query" has "$T/out" "10.0.0.1: INFECTED families=idn"
check "case and trailing dot normalised" has "$T/out" "10.0.0.2: INFECTED"
check "no match without a label boundary" hasnt "$T/out" "10.0.0.3"
check "no match on a longer suffix" hasnt "$T/out" "10.0.0.4"

# --- DGA ---
printf 'google.com\nwikipedia.org\nxjw3kq9zt7vbp2m.com\n\n' | K dns score --model "$MODEL" > "$T/out" 2>&1
expect_status "score exits 0" 0 $?
check "score: a popular name is ok" grep -qP '^google\.com\t0\.[0-9]{4}\tok$' "$T/out"
check "score: a random name is dga" grep -qP '^xjw3kq9zt7vbp2m\.com\t[01]\.[0-9]{4}\tdga$' "$T/out"
check "score: three lines" test "$(wc -l < "$T/out")" -eq 3
{
  for n in kq3jz8xv2wpt mzq8vx2kj4rt ptl9qz3xkv7w zx8kq2vj5mwt rqz7xk3vj9pw; do
    echo "Nov 25 08:35:01 dnsmasq[1]: 5 10.9.9.9/5353 query[A] $n.com from 10.9.9.9"
    echo "Nov 25 08:35:01 dnsmasq[1]: 5 10.9.9.9/5353 reply $n.com is NXDOMAIN"
  done
  echo "Nov 25 08:35:01 dnsmasq[1]: query[A] www.google.com from 10.9.9.8"
} > "$T/dga.log"
K dns scan --model "$MODEL" "$T/dga.log" > "$T/out" 2>&1; expect_status "DGA client exits 1" 1 $?
check "DGA client reported with family dga" has "$T/out" "10.9.9.9: INFECTED families=dga"
check "benign client not reported" hasnt "$T/out" "10.9.9.8"
K dns scan --model "$MODEL" --dga-min 10 --nx-burst 100 "$T/dga.log" > "$T/out" 2>&1; expect_status "DGA thresholds respected" 0 $?
printf 'khien-dga 9\n' > "$T/bad.model"
K dns score --model "$T/bad.model" < /dev/null > "$T/out" 2>&1; expect_status "bad model exits 2" 2 $?
check "bad model explained" has "$T/out" "not a khien DGA model"

# --- STIX 2.1 bundle ---
K dns scan --no-dga -q "${L[@]}" --stix "$T/bundle.json" "$D/logs/eve.json" "$D/logs/unbound.log" > "$T/out" 2>&1
expect_status "scan --stix exits 1 (infected)" 1 $?
check "STIX bundle: indicators seen, malware, sightings per client network" python3 -c "
import json, re
b = json.load(open('$T/bundle.json'))
assert b['type'] == 'bundle' and re.match(r'bundle--[0-9a-f-]{36}$', b['id'])
objs = {o['id']: o for o in b['objects']}
for o in b['objects']:
    assert o['spec_version'] == '2.1' and re.match(o['type'] + r'--[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$', o['id']), o['id']
    assert o['created'].endswith('Z') and o['modified'] == o['created']
ind = [o for o in b['objects'] if o['type'] == 'indicator']
assert len(ind) == 1 and ind[0]['pattern'] == \"[domain-name:value = 'evil-c2.com']\" and ind[0]['pattern_type'] == 'stix'
mal = [o for o in b['objects'] if o['type'] == 'malware']
assert mal[0]['name'] == 'emotet' and mal[0]['is_family'] is True
rel = [o for o in b['objects'] if o['type'] == 'relationship'][0]
assert rel['source_ref'] == ind[0]['id'] and rel['target_ref'] == mal[0]['id'] and rel['relationship_type'] == 'indicates'
sg = {objs[o['where_sighted_refs'][0]]['name']: o for o in b['objects'] if o['type'] == 'sighting'}
assert set(sg) == {'client network 192.0.2.0/24', 'client network 2001:db8::/48'}, sg.keys()
assert sg['client network 192.0.2.0/24']['count'] == 2 and sg['client network 192.0.2.0/24']['sighting_of_ref'] == ind[0]['id']
assert sg['client network 2001:db8::/48']['count'] == 2
assert sg['client network 192.0.2.0/24']['first_seen'] == '2026-11-25T08:35:02.000Z'
"

# --- watch: follow a growing log ---
echo "Nov 25 08:35:00 dnsmasq[1]: query[A] old.evil-c2.com from 10.7.7.1" > "$T/grow.log"
"$KHIEN" dns watch --no-dga "${L[@]}" "$T/grow.log" > "$T/watch.out" 2> "$T/watch.err" &
WPID=$!
sleep 0.5
{
  echo "Nov 25 08:35:01 dnsmasq[1]: query[A] www.example.com from 10.7.7.2"
  echo "Nov 25 08:35:02 dnsmasq[1]: query[A] new.evil-c2.com from 10.7.7.3"
  printf 'Nov 25 08:35:03 dnsmasq[1]: query[A] late.evil-c2.com '
} >> "$T/grow.log"
sleep 0.6
echo "from 10.7.7.4" >> "$T/grow.log"
for _ in $(seq 30); do grep -q late "$T/watch.out" && break; sleep 0.1; done
kill -TERM "$WPID"; wait "$WPID"; st=$?
expect_status "watch stops cleanly on SIGTERM" 0 $st
check "watch prints a hit as it arrives" grep -q "T08:35:02Z 10.7.7.3 new.evil-c2.com family=emotet" "$T/watch.out"
check "watch joins a line written in two pieces" grep -q "10.7.7.4 late.evil-c2.com family=emotet" "$T/watch.out"
check "watch starts at the end of the file" hasnt "$T/watch.out" "old.evil-c2.com"
check "watch is silent about clean queries" hasnt "$T/watch.out" "www.example.com"
check "watch counts on exit" has "$T/watch.err" "2 hits"

# --- with the shared data: real Maltrail trails and the DGA training data ---
SH="$SRC/../shared/data"
if [ -d "$SH/maltrail/trails/static/malware" ] && [ -d "$SH/dga/train" ]; then
  K dns scan --no-dga -l "$SH/maltrail/trails/static/malware" "$D/logs/bind.log" > "$T/out" 2>"$T/err"
  check "Maltrail trails load (families from file names)" grep -qE "^Indicators: [0-9]{6,} domains, [0-9]+ IPs, [0-9]+ URLs, [0-9]{3,} families" "$T/out"
  dom=$(grep -m1 -E '^[a-z0-9-]+\.[a-z]{2,}$' "$SH/maltrail/trails/static/malware/emotet.txt")
  printf 'Nov 25 08:35:01 dnsmasq[1]: query[A] x.%s from 10.1.1.1\n' "$dom" > "$T/mt.log"
  K dns scan --no-dga -l "$SH/maltrail/trails/static/malware" "$T/mt.log" > "$T/out" 2>&1
  check "a real Emotet domain is found with its family" grep -q "10.1.1.1: INFECTED families=emotet" "$T/out"
  K dns train -b "$SH/benign/top-domains-train.txt" -g "$SH/dga/train" -o "$T/m.model" > "$T/out" 2>&1
  expect_status "train from the shared data" 0 $?
  check "trained model scores" bash -c "echo xjw3kq9zt7vbp2m.com | '$KHIEN' dns score --model '$T/m.model' | grep -q dga"
  K dns train -b "$SH/benign/top-domains-train.txt" -g "$SH/dga/train" --holdout pykspa,zloader > "$T/out" 2>&1
  check "held-out evaluation prints the curve" grep -qE '^0\.0010 ' "$T/out"
else
  ok "Maltrail and DGA data (skipped: ../shared/data is absent)"
fi
finish
