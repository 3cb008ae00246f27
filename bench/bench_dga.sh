#!/usr/bin/env bash
# bench_dga.sh - the DGA model on families it has never seen, as docs/benchmarks.md reports it.
#
#   bash bench/bench_dga.sh [splits|lofo|validate]
#
#   splits    (default) the two fixed splits of docs/benchmarks.md, benign fold 0:
#             A = banjori,dnschanger,pykspa,qadars,ramnit,zloader
#             B = charbot,chinad,murofet,newgoz,nymaim,qsnatch,tempedreve
#   lofo      leave one family out, each of the 29 in turn (fold 0): per-family detection at
#             FPR 0.001 and the mean over families
#   validate  for choosing settings without looking at A or B: leave one family out over the
#             families in neither split, benign fold 1 (a different fifth of the benign list)
#   val-a     settings for split A: leave one family out over A's training families (B's
#   val-b     included), benign fold 1; val-b likewise for split B
#
# Environment: KHIEN (default build/khien), DATA (default ../shared/data).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KHIEN=${KHIEN:-$ROOT/build/khien}
DATA=${DATA:-$ROOT/../shared/data}
B_LIST="$DATA/benign/top-domains-train.txt"
G_DIR="$DATA/dga/train"
SPLIT_A=banjori,dnschanger,pykspa,qadars,ramnit,zloader
SPLIT_B=charbot,chinad,murofet,newgoz,nymaim,qsnatch,tempedreve
mode=${1:-splits}

train() { "$KHIEN" dns train -b "$B_LIST" -g "$G_DIR" "$@"; }

lofo() { # fold families...
    local fold=$1; shift
    local sum=0 n=0
    printf '%-26s %6s %10s %10s\n' family names 'FPR.001' 'FPR.01'
    for f in "$@"; do
        out=$(train --holdout "$f" --fold "$fold")
        names=$(grep -oE 'held-out DGA names: [0-9]+' <<<"$out" | tr -dc 0-9)
        d1=$(awk '$1=="0.0010"{print $3}' <<<"$out" | tr -d %)
        d2=$(awk '$1=="0.0100"{print $3}' <<<"$out" | tr -d %)
        printf '%-26s %6s %9s%% %9s%%\n' "$f" "$names" "$d1" "$d2"
        if [ "$names" -ge 20 ]; then sum=$(echo "$sum + $d1" | bc -l); n=$((n + 1)); fi
    done
    printf 'mean over %d families with >= 20 names at FPR 0.001: %.1f%%\n' "$n" "$(echo "$sum / $n" | bc -l)"
}

case $mode in
splits)
    echo "== split A (held out: $SPLIT_A)"; train --holdout "$SPLIT_A"
    echo; echo "== split B (held out: $SPLIT_B)"; train --holdout "$SPLIT_B" ;;
lofo)
    lofo 0 $(ls "$G_DIR" | sed -n 's/\.txt$//p') ;;
validate)
    others=$(ls "$G_DIR" | sed -n 's/\.txt$//p' | grep -vxE "$(tr , '|' <<<"$SPLIT_A,$SPLIT_B")")
    lofo 1 $others ;;
val-a|val-b) # the training families of split A (or B) only, one out at a time, benign fold 1
    [ "$mode" = val-a ] && s=$SPLIT_A || s=$SPLIT_B
    lofo 1 $(ls "$G_DIR" | sed -n 's/\.txt$//p' | grep -vxE "$(tr , '|' <<<"$s")") ;;
*) echo "usage: bench_dga.sh [splits|lofo|validate|val-a|val-b]" >&2; exit 2 ;;
esac
