#!/usr/bin/env bash
# The fleet crate's tests against a real Redis (fleet/with_redis.sh starts a private
# one on 127.0.0.1, with a TLS port and a throwaway CA, and stops it after). Without
# TRIPGATE_FLEET_REDIS_URL and TRIPGATE_FLEET_REDIS_TLS_URL (plain
# `cargo test --workspace`) the Redis suites print a notice and skip.
set -euo pipefail
exec bash "$(dirname "$0")/with_redis.sh" cargo test -p tripgate-fleet
