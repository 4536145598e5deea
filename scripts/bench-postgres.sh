#!/usr/bin/env bash
# Runs ecoute-bench with PostgreSQL measured side by side, on this machine.
#
# As root on a fresh Debian machine: installs Debian's `postgresql` package if
# it is missing, creates a throw-away cluster in a temporary directory (on the
# same disk as the work tree), starts it listening on a unix socket only (no
# TCP), creates the database, runs the benchmark against it and stops the
# server at the end, whatever happens.
#
#   scripts/bench-postgres.sh            # full run (about 2 minutes)
#   scripts/bench-postgres.sh --quick    # a few seconds per measurement
#
# Extra arguments go to ecoute-bench. PostgreSQL keeps its defaults except the
# ones set below, stated explicitly: fsync=on, synchronous_commit=on.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PORT=${ECOUTE_BENCH_PG_PORT:-54329}

pg_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/pg_ctl" ]; then
    echo "bench-postgres: installing postgresql" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y postgresql
fi
BIN=$(pg_bin)
if [ ! -x "$BIN/pg_ctl" ]; then
    echo "bench-postgres: no pg_ctl under /usr/lib/postgresql/*/bin" >&2
    exit 1
fi

# initdb and postgres refuse to run as root: run them as the package's user.
if [ "$(id -u)" -eq 0 ]; then
    RUN_AS=(runuser -u postgres --)
else
    RUN_AS=()
fi

# Same disk as the work tree (the ecoute stores go under target/ as well).
mkdir -p "$ROOT/target"
WORK=$(mktemp -d "$ROOT/target/bench-pg.XXXXXX")
DATA="$WORK/data"
SOCK="$WORK/sock"
LOG="$WORK/log"
mkdir -p "$DATA" "$SOCK" "$LOG"
chmod 755 "$WORK"
chmod 700 "$DATA"
if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres:postgres "$DATA" "$SOCK" "$LOG"
    if ! runuser -u postgres -- test -w "$DATA"; then
        echo "bench-postgres: user postgres cannot reach $DATA; set up a readable path" >&2
        exit 1
    fi
fi

cleanup() {
    status=$?
    if [ -f "$DATA/postmaster.pid" ]; then
        "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
    exit $status
}
trap cleanup EXIT INT TERM

echo "bench-postgres: initdb in $DATA ($("$BIN/postgres" --version))" >&2
"${RUN_AS[@]}" "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 \
    || { cat "$WORK/initdb.log" >&2; exit 1; }

# Unix socket only: listen_addresses='' opens no TCP port at all.
"${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$LOG/server.log" -w -t 60 start -o \
    "-c listen_addresses='' -c unix_socket_directories=$SOCK -p $PORT -c fsync=on -c synchronous_commit=on -c max_connections=200" \
    >/dev/null || { cat "$LOG/server.log" >&2; exit 1; }

"${RUN_AS[@]}" "$BIN/createdb" -h "$SOCK" -p "$PORT" -U postgres ecoute_bench

URL="host=$SOCK port=$PORT user=postgres dbname=ecoute_bench"
echo "bench-postgres: server up at $URL" >&2

cargo run --release -p ecoute-bench -- --postgres "$URL" "$@"
