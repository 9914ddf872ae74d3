#!/usr/bin/env bash
# Benchmarks acquire + record(success) through the C ABI (ffi/bench/bench.c, linked
# static and dynamic) against the same loop through the Rust API
# (ffi/examples/bench_rust.rs), single-threaded, release builds.
#
# Usage: ffi/bench/run.sh [iterations] [runs]   (respects CARGO_TARGET_DIR)
# Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID) per operation, best and median
# of the runs, so that preemption on a shared machine does not count.
# Prints one line per measurement: "<path> <link/clock> <config> <best ns/op> <median ns/op>",
# then the C/Rust ratios of the best figures.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ffi="$(dirname "$here")"
repo="$(dirname "$ffi")"
target="${CARGO_TARGET_DIR:-$repo/target}"
iterations="${1:-20000000}"
runs="${2:-7}"

(cd "$repo" && cargo build -q --release -p tripgate-ffi --lib --example bench_rust)
lib="$target/release"
# The library's SONAME, what bench-dynamic loads at run time.
ln -sfn libtripgate.so "$lib/libtripgate.so.0"
out="$target/c-bench"
mkdir -p "$out"
CFLAGS=(-std=c11 -O2 -Wall -Wextra -Werror -I"$ffi/include")
gcc "${CFLAGS[@]}" -o "$out/bench-static" "$here/bench.c" "$lib/libtripgate.a" \
    -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
gcc "${CFLAGS[@]}" -o "$out/bench-dynamic" "$here/bench.c" -L"$lib" -ltripgate \
    -Wl,-rpath,"$lib"

results="$out/results.txt"
: >"$results"
# Interleave the programs so that a noisy neighbour hurts them alike.
for round in 1 2; do
    "$lib/examples/bench_rust" "$iterations" "$runs" | tee -a "$results"
    "$out/bench-static" static "$iterations" "$runs" | tee -a "$results"
    "$out/bench-dynamic" dynamic "$iterations" "$runs" | tee -a "$results"
done

echo
echo "best of all rounds (ns/op) and C / Rust(system-clock), permit path then tg_call / Breaker::call:"
awk '
    { key = $1 " " $2 " " $3; if (!(key in best) || $4 < best[key]) best[key] = $4; cfg[$3] = 1 }
    END {
        for (c in cfg) {
            r = best["rust system-clock " c]
            printf "%-10s permit: rust %.2f  rust(any-clock) %.2f  c-static %.2f (%.2fx)  c-dynamic %.2f (%.2fx)\n",
                c, r, best["rust any-clock " c], best["c static " c], best["c static " c] / r,
                best["c dynamic " c], best["c dynamic " c] / r
            r = best["rust-call system-clock " c]
            printf "%-10s call:   rust %.2f  c-static %.2f (%.2fx)  c-dynamic %.2f (%.2fx)\n",
                c, r, best["c-call static " c], best["c-call static " c] / r,
                best["c-call dynamic " c], best["c-call dynamic " c] / r
        }
    }' "$results"
