#!/usr/bin/env bash
# Soak: mixed API load on loopback at ~80 % of the rate measured in the same run, for MINUTES.
# Before that, one line with the gateway's RSS sampled every SOAK_SAMPLE_SECS (30) and how many
# passports the soak wrote, so growth can be told from a leak (a leak keeps climbing; caches level off).
# Ends with: errors=… requests=… rate_per_s=… max_per_s=… rss_start_kb=… rss_end_kb=…
# Usage: scripts/soak.sh [MINUTES=10]   (SOAK_WORKERS=8 client threads; SOAK_WRITES=0 for a
# read-only mix: the 10 % of new passports become reads)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}

cargo build --quiet --release -p dpp-gateway
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token="soak-admin-token-$(date +%s%N)"
DPP_GATEWAY_ADMIN_TOKEN=$token DPP_GATEWAY_LOG=warn \
    target/release/dpp-gateway serve --listen "127.0.0.1:$port" --data-dir "$dir" >"$dir/gateway.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done

python3 - "$port" "$token" "$pid" "$minutes" <<'PY'
import http.client, json, random, sys, threading, time, uuid

port, token, pid, minutes = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
import os
workers = int(os.environ.get("SOAK_WORKERS", "8"))
writes = os.environ.get("SOAK_WRITES", "1") != "0"
sample_secs = float(os.environ.get("SOAK_SAMPLE_SECS", "30"))
auth = {"Authorization": f"Bearer {token}"}

def rss_kb():
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith("VmRSS:")).split()[1])

def passport(i):
    return {
        "id": f"urn:uuid:{uuid.uuid4()}",
        "issuer": {"operatorId": "urn:example:operator:soak"},
        "product": {"name": f"Recycled PP pellets lot {i}", "country": "JP", "batch": f"B-{i}",
                    "ids": [{"scheme": "lot", "value": f"SOAK-{i}"}]},
        "materials": [{"name": "PP compound", "polymer": "PP", "massFraction": 1.0,
                       "recycledShare": {"preConsumer": 0.1, "postConsumer": 0.6}}],
    }

def request(conn, method, path, body=None, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else dict(auth)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    payload = r.read()
    return r.status, payload

seed = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
ids = []
for i in range(50):
    status, body = request(seed, "POST", "/api/v1/passports", passport(i))
    assert status == 201, (status, body)
    ids.append(json.loads(body)["id"])

# A partner reading over /partner/v1 under a field policy (redacted answers, signed per request),
# with limits high enough that the soak measures the gateway, not the bucket.
status, body = request(seed, "POST", "/api/v1/partners", {
    "name": "soak-partner", "type": "ouranos", "endpoint": "https://api.ouranos.example/",
    "settings": {"api_key": {"env": "OURANOS_API_KEY"},
                 "operator_id": "d9a38406-cae2-4679-b052-15a75f5531e8",
                 "plant_id": "d9a38406-cae2-4679-b052-15a75f5531e7",
                 "auth": {"mode": "client", "client_id": "gw", "client_secret": {"file": "/dev/null"}}},
    "policy": {"fields": {"deny": ["/product/batch"]}},
    "limits": {"requestsPerSecond": 100000, "burst": 100000, "maxConcurrent": 1000},
    "state": "trusted-unchecked"})
assert status == 201, (status, body)
status, body = request(seed, "POST", "/api/v1/partners/soak-partner/tokens")
assert status == 201, (status, body)
partner_token = json.loads(body)["token"]

lock = threading.Lock()
counts = {"requests": 0, "errors": 0}
counter = [1000]

def one(conn, rng):
    roll = rng.random()
    if roll < 0.50:
        return request(conn, "GET", f"/api/v1/passports/{rng.choice(ids)}")
    if roll < 0.55:
        return request(conn, "GET", f"/partner/v1/passports/{rng.choice(ids)}", token=partner_token)
    if roll < 0.60:
        return request(conn, "GET", f"/partner/v1/passports/{rng.choice(ids)}/signed", token=partner_token)
    if roll < 0.75:
        return request(conn, "GET", f"/api/v1/passports/{rng.choice(ids)}/signed")
    if roll < 0.85:
        return request(conn, "GET", "/api/v1/passports?polymer=PP&limit=20")
    if roll < 0.90 or not writes:
        return request(conn, "GET", "/.well-known/jwks.json")
    with lock:
        counter[0] += 1
        n = counter[0]
    return request(conn, "POST", "/api/v1/passports", passport(n))

def run(seconds, interval):
    """Each worker issues requests back to back (interval 0) or paced at `interval` s apart."""
    deadline = time.monotonic() + seconds
    def worker(k):
        rng = random.Random(k)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        next_at = time.monotonic()
        while time.monotonic() < deadline:
            try:
                status, _ = one(conn, rng)
                bad = status >= 400  # every request of the mix expects a 2xx
            except Exception:
                bad = True
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            with lock:
                counts["requests"] += 1
                counts["errors"] += int(bad)
            if interval:
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(workers)]
    for t in threads: t.start()
    for t in threads: t.join()

# 1. Maximum rate of this client + server pair, measured now.
run(10, 0)
max_rate = counts["requests"] / 10
counts.update(requests=0, errors=0)
# 2. The soak at 80 % of it.
target = 0.8 * max_rate
rss_start = rss_kb()
written_before = counter[0]
samples = []
stop = threading.Event()
def sample():
    while not stop.wait(sample_secs):
        samples.append(rss_kb())
sampler = threading.Thread(target=sample)
sampler.start()
started = time.monotonic()
run(minutes * 60, workers / target)
elapsed = time.monotonic() - started
stop.set()
sampler.join()
rss_end = rss_kb()
print(f"passports_written={counter[0] - written_before} rss_every_{sample_secs:.0f}s_kb="
      + ",".join(str(x) for x in samples))
print(f"errors={counts['errors']} requests={counts['requests']} rate_per_s={counts['requests']/elapsed:.0f} "
      f"max_per_s={max_rate:.0f} rss_start_kb={rss_start} rss_end_kb={rss_end}")
PY
