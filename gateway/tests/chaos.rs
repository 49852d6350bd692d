//! Crash test with real processes: the `dpp-mock ouranos` binary injecting 30 % faults (5xx, 429
//! with `Retry-After`, connection resets, stalls past the client's timeout, writes committed and
//! then left unanswered), and the
//! `dpp-gateway serve` binary, `kill -9`ed three times at random points and restarted on the same
//! data dir, while a client queues `CHAOS_N` passports (default 200) for delivery, retrying every
//! write under its `Idempotency-Key`. At the end the mock must hold every passport exactly once
//! and the gateway's outbox must show each one delivered, by one exchange.
//!
//! `CHAOS_SEED` replays a run (the seed is printed); `scripts/chaos-delivery.sh N` runs large N.

mod process_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dpp_gateway::store::{OutboxState, Store};
use process_support::{
    ADMIN, GatewayProcess, MockClient, Processes, Tally, create_and_queue, ouranos_partner,
    pellet_lot, start_mock, tally, write_until_taken,
};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const PARTNER: &str = "ouranos-chaos";
const KILLS: usize = 3;
/// Clients queueing passports at once.
const PRODUCERS: usize = 8;

/// splitmix64: small, seedable, good enough to place kills and make ids.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }

    fn uuid(&mut self) -> uuid::Uuid {
        let bytes = (u128::from(self.next()) << 64 | u128::from(self.next())).to_le_bytes();
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

/// Short leases and backoff: items a killed gateway held come back within seconds. A partner
/// call times out after 2 s (`[http]`), so the mock's 2.5 s stalls are timeouts; a delivery (five
/// calls) outlives its 10 s lease only if every call stalls.
const DELIVERY: &str = "concurrency = 32\n\
                        batch = 32\n\
                        poll_interval_ms = 50\n\
                        lease_secs = 10\n\
                        max_attempts = 1000\n\
                        backoff_base_ms = 20\n\
                        backoff_max_ms = 500\n\
                        shutdown_grace_secs = 1\n\
                        [http]\n\
                        timeout_secs = 2\n";

/// The mock's 30 % faults, seeded.
fn mock_faults(seed: u64) -> Vec<String> {
    format!(
        "--error-rate 0.08 --error-status 503 --rate-limit-429 0.06 --retry-after 1 \
         --reset-rate 0.06 --drop-after-commit-rate 0.05 --stall-rate 0.05 --stall-ms 2500 \
         --seed {seed}"
    )
    .split_whitespace()
    .map(str::to_owned)
    .collect()
}

#[test]
fn the_tally_sees_a_loss_and_a_duplicate() {
    let p = |s: &str| s.to_owned();
    let passports = vec![p("a"), p("b"), p("c"), p("d")];
    let delivered = |id: &str, t: &str| (p(id), p("delivered"), Some(p(t)));
    let exchanges = vec![
        delivered("a", "t1"),
        delivered("b", "t2"),
        delivered("c", "t3"),
        delivered("c", "t3"),
        (p("d"), p("failed"), None),
    ];
    let records = vec![(p("a"), p("t1")), (p("c"), p("t3"))];
    assert_eq!(
        tally(&passports, &exchanges, &records),
        Tally {
            delivered: 1,
            lost: 2,
            duplicated: 1
        }
    );
    let twin = vec![(p("a"), p("t1")), (p("a"), p("t9"))];
    assert_eq!(tally(&passports[..1], &exchanges[..1], &twin).duplicated, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_nine_three_times_under_thirty_percent_faults_loses_and_duplicates_nothing() {
    let n: usize = std::env::var("CHAOS_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let seed: u64 = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("chaos: N={n} seed={seed} (CHAOS_SEED={seed} replays the kill points and ids)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut processes = Processes::default();
    let mock_url = start_mock(
        &mut processes,
        &mock_faults(seed),
        &dir.path().join("mock.log"),
    );
    let mock = MockClient::login(&http, &mock_url).await;
    let (operator_id, plant_id) = mock.operator_and_plant().await;

    let mut gateway = GatewayProcess::new(dir.path(), DELIVERY);
    gateway.start(&http).await;
    let base = gateway.base.clone();
    let partner = ouranos_partner(dir.path(), PARTNER, &mock_url, &operator_id, &plant_id);
    let partner_key = format!("chaos-{seed}-partner");
    write_until_taken(
        &http,
        &base,
        "/api/v1/partners",
        &partner_key,
        &partner,
        StatusCode::CREATED,
    )
    .await;
    // Progress is read from the gateway's database (a second reader of the SQLite file).
    let store = Store::open_in_dir(&gateway.data_dir).await.unwrap();

    let ids: Arc<Vec<String>> =
        Arc::new((0..n).map(|_| format!("urn:uuid:{}", rng.uuid())).collect());
    // Kill points on the progress scale queued + delivered (0 ..= 2N), strictly increasing.
    let mut kill_at: Vec<u64> = (0..KILLS)
        .map(|_| rng.range(2 * n as u64 / 20, 2 * n as u64 * 19 / 20))
        .collect();
    kill_at.sort_unstable();
    for i in 1..KILLS {
        kill_at[i] = kill_at[i].max(kill_at[i - 1] + 1);
    }
    println!("chaos: kill -9 at progress {kill_at:?} of {}", 2 * n);

    let started = Instant::now();
    let queued = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let mut producers = tokio::task::JoinSet::new();
    for _ in 0..PRODUCERS {
        let (http, base, ids, queued, next) = (
            http.clone(),
            base.clone(),
            ids.clone(),
            queued.clone(),
            next.clone(),
        );
        producers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(id) = ids.get(i) else { break };
                let doc = pellet_lot(i, id.trim_start_matches("urn:uuid:").parse().unwrap());
                let prefix = format!("chaos-{seed}-{i}");
                create_and_queue(&http, &base, PARTNER, id, &doc, &prefix).await;
                queued.fetch_add(1, Ordering::SeqCst);
            }
        });
    }

    let delivered_now = || async {
        store
            .outbox_counts(None)
            .await
            .map(|counts| {
                counts
                    .iter()
                    .filter(|(s, _)| *s == OutboxState::Delivered)
                    .map(|(_, c)| *c as u64)
                    .sum::<u64>()
            })
            .unwrap_or(0)
    };
    let deadline = Duration::from_secs(180 + n as u64 / 10);
    for (k, point) in kill_at.iter().enumerate() {
        loop {
            let progress = queued.load(Ordering::SeqCst) as u64 + delivered_now().await;
            if progress >= *point {
                break;
            }
            assert!(
                started.elapsed() < deadline,
                "no progress to kill point {point}"
            );
            tokio::time::sleep(Duration::from_millis(rng.range(1, 40))).await;
        }
        gateway.kill();
        println!(
            "chaos: kill -9 #{} at {:.1?}: {} queued, {} delivered",
            k + 1,
            started.elapsed(),
            queued.load(Ordering::SeqCst),
            delivered_now().await
        );
        tokio::time::sleep(Duration::from_millis(rng.range(0, 500))).await;
        gateway.start(&http).await;
    }
    while let Some(done) = producers.join_next().await {
        done.unwrap();
    }
    let written = started.elapsed();

    // Let the outbox settle: nothing queued, in flight or waiting for a retry.
    loop {
        let counts = store.outbox_counts(None).await.unwrap();
        let busy = counts.iter().any(|(s, c)| {
            *c > 0
                && matches!(
                    s,
                    OutboxState::Queued | OutboxState::InFlight | OutboxState::Failed
                )
        });
        if !busy {
            break;
        }
        assert!(
            started.elapsed() < deadline,
            "outbox not settled: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();

    // The gateway's word, over its API: every exchange with its state and remote record.
    let mut exchanges = Vec::new();
    let mut delivered_listed = 0;
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/exchanges?partner={PARTNER}&limit=500");
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let page: Value = http
            .request(Method::GET, url)
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for item in page["items"].as_array().unwrap() {
            exchanges.push((
                item["passportId"].as_str().unwrap().to_owned(),
                item["state"].as_str().unwrap().to_owned(),
                item["remoteId"].as_str().map(str::to_owned),
            ));
        }
        match page["nextCursor"].as_str() {
            Some(c) => after = Some(c.to_owned()),
            None => break,
        }
    }
    after = None;
    loop {
        let mut url = format!("{base}/api/v1/exchanges?state=delivered&limit=500");
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let page: Value = http
            .get(url)
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        delivered_listed += page["items"].as_array().unwrap().len();
        match page["nextCursor"].as_str() {
            Some(c) => after = Some(c.to_owned()),
            None => break,
        }
    }

    // The mock's word, over its API: the parent part of each passport (partsAddInfo1 = id).
    let records = mock.passport_records().await;
    let stats: Value = http
        .get(format!("{mock_url}/__admin/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let verdict = tally(&ids, &exchanges, &records);
    let faults = &stats["faults"];
    println!(
        "chaos: {n} passports, {} gateway starts, queued in {written:.1?}, settled in {elapsed:.1?}; \
         mock: {} requests, faults: {} 5xx, {} 429, {} resets, {} stalls past the timeout, {} \
         dropped after commit",
        gateway.starts,
        stats["requests"],
        faults["errors"],
        faults["rate_limited"],
        faults["resets"],
        faults["stalled"],
        faults["dropped_after_commit"],
    );
    // Every kind of fault really happened (a stale mock binary would not stall, for one).
    for kind in [
        "errors",
        "rate_limited",
        "resets",
        "stalled",
        "dropped_after_commit",
    ] {
        assert!(
            faults[kind].as_u64().unwrap_or(0) > 0,
            "the mock injected no {kind}: {faults}"
        );
    }
    println!(
        "delivered={} lost={} duplicated={}",
        verdict.delivered, verdict.lost, verdict.duplicated
    );
    assert_eq!(gateway.starts, KILLS + 1);
    assert_eq!(
        verdict,
        Tally {
            delivered: n,
            lost: 0,
            duplicated: 0
        }
    );
    assert_eq!(exchanges.len(), n, "one exchange per passport");
    assert_eq!(
        delivered_listed, n,
        "GET /exchanges?state=delivered lists all"
    );
    assert_eq!(records.len(), n, "the mock holds nothing else of ours");
    assert!(faults["errors"].as_u64().unwrap() > 0, "{stats}");
    assert!(faults["resets"].as_u64().unwrap() > 0, "{stats}");
    assert!(
        faults["dropped_after_commit"].as_u64().unwrap() > 0,
        "{stats}"
    );
    assert_eq!(stats["validation_failures"], 0, "{stats}");
}
