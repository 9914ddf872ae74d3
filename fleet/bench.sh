#!/usr/bin/env bash
# Fleet mode's figures for BENCHMARKS.md, against a private Redis on 127.0.0.1
# (fleet/with_redis.sh):
# 1. the hot path with fleet mode off and on, same run: scenario 1 (acquire + record
#    success) of benches/examples/icount.rs, contenders `tripgate` and
#    `tripgate_fleet` (attached to a fleet on that Redis), each run pinned to one CPU,
#    binaries interleaved, ROUNDS rounds of N calls, ns per call of the measured loop
#    (the fleet's start and stop excluded);
# 2. store commands per replica per second at steady state (fleet/examples/store_load.rs).
#
# Usage: fleet/bench.sh [N] [ROUNDS] (defaults 20000000 and 5).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000000}
ROUNDS=${2:-5}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --quiet --profile bench -p tripgate-benches --example icount
cargo build --quiet --release -p tripgate-fleet --example store_load
export N ROUNDS TARGET
exec bash fleet/with_redis.sh bash -c '
  pin=""; command -v taskset >/dev/null && pin="taskset -c $(( $(nproc) - 1 ))"
  echo "hot path, scenario 1, ns per call ($N calls a round):"
  for round in $(seq 1 "$ROUNDS"); do
    line="  round $round:"
    for c in tripgate tripgate_fleet; do
      line="$line $c=$($pin "$TARGET/release/examples/icount" closed "$c" "$N")"
    done
    echo "$line"
  done
  echo "store commands per replica per second:"
  "$TARGET/release/examples/store_load"
'
