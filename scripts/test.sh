#!/usr/bin/env bash
# Sets up and runs every test of tripgate on a fresh machine (Rust stable, CPython 3.11
# with pip, gcc, valgrind). Idempotent: what it installs, it installs only once.
#
#   ./scripts/test.sh
#
# Steps: Rust workspace tests (unit, integration, property, chaos, load, stress, doc
# tests), loom models, benchmarks compiled (not run), C ABI tests under ASan/UBSan and
# valgrind, Python tests (pytest + stubtest) in a virtual environment, the operations
# checks (real Prometheus parsers, manifests, alert rules), and every fuzz target for
# 30 seconds (cargo-fuzz on the nightly toolchain; `fuzz/run.sh 600` runs longer).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==== %s\n' "$*"; }

step "Rust: workspace tests"
cargo test --workspace
# The engine's `tokio` feature (TokioTimer): its tests and doc example on tokio's paused
# clock.
cargo test -p tripgate --features tokio --test calls_async
cargo test -p tripgate --features tokio --doc
# The tower layer's tests (a real axum server on 127.0.0.1) sit behind a feature.
cargo test -p tripgate-patterns --all-features
# So do the admin endpoint's (its attack suite on 127.0.0.1) and the OpenTelemetry
# bridge's. The soak (ops/tests/soak.rs: 16 threads of load, reloads, scrapes and
# attacks at once) runs by itself after them, for $TRIPGATE_SOAK_SECS (20 s), its
# figures (admission p50/p99/max, calls, transitions, reloads, scrapes) in the log.
cargo test -p tripgate-ops --all-features -- --skip soak_
TRIPGATE_SOAK_SECS="${TRIPGATE_SOAK_SECS:-20}" \
  cargo test -p tripgate-ops --all-features --test soak -- --nocapture

step "Rust: benchmarks compile (they are run by benches/run.sh, never in CI)"
# The dev profile reuses what the tests built; `benches/run.sh` builds them optimised.
cargo test -p tripgate-benches --benches --no-run
# The patterns' benches (bulkhead, hedge, chain, compose), which run.sh runs too.
cargo test -p tripgate-patterns --benches --no-run

step "Rust: loom models of the lock-free parts"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="$root/target/loom" \
  cargo test -p tripgate --release --lib --test loom --test loom_extra

if [ -f ffi/tests/run_c_tests.sh ]; then
  step "C ABI: tests under AddressSanitizer/UBSan and valgrind"
  # With a private Redis on 127.0.0.1 for the fleet tests (ffi/tests/c/test_fleet.c).
  bash fleet/with_redis.sh bash ffi/tests/run_c_tests.sh
fi

if [ -f python/run_tests.sh ]; then
  step "Python: pytest and stubtest"
  bash python/run_tests.sh
fi

if [ -f ops/run_tests.sh ]; then
  step "Operations: Prometheus exposition parsed by real parsers, manifests, alert rules"
  bash ops/run_tests.sh
fi

if [ -f fleet/run_tests.sh ]; then
  step "Fleet: replicas sharing breaker state through a private Redis on 127.0.0.1"
  bash fleet/run_tests.sh
fi

if [ -f fuzz/run.sh ]; then
  step "Fuzzing: every target for ${FUZZ_SECONDS:-30}s"
  bash fuzz/run.sh "${FUZZ_SECONDS:-30}"
fi
