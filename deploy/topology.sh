#!/usr/bin/env bash
# Runs the distributed topology on this machine's loopback and checks it against an
# embedded run:
#   - PostgreSQL (a private server, or ALLWEATHER_TEST_PG_URL's server: a database of its
#     own is created there and dropped after),
#   - three nats-server nodes clustered with JetStream (the relay creates AW_EVENTS with
#     three replicas),
#   - the relay and each projector as processes of their own, projectors following the
#     JetStream mirror with durable consumers;
# drives the demo county through it (`allweather demo --database`: the command path in a
# process of its own, on the demo's simulated clock); then starts two command-service
# instances (`serve --nats … --no-relay --no-projectors`, after the demo: their claim
# expiry schedulers run on the real clock) and checks that
#   - `audit verify --nats` passes: the log's chain, and every message of the mirror,
#   - the read models, as both service instances answer them, equal those of an embedded
#     run of the same seed (SQLite, in-process projectors).
#
# Usage: deploy/topology.sh [MEMBERS] [SEED]   (defaults 300 and 7)
# ALLWEATHER_BIN picks the binary (default: target/release/allweather, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[topology]\033[0m %s\n' "$*" >&2; }
# shellcheck source=deploy/private-postgres.sh
. deploy/private-postgres.sh

members=${1:-300}
seed=${2:-7}
year=2025
bin=${ALLWEATHER_BIN:-target/release/allweather}
if [ ! -x "$bin" ]; then
  log "building $bin"
  cargo build --release --locked --bin allweather
fi
command -v nats-server >/dev/null || { log "nats-server is missing (deploy/test.sh installs it)"; exit 1; }

work=$(mktemp -d /tmp/allweather-topology.XXXXXX)
pids=()
cleanup=()
on_exit() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # Last registered, first undone: the database is dropped before its server stops.
  for ((i = ${#cleanup[@]} - 1; i >= 0; i--)); do eval "${cleanup[$i]}" || true; done
  rm -rf "$work"
}
trap on_exit EXIT

# A TCP port nothing listens on now.
free_port() {
  local p
  while :; do
    # Below the ephemeral range (32768 and up), where outgoing connections take theirs.
    p=$((20000 + RANDOM % 12000))
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
# Waits until something listens on port $1 (at most 30 s).
wait_port() {
  for _ in $(seq 300); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  log "nothing listens on port $1"; return 1
}
# Runs "$@" in the background with its output in $work/NAME.log; remembers its pid.
start() {
  local name=$1; shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}
fail() { log "$*"; for f in "$work"/*.log; do echo "--- $f"; tail -n 20 "$f"; done >&2; exit 1; }

# PostgreSQL and the topology's database.
admin_url=${ALLWEATHER_TEST_PG_URL:-}
if [ -z "$admin_url" ]; then
  start_private_postgres
  admin_url=$PRIVATE_PG_URL
fi
db="aw_topology_$$_$RANDOM"
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 "$admin_url" -c "$1" >/dev/null; }
psql_admin "CREATE DATABASE $db"
cleanup+=("psql_admin 'DROP DATABASE IF EXISTS $db WITH (FORCE)'")
database=${admin_url%/*}/$db

# Three NATS nodes, clustered, each with its own JetStream store.
client_ports=() cluster_ports=()
for i in 1 2 3; do client_ports+=("$(free_port)"); cluster_ports+=("$(free_port)"); done
routes=$(printf 'nats://127.0.0.1:%s,' "${cluster_ports[@]}"); routes=${routes%,}
for i in 0 1 2; do
  n=$((i + 1))
  sed -e "s|@NAME@|n$n|" -e "s|@CLIENT_PORT@|${client_ports[$i]}|" -e "s|@CLUSTER_PORT@|${cluster_ports[$i]}|" \
      -e "s|@STORE@|$work/nats-$n|" -e "s|@ROUTES@|$routes|" -e "s|@HOST@|127.0.0.1|" \
      deploy/nats/node.conf.template >"$work/nats-$n.conf"
  start "nats-$n" nats-server -c "$work/nats-$n.conf"
done
for p in "${client_ports[@]}"; do wait_port "$p" || fail "a NATS node did not start"; done
nats=$(printf 'nats://127.0.0.1:%s,' "${client_ports[@]}"); nats=${nats%,}
log "NATS cluster on ports ${client_ports[*]}"

# The processes of the topology.
# An array, not a function: a function run in the background is a subshell, and killing
# the subshell's pid would leave the process it started running after this script.
aw=("$bin" --data-dir "$work/data" --nats-replicas 3)
mkdir -p "$work/data"
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export ALLWEATHER_TOKEN_SECRET=$secret
start relay "${aw[@]}" relay --nats "$nats" --database "$database"
for p in leaderboard wishes integrity scorecard; do
  start "projector-$p" "${aw[@]}" projector "$p" --nats "$nats" --database "$database"
done
log "the relay and four projectors running"

# The demo county, through the command path, into the shared log.
"${aw[@]}" demo --members "$members" --seed "$seed" --year "$year" --database "$database" >"$work/demo.out" \
  || fail "the demo failed"
grep -q " 0 refused" "$work/demo.out" || fail "the demo had refusals: $(cat "$work/demo.out")"
head_line=$(grep '^log: ' "$work/demo.out")
head=$(echo "$head_line" | awk '{print $2}')
log "demo: $head_line"

# The command services start once the demo's simulated year is written: their claim
# expiry schedulers run on the real clock, and would expire the demo's claims (made in
# its past) before the demo fulfils them.
serve_ports=()
for i in 1 2; do
  port=$(free_port); serve_ports+=("$port")
  start "serve-$i" "${aw[@]}" serve --listen "127.0.0.1:$port" --database "$database" --nats "$nats" --no-relay --no-projectors
done
for p in "${serve_ports[@]}"; do wait_port "$p" || fail "a command service did not start"; done
log "two command services on ports ${serve_ports[*]}"


# The mirror holds the whole log, and agrees with it.
verified=
for _ in $(seq 120); do
  if "${aw[@]}" audit verify --database "$database" --nats "$nats" >"$work/audit.out" 2>&1; then verified=1; break; fi
  sleep 0.5
done
[ -n "$verified" ] || fail "audit verify --nats did not pass: $(cat "$work/audit.out")"
log "audit verify --nats: $(head -n 1 "$work/audit.out")"

# The same seed, embedded.
"$bin" --data-dir "$work/embedded" demo --members "$members" --seed "$seed" --year "$year" >"$work/embedded.out"
[ "$(grep '^log: ' "$work/embedded.out")" = "$head_line" ] || fail "the embedded log differs: $(cat "$work/embedded.out")"
embedded_port=$(free_port)
start embedded "$bin" --data-dir "$work/embedded" serve --listen "127.0.0.1:$embedded_port"
wait_port "$embedded_port" || fail "the embedded service did not start"

token=$("${aw[@]}" token issue --role auditor --subject topology-check)
etoken=$("$bin" --data-dir "$work/embedded" token issue --role auditor --subject topology-check)
member=$(psql -X -A -t "$database" -c "SELECT member_id FROM sc_members ORDER BY member_id LIMIT 1")
queries=(
  "/api/v1/rankings/branches?year=$year"
  "/api/v1/rankings/branches?year=$year&kind=service"
  "/api/v1/leaderboards/volunteers?year=$year&limit=1000"
  "/api/v1/leaderboards/volunteers?year=$year&quarter=2&category=cleanup"
  "/api/v1/wishes?limit=1000"
  "/api/v1/wishes/timings?year=$year"
  "/api/v1/integrity/flags?year=$year"
  "/api/v1/assessments/$member?year=$year"
)
# Each answer once its read model has applied the head, from both instances.
fetch() { # PORT TOKEN PATH
  local out
  for _ in $(seq 60); do
    if out=$(curl -sf -H "Authorization: Bearer $2" "http://127.0.0.1:$1$3&min_position=$head"); then
      echo "$out"; return 0
    fi
    sleep 0.5
  done
  return 1
}
for q in "${queries[@]}"; do
  want=$(fetch "$embedded_port" "$etoken" "$q") || fail "the embedded service did not answer $q"
  for p in "${serve_ports[@]}"; do
    got=$(fetch "$p" "$token" "$q") || fail "the service on $p did not answer $q"
    [ "$got" = "$want" ] || fail "$q differs on port $p from the embedded run"
  done
done
log "the read models of both instances equal the embedded run's (${#queries[@]} queries)"
echo "topology: $members members, $head events; audit verify --nats passed; read models equal the embedded run"
