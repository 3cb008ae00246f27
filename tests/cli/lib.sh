# lib.sh - what the command-line tests share: a scratch directory, checks, and the closing
# "N passed, N failed" line. Source it with KHIEN (the program) and SRC (the source tree) set.
set -u
PASS=0
FAIL=0
T=$(mktemp -d /tmp/khien-cli.XXXXXX)
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
export KHIEN_CACHE_DIR="$T/cache"

ok()   { PASS=$((PASS + 1)); echo "ok   $1"; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL $1"; [ $# -gt 1 ] && printf '     %s\n' "${@:2}"; return 0; }

# check NAME CONDITION-COMMAND...
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name" "command: $*"; fi; }

# expect_status NAME WANT ACTUAL
expect_status() { if [ "$3" = "$2" ]; then ok "$1"; else bad "$1" "exit status $3, expected $2"; fi; }

# has FILE TEXT: the file holds the fixed string
has()  { grep -qF -- "$2" "$1"; }
hasnt() { ! grep -qF -- "$2" "$1"; }

# The EICAR test file, made from hex so this script does not carry it literally.
eicar() { printf '%s' 58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a | xxd -r -p > "$1"; }

finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
    exit $?
}
