#!/usr/bin/env bash
# test_console_pg.sh - the same console tests on PostgreSQL: starts a real server (Debian's
# postgresql, in a temporary directory, on a Unix socket only), runs test_console.sh against
# it and the store's unit tests (tests/unit/test_store.c) against it, stops it. Usage: test_console_pg.sh KHIEN SRC
KHIEN=$1
SRC=$2
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
    echo "skipped: PostgreSQL server binaries not found (apt-get install postgresql)"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
P=$(mktemp -d /tmp/khien-pg.XXXXXX)
chmod 755 "$P"
RUN=()
if [ "$(id -u)" = 0 ]; then
    chown postgres "$P" 2>/dev/null || { id postgres >/dev/null 2>&1 || useradd -r postgres; chown postgres "$P"; }
    RUN=(runuser -u postgres --)
fi
cleanup() { "${RUN[@]}" "$BIN/pg_ctl" -D "$P/data" -m immediate stop > /dev/null 2>&1; rm -rf "$P"; }
trap cleanup EXIT
"${RUN[@]}" "$BIN/initdb" -D "$P/data" --auth=trust -U khien -E UTF8 --no-locale > "$P/initdb.log" 2>&1 ||
    { echo "initdb failed:"; cat "$P/initdb.log"; echo "0 passed, 1 failed"; exit 1; }
"${RUN[@]}" "$BIN/pg_ctl" -D "$P/data" -w -l "$P/server.log" \
    -o "-k $P -c listen_addresses='' -c fsync=off -c full_page_writes=off" start > /dev/null ||
    { echo "PostgreSQL did not start:"; cat "$P/server.log"; echo "0 passed, 1 failed"; exit 1; }
psql -h "$P" -U khien -d postgres -qc "CREATE DATABASE khien" || { echo "0 passed, 1 failed"; exit 1; }
echo "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on $P"
KH_TEST_DB_URL="postgresql://khien@/khien?host=$P" bash "$SRC/tests/cli/test_console.sh" "$KHIEN" "$SRC"
rc=$?
# the store's own unit tests (roll-ups against event-by-event counts) on this server too
STORE_TEST=$(dirname "$KHIEN")/tests/test_store
if [ -x "$STORE_TEST" ]; then
    psql -h "$P" -U khien -d postgres -qc "CREATE DATABASE khien_store" || exit 1
    KH_TEST_DB_URL="postgresql://khien@/khien_store?host=$P" "$STORE_TEST" || rc=1
else
    echo "not found: $STORE_TEST (build the unit tests)"
    rc=1
fi
exit $rc
