#!/bin/sh
# run_fuzzer.sh FUZZER SEED_DIR ARTIFACT_DIR [libFuzzer options...]
#
# Runs a libFuzzer target over its seed corpus without writing into it: new units go to a
# temporary directory (listed first, so libFuzzer writes there) that is removed afterwards.
# Crash, leak and timeout reproducers are kept in ARTIFACT_DIR. Exits non-zero when the
# fuzzer finds anything (libFuzzer's own exit status).
set -u
fuzzer=$1 seeds=$2 artifacts=$3
shift 3
[ -d "$seeds" ] || { echo "no seed corpus at $seeds" >&2; exit 2; }
mkdir -p "$artifacts" || exit 2
work=$(mktemp -d "${TMPDIR:-/tmp}/khien-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
name=$(basename "$fuzzer")
# a campaign without a bound would run until the CTest timeout kills it: refuse it
case " $* " in
  *" -max_total_time="[0-9]*) ;;
  *) echo "$name: no -max_total_time=SECONDS given" >&2; exit 2 ;;
esac
"$fuzzer" -artifact_prefix="$artifacts/$name-" -print_final_stats=1 "$@" "$work" "$seeds"
rc=$?
[ $rc -eq 0 ] || echo "$name failed (exit $rc); reproducers, if any, are in $artifacts" >&2
exit $rc
