#!/usr/bin/env bash
# A private, throwaway PostgreSQL server for the tests: `pg-cluster.sh start` installs Debian's
# postgresql when no server is on the machine, makes a cluster in a new temporary folder (its
# unix socket in the same folder, no TCP port, fsync off: nothing in it is meant to survive)
# and prints the folder; `pg-cluster.sh url DIR` prints the PAPERWIRE_TEST_DB URL for it and
# `pg-cluster.sh stop DIR` stops the server and removes the folder.
set -euo pipefail

bindir() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

as_owner() {  # initdb and postgres refuse to run as root
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$(owner)" -- "$@"
    else
        "$@"
    fi
}

owner() {
    if id postgres >/dev/null 2>&1; then echo postgres; else echo nobody; fi
}

case "${1:-}" in
start)
    if [ -z "$(bindir)" ]; then
        if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
        $SUDO apt-get update -q >&2 && $SUDO apt-get install -y -q postgresql >&2
    fi
    BIN=$(bindir)
    DIR=$(mktemp -d "${TMPDIR:-/tmp}/paperwire-pg.XXXXXX")
    if [ "$(id -u)" = 0 ]; then chown "$(owner)" "$DIR"; fi
    as_owner "$BIN/initdb" -D "$DIR/data" -A trust -U postgres -E UTF8 --no-sync >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; exit 1; }
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start -o \
        "-k $DIR -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
        >/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
    echo "$DIR"
    ;;
url)
    echo "postgresql://postgres@/?host=$2"
    ;;
stop)
    DIR=$2
    [ -d "$DIR/data" ] && as_owner "$(bindir)/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    ;;
*)
    echo "usage: $0 start | url DIR | stop DIR" >&2
    exit 2
    ;;
esac
