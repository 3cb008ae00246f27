#!/usr/bin/env bash
# checksrc.sh - the house rules a compiler does not check (see ../shared/STYLE.md):
# no sprintf/strcpy/strcat/atoi/gets in the library or the program, every .c file opens with
# a comment paragraph, the library never prints or exits.
set -u
cd "$(dirname "$0")/.."
status=0
say() { echo "checksrc: $*"; status=1; }
files=$(ls lib/*/*.c src/*.c)
for f in $files; do
    grep -nE '\b(sprintf|vsprintf|strcpy|strcat|atoi|gets)\s*\(' "$f" | sed "s|^|$f:|" | while read -r l; do echo "checksrc: banned function: $l"; done
    grep -qE '\b(sprintf|vsprintf|strcpy|strcat|atoi|gets)\s*\(' "$f" && status=1
    head -1 "$f" | grep -q '^/\*' || say "$f: does not open with a comment paragraph"
done
for f in lib/*/*.c; do
    if grep -nE '\b(printf|fprintf|puts|perror|exit|abort)\s*\(' "$f" | grep -v 'snprintf' > /tmp/checksrc.$$; then
        if [ -s /tmp/checksrc.$$ ]; then sed "s|^|checksrc: library prints or exits: $f:|" /tmp/checksrc.$$; status=1; fi
    fi
    rm -f /tmp/checksrc.$$
done
[ $status -eq 0 ] && echo "checksrc: ok"
exit $status
