#!/usr/bin/env bash
# The checks of tripgate-ops that are not `cargo test`:
#  1. ops/tests/check_exposition.sh — the exposition through prometheus_client's parser
#     (and promtool check metrics);
#  2. deploy/check.sh — manifests parse, alert metric names exist, promtool check/test rules;
#  3. the example service runs (2 s) and scrapes its own admin endpoint over loopback.
# deploy/check.sh runs first: it installs promtool when missing, so step 1 uses it too.
# The Rust tests: cargo test -p tripgate-ops --all-features
# Exits non-zero on the first failure.
set -euo pipefail
OPS="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$OPS/.." && pwd)"
echo "==> deploy/check.sh"
bash "$ROOT/deploy/check.sh"
echo "==> ops/tests/check_exposition.sh"
bash "$OPS/tests/check_exposition.sh"
echo "==> example service (2 s smoke run, admin endpoint on 127.0.0.1)"
OUT="$(cd "$ROOT" && TRIPGATE_ADMIN_ADDR=127.0.0.1:0 cargo run -q -p tripgate-ops --features admin --example service -- --seconds 2)"
echo "$OUT" | tail -4
echo "$OUT" | grep -q '^  scraped http://127.0.0.1:' || { echo "example service: no scrape"; exit 1; }
echo "$OUT" | grep -q 'tripgate_breaker_state{name="database"}' || { echo "example service: no database breaker"; exit 1; }
echo "ops: 3 passed, 0 failed"
