#!/usr/bin/env bash
# The fleet's tests against a real Redis (fleet/with_redis.sh starts a private one on
# 127.0.0.1, with a TLS port and a throwaway CA, and stops it after): the fleet crate's
# suites, then the ops registry's fleet mode (a `fleet` table in its config file).
# Without TG_TEST_REDIS_URL and TG_TEST_REDIS_TLS_URL (plain `cargo test --workspace`)
# the Redis suites print a notice and skip. The C library's fleet tests run with the C
# tests (scripts/test.sh runs them under with_redis.sh too).
set -euo pipefail
exec bash "$(dirname "$0")/with_redis.sh" bash -c \
  'cargo test -p tripgate-fleet && cargo test -p tripgate-ops --features fleet --test fleet'
