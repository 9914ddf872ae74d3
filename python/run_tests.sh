#!/usr/bin/env bash
# Builds the tripgate Python extension into python/.venv and runs its proof:
# pytest (tests/), mypy.stubtest on the hand-written stubs, mypy --strict on the package.
# pytest runs under fleet/with_redis.sh: a private redis-server on 127.0.0.1 (installed
# with apt when missing) for the fleet tests (tests/test_fleet.py, CircuitRedisStorage).
#
#   python/run_tests.sh            # abi3 wheel (release) + pytest + stubtest + mypy
#   python/run_tests.sh --lint     # also cargo fmt --check and clippy -D warnings
#   python/run_tests.sh --bench    # also install the peers and run bench/bench.py
#
# Needs CPython >= 3.11 with pip and venv (python3.11 preferred; override with
# PYTHON=...), and a Rust toolchain. The venv is created once and reused. Cargo output
# goes to $CARGO_TARGET_DIR when set (python/target otherwise). Exits non-zero on any
# failure.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

MATURIN_VERSION=1.16.0
PYTEST_VERSION=9.2.0
MYPY_VERSION=2.4.1
PROMETHEUS_CLIENT_VERSION=0.26.0  # tests/test_prometheus.py, mypy of tripgate.prometheus
# tests/test_http.py: tripgate.http against each client (none is a dependency of tripgate).
HTTP_CLIENTS=("httpx==0.29.0" "aiohttp==3.14.5" "requests==2.34.2" "urllib3==2.8.0")

LINT=0
BENCH=0
for arg in "$@"; do
    case "$arg" in
        --lint) LINT=1 ;;
        --bench) BENCH=1 ;;
        *) echo "usage: $0 [--lint] [--bench]" >&2; exit 2 ;;
    esac
done

if [[ -z "${PYTHON:-}" ]]; then
    if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi

VENV="$HERE/.venv"
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "==> creating $VENV with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
PY="$VENV/bin/python"
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"

echo "==> tools: maturin $MATURIN_VERSION, pytest $PYTEST_VERSION, mypy $MYPY_VERSION"
"$PY" -m pip install --quiet --disable-pip-version-check \
    "maturin==$MATURIN_VERSION" "pytest==$PYTEST_VERSION" "mypy==$MYPY_VERSION" \
    "prometheus_client==$PROMETHEUS_CLIENT_VERSION" "${HTTP_CLIENTS[@]}"

# One build: an abi3 wheel (CPython 3.11 and later), installed from the file it wrote.
WHEELS="$HERE/target/wheels-abi3"
echo "==> building the abi3 wheel (release) into $WHEELS${CARGO_TARGET_DIR:+ (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)}"
rm -rf "$WHEELS"
"$VENV/bin/maturin" build --release --features pyo3/abi3-py311 \
    --interpreter "$PY" --out "$WHEELS" --manifest-path "$HERE/Cargo.toml"
WHEEL=("$WHEELS"/tripgate-*-abi3-*.whl)
echo "==> installing ${WHEEL[0]##*/}"
"$PY" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "${WHEEL[0]}"

if [[ "$LINT" == 1 ]]; then
    echo "==> cargo fmt --check, clippy -D warnings"
    cargo fmt --manifest-path "$HERE/Cargo.toml" -- --check
    cargo clippy --manifest-path "$HERE/Cargo.toml" --all-targets -- -D warnings
fi

# The snippets `tripgate tune` prints, for tests/test_tune_snippets.py to run (built in
# the root workspace, where `cargo test --workspace` has built them already in CI).
export TRIPGATE_TUNE_SNIPPETS="$HERE/target/tune_snippets.json"
echo "==> tripgate tune's snippets (cargo run -p tripgate-cli --example snippets -- json)"
(cd "$HERE/.." && cargo run -q -p tripgate-cli --example snippets -- json) >"$TRIPGATE_TUNE_SNIPPETS"

status=0
echo "==> pytest (under fleet/with_redis.sh: a private Redis for tripgate.Fleet)"
"$HERE/../fleet/with_redis.sh" sh -c 'cd "$1" && shift && exec "$@"' sh "$HERE" \
    "$PY" -m pytest -q tests || status=1

echo "==> mypy.stubtest tripgate._core"
"$PY" -m mypy.stubtest tripgate._core || status=1

echo "==> mypy --strict python/tripgate"
"$PY" -m mypy --strict --no-incremental python/tripgate || status=1

if [[ "$BENCH" == 1 ]]; then
    echo "==> benchmark"
    "$PY" -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
    "$PY" bench/bench.py || status=1
fi

if [[ "$status" != 0 ]]; then
    echo "==> FAILED" >&2
fi
exit "$status"
