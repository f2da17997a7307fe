#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time: the nightly fuzzing of allweather.
#
#   deploy/fuzz.sh [SECONDS_PER_TARGET]      (default 60)
#
# Installs what it needs when missing (the nightly toolchain, cargo-fuzz), seeds each
# target's corpus from the repository (the rules files, a body per command), and stops at
# the first crash, leaving the input in fuzz/artifacts/TARGET/. A crash found becomes a
# regression test beside the code it broke.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked

mkdir -p fuzz/corpus/rules_parser fuzz/corpus/command_decoding fuzz/corpus/canonical_encoding \
         fuzz/corpus/stored_event_decoding
cp rules/*.toml fuzz/corpus/rules_parser/
printf '\000{"name":"Water Bureau","kind":"unit"}' > fuzz/corpus/command_decoding/register-branch
printf '{"a":[1,"b",{"c":null,"d":true}],"e":"\\u00e9"}' > fuzz/corpus/canonical_encoding/object
printf '\000\001{"name":"Water Bureau","kind":"unit"}' > fuzz/corpus/stored_event_decoding/branch

for target in command_decoding canonical_encoding stored_event_decoding rules_parser; do
    echo "== fuzzing $target for ${seconds}s"
    cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -max_len=65536 -print_final_stats=1
done
echo "fuzz: no crash in any target (${seconds}s each)"
