# Sourced by test.sh and topology.sh: `start_private_postgres` starts a PostgreSQL of
# its own — the distribution's binaries, a new cluster in a temporary directory, trust
# authentication, listening on a free loopback port only — sets PRIVATE_PG_URL to it,
# and registers its removal in the caller's `cleanup` array (run on exit). A server
# already running on the machine is neither used nor touched.

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

start_private_postgres() {
  local bin pgdir port started
  bin=$(pg_bin)
  [ -n "$bin" ] || { log "PostgreSQL is not installed"; return 1; }
  pgdir=$(mktemp -d /tmp/allweather-pg.XXXXXX)
  chmod 755 "$pgdir"
  # PostgreSQL refuses to run as root: as root, run it as the `postgres` user the
  # package creates.
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$pgdir" postgres
    chown postgres: "$pgdir"
    as_pg() { (cd / && runuser -u postgres -- "$@"); }
  else
    as_pg() { "$@"; }
  fi
  as_pg "$bin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
  started=
  for _ in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 30000))
    if as_pg "$bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 \
         -o "-c listen_addresses=127.0.0.1 -p $port -k $pgdir -c max_connections=300 -c fsync=on" \
         start >/dev/null; then
      started=1; break
    fi
  done
  [ -n "$started" ] || { log "could not start a private PostgreSQL; see $pgdir/server.log"; cat "$pgdir/server.log" >&2; return 1; }
  cleanup+=("as_pg '$bin/pg_ctl' -D '$pgdir/data' -m immediate stop >/dev/null; rm -rf '$pgdir'")
  PRIVATE_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  log "private PostgreSQL on 127.0.0.1:$port"
}
