#!/usr/bin/env bash
# test_dns_rpz.sh - khien dns rpz: the zone BIND's named-checkzone accepts, and a real Unbound
# (on a loopback port of its own, no upstream) loading it: a listed domain and its subdomains
# answer NXDOMAIN or the sinkhole address, an allow-listed name passes through.
# Usage: test_dns_rpz.sh KHIEN SRC
KHIEN=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
D="$SRC/tests/data/dns"
K() { "$KHIEN" "$@"; }
ORIGIN=rpz.khien.test

K dns rpz -l "$D/lists/emotet.txt" -a "$D/lists/allow.txt" --origin $ORIGIN --serial 7 -o "$T/nx.zone" > "$T/out" 2>&1
expect_status "rpz exits 0" 0 $?
check "rpz reports the count" has "$T/out" "2 domains"
check "SOA with the serial" grep -qE '^@ IN SOA localhost\. hostmaster\.localhost\. \( 7 ' "$T/nx.zone"
check "NS record" grep -q '^@ IN NS localhost\.$' "$T/nx.zone"
check "apex line" grep -q '^evil-c2\.com CNAME \.$' "$T/nx.zone"
check "wildcard line" grep -q '^\*\.evil-c2\.com CNAME \.$' "$T/nx.zone"
check "allow-list passes through" grep -q '^good\.evil-c2\.com CNAME rpz-passthru\.$' "$T/nx.zone"
check "URL and IP indicators are not zone names" hasnt "$T/nx.zone" "203.0.113.5"
K dns rpz -l "$D/lists/emotet.txt" --sinkhole 10.0.0.1 --origin $ORIGIN -o "$T/sink.zone" > "$T/out" 2>&1
check "sinkhole A records" grep -q '^\*\.evil-c2\.com A 10\.0\.0\.1$' "$T/sink.zone"
K dns rpz -l "$D/lists/emotet.txt" --sinkhole 2001:db8::53 --origin $ORIGIN -o "$T/sink6.zone" > "$T/out" 2>&1
check "sinkhole AAAA records" grep -q '^evil-c2\.com AAAA 2001:db8::53$' "$T/sink6.zone"
K dns rpz -l "$D/lists/emotet.txt" --sinkhole not-an-ip -o "$T/bad.zone" > "$T/out" 2>&1
expect_status "bad sinkhole exits 2" 2 $?
K dns rpz -o "$T/x.zone" > "$T/out" 2>&1; expect_status "rpz without lists exits 2" 2 $?

if command -v named-checkzone >/dev/null; then
  for z in nx sink sink6; do
    named-checkzone -q $ORIGIN "$T/$z.zone"; expect_status "named-checkzone accepts $z.zone" 0 $?
  done
  SH="$SRC/../shared/data/maltrail/trails/static/malware"
  if [ -d "$SH" ]; then
    K dns rpz -l "$SH" --origin $ORIGIN -o "$T/big.zone" > "$T/out" 2>&1
    expect_status "rpz of all Maltrail malware trails" 0 $?
    named-checkzone -q $ORIGIN "$T/big.zone"; expect_status "named-checkzone accepts the Maltrail zone" 0 $?
  else
    ok "Maltrail zone (skipped: ../shared is absent)"
  fi
else
  ok "named-checkzone (skipped: bind9-utils not installed)"
fi

# --- a real Unbound loading the zone ---
if command -v unbound >/dev/null && command -v unbound-checkconf >/dev/null; then
  PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # the "real" evil-c2.com, served by Unbound itself so that nothing leaves the machine
  cat > "$T/evil.zone" <<ZONE
\$TTL 60
@ IN SOA ns.evil-c2.com. h.evil-c2.com. 1 3600 600 86400 60
@ IN NS ns
ns IN A 192.0.2.53
@ IN A 192.0.2.98
www IN A 192.0.2.97
good IN A 192.0.2.99
ZONE
  run_unbound() { # zone-file
    cat > "$T/unbound.conf" <<CONF
server:
    interface: 127.0.0.1
    port: $PORT
    do-ip6: no
    do-tcp: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$T"
    pidfile: "$T/unbound.pid"
    use-syslog: no
    logfile: "$T/unbound.log"
    verbosity: 1
    access-control: 127.0.0.0/8 allow
    module-config: "respip iterator"
auth-zone:
    name: "evil-c2.com."
    zonefile: "$T/evil.zone"
    for-downstream: yes
    for-upstream: yes
    fallback-enabled: no
rpz:
    name: "$ORIGIN"
    zonefile: "$1"
    rpz-log: yes
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@9
remote-control:
    control-enable: no
CONF
    unbound-checkconf "$T/unbound.conf" > "$T/chk" 2>&1 || return 1
    unbound -d -c "$T/unbound.conf" > "$T/unbound.out" 2>&1 &
    UPID=$!
    for _ in $(seq 50); do
      python3 "$D/dnsq.py" 127.0.0.1 "$PORT" good.evil-c2.com > /dev/null 2>&1 && return 0
      sleep 0.1
    done
    return 1
  }
  stop_unbound() { kill "$UPID" 2>/dev/null; wait "$UPID" 2>/dev/null; }
  q() { python3 "$D/dnsq.py" 127.0.0.1 "$PORT" "$@" 2>&1; }
  if run_unbound "$T/nx.zone"; then
    ok "unbound-checkconf accepts the RPZ configuration; Unbound started"
    check "listed apex answers NXDOMAIN" test "$(q evil-c2.com)" = "NXDOMAIN"
    check "listed subdomain answers NXDOMAIN" test "$(q www.evil-c2.com)" = "NXDOMAIN"
    check "allow-listed name passes through" test "$(q good.evil-c2.com)" = "NOERROR 192.0.2.99"
    stop_unbound
    run_unbound "$T/sink.zone"
    check "sinkhole zone answers the sinkhole" test "$(q www.evil-c2.com)" = "NOERROR 10.0.0.1"
    check "Unbound logged the RPZ hit" grep -q "rpz: applied" "$T/unbound.log"
    stop_unbound
  else
    bad "Unbound with the RPZ zone did not start" "$(cat "$T/chk" "$T/unbound.log" "$T/unbound.out" 2>/dev/null | tail -5)"
    stop_unbound
  fi
else
  ok "Unbound (skipped: unbound not installed)"
fi
finish
