#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 server (Debian's postgresql-15 binaries) in a temporary folder,
# as a non-root user, on a free port, and prints `export DATABASE_URL=…` lines. Stop it with
# `.ci/pg-throwaway.sh stop <dir>`. The reliability suite (issue 17) crashes and restarts its own one
# with `.ci/pg-throwaway.sh crash <dir>` (pg_ctl -m immediate stop) and `.ci/pg-throwaway.sh start <dir>`.
set -euo pipefail

find_bin() {
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  return 1
}

if [ "${1:-}" = "stop" ]; then
  dir="$2"; bin=$(find_bin)
  if [ "$(id -u)" = "0" ]; then su postgres -s /bin/sh -c "$bin/pg_ctl -D '$dir/data' -m fast stop" >/dev/null 2>&1 || true
  else "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
  exit 0
fi

as_owner() {
  if [ "$(id -u)" = "0" ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}
if [ "${1:-}" = "crash" ]; then
  dir="$2"; bin=$(find_bin)
  as_owner "'$bin/pg_ctl' -D '$dir/data' -m immediate stop" >/dev/null
  exit 0
fi
if [ "${1:-}" = "start" ]; then
  dir="$2"; bin=$(find_bin)
  as_owner "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -o \"$(cat "$dir/start-options")\" start" >/dev/null
  exit 0
fi

bin=$(find_bin) || { echo "postgresql-15 is not installed (apt-get install postgresql-15)" >&2; exit 1; }
dir=$(mktemp -d /tmp/helsebro-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
chmod 755 "$dir"
run_pg() {
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown -R postgres "$dir"
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}
run_pg "'$bin/initdb' -D '$dir/data' -U helsebro --auth=trust -E UTF8 --locale=C.UTF-8" >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
echo "-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=200" >"$dir/start-options"
run_pg "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -o \"$(cat "$dir/start-options")\" start" >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
"$bin/createdb" -h 127.0.0.1 -p "$port" -U helsebro helsebro
echo "export PG_THROWAWAY_DIR=$dir"
echo "export DATABASE_URL=postgres://helsebro@127.0.0.1:$port/helsebro"
