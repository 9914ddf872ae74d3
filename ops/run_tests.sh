#!/usr/bin/env bash
# The checks of tripgate-ops that are not `cargo test`:
#  1. ops/tests/check_exposition.sh — the exposition through prometheus_client's parser
#     (and promtool check metrics);
#  2. deploy/check.sh — manifests parse, alert metric names exist, promtool check/test rules.
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
echo "ops: 2 passed, 0 failed"
