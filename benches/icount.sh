#!/usr/bin/env bash
# Instructions per operation, under valgrind's callgrind, for scenario 1 (closed:
# acquire + record success), scenario 3 (open: rejection), scenario 4 (per churn
# cycle, N/20 cycles) and tripgate's admission alone. Each case runs N and 2N iterations; (I(2N) - I(N)) / N is the cost of one
# operation with setup, warm-up and teardown cancelled out; on top of that only the
# measured loops are counted (--toggle-collect), because tripgate's clock calibrates
# itself once (a time-dependent number of instructions). Deterministic, so it is
# the figure to compare on a noisy machine.
#
# Usage: benches/icount.sh [N] (default 20000). Writes $TARGET/icount.tsv
# (scenario, contender, instructions per op) and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
TARGET=${CARGO_TARGET_DIR:-target}
command -v valgrind >/dev/null || { echo "icount.sh: valgrind not found" >&2; exit 1; }
cargo build --quiet --profile bench -p tripgate-benches --example icount
BIN="$TARGET/release/examples/icount"
OUT="$TARGET/icount.tsv"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Instructions executed by `icount $1 $2 $3`.
count() {
    valgrind --tool=callgrind --toggle-collect='*measured_*' --callgrind-out-file="$TMP/cg.out" "$BIN" "$1" "$2" "$3" \
        2>"$TMP/err" >/dev/null || { cat "$TMP/err" >&2; return 1; }
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$TMP/err"
}

printf 'scenario\tcontender\tinstructions_per_op\n' >"$OUT"
cases=()
for c in tripgate tripgate_latency tripgate_count tripgate_count_latency tripgate_fleet atomic_floor failsafe recloser tower_resilience seatbelt; do
    cases+=("closed $c")
done
for c in tripgate atomic_floor failsafe recloser tower_resilience seatbelt; do
    cases+=("open $c")
done
cases+=("admit closed" "admit open")
for c in tripgate failsafe recloser tower_resilience seatbelt; do
    cases+=("churn $c")
done
for case in "${cases[@]}"; do
    set -- $case
    n=$N
    # A churn iteration is a whole trip-and-recover cycle (20-100 calls).
    [ "$1" = churn ] && n=$((N / 20))
    a=$(count "$1" "$2" "$n")
    b=$(count "$1" "$2" $((2 * n)))
    per=$(awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')
    printf '%s\t%s\t%s\n' "$1" "$2" "$per" | tee -a "$OUT"
done
