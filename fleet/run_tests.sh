#!/usr/bin/env bash
# The fleet crate's tests against a real Redis: installs Debian's redis-server when
# missing, starts a private server on 127.0.0.1 on a free port with a temporary
# directory (no persistence), runs `cargo test -p tripgate-fleet` with its URL in
# TRIPGATE_FLEET_REDIS_URL, and stops the server on exit. Nothing listens beyond
# loopback. Without the variable (plain `cargo test --workspace`) the Redis suites
# print a notice and skip.
set -euo pipefail
FLEET="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$FLEET/.." && pwd)"

command -v redis-server >/dev/null || (apt-get update && apt-get install -y redis-server)

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
dir="$(mktemp -d)"
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
  --daemonize no >"$dir/redis.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

for _ in $(seq 1 50); do
  if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then break; fi
  sleep 0.1
done
redis-cli -h 127.0.0.1 -p "$port" ping | grep -q PONG || { echo "redis-server did not start"; cat "$dir/redis.log"; exit 1; }

echo "==> cargo test -p tripgate-fleet (Redis on 127.0.0.1:$port)"
cd "$ROOT"
TRIPGATE_FLEET_REDIS_URL="redis://127.0.0.1:$port/0" cargo test -p tripgate-fleet
