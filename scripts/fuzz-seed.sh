#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ with realistic inputs taken from a running demo gateway: the seeded
# passports, their trace events and their signed (JWS) forms.
set -euo pipefail
cd "$(dirname "$0")/.."

# DPP_GATEWAY_BIN=target/debug/dpp-gateway skips the release build.
bin=${DPP_GATEWAY_BIN:-target/release/dpp-gateway}
[[ -n "${DPP_GATEWAY_BIN:-}" ]] || cargo build --quiet --release -p dpp-gateway
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
"$bin" demo --listen "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 300); do
    grep -q "Serving until Ctrl-C" "$log" && break
    sleep 0.2
done
reader=$(sed -n 's/.*reader \([^ ]*\)$/\1/p' "$log" | head -n 1)
[[ -n "$reader" ]] || { echo "demo did not start:" >&2; cat "$log" >&2; exit 1; }
base="http://127.0.0.1:$port"
get() { curl -fsS -H "Authorization: Bearer $reader" "$base$1"; }

mkdir -p fuzz/corpus/{passport_ingest,trace_import,jws_verify,ouranos_inbound}
ids=$(get "/api/v1/passports?limit=100" | python3 -c 'import json,sys; print("\n".join(p["id"] for p in json.load(sys.stdin)["items"]))')
n=0
for id in $ids; do
    n=$((n + 1))
    get "/api/v1/passports/$id" >"fuzz/corpus/passport_ingest/passport-$n.json"
    get "/api/v1/passports/$id/signed" >"fuzz/corpus/jws_verify/jws-$n.txt"
    get "/api/v1/passports/$id/lineage?direction=both" |
        python3 -c 'import json,sys; [print(e["eventId"]) for e in json.load(sys.stdin)["edges"]]' |
        sort -u | while read -r event; do
            get "/api/v1/trace-events/$event" >"fuzz/corpus/trace_import/event-${event##*:}.json"
        done
done
echo '{"parent":{"traceId":"00000000-0000-4000-8000-000000000001","partsName":"x","plantId":"p","operatorId":"o"},"children":[],"cfp":[]}' \
    >fuzz/corpus/ouranos_inbound/minimal.json
echo "seeded $(find fuzz/corpus -type f | wc -l) files under fuzz/corpus/"
