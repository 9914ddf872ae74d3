#!/usr/bin/env bash
# Runs the whole benchmark suite and regenerates the tables in BENCHMARKS.md and
# benches/chart.svg, in one go (about 6-8 minutes):
#   1. criterion benches (cargo bench -p tripgate-benches),
#   2. memory per breaker (counting allocator, example `memory`),
#   3. instructions per op under valgrind callgrind (benches/icount.sh),
#   4. benches/report.py.
# Respects CARGO_TARGET_DIR (default: target/). Extra arguments go to criterion, e.g.
# `benches/run.sh s1_` to run only scenario 1 (the report keeps older results).
# Not for CI: CI only compiles the benches (cargo bench -p tripgate-benches --no-run).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
cargo bench -p tripgate-benches --bench breakers -- "$@"
cargo run --quiet --profile bench -p tripgate-benches --example memory >"$TARGET/memory.jsonl"
if command -v valgrind >/dev/null; then
    benches/icount.sh
else
    echo "run.sh: valgrind not found, instruction counts skipped" >&2
fi
python3 benches/report.py --command "benches/run.sh${*:+ $*}"
