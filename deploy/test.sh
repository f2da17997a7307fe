#!/usr/bin/env bash
# Runs every check and test of allweather on this machine.
#
# What the tests need and this script provides when it is missing:
#   - nats-server (Debian/Ubuntu package `nats-server`): each test starts its own, on a
#     free loopback port with a temporary store;
#   - PostgreSQL (package `postgresql`): this script starts a private server of its own,
#     on loopback only, in a temporary directory, and removes it afterwards; each test
#     creates and drops its own database on it. A server already running on the machine
#     is neither used nor touched. Set ALLWEATHER_TEST_PG_URL to use another server;
#   - psql and curl: deploy/topology.sh (run by a test) uses them;
#   - Chromium and its WebDriver (packages `chromium`, `chromium-driver`, and
#     `fonts-noto-cjk` to render Chinese): the dashboard test drives a headless browser.
#
# Arguments go to `cargo test` instead of `--workspace` (e.g. `deploy/test.sh -p allweather-log`).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[test.sh]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# shellcheck source=deploy/private-postgres.sh
. deploy/private-postgres.sh

missing=()
command -v nats-server >/dev/null || missing+=(nats-server)
if [ -z "${ALLWEATHER_TEST_PG_URL:-}" ] && [ -z "$(pg_bin)" ]; then missing+=(postgresql); fi
command -v psql >/dev/null || missing+=(postgresql-client)
command -v curl >/dev/null || missing+=(curl)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} from the distribution's packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v nats-server >/dev/null || { log "nats-server is still missing"; exit 1; }
command -v chromedriver >/dev/null || { log "chromedriver is still missing"; exit 1; }

cleanup=()
on_exit() { for c in "${cleanup[@]}"; do eval "$c" || true; done; }
trap on_exit EXIT

if [ -z "${ALLWEATHER_TEST_PG_URL:-}" ]; then
  start_private_postgres
  export ALLWEATHER_TEST_PG_URL="$PRIVATE_PG_URL"
fi

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The cqrs-es peer of `allweather bench` is a crate of its own, outside the workspace
# (services/bench/peer): the same checks, and built once here, so that the bench's smoke
# test finds it ready.
peer=services/bench/peer/Cargo.toml
log "the bench's peer: fmt, clippy, build"
cargo fmt --manifest-path "$peer" -- --check
cargo clippy --release --locked --manifest-path "$peer" --target-dir services/bench/peer/target -- -D warnings
cargo build --release --locked --manifest-path "$peer" --target-dir services/bench/peer/target
log "cargo test"
out=$(mktemp)
cleanup+=("rm -f '$out'")
[ $# -gt 0 ] || set -- --workspace
set +e
cargo test --locked --no-fail-fast "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole suite (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i == "passed;") p += $(i-1); if ($i == "failed;") f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$out"
exit "$status"
