#!/usr/bin/env bash
# Parses tripgate-ops' Prometheus exposition with real parsers:
#  - prometheus_client's text_string_to_metric_families (pinned, in ops/.venv, created once);
#  - promtool check metrics, when promtool is installed (deploy/check.sh installs it).
# Exits non-zero on any failure.
set -euo pipefail
OPS="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
PROMETHEUS_CLIENT_VERSION="0.26.0"
VENV="$OPS/.venv"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('prometheus_client') != '$PROMETHEUS_CLIENT_VERSION')" 2>/dev/null; then
    "$VENV/bin/pip" install -q "prometheus_client==$PROMETHEUS_CLIENT_VERSION"
fi
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
(cd "$OPS/.." && cargo run -q -p tripgate-ops --example exposition) > "$OUT"
"$VENV/bin/python" "$OPS/tests/check_exposition.py" "$OUT"
if command -v promtool >/dev/null 2>&1; then
    # promtool lints too; an empty lint report passes. Lint warnings are printed and
    # fail the check, as promtool exits 3 on them.
    promtool check metrics < "$OUT"
    echo "exposition ok: promtool check metrics"
else
    echo "promtool not installed: skipped promtool check metrics (deploy/check.sh installs it)"
fi
