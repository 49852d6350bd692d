#!/usr/bin/env bash
# Exchange figures on loopback, each with a same-run baseline (DESIGN.md, performance principles):
#   push → ack latency p50/p99 of N sequential publishes through the Ouranos adapter to the mock
#   (baseline: a trivial GET round trip to the same mock), and pulls/s from the warm pull cache,
#   one key and many keys (baseline: a raw moka get).
# Usage: scripts/bench-exchange.sh [N]    (N passports, default 500; PULL_SECS per pull figure, default 2)
set -euo pipefail
cd "$(dirname "$0")/.."

N="${1:-${N:-500}}"
PULL_SECS="${PULL_SECS:-2}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"

cargo build --release --quiet -p dpp-conformance --bin dpp-mock
cargo build --release --quiet -p dpp-gateway --example exchange_bench

log="$(mktemp)"
"$TARGET_DIR/release/dpp-mock" ouranos --listen 127.0.0.1:0 --seed-data >"$log" 2>/dev/null &
mock_pid=$!
trap 'kill "$mock_pid" 2>/dev/null || true; rm -f "$log"' EXIT

url=""
for _ in $(seq 1 100); do
  url="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -n1 || true)"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "the mock did not start" >&2; exit 1; }

echo "mock=$url cores=$(nproc) rustc=\"$(rustc --version)\""
timeout 600 "$TARGET_DIR/release/examples/exchange_bench" \
  --mock-url "$url" --n "$N" --pull-secs "$PULL_SECS"
