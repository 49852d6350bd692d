#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server, exports DPP_TEST_POSTGRES_URL pointing at it, runs the
# given command, then stops the server and deletes its data — whatever the command's outcome.
#
#   scripts/with-postgres.sh cargo test -p dpp-gateway --test store
#
# Needs the PostgreSQL server binaries (Debian: apt-get install postgresql-15); set PG_BINDIR to
# pick a directory. Run as root, the server runs as the `postgres` user; otherwise as yourself.
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi

find_bindir() {
    if [[ -n "${PG_BINDIR:-}" ]]; then
        echo "$PG_BINDIR"
        return
    fi
    local initdb
    if command -v dpkg >/dev/null 2>&1; then
        # Newest installed postgresql-NN package first.
        for pkg in $(dpkg-query -W -f '${Package}\n' 'postgresql-[0-9]*' 2>/dev/null | grep -E '^postgresql-[0-9]+$' | sort -t- -k2 -rn); do
            initdb=$(dpkg -L "$pkg" 2>/dev/null | grep -m1 'bin/initdb$' || true)
            if [[ -n "$initdb" ]]; then
                dirname "$initdb"
                return
            fi
        done
    fi
    if initdb=$(command -v initdb 2>/dev/null); then
        dirname "$initdb"
        return
    fi
    initdb=$(ls -1d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n1 || true)
    if [[ -n "$initdb" ]]; then
        dirname "$initdb"
        return
    fi
    echo "with-postgres: no initdb found; install postgresql-15 or set PG_BINDIR" >&2
    exit 1
}

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local port
    for port in $(seq 54320 54420); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    echo "with-postgres: no free port in 54320-54420" >&2
    exit 1
}

bindir=$(find_bindir)
port=$(free_port)
workdir=$(mktemp -d "${TMPDIR:-/tmp}/dpp-pg.XXXXXX")

if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$workdir"
    as_pg=(runuser -u postgres --)
else
    as_pg=()
fi

stop_postgres() {
    local status=$?
    if [[ -f "$workdir/data/postmaster.pid" ]]; then
        "${as_pg[@]}" "$bindir/pg_ctl" -D "$workdir/data" -m fast stop >/dev/null 2>&1 || true
    fi
    if [[ $status -ne 0 && -f "$workdir/postgres.log" ]]; then
        echo "with-postgres: last server log lines:" >&2
        tail -n 20 "$workdir/postgres.log" >&2 || true
    fi
    rm -rf "$workdir"
    exit "$status"
}
trap stop_postgres EXIT
trap 'exit 130' INT TERM

"${as_pg[@]}" "$bindir/initdb" -D "$workdir/data" -A trust -U postgres -E UTF8 --no-sync >/dev/null
# Throwaway cluster: no durability needed, enough connections for parallel test binaries.
"${as_pg[@]}" "$bindir/pg_ctl" -D "$workdir/data" -l "$workdir/postgres.log" -w \
    -o "-p $port -k $workdir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null

export DPP_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on $DPP_TEST_POSTGRES_URL" >&2

"$@"
