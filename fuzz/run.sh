#!/usr/bin/env bash
# Runs every fuzz target for the given number of seconds each (default 30):
#
#   fuzz/run.sh 30           # what CI runs
#   fuzz/run.sh 300          # five minutes a target
#   FUZZ_TARGETS="ffi config" fuzz/run.sh 600
#   FUZZ_SANITIZER=none fuzz/run.sh 30
#
# Installs cargo-fuzz (only if `cargo fuzz` is missing), builds every target once, fills
# each working corpus (fuzz/corpus/<target>, gitignored) from the committed inputs in
# fuzz/initial/<target> (for scenario and trace: the simulator's hostile inputs in
# cli/tests/hostile/<target> and its shipped files; for access_log: the access-log
# fixtures of cli/tests/data/access), then runs the targets one after
# another. Every target runs even
# if an earlier one crashed; the script exits non-zero if any did. A crash leaves its
# input in fuzz/artifacts/<target>/; replay it with
# `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/crash-...`.
set -euo pipefail

per_target="${1:-30}"
case "$per_target" in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS_PER_TARGET]" >&2
    exit 2
    ;;
esac
cd "$(dirname "$0")"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

targets=(${FUZZ_TARGETS:-state_machine window config ffi scenario trace admin access_log})
# AddressSanitizer (cargo-fuzz's default), debug assertions and overflow checks on.
flags=(--sanitizer "${FUZZ_SANITIZER:-address}")

cargo +nightly fuzz build "${flags[@]}"

failed=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    if [ -d "initial/$t" ]; then
        cp -n "initial/$t"/* "corpus/$t/" 2>/dev/null || true
    fi
    # The simulator's targets are also seeded with its hostile inputs (the regression
    # inputs of cli/tests/hostile.rs) and its shipped scenarios and trace.
    case "$t" in
    scenario) extra=(../cli/tests/hostile/scenario/* ../cli/scenarios/*.toml ../cli/tests/data/*.toml) ;;
    trace) extra=(../cli/tests/hostile/trace/* ../cli/scenarios/*.csv) ;;
    access_log) extra=(../cli/tests/data/access/*) ;;
    *) extra=() ;;
    esac
    for f in "${extra[@]}"; do
        if [ -f "$f" ]; then cp -n "$f" "corpus/$t/" 2>/dev/null || true; fi
    done
    echo "=== fuzz $t for ${per_target}s"
    if ! cargo +nightly fuzz run "${flags[@]}" "$t" "corpus/$t" -- \
        -max_total_time="$per_target" -print_final_stats=1; then
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz: crashes in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz: ${targets[*]}: no crash in ${per_target}s each"
