#!/usr/bin/env bash
# test_dns_dnstap.sh - khien dns watch receiving dnstap live: a real Unbound (Debian's, built
# with --enable-dnstap) on a loopback port of its own, answering a local zone (no network),
# sends Frame Streams to --dnstap-socket; the hit for the listed domain with client 127.0.0.1
# must appear while it runs, also after Unbound restarts and reconnects. Then a hand-made
# sender (tests/data/dns/make_dnstap.py frames) for the protocol edges: an oversized frame,
# a damaged one, two connections at once, the FINISH reply, --dnstap-tcp; and a growing
# dnstap file followed from its end.
# Usage: test_dns_dnstap.sh KHIEN SRC
KHIEN=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
D="$SRC/tests/data/dns"
K() { "$KHIEN" "$@"; }
printf 'evil-test.example\n' > "$T/bad.txt"
WPID=
UPID=

# wait_for FILE TEXT [TENTHS]: poll (bounded, default 20 s) until FILE holds TEXT
wait_for() { for _ in $(seq "${3:-200}"); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
start_watch() { # extra args...
  : > "$T/watch.out"
  "$KHIEN" dns watch --no-dga -l "$T/bad.txt" "$@" > "$T/watch.out" 2> "$T/watch.err" &
  WPID=$!
  wait_for "$T/watch.err" "listening for dnstap"
}
stop_watch() { kill -TERM "$WPID" 2>/dev/null; wait "$WPID"; WST=$?; WPID=; }
cleanup() { [ -n "$UPID" ] && kill "$UPID" 2>/dev/null; [ -n "$WPID" ] && kill "$WPID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

# --- arguments ---
: > "$T/plain"
K dns watch --no-dga -l "$T/bad.txt" --dnstap-socket "$T/plain" > "$T/out" 2>&1; expect_status "a regular file is not replaced" 2 $?
check "the reason is given" has "$T/out" "exists and is not a socket"
K dns watch --no-dga -l "$T/bad.txt" --dnstap-socket "$T/s" extra.log > "$T/out" 2>&1; expect_status "socket and a log file: usage error" 2 $?
K dns watch --no-dga -l "$T/bad.txt" --dnstap-tcp nonsense > "$T/out" 2>&1; expect_status "TCP address without a port" 2 $?

# --- a real Unbound ---
if command -v unbound >/dev/null && unbound -V 2>/dev/null | grep -q -- --enable-dnstap; then
  PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
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
    module-config: "iterator"
    local-zone: "example." static
    local-zone: "." static
    local-data: "www.good.example. A 192.0.2.80"
    local-data: "c2.evil-test.example. A 192.0.2.66"
dnstap:
    dnstap-enable: yes
    dnstap-socket-path: "$T/dnstap.sock"
    dnstap-send-identity: yes
    dnstap-send-version: yes
    dnstap-log-client-query-messages: yes
    dnstap-log-client-response-messages: yes
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@9
remote-control:
    control-enable: no
CONF
  run_unbound() {
    unbound -d -c "$T/unbound.conf" >> "$T/unbound.out" 2>&1 &
    UPID=$!
    for _ in $(seq 100); do
      python3 "$D/dnsq.py" 127.0.0.1 "$PORT" www.good.example > /dev/null 2>&1 && return 0
      sleep 0.1
    done
    return 1
  }
  stop_unbound() { kill "$UPID" 2>/dev/null; wait "$UPID" 2>/dev/null; UPID=; }
  q() { python3 "$D/dnsq.py" 127.0.0.1 "$PORT" "$@" 2>&1; }
  start_watch --dnstap-socket "$T/dnstap.sock"; check "watch listens on the socket" test -S "$T/dnstap.sock"
  if run_unbound; then
    ok "Unbound started with dnstap to $T/dnstap.sock"
    check "Unbound answers the listed name from its local zone" test "$(q c2.evil-test.example)" = "NOERROR 192.0.2.66"
    check "the hit appears while watch runs, client 127.0.0.1" \
      wait_for "$T/watch.out" "127.0.0.1 c2.evil-test.example family=bad"
    check "an NXDOMAIN under the listed domain" test "$(q nx.evil-test.example)" = "NXDOMAIN"
    check "its hit appears too" wait_for "$T/watch.out" "127.0.0.1 nx.evil-test.example family=bad"
    stop_unbound
    run_unbound || bad "Unbound did not restart"
    check "after Unbound restarts" test "$(q again.evil-test.example)" = "NXDOMAIN"
    check "it reconnects and the hit appears" wait_for "$T/watch.out" "127.0.0.1 again.evil-test.example family=bad"
    stop_unbound
    check "Unbound connected to the socket" grep -q "dnstap" "$T/unbound.log"
    stop_watch
    expect_status "watch stops cleanly on SIGTERM" 0 "$WST"
    check "one line per query (responses repeat it)" test "$(grep -c c2.evil-test.example "$T/watch.out")" -eq 1
    check "clean names are not shown" hasnt "$T/watch.out" "www.good.example"
    check "hit times are now" grep -qE "^$(date -u +%Y-%m-%d)T[0-9:]{8}Z 127\.0\.0\.1 c2\.evil-test\.example" "$T/watch.out"
    check "nothing malformed from Unbound" grep -qE ", 0 malformed, 3 hits$" "$T/watch.err"
    check "the socket file is removed on exit" test ! -e "$T/dnstap.sock"
    # The set test on live answers: eight names of a word-mixing generator (charbot), each
    # scored 'ok' alone, come back NXDOMAIN from Unbound (its "." zone); watch, with the shipped
    # model, prints all eight when their set passes, for client 127.0.0.1.
    : > "$T/watch.out"
    "$KHIEN" dns watch --model "$SRC/data/dns/dga.model" -l "$T/bad.txt" --dnstap-socket "$T/dnstap.sock" \
      > "$T/watch.out" 2> "$T/watch.err" &
    WPID=$!
    wait_for "$T/watch.err" "listening for dnstap"
    if run_unbound; then
      CHARBOT="b6cterialtakeover.info aismenfji.at 9icennaughcy.jp ncrpaysnatus.com postifgn.uk kilesizing.me aucskino.de 1xbbt-l.pl"
      n_nx=0
      for n in $CHARBOT; do [ "$(q "$n")" = "NXDOMAIN" ] && n_nx=$((n_nx + 1)); done
      check "Unbound answers the eight generated names NXDOMAIN" test "$n_nx" -eq 8
      for _ in $(seq 100); do [ "$(grep -c ' set$' "$T/watch.out")" -ge 8 ] && break; sleep 0.1; done
      stop_unbound
      stop_watch
      expect_status "watch with the set test stops cleanly" 0 "$WST"
      check "the set test flags the eight live names for 127.0.0.1" python3 -c "
import sys
lines = [l.split() for l in open(sys.argv[1]) if l.rstrip().endswith(' set')]
assert sorted(l[2] for l in lines) == sorted(sys.argv[2].split()), lines
assert all(l[1] == '127.0.0.1' and l[3] == 'family=dga' for l in lines), lines
" "$T/watch.out" "$CHARBOT"
    else
      bad "Unbound did not start again" "$(tail -5 "$T/unbound.log" 2>/dev/null)"
      stop_watch
    fi
  else
    bad "Unbound with dnstap did not start" "$(tail -5 "$T/unbound.log" "$T/unbound.out" 2>/dev/null)"
    stop_unbound
    stop_watch
  fi
else
  ok "Unbound dnstap (skipped: no unbound built with --enable-dnstap)"
fi

# --- protocol edges, with a sender of our own ---
cat > "$T/sender.py" <<'PY'
import socket, struct, sys
sys.path.insert(0, sys.argv[1])
import make_dnstap as m
ep, mode = sys.argv[2], sys.argv[3]
def conn():
    if ep.startswith("tcp:"):
        host, port = ep[4:].rsplit(":", 1)
        return socket.create_connection((host, int(port)), timeout=10)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(ep[5:])
    return s
def recv_control(s):
    hdr = b""
    while len(hdr) < 8:
        hdr += s.recv(8 - len(hdr))
    esc, n = struct.unpack(">II", hdr)
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return esc, struct.unpack(">I", body[:4])[0], body
READY = m.control(4)
t = 1795595701000
if mode == "bidi":
    a, b = conn(), conn()  # two senders at once
    for s in (a, b):
        s.sendall(READY)
        esc, typ, body = recv_control(s)
        assert esc == 0 and typ == 1 and m.CONTENT_TYPE in body, (esc, typ, body)  # ACCEPT
        s.sendall(m.start())
    a.sendall(m.frame(m.client_query("192.0.2.20", "a.evil-test.example", t)))
    a.sendall(struct.pack(">I", 70000) + b"\0" * 70000)  # over 64 KiB: skipped, counted
    b.sendall(m.frame(b"\x0a\xff\xff\xff\x0f"))  # not a protobuf message
    b.sendall(m.frame(m.client_query("2001:db8::9", "b.evil-test.example", t + 1000, "AAAA")))
    a.sendall(m.frame(m.client_query("192.0.2.21", "c.evil-test.example", t + 2000)))
    for s in (a, b):
        s.sendall(m.stop())
        esc, typ, _ = recv_control(s)
        assert esc == 0 and typ == 5, (esc, typ)  # FINISH
        s.close()
    c = conn()  # data before START: refused, connection closed
    c.sendall(m.frame(m.client_query("192.0.2.22", "d.evil-test.example", t)))
    assert c.recv(16) == b""
    print("sender done")
else:  # unidirectional: START, data, STOP
    s = conn()
    s.sendall(m.start() + m.frame(m.client_query("192.0.2.30", "tcp.evil-test.example", t)) + m.stop())
    s.close()
    print("sender done")
PY
start_watch --dnstap-socket "$T/edge.sock"
python3 "$T/sender.py" "$D" "unix:$T/edge.sock" bidi > "$T/sender.out" 2>&1
check "bidirectional handshake: ACCEPT and FINISH, two connections, early data refused" has "$T/sender.out" "sender done"
check "frames of both connections arrive" wait_for "$T/watch.out" "192.0.2.21 c.evil-test.example"
stop_watch
check "first connection's hit" has "$T/watch.out" "2026-11-25T08:35:01Z 192.0.2.20 a.evil-test.example family=bad"
check "second connection's IPv6 hit" has "$T/watch.out" "2001:db8::9 b.evil-test.example family=bad"
check "no hit from data before START" hasnt "$T/watch.out" "d.evil-test.example"
check "oversized, damaged and early frames counted as malformed" grep -qE "3 records, 3 malformed, 3 hits$" "$T/watch.err"
# --- a growing dnstap file (fstrm_capture -w): from its end, a frame written in two pieces ---
python3 -c "
import sys; sys.path.insert(0, '$D'); import make_dnstap as m
open('$T/grow.fstrm', 'wb').write(m.start() + m.frame(m.client_query('10.7.7.1', 'old.evil-test.example', 1795595700000)))"
"$KHIEN" dns watch --no-dga -l "$T/bad.txt" "$T/grow.fstrm" > "$T/watch.out" 2> "$T/watch.err" &
WPID=$!
wait_for "$T/watch.err" "following"
python3 -c "
import sys, time; sys.path.insert(0, '$D'); import make_dnstap as m
f = open('$T/grow.fstrm', 'ab')
f.write(m.frame(m.client_query('10.7.7.2', 'www.good.example', 1795595701000)))
b = m.frame(m.client_query('10.7.7.3', 'new.evil-test.example', 1795595702000))
f.write(b[:9]); f.flush(); time.sleep(0.5); f.write(b[9:]); f.close()"
check "growing dnstap file: the new hit, its frame joined" wait_for "$T/watch.out" "T08:35:02Z 10.7.7.3 new.evil-test.example family=bad"
stop_watch
expect_status "dnstap file watch stops cleanly" 0 "$WST"
check "growing dnstap file: watched from its end" hasnt "$T/watch.out" "old.evil-test.example"
check "growing dnstap file: counted as frames, nothing malformed" grep -qE "frames, 2 records, 0 malformed, 1 hits$" "$T/watch.err"

TPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_watch --dnstap-tcp "127.0.0.1:$TPORT"
python3 "$T/sender.py" "$D" "tcp:127.0.0.1:$TPORT" uni > "$T/sender.out" 2>&1
check "unidirectional sender over TCP" wait_for "$T/watch.out" "192.0.2.30 tcp.evil-test.example family=bad"
stop_watch
expect_status "TCP watch stops cleanly" 0 "$WST"
finish
