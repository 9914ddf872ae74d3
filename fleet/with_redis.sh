#!/usr/bin/env bash
# Runs a command against a private Redis: installs Debian's redis-server when missing,
# starts a server on 127.0.0.1 on a free port with a temporary directory (no
# persistence), runs the command from the repository root with the server's URL in
# TG_TEST_REDIS_URL, and stops the server on exit, whatever the command did.
# Nothing listens beyond loopback. (Not a TRIPGATE_* name: those set breaker fields when
# a registry loads its file, and a test's loads read the process's variables.)
#
# Usage: fleet/with_redis.sh <command> [args...]
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

echo "==> Redis on 127.0.0.1:$port for: $1 ${2:-}"
cd "$ROOT"
TG_TEST_REDIS_URL="redis://127.0.0.1:$port/0" "$@"
