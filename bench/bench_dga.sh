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
#   clients   detection the way `khien dns scan` does it, per client (the set test of a client's
#             NXDOMAIN names, dns_detect.c): for each split a model trained without its families,
#             a dnsmasq log of N_CLIENTS benign clients (default 5000; K names of the held-out
#             benign fifth that come back NXDOMAIN and 20 that resolve, ten minutes apart) and 200
#             infected clients a family (K of its names, NXDOMAIN, in a burst among 20 resolving
#             ones), for K in $KS (default "5 10 20 32"); bench/dga_clients.py writes and reads it;
#             SCAN_ARGS go to `khien dns scan` (--no-dga-sets: without the set test)
#   clients-lofo  the same per client, leaving each of the 29 families out in turn (fold 0),
#             for K in $KS (default "10 20"): per-family detection and the mean over the
#             families with at least K names, and the benign clients flagged in each run
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
clients)
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    for split in A B; do
        [ $split = A ] && s=$SPLIT_A || s=$SPLIT_B
        fams=$(tr , '\n' <<<"$s" | sed "s|.*|$G_DIR/&.txt|")
        train --holdout "$s" -o "$tmp/$split.model" > /dev/null
        echo "== split $split (held out: $s)"
        for k in ${KS:-5 10 20 32}; do
            python3 "$ROOT/bench/dga_clients.py" gen "$B_LIST" 0 "$k" "${N_CLIENTS:-5000}" $fams > "$tmp/log"
            start=$(date +%s.%N)
            "$KHIEN" dns scan --model "$tmp/$split.model" --json --all -q ${SCAN_ARGS:-} "$tmp/log" > "$tmp/report" || [ $? -eq 1 ]
            end=$(date +%s.%N)
            python3 "$ROOT/bench/dga_clients.py" eval "$k" $fams < "$tmp/report"
            printf '  (%d log lines scanned in %.2f s)\n' "$(wc -l < "$tmp/log")" "$(echo "$end - $start" | bc -l)"
        done
    done ;;
clients-lofo)
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    for k in ${KS:-10 20}; do
        echo "== K=$k names per infected client, each family left out in turn"
        sum=0; n=0; bflag=0; bcl=0
        for f in $(ls "$G_DIR" | sed -n 's/\.txt$//p'); do
            [ "$(sort -u "$G_DIR/$f.txt" | wc -l)" -ge "$k" ] || { printf '  %-26s fewer than %d names\n' "$f" "$k"; continue; }
            train --holdout "$f" -o "$tmp/m" > /dev/null
            python3 "$ROOT/bench/dga_clients.py" gen "$B_LIST" 0 "$k" "${N_CLIENTS:-5000}" "$G_DIR/$f.txt" > "$tmp/log"
            "$KHIEN" dns scan --model "$tmp/m" --json --all -q ${SCAN_ARGS:-} "$tmp/log" > "$tmp/report" || [ $? -eq 1 ]
            out=$(python3 "$ROOT/bench/dga_clients.py" eval "$k" "$G_DIR/$f.txt" < "$tmp/report")
            d=$(sed -n 2p <<<"$out" | awk '{print $3}' | tr -d %)
            b=$(sed -n 3p <<<"$out" | awk '{print $2}')
            printf '  %-26s names %6s%%  benign clients flagged %s of %s\n' "$f" "$d" "$b" "${N_CLIENTS:-5000}"
            sum=$(echo "$sum + $d" | bc -l); n=$((n + 1)); bflag=$((bflag + b)); bcl=$((bcl + ${N_CLIENTS:-5000}))
        done
        printf 'K=%d: mean over %d families %.1f%%; benign clients flagged %d of %d (%.5f)\n' "$k" "$n" \
            "$(echo "$sum / $n" | bc -l)" "$bflag" "$bcl" "$(echo "$bflag / $bcl" | bc -l)"
    done ;;
*) echo "usage: bench_dga.sh [splits|lofo|validate|val-a|val-b|clients|clients-lofo]" >&2; exit 2 ;;
esac
