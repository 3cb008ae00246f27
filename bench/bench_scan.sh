#!/usr/bin/env bash
# bench_scan.sh - khien scan side by side with clamscan (ClamAV) and yara, in one run.
#
#   bash bench/bench_scan.sh [TREE]          (default TREE=/usr/lib/x86_64-linux-gnu)
#
# Environment knobs:
#   KHIEN       the khien binary            (default: build/khien under the repository root)
#   N_BODY      body signatures             (default 10000)
#   N_HASH      MD5 hash signatures         (default 100000)
#   SEED        generator seed              (default 7)
#   OUT         output directory            (default: bench/out under the repository root)
#   SKIP_PEERS  1 = measure khien only      (default 0)
#
# Signatures come from ../shared/bench/gensigs.py: bench.ndb + bench.hdb for khien and clamscan,
# bench.yar (the same body patterns, no hashes: YARA has no hash database) for yara.
# All three tools see the same files: regular files of TREE up to 100 MiB, symbolic links not
# followed (khien's defaults; clamscan --max-filesize=100M and no link following while
# recursing; yara -z 104857600 -N). Everything each tool printed is kept in $OUT.
# docs/benchmarks.md explains the figures.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED="$ROOT/../shared"

abspath() { # a path given by the user is taken relative to the current directory
    case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac
}

TREE=$(abspath "${1:-/usr/lib/x86_64-linux-gnu}")
KHIEN=$(if [ -n "${KHIEN:-}" ]; then abspath "$KHIEN"; else echo "$ROOT/build/khien"; fi)
OUT=$(if [ -n "${OUT:-}" ]; then abspath "$OUT"; else echo "$ROOT/bench/out"; fi)
N_BODY=${N_BODY:-10000}
N_HASH=${N_HASH:-100000}
SEED=${SEED:-7}
SKIP_PEERS=${SKIP_PEERS:-0}
MAXSIZE=104857600 # 100 MiB: khien's and clamscan's --max-filesize=100M
BIG_BODY=100000   # the start-up target: 100,000 body signatures
BIG_HASH=100000
REPS=5            # start-up runs, the median is kept

die() { echo "bench_scan: $*" >&2; exit 2; }
say() { printf '%s\n' "$*"; }
hr() { say "------------------------------------------------------------------------------"; }

[ -d "$TREE" ] || die "tree '$TREE' is not a directory"
[ -x "$KHIEN" ] || die "khien binary '$KHIEN' not found: build it (make build) or set KHIEN=path"
[ -f "$SHARED/bench/gensigs.py" ] ||
    die "the shared signature generator $SHARED/bench/gensigs.py is missing; this benchmark needs ../shared beside the repository"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install time)"
command -v python3 >/dev/null || die "python3 is needed by the signature generator"
if [ "$SKIP_PEERS" != 1 ]; then
    command -v clamscan >/dev/null || die "clamscan not found (apt-get install clamav), or set SKIP_PEERS=1"
    command -v yara >/dev/null || die "yara not found (apt-get install yara), or set SKIP_PEERS=1"
fi

mkdir -p "$OUT"
rm -rf "$OUT/runs" "$OUT/lists" "$OUT/cache" "$OUT/cache100k"
mkdir -p "$OUT/runs" "$OUT/lists"
SIGS="$OUT/sigs"
SIGS100K="$OUT/sigs100k"
TINY=/etc/hostname
[ -f "$TINY" ] || { TINY="$OUT/tiny.txt"; echo tiny >"$TINY"; }

# ---------------------------------------------------------------------------------------------
# Timing helpers. tm LABEL OK_CODES CMD...: runs CMD under /usr/bin/time, stdout to
# $OUT/runs/LABEL.out, stderr to LABEL.err; sets SEC, RSS_KB and RC. An exit status outside
# OK_CODES (a comma list) stops the benchmark for khien, and is reported for the peers.
tm() {
    local label=$1 ok=$2
    shift 2
    set +e
    /usr/bin/time -f '%e %M' -o "$OUT/runs/$label.time" "$@" \
        >"$OUT/runs/$label.out" 2>"$OUT/runs/$label.err"
    RC=$?
    set -e
    read -r SEC RSS_KB < <(tail -n 1 "$OUT/runs/$label.time")
    case ",$ok," in
    *",$RC,"*) ;;
    *)
        echo "!! $label: exit status $RC (expected $ok); last lines of its stderr:" >&2
        tail -n 5 "$OUT/runs/$label.err" >&2
        case "$label" in khien*) die "khien failed, see $OUT/runs/$label.err" ;; esac
        ;;
    esac
}

median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }

# median_tm LABEL OK_CODES CMD...: REPS runs, MED_SEC/MED_RSS = median seconds / peak RSS
median_tm() {
    local label=$1 ok=$2 i
    shift 2
    : >"$OUT/runs/$label.all"
    for i in $(seq 1 "$REPS"); do
        tm "$label.$i" "$ok" "$@"
        echo "$SEC $RSS_KB" >>"$OUT/runs/$label.all"
    done
    MED_SEC=$(awk '{print $1}' "$OUT/runs/$label.all" | median)
    MED_RSS=$(awk '{print $2}' "$OUT/runs/$label.all" | median)
}

# Top-level paths flagged: khien/clamscan "path: NAME FOUND", khien members "outer//inner".
found_paths() { sed -n 's/: [^ ]* FOUND$//p' "$1" | sed 's#//.*##' | LC_ALL=C sort -u; }
# yara "RULE PATH", one line per matching rule
yara_paths() { sed -n 's/^[^ ]* //p' "$1" | LC_ALL=C sort -u; }

mb() { awk -v b="$1" 'BEGIN{printf "%.1f", b/1e6}'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN{ if (s > 0) printf "%.0f", b/1e6/s; else print "inf" }'; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "n/a" }'; }

# ---------------------------------------------------------------------------------------------
say "== Khiên scan benchmark"
DATE=$(date)
say "date:     $DATE"
say "machine:  $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(awk '/MemTotal/{printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
say "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at start"
KH_VER=$("$KHIEN" --version 2>&1 | head -n 1)
say "khien:    $KH_VER ($KHIEN)"
if git -C "$ROOT" rev-parse --short HEAD >/dev/null 2>&1; then
    GITREV=$(git -C "$ROOT" rev-parse --short HEAD)
    [ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] || GITREV="$GITREV+dirty"
    say "source:   commit $GITREV"
fi
if [ "$SKIP_PEERS" != 1 ]; then
    CLAM_VER=$(clamscan --version | head -n 1)
    YARA_VER="yara $(yara --version)"
    say "peers:    $CLAM_VER; $YARA_VER"
fi
say "tree:     $TREE"
say "sigs:     N_BODY=$N_BODY N_HASH=$N_HASH SEED=$SEED"
say "output:   $OUT"

# ---------------------------------------------------------------------------------------------
hr
say "== Signatures (../shared/bench/gensigs.py)"
SEED=$SEED python3 "$SHARED/bench/gensigs.py" "$SIGS" "$N_BODY" "$N_HASH" "$TREE"
NDB_N=$(wc -l <"$SIGS/bench.ndb")
HDB_N=$(wc -l <"$SIGS/bench.hdb")
YAR_N=$(grep -c '^rule ' "$SIGS/bench.yar")
PLANTED=$(LC_ALL=C sort -u "$SIGS/planted.txt" | wc -l)
say "bench.ndb $NDB_N body, bench.hdb $HDB_N hash, bench.yar $YAR_N rules; planted from $PLANTED files"

# ---------------------------------------------------------------------------------------------
hr
say "== Tree (page cache warmed: every regular file read once)"
find "$TREE" -type f -print0 | xargs -0 -r cat >/dev/null 2>&1 || true
read -r N_FILES TOTAL_BYTES N_SCAN SCAN_BYTES N_BIG < <(find "$TREE" -type f -printf '%s\n' |
    awk -v m="$MAXSIZE" '{n++; t+=$1; if ($1 <= m) {k++; s+=$1} else big++}
                          END{printf "%d %.0f %d %.0f %d\n", n, t, k, s, big}')
N_LINKS=$(find "$TREE" -type l | wc -l)
say "regular files: $N_FILES, $(mb "$TOTAL_BYTES") MB; symbolic links (not followed): $N_LINKS"
say "over 100 MiB:  $N_BIG (skipped by all three tools):"
find "$TREE" -type f -size +"${MAXSIZE}c" -printf '    %p (%s bytes)\n'
say "scanned view:  $N_SCAN files, $(mb "$SCAN_BYTES") MB -- the MB/s figures below use this"

# ---------------------------------------------------------------------------------------------
hr
say "== Full scans (wall seconds and peak RSS from /usr/bin/time)"
KH_ARGS=(scan -i --no-summary --cache-dir "$OUT/cache" -d "$SIGS/bench.ndb" -d "$SIGS/bench.hdb")
tm khien-cold 0,1 "$KHIEN" "${KH_ARGS[@]}" -j 1 "$TREE"
KH_COLD_SEC=$SEC KH_COLD_RSS=$RSS_KB
say "khien -j 1 cold (compiles the database, fills the cache): ${SEC}s, $(mib "$RSS_KB") MiB -- not in the table"

declare -A T_SEC T_RSS T_OUT
for j in 1 2; do
    best=""
    for r in 1 2; do # twice, the faster is kept (the machine may be shared)
        tm "khien-j$j-run$r" 0,1 "$KHIEN" "${KH_ARGS[@]}" -j "$j" "$TREE"
        say "khien -j $j run $r: ${SEC}s, $(mib "$RSS_KB") MiB, exit $RC"
        if [ -z "$best" ] || awk -v a="$SEC" -v b="$best" 'BEGIN{exit !(a < b)}'; then
            best=$SEC
            T_SEC[khien$j]=$SEC T_RSS[khien$j]=$RSS_KB T_OUT[khien$j]="$OUT/runs/khien-j$j-run$r.out"
        fi
    done
done

if [ "$SKIP_PEERS" != 1 ]; then
    tm clamscan 0,1 clamscan --no-summary -i -r -d "$SIGS/bench.ndb" -d "$SIGS/bench.hdb" \
        --max-filesize=100M --max-scansize=400M "$TREE"
    T_SEC[clamscan]=$SEC T_RSS[clamscan]=$RSS_KB T_OUT[clamscan]="$OUT/runs/clamscan.out"
    say "clamscan (1 thread): ${SEC}s, $(mib "$RSS_KB") MiB, exit $RC"
    for p in 1 2; do
        tm "yara-p$p" 0 yara -N -z "$MAXSIZE" -p "$p" -r "$SIGS/bench.yar" "$TREE"
        T_SEC[yara$p]=$SEC T_RSS[yara$p]=$RSS_KB T_OUT[yara$p]="$OUT/runs/yara-p$p.out"
        say "yara -p $p: ${SEC}s, $(mib "$RSS_KB") MiB, exit $RC"
    done
fi

# ---------------------------------------------------------------------------------------------
hr
say "== Start-up: one tiny file ($TINY), median of $REPS runs"
median_tm su-khien-warm 0,1 "$KHIEN" "${KH_ARGS[@]}" -j 1 "$TINY"
SU_KW=$MED_SEC SU_KW_RSS=$MED_RSS
median_tm su-khien-nocache 0,1 "$KHIEN" scan -i --no-summary --no-cache \
    -d "$SIGS/bench.ndb" -d "$SIGS/bench.hdb" -j 1 "$TINY"
SU_KN=$MED_SEC SU_KN_RSS=$MED_RSS
say "khien, warm cache ($NDB_N body + $HDB_N hash):  ${SU_KW}s, $(mib "$SU_KW_RSS") MiB"
say "khien, --no-cache (compiles every time):        ${SU_KN}s, $(mib "$SU_KN_RSS") MiB"
if [ "$SKIP_PEERS" != 1 ]; then
    median_tm su-clamscan 0,1 clamscan --no-summary -i -d "$SIGS/bench.ndb" -d "$SIGS/bench.hdb" "$TINY"
    SU_C=$MED_SEC SU_C_RSS=$MED_RSS
    median_tm su-yara 0 yara -p 1 "$SIGS/bench.yar" "$TINY"
    SU_Y=$MED_SEC SU_Y_RSS=$MED_RSS
    say "clamscan:                                       ${SU_C}s, $(mib "$SU_C_RSS") MiB"
    say "yara (compiles the rules every time):           ${SU_Y}s, $(mib "$SU_Y_RSS") MiB"
fi

say "-- with $BIG_BODY body + $BIG_HASH hash signatures"
SEED=$SEED python3 "$SHARED/bench/gensigs.py" "$SIGS100K" "$BIG_BODY" "$BIG_HASH" "$TREE"
KH100=(scan -i --no-summary --cache-dir "$OUT/cache100k" -d "$SIGS100K/bench.ndb" -d "$SIGS100K/bench.hdb" -j 1)
tm su100k-khien-cold 0,1 "$KHIEN" "${KH100[@]}" "$TINY"
SU100_COLD=$SEC SU100_COLD_RSS=$RSS_KB
median_tm su100k-khien-warm 0,1 "$KHIEN" "${KH100[@]}" "$TINY"
SU100_KW=$MED_SEC SU100_KW_RSS=$MED_RSS
say "khien, first run (compiles, writes the cache):  ${SU100_COLD}s, $(mib "$SU100_COLD_RSS") MiB"
say "khien, warm cache:                              ${SU100_KW}s, $(mib "$SU100_KW_RSS") MiB  (runs: $(awk '{printf "%s ", $1}' "$OUT/runs/su100k-khien-warm.all"))"
if [ "$SKIP_PEERS" != 1 ]; then
    median_tm su100k-clamscan 0,1 clamscan --no-summary -i -d "$SIGS100K/bench.ndb" -d "$SIGS100K/bench.hdb" "$TINY"
    SU100_C=$MED_SEC SU100_C_RSS=$MED_RSS
    tm su100k-yara 0 yara -p 1 "$SIGS100K/bench.yar" "$TINY" # one run: compiling takes seconds
    SU100_Y=$SEC SU100_Y_RSS=$RSS_KB
    say "clamscan:                                       ${SU100_C}s, $(mib "$SU100_C_RSS") MiB"
    say "yara (one run):                                 ${SU100_Y}s, $(mib "$SU100_Y_RSS") MiB"
fi

# ---------------------------------------------------------------------------------------------
hr
say "== Files flagged (top-level paths; archive members counted as their outer file)"
L="$OUT/lists"
found_paths "${T_OUT[khien1]}" >"$L/khien.txt"
found_paths "${T_OUT[khien2]}" >"$L/khien-j2.txt"
declare -A FLAGGED
FLAGGED[khien1]=$(wc -l <"$L/khien.txt")
FLAGGED[khien2]=$(wc -l <"$L/khien-j2.txt")
if cmp -s "$L/khien.txt" "$L/khien-j2.txt"; then
    say "khien -j 1 and -j 2 flag the same ${FLAGGED[khien1]} files"
else
    say "!! khien -j 1 (${FLAGGED[khien1]}) and -j 2 (${FLAGGED[khien2]}) flag different files: see $L/khien-j1-vs-j2.diff"
    diff "$L/khien.txt" "$L/khien-j2.txt" >"$L/khien-j1-vs-j2.diff" || true
fi
MISSED_PLANTS=$(LC_ALL=C sort -u "$SIGS/planted.txt" | LC_ALL=C comm -23 - "$L/khien.txt" | wc -l)
say "planted files not flagged by khien: $MISSED_PLANTS of $PLANTED"

# why: for a path in a difference, what the other tool said about it
why() { # why PATH
    local p=$1 s
    s=$(stat -c %s "$p" 2>/dev/null || echo '?')
    printf '    %s (%s bytes' "$p" "$s"
    [ -L "$p" ] && printf ', symlink'
    case "$s" in ''|*[!0-9]*) ;; *) [ "$s" -gt "$MAXSIZE" ] && printf ', over 100 MiB' ;; esac
    printf ')\n'
    grep -F -- "$p" "${T_OUT[khien1]}" 2>/dev/null | head -n 2 | sed 's/^/        khien:    /' || true
    [ "$SKIP_PEERS" = 1 ] && return 0
    grep -F -- "$p" "${T_OUT[clamscan]}" 2>/dev/null | head -n 2 | sed 's/^/        clamscan: /' || true
    grep -F -- " $p" "${T_OUT[yara1]}" 2>/dev/null | head -n 2 | sed 's/^/        yara:     /' || true
}
show_diff() { # show_diff TITLE FILE
    local n
    n=$(wc -l <"$2")
    say "  $1: $n  ($2)"
    head -n 10 "$2" | while IFS= read -r p; do why "$p"; done
    [ "$n" -le 10 ] || say "    ... $((n - 10)) more"
}

if [ "$SKIP_PEERS" != 1 ]; then
    found_paths "${T_OUT[clamscan]}" >"$L/clamscan.txt"
    yara_paths "${T_OUT[yara1]}" >"$L/yara.txt"
    yara_paths "${T_OUT[yara2]}" >"$L/yara-p2.txt"
    FLAGGED[clamscan]=$(wc -l <"$L/clamscan.txt")
    FLAGGED[yara1]=$(wc -l <"$L/yara.txt")
    FLAGGED[yara2]=$(wc -l <"$L/yara-p2.txt")
    cmp -s "$L/yara.txt" "$L/yara-p2.txt" || say "!! yara -p 1 and -p 2 flag different files"

    # YARA gets no hash signatures, so compare it with what khien found by body signatures:
    # one more khien run (untimed) with --allmatch, keeping files with a Bench.Rand/Plant hit.
    tm khien-allmatch 0,1 "$KHIEN" "${KH_ARGS[@]}" --allmatch -j 2 "$TREE"
    grep -E ': Bench\.(Rand|Plant)\.[0-9]+ FOUND$' "$OUT/runs/khien-allmatch.out" >"$OUT/runs/khien-allmatch-body.out" || true
    found_paths "$OUT/runs/khien-allmatch-body.out" >"$L/khien-body.txt"
    FLAGGED[khienbody]=$(wc -l <"$L/khien-body.txt")
    # (top-level file, signature) pairs: khien --allmatch body hits vs yara's rules
    sed -n 's/^\(.*\): \(Bench\.[A-Za-z]*\.[0-9]*\) FOUND$/\1\t\2/p' "$OUT/runs/khien-allmatch-body.out" |
        awk -F'\t' '{sub(/\/\/.*/, "", $1); print $1 "\t" $2}' | LC_ALL=C sort -u >"$L/khien-body-pairs.txt"
    awk '{r=$1; sub(/^[^ ]* /, ""); gsub(/_/, ".", r); print $0 "\t" r}' "${T_OUT[yara1]}" |
        LC_ALL=C sort -u >"$L/yara-pairs.txt"

    LC_ALL=C comm -23 "$L/khien.txt" "$L/clamscan.txt" >"$L/khien-not-clamscan.txt"
    LC_ALL=C comm -13 "$L/khien.txt" "$L/clamscan.txt" >"$L/clamscan-not-khien.txt"
    LC_ALL=C comm -23 "$L/khien.txt" "$L/yara.txt" >"$L/khien-not-yara.txt"
    LC_ALL=C comm -13 "$L/khien.txt" "$L/yara.txt" >"$L/yara-not-khien.txt"
    LC_ALL=C comm -23 "$L/khien-body.txt" "$L/yara.txt" >"$L/khien-body-not-yara.txt"
    LC_ALL=C comm -13 "$L/khien-body.txt" "$L/yara.txt" >"$L/yara-not-khien-body.txt"
    LC_ALL=C comm -23 "$L/khien-body-pairs.txt" "$L/yara-pairs.txt" >"$L/khien-pairs-not-yara.txt"
    LC_ALL=C comm -13 "$L/khien-body-pairs.txt" "$L/yara-pairs.txt" >"$L/yara-pairs-not-khien.txt"
    D_KC=$(wc -l <"$L/khien-not-clamscan.txt") D_CK=$(wc -l <"$L/clamscan-not-khien.txt")
    D_KY=$(wc -l <"$L/khien-not-yara.txt") D_YK=$(wc -l <"$L/yara-not-khien.txt")
    D_KBY=$(wc -l <"$L/khien-body-not-yara.txt") D_YKB=$(wc -l <"$L/yara-not-khien-body.txt")
    D_PKY=$(wc -l <"$L/khien-pairs-not-yara.txt") D_PYK=$(wc -l <"$L/yara-pairs-not-khien.txt")
    N_HASHONLY=$(grep -c ': Bench\.Hash' "${T_OUT[khien1]}" || true)
    N_MEMBER=$(grep -c '//.*: [^ ]* FOUND$' "$OUT/runs/khien-allmatch.out" || true)

    say "flagged: khien ${FLAGGED[khien1]}, clamscan ${FLAGGED[clamscan]}, yara ${FLAGGED[yara1]}; khien by body signatures (--allmatch) ${FLAGGED[khienbody]}"
    say "khien reports first matches by hash signature for $N_HASHONLY files; --allmatch names $N_MEMBER archive members"
    show_diff "khien, not clamscan" "$L/khien-not-clamscan.txt"
    show_diff "clamscan, not khien" "$L/clamscan-not-khien.txt"
    show_diff "khien, not yara (includes hash-only hits: yara has no hash signatures)" "$L/khien-not-yara.txt"
    show_diff "yara, not khien" "$L/yara-not-khien.txt"
    show_diff "khien by body signatures, not yara" "$L/khien-body-not-yara.txt"
    show_diff "yara, not khien by body signatures" "$L/yara-not-khien-body.txt"
    say "  (file, signature) pairs, khien --allmatch body vs yara: $(wc -l <"$L/khien-body-pairs.txt") vs $(wc -l <"$L/yara-pairs.txt"); only khien $D_PKY, only yara $D_PYK"
fi

# ---------------------------------------------------------------------------------------------
hr
say "== Results ($(mb "$SCAN_BYTES") MB in $N_SCAN files; MB = 10^6 bytes, RSS in MiB)"
ROWS=(khien1 khien2)
[ "$SKIP_PEERS" = 1 ] || ROWS+=(clamscan yara1 yara2)
declare -A NAME THR
NAME[khien1]="khien" THR[khien1]=1
NAME[khien2]="khien" THR[khien2]=2
NAME[clamscan]="clamscan" THR[clamscan]=1
NAME[yara1]="yara" THR[yara1]=1
NAME[yara2]="yara" THR[yara2]=2
MD="$OUT/results.md"
{
    echo "Run of $DATE on $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)); tree \`$TREE\`: $N_SCAN files, $(mb "$SCAN_BYTES") MB scanned (regular files up to 100 MiB); $NDB_N body + $HDB_N hash signatures ($YAR_N YARA rules)."
    echo
    echo "khien's first run, which compiles the database and writes the cache, is not in the table: ${KH_COLD_SEC}s, $(mib "$KH_COLD_RSS") MiB at -j 1."
    echo
    echo "| tool | threads | seconds | MB/s | peak RSS (MiB) | files flagged |"
    echo "|---|---:|---:|---:|---:|---:|"
} >"$MD"
printf '%-9s %7s %8s %8s %15s %14s\n' tool threads seconds MB/s "peak RSS MiB" "files flagged"
for r in "${ROWS[@]}"; do
    s=${T_SEC[$r]} k=${T_RSS[$r]}
    printf '%-9s %7s %8s %8s %15s %14s\n' "${NAME[$r]}" "${THR[$r]}" "$s" "$(mbps "$SCAN_BYTES" "$s")" "$(mib "$k")" "${FLAGGED[$r]}"
    echo "| ${NAME[$r]} | ${THR[$r]} | $s | $(mbps "$SCAN_BYTES" "$s") | $(mib "$k") | ${FLAGGED[$r]} |" >>"$MD"
done

SPEEDUP_J2=$(ratio "${T_SEC[khien1]}" "${T_SEC[khien2]}")
say ""
say "khien -j 2 vs -j 1:               ${SPEEDUP_J2}x faster"
{
    echo
    echo "| ratio | value |"
    echo "|---|---:|"
    echo "| khien -j 2 speed-up over -j 1 | ${SPEEDUP_J2}x |"
} >>"$MD"
if [ "$SKIP_PEERS" != 1 ]; then
    R_CLAM=$(ratio "${T_SEC[clamscan]}" "${T_SEC[khien1]}")
    R_YARA=$(ratio "${T_SEC[yara1]}" "${T_SEC[khien1]}")
    R_YARA2=$(ratio "${T_SEC[yara2]}" "${T_SEC[khien2]}")
    R_MEM1=$(ratio "${T_RSS[khien1]}" "${T_RSS[clamscan]}")
    R_MEM2=$(ratio "${T_RSS[khien2]}" "${T_RSS[clamscan]}")
    say "khien -j 1 throughput / clamscan: ${R_CLAM}x"
    say "khien -j 1 throughput / yara -p 1: ${R_YARA}x   (-j 2 / -p 2: ${R_YARA2}x)"
    say "peak RSS khien -j 1 / clamscan:   ${R_MEM1}   (-j 2: ${R_MEM2})"
    {
        echo "| khien -j 1 throughput / clamscan | ${R_CLAM}x |"
        echo "| khien -j 1 throughput / yara -p 1 | ${R_YARA}x |"
        echo "| khien -j 2 throughput / yara -p 2 | ${R_YARA2}x |"
        echo "| peak RSS khien -j 1 / clamscan | ${R_MEM1} |"
        echo "| peak RSS khien -j 2 / clamscan | ${R_MEM2} |"
    } >>"$MD"
fi
{
    echo
    echo "Start-up, one tiny file, median of $REPS runs (seconds, peak RSS MiB):"
    echo
    echo "| signatures | khien, cached | khien, compiling | clamscan | yara |"
    echo "|---|---:|---:|---:|---:|"
    echo "| $NDB_N body + $HDB_N hash | $SU_KW ($(mib "$SU_KW_RSS")) | $SU_KN ($(mib "$SU_KN_RSS")) | ${SU_C:-} ${SU_C_RSS:+($(mib "$SU_C_RSS"))} | ${SU_Y:-} ${SU_Y_RSS:+($(mib "$SU_Y_RSS"))} |"
    echo "| $((BIG_BODY + 20)) body + $((BIG_HASH + 20)) hash | $SU100_KW ($(mib "$SU100_KW_RSS")) | $SU100_COLD ($(mib "$SU100_COLD_RSS")), one run | ${SU100_C:-} ${SU100_C_RSS:+($(mib "$SU100_C_RSS"))} | ${SU100_Y:-} ${SU100_Y_RSS:+($(mib "$SU100_Y_RSS")), one run} |"
} >>"$MD"
if [ "$SKIP_PEERS" != 1 ]; then
    {
        echo
        echo "Files flagged: khien ${FLAGGED[khien1]}; clamscan ${FLAGGED[clamscan]}; yara ${FLAGGED[yara1]}; khien by body signatures ${FLAGGED[khienbody]}."
        echo "Differences (files): khien-not-clamscan $D_KC, clamscan-not-khien $D_CK, khien-not-yara $D_KY (hash hits included), yara-not-khien $D_YK, khien-body-not-yara $D_KBY, yara-not-khien-body $D_YKB; (file, signature) pairs only khien $D_PKY, only yara $D_PYK."
    } >>"$MD"
fi

# ---------------------------------------------------------------------------------------------
hr
say "== Targets"
pass() { if [ "$1" = 1 ]; then echo PASS; else echo FAIL; fi; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN{print (a >= b) ? 1 : 0}'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN{print (a <= b) ? 1 : 0}'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN{print (a < b) ? 1 : 0}'; }
{
    echo
    echo "| target | figure | result |"
    echo "|---|---|---|"
} >>"$MD"
target() { # target TEXT FIGURE OK
    say "$(pass "$3")  $1: $2"
    echo "| $1 | $2 | $(pass "$3") |" >>"$MD"
}
if [ "$SKIP_PEERS" != 1 ]; then
    same_c=$([ "$D_KC" = 0 ] && [ "$D_CK" = 0 ] && echo 1 || echo 0)
    same_y=$([ "$D_KBY" = 0 ] && [ "$D_YKB" = 0 ] && echo 1 || echo 0)
    target "single thread >= 10x clamscan" "${R_CLAM}x" "$(ge "$R_CLAM" 10)"
    target "single thread >= 5x yara -p 1" "${R_YARA}x" "$(ge "$R_YARA" 5)"
    target "same files as clamscan" "$D_KC only khien, $D_CK only clamscan" "$same_c"
    target "same files as yara (body signatures)" "$D_KBY only khien, $D_YKB only yara" "$same_y"
fi
target "-j 2 close to 2x -j 1 (>= 1.8x)" "${SPEEDUP_J2}x" "$(ge "$SPEEDUP_J2" 1.8)"
target "cached start-up < 0.3 s with 100,000 body signatures" "${SU100_KW}s" "$(lt "$SU100_KW" 0.3)"
if [ "$SKIP_PEERS" != 1 ]; then
    target "peak memory <= clamscan (-j 1)" "$(mib "${T_RSS[khien1]}") vs $(mib "${T_RSS[clamscan]}") MiB" "$(le "${T_RSS[khien1]}" "${T_RSS[clamscan]}")"
fi
say "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at the end"
say "Markdown table: $MD"
