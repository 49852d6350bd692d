#!/usr/bin/env bash
# Crash test at scale: the real `dpp-mock ouranos` (30 % faults: 5xx, 429 + Retry-After, resets,
# stalls past the client's 2 s timeout, writes committed then left unanswered) and the real `dpp-gateway serve`, kill -9'ed three times
# at random points and restarted on the same data dir, while N passports (default 10000) are
# queued for delivery. Same scenario as `cargo test -p dpp-gateway --test chaos` (N=200 in CI).
#
#   scripts/chaos-delivery.sh [N]        # CHAOS_SEED=… replays a run's kill points and ids
#
# Ends with the line `delivered=… lost=… duplicated=…`; exits non-zero unless every passport
# arrived exactly once.
set -euo pipefail
cd "$(dirname "$0")/.."

N="${1:-${CHAOS_N:-10000}}"
case "$N" in
  ''|*[!0-9]*) echo "usage: $0 [N]  (N passports, a positive integer)" >&2; exit 2 ;;
esac

cargo build --release --locked -p dpp-conformance --bin dpp-mock
cargo build --release --locked -p dpp-gateway --bin dpp-gateway --test chaos

log="$(mktemp -t chaos-delivery.XXXXXX.log)"
status=0
CHAOS_N="$N" cargo test --release --locked -p dpp-gateway --test chaos -- \
  --nocapture --test-threads 1 kill_nine 2>&1 | tee "$log" || status=$?

line="$(grep -E '^delivered=[0-9]+ lost=[0-9]+ duplicated=[0-9]+$' "$log" | tail -n 1 || true)"
if [ -z "$line" ]; then
  # The run stopped before counting (a panic, a timeout): nothing is known to be delivered.
  line="delivered=0 lost=$N duplicated=0"
  if [ "$status" -eq 0 ]; then status=1; fi
fi
echo "log: $log"
echo "$line"
exit "$status"
