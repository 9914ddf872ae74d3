#!/usr/bin/env bash
# Runs a command against a private Redis: installs Debian's redis-server (and openssl)
# when missing, starts a server on 127.0.0.1 on a free port with a temporary directory
# (no persistence), runs the command from the repository root with the server's URL in
# TG_TEST_REDIS_URL, and stops the server on exit, whatever the command did.
# Nothing listens beyond loopback. (Not TRIPGATE_* names: those set breaker fields when
# a registry loads its file, and a test's loads read the process's variables.)
#
# The same server also speaks TLS on a second free port, with a throwaway CA made here
# (openssl, EC P-256, valid two days, deleted on exit): the server certificate names
# 127.0.0.1 and localhost, client certificates are checked when offered but not
# required. The command gets:
#   TG_TEST_REDIS_TLS_URL  rediss://127.0.0.1:PORT/0
#   TG_TEST_REDIS_TLS_CA   the CA certificate (PEM)
#   TG_TEST_REDIS_TLS_DIR  the folder of ca.crt, server.crt/.key and
#                          client.crt/.key (a client certificate of that CA)
#
# Usage: fleet/with_redis.sh <command> [args...]
set -euo pipefail
FLEET="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$FLEET/.." && pwd)"

command -v redis-server >/dev/null || (apt-get update && apt-get install -y redis-server)
command -v openssl >/dev/null || (apt-get update && apt-get install -y openssl)

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
port="$(free_port)"
tls_port="$(free_port)"
while [ "$tls_port" = "$port" ]; do tls_port="$(free_port)"; done
dir="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

# A CA, a server certificate and a client certificate, for the tests only.
tls="$dir/tls"
mkdir -m 700 "$tls"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -days 2 -subj "/CN=tripgate fleet test CA" \
  -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
issue() { # name, subject CN, extensions
  openssl req "${ec[@]}" -subj "/CN=$2" -keyout "$tls/$1.key" -out "$tls/$1.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=digitalSignature" "$3" >"$tls/$1.ext"
  openssl x509 -req -in "$tls/$1.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
    -CAcreateserial -days 2 -extfile "$tls/$1.ext" -out "$tls/$1.crt" 2>/dev/null
}
issue server localhost $'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost'
issue client tripgate-fleet-test extendedKeyUsage=clientAuth

redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
  --tls-port "$tls_port" --tls-cert-file "$tls/server.crt" --tls-key-file "$tls/server.key" \
  --tls-ca-cert-file "$tls/ca.crt" --tls-auth-clients optional \
  --daemonize no >"$dir/redis.log" 2>&1 &
pid=$!

tls_ping() { redis-cli --tls --cacert "$tls/ca.crt" -h 127.0.0.1 -p "$tls_port" ping 2>/dev/null; }
for _ in $(seq 1 50); do
  if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then break; fi
  sleep 0.1
done
redis-cli -h 127.0.0.1 -p "$port" ping | grep -q PONG || { echo "redis-server did not start"; cat "$dir/redis.log"; exit 1; }
tls_ping | grep -q PONG || { echo "redis-server does not answer over TLS"; cat "$dir/redis.log"; exit 1; }

echo "==> Redis on 127.0.0.1:$port (TLS on $tls_port) for: $1 ${2:-}"
cd "$ROOT"
TG_TEST_REDIS_URL="redis://127.0.0.1:$port/0" \
  TG_TEST_REDIS_TLS_URL="rediss://127.0.0.1:$tls_port/0" \
  TG_TEST_REDIS_TLS_CA="$tls/ca.crt" \
  TG_TEST_REDIS_TLS_DIR="$tls" \
  "$@"
