#!/usr/bin/env bash
# test_agent_unit.sh - "khien agent unit" writes a systemd service that systemd accepts, with
# Vietnamese, spaces, %, $ and quotes in paths carried through, and refuses what a unit file
# cannot hold. Usage: test_agent_unit.sh KHIEN SRC
KHIEN=$1
SRC=$2
. "$SRC/tests/cli/lib.sh"
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/Tài liệu/100% \$HOME \"q\""
"$KHIEN" agent unit --server https://console.example:8443 --state "$T/state" --db "$T/db" --interval 120 \
    --scan "$T/Tài liệu/100% \$HOME \"q\"" --scan /srv --mirror https://mirror.example/khien --trust-dir /etc/khien/trust \
    -o "$T/khien-agent.service" > "$T/out" 2>&1
expect_status "unit written" 0 $?
check "tells what to do next" has "$T/out" "systemctl enable --now khien-agent.service"
check "no temporary file left" test ! -e "$T/khien-agent.service.tmp"
check "runs this program" grep -qF "ExecStart=\"$(readlink -f "$KHIEN")\" \"agent\" \"run\" \"--server\" \"https://console.example:8443\"" "$T/khien-agent.service"
check "% and \$ escaped, quotes kept" grep -qF "\"--scan\" \"$T/Tài liệu/100%% \$\$HOME \\\"q\\\"\" \"--scan\" \"/srv\"" "$T/khien-agent.service"
check "updates from the mirror, trusting the given keys" grep -qF '"--mirror" "https://mirror.example/khien" "--trust-dir" "/etc/khien/trust"' "$T/khien-agent.service"
check "a revoked agent is not restarted" grep -qx "RestartPreventExitStatus=3" "$T/khien-agent.service"
check "low priority" grep -qx "IOSchedulingClass=idle" "$T/khien-agent.service"
check "state and database writable" grep -qxF "ReadWritePaths=\"$T/state\" \"$T/db\"" "$T/khien-agent.service"
if command -v systemd-analyze > /dev/null; then
    systemd-analyze verify "$T/khien-agent.service" > "$T/verify" 2>&1
    expect_status "systemd-analyze verify accepts it" 0 $?
    check "and has nothing to say about it" test ! -s "$T/verify"
else
    bad "systemd-analyze not installed (scripts/install-deps.sh installs systemd)"
fi
"$KHIEN" agent unit --server https://c --scan "$(printf 'a\nExecStartPre=/bin/sh')" -o "$T/evil.service" > "$T/out" 2>&1
expect_status "a line break in an argument is refused" 2 $?
check "nothing written then" test ! -e "$T/evil.service"
check "says which argument" has "$T/out" "line break"
"$KHIEN" agent unit --server https://c --state relative/dir > "$T/out" 2>&1; expect_status "relative state directory refused" 2 $?
"$KHIEN" agent unit > "$T/out" 2>&1; expect_status "no --server: usage" 2 $?
finish
