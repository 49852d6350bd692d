//! Graceful shutdown of the real binary: `dpp-gateway serve` delivering to the real `dpp-mock
//! ouranos` (slowed down by its injected latency) gets `SIGTERM` while deliveries are in flight.
//!
//! - With a grace period longer than a delivery, the deliveries in flight finish and are recorded
//!   `delivered`; nothing new is claimed, even while a slow upload keeps the HTTP drain open
//!   longer than a delivery takes; the process exits 0 on its own.
//! - With a grace period shorter than a delivery, the process exits 0 promptly and the unfinished
//!   items are back in the outbox — `queued`, due at once, no lease held, their attempt counted —
//!   so a restarted gateway delivers them at once, not after the lease, and exactly once.
//!
//! - A second SIGTERM during the grace aborts what runs and exits at once, items back in the queue.
//!
//! Either way the listener closes as soon as the signal arrives: new connections are refused while
//! deliveries drain, and after the exit. The outbox is read from the SQLite file, read-only, after
//! the process is gone.

mod process_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use process_support::{
    ADMIN, GatewayProcess, MockClient, Processes, Tally, create_and_queue, ouranos_partner,
    pellet_lot, set_mock_faults, start_mock, tally, write_until_taken,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, Row};

const PARTNER: &str = "ouranos-sigterm";
/// Passports queued per test.
const N: usize = 20;

/// One outbox row, as the database holds it.
#[derive(Debug, Clone)]
struct OutboxRow {
    passport: String,
    state: String,
    attempts: i64,
    next_attempt_at: i64,
    lease_owner: Option<String>,
    lease_until: Option<i64>,
    remote_id: Option<String>,
}

/// Every outbox row by passport id, read from the gateway's SQLite file opened read-only.
async fn outbox_rows(db: &Path) -> BTreeMap<String, OutboxRow> {
    let url = format!("sqlite://{}?mode=ro", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot open {} read-only: {e}", db.display()));
    let rows = sqlx::query(
        "SELECT passport_id, state, attempts, next_attempt_at, lease_owner, lease_until, \
         remote_id FROM outbox",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let rows: BTreeMap<String, OutboxRow> = rows
        .iter()
        .map(|r| {
            let row = OutboxRow {
                passport: r.get("passport_id"),
                state: r.get("state"),
                attempts: r.get("attempts"),
                next_attempt_at: r.get("next_attempt_at"),
                lease_owner: r.get("lease_owner"),
                lease_until: r.get("lease_until"),
                remote_id: r.get("remote_id"),
            };
            (row.passport.clone(), row)
        })
        .collect();
    assert_eq!(rows.len(), N, "one outbox row per passport: {rows:#?}");
    rows
}

/// No row is `in-flight` and none holds a lease: nothing waits for a lease to run out.
fn assert_no_lease_held(rows: &BTreeMap<String, OutboxRow>) {
    let held: Vec<&OutboxRow> = rows
        .values()
        .filter(|r| r.state == "in-flight" || r.lease_owner.is_some() || r.lease_until.is_some())
        .collect();
    assert!(
        held.is_empty(),
        "after the gateway exited, {} outbox rows are still in flight or leased: {held:#?}",
        held.len()
    );
}

fn now_millis() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// A mock, a gateway with `delivery` as its `[delivery]` table, and the mock registered as a
/// partner.
struct Setup {
    http: reqwest::Client,
    mock_url: String,
    mock: MockClient,
    gateway: GatewayProcess,
    // Dropped after the gateway: the mock outlives it, the dir outlives both.
    _processes: Processes,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn start(delivery: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let mut processes = Processes::default();
        // No faults yet: the latency is set once the partner is registered.
        let mock_url = start_mock(&mut processes, &[], &dir.path().join("mock.log"));
        let mock = MockClient::login(&http, &mock_url).await;
        let (operator_id, plant_id) = mock.operator_and_plant().await;
        let mut gateway = GatewayProcess::new(dir.path(), delivery);
        gateway.start(&http).await;
        let partner = ouranos_partner(dir.path(), PARTNER, &mock_url, &operator_id, &plant_id);
        write_until_taken(
            &http,
            &gateway.base,
            "/api/v1/partners",
            "sigterm-partner",
            &partner,
            StatusCode::CREATED,
        )
        .await;
        Setup {
            http,
            mock_url,
            mock,
            gateway,
            _processes: processes,
            _dir: dir,
        }
    }

    async fn set_latency(&self, latency_ms: u64) {
        set_mock_faults(
            &self.http,
            &self.mock_url,
            &json!({ "latency_ms": latency_ms }),
        )
        .await;
    }

    /// Creates `N` passports and queues each for the partner; their ids.
    async fn queue_passports(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for i in 0..N {
            let uuid = uuid::Uuid::new_v4();
            let id = format!("urn:uuid:{uuid}");
            let doc = pellet_lot(i, uuid);
            let prefix = format!("sigterm-{uuid}");
            create_and_queue(&self.http, &self.gateway.base, PARTNER, &id, &doc, &prefix).await;
            ids.push(id);
        }
        ids
    }

    /// Passport ids of the exchanges in state `state`, over the API.
    async fn exchanges_in(&self, state: &str) -> BTreeSet<String> {
        let page: Value = self
            .http
            .get(format!(
                "{}/api/v1/exchanges?state={state}&limit=500",
                self.gateway.base
            ))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page["items"]
            .as_array()
            .unwrap_or_else(|| panic!("GET /exchanges?state={state}: {page}"))
            .iter()
            .map(|item| item["passportId"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Waits until at least `wanted` exchanges are in flight; their passport ids.
    async fn wait_in_flight(&self, wanted: usize) -> BTreeSet<String> {
        let started = Instant::now();
        loop {
            let in_flight = self.exchanges_in("in-flight").await;
            if in_flight.len() >= wanted {
                return in_flight;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "fewer than {wanted} exchanges in flight after 60 s: {in_flight:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends SIGTERM, then waits until a new connection is refused (the listener is closed).
    /// Whether the process was still running at that moment.
    async fn terminate_and_see_listener_closed(&mut self) -> bool {
        self.gateway.terminate();
        let started = Instant::now();
        loop {
            match self.fresh_request().await {
                Err(e) if e.is_connect() => return self.gateway.running(),
                // A connection the kernel queued just before the listener closed is dropped
                // unanswered: the transition itself; the next attempt is refused outright.
                Err(_) | Ok(_) => {}
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "dpp-gateway still accepts new connections 15 s after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `GET /readyz` on a new connection (no pooled keep-alive connection is reused).
    async fn fresh_request(&self) -> reqwest::Result<reqwest::Response> {
        reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
            .get(format!("{}/readyz", self.gateway.base))
            .send()
            .await
    }

    /// After the exit: the port refuses connections.
    async fn assert_port_closed(&self) {
        match self.fresh_request().await {
            Err(e) => assert!(e.is_connect(), "expected a refused connection, got {e:?}"),
            Ok(r) => panic!("the exited gateway's port still answers: {}", r.status()),
        }
    }
}

/// Opens a connection and starts a `POST /api/v1/passports` whose body arrives one byte every
/// 200 ms for `duration`: a request in flight for that long.
async fn slow_upload(base: &str, duration: Duration) -> tokio::task::JoinHandle<()> {
    use tokio::io::AsyncWriteExt;
    let addr = base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/passports HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n["
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::spawn(async move {
        let until = Instant::now() + duration;
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if stream.write_all(b" ").await.is_err() {
                return;
            }
        }
    })
}

/// The `[delivery]` table of these tests: `concurrency` slots (and batch), a 600 s lease (so
/// nothing comes back by expiry during a test), fast retries, and `grace_secs`.
fn delivery(concurrency: usize, grace_secs: u64) -> String {
    format!(
        "concurrency = {concurrency}\n\
         batch = {concurrency}\n\
         poll_interval_ms = 50\n\
         lease_secs = {LEASE_SECS}\n\
         max_attempts = 10\n\
         backoff_base_ms = 20\n\
         backoff_max_ms = 500\n\
         shutdown_grace_secs = {grace_secs}\n"
    )
}

/// The lease of every test here.
const LEASE_SECS: u64 = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_with_a_long_grace_finishes_the_deliveries_in_flight() {
    const GRACE_SECS: u64 = 30;
    const CONCURRENCY: usize = 4;
    let mut s = Setup::start(&delivery(CONCURRENCY, GRACE_SECS)).await;
    // Every call to the mock (token, parts, structure, CFP) takes 2 s: a delivery takes seconds.
    s.set_latency(2_000).await;
    let ids = s.queue_passports().await;
    let in_flight = s.wait_in_flight(1).await;
    // A client uploading a body slowly keeps the HTTP drain going for 16 s, longer than a
    // delivery: the worker must stop claiming at SIGTERM all the same, not when the drain ends.
    let slow_upload = slow_upload(&s.gateway.base, Duration::from_secs(16)).await;

    let sigterm = Instant::now();
    let running_when_refused = s.terminate_and_see_listener_closed().await;
    let refused_after = sigterm.elapsed();
    assert!(
        running_when_refused,
        "the listener should close at SIGTERM, while deliveries still drain; the process had \
         already exited:\n{}",
        process_support::tail(&s.gateway.log)
    );
    let status = s
        .gateway
        .wait_exit(Duration::from_secs(GRACE_SECS + 30))
        .await;
    let exited_after = sigterm.elapsed();
    assert!(
        status.success(),
        "dpp-gateway exited with {status} after SIGTERM:\n{}",
        process_support::tail(&s.gateway.log)
    );
    s.assert_port_closed().await;
    println!(
        "sigterm (grace {GRACE_SECS} s): {} in flight at SIGTERM; new connections refused after \
         {refused_after:.1?}; exited after {exited_after:.1?}",
        in_flight.len()
    );

    let rows = outbox_rows(&s.gateway.database()).await;
    assert_no_lease_held(&rows);
    for passport in &in_flight {
        let row = &rows[passport];
        assert_eq!(
            (row.state.as_str(), row.attempts),
            ("delivered", 1),
            "in flight at SIGTERM, so finished within the grace: {row:#?}"
        );
        assert!(row.remote_id.is_some(), "{row:#?}");
    }
    // The worker stopped claiming at SIGTERM: what it had not started is untouched.
    let (delivered, rest): (Vec<&OutboxRow>, Vec<&OutboxRow>) =
        rows.values().partition(|r| r.state == "delivered");
    assert!(
        delivered.len() <= CONCURRENCY,
        "{} delivered with {CONCURRENCY} delivery slots: items were claimed after SIGTERM, \
         while the HTTP drain ran",
        delivered.len()
    );
    assert!(
        exited_after >= Duration::from_secs(10),
        "the slow upload should have held the HTTP drain open, but the process exited after \
         {exited_after:?}"
    );
    slow_upload.abort();
    for row in &rest {
        assert_eq!(
            (row.state.as_str(), row.attempts),
            ("queued", 0),
            "not delivered, so never claimed: {row:#?}"
        );
    }
    assert!(
        !rest.is_empty(),
        "all {N} delivered: SIGTERM came too late to show that claiming stops"
    );

    // The mock holds exactly the delivered ones, once each, under the recorded remote id.
    s.set_latency(0).await;
    let records = s.mock.passport_records().await;
    let delivered_ids: Vec<String> = delivered.iter().map(|r| r.passport.clone()).collect();
    let exchanges: Vec<(String, String, Option<String>)> = rows
        .values()
        .map(|r| (r.passport.clone(), r.state.clone(), r.remote_id.clone()))
        .collect();
    assert_eq!(
        tally(&delivered_ids, &exchanges, &records),
        Tally {
            delivered: delivered.len(),
            lost: 0,
            duplicated: 0
        }
    );
    assert_eq!(
        records.len(),
        delivered.len(),
        "the mock holds only the delivered passports"
    );
    assert!(ids.iter().all(|id| rows.contains_key(id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_with_a_short_grace_returns_unfinished_items_and_a_restart_delivers_them_once() {
    const CONCURRENCY: usize = 8;
    let mut s = Setup::start(&delivery(CONCURRENCY, 1)).await;
    // Every call to the mock takes 5 s, longer than the 1 s grace: no delivery can finish.
    s.set_latency(5_000).await;
    let ids = s.queue_passports().await;
    let in_flight = s.wait_in_flight(CONCURRENCY).await;

    let sigterm_at = now_millis();
    let sigterm = Instant::now();
    s.terminate_and_see_listener_closed().await;
    let status = s.gateway.wait_exit(Duration::from_secs(30)).await;
    let exited_after = sigterm.elapsed();
    let exited_at = now_millis();
    assert!(
        status.success(),
        "dpp-gateway exited with {status} after SIGTERM:\n{}",
        process_support::tail(&s.gateway.log)
    );
    s.assert_port_closed().await;
    println!(
        "sigterm (grace 1 s, lease {LEASE_SECS} s): {} in flight at SIGTERM; exited after \
         {exited_after:.1?}",
        in_flight.len()
    );

    // `release_leases`: back to `queued`, lease cleared, due at the moment of release; the
    // attempt counted when it was claimed stays counted. Items never claimed are untouched.
    let rows = outbox_rows(&s.gateway.database()).await;
    assert_no_lease_held(&rows);
    for row in rows.values() {
        let was_in_flight = in_flight.contains(&row.passport);
        assert_eq!(row.state, "queued", "{row:#?}");
        assert_eq!(row.remote_id, None, "{row:#?}");
        assert_eq!(row.attempts, i64::from(was_in_flight), "{row:#?}");
        if was_in_flight {
            assert!(
                (sigterm_at..=exited_at).contains(&row.next_attempt_at),
                "a returned item is due from its release, between SIGTERM ({sigterm_at}) and the \
                 exit ({exited_at}): {row:#?}"
            );
        } else {
            assert!(row.next_attempt_at < sigterm_at, "{row:#?}");
        }
    }

    // Restart on the same data dir with a fast mock: the returned items are claimed at once, so
    // everything is delivered long before the 600 s lease could have run out.
    s.set_latency(0).await;
    let restarted = Instant::now();
    s.gateway.start(&s.http).await;
    loop {
        let delivered = s.exchanges_in("delivered").await;
        if delivered.len() == N {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(120),
            "after the restart only {} of {N} delivered in 120 s (the lease is {LEASE_SECS} s):\n{}",
            delivered.len(),
            process_support::tail(&s.gateway.log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivered_after = restarted.elapsed();
    s.terminate_and_see_listener_closed().await;
    let status = s.gateway.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "second SIGTERM: exit {status}");
    println!("restart: all {N} delivered {delivered_after:.1?} after the restart");

    let rows = outbox_rows(&s.gateway.database()).await;
    assert_no_lease_held(&rows);
    for row in rows.values() {
        // One aborted attempt before the restart for those in flight, then one that succeeded.
        let expected = 1 + i64::from(in_flight.contains(&row.passport));
        assert_eq!(
            (row.state.as_str(), row.attempts),
            ("delivered", expected),
            "{row:#?}"
        );
    }
    let records = s.mock.passport_records().await;
    let exchanges: Vec<(String, String, Option<String>)> = rows
        .values()
        .map(|r| (r.passport.clone(), r.state.clone(), r.remote_id.clone()))
        .collect();
    assert_eq!(
        tally(&ids, &exchanges, &records),
        Tally {
            delivered: N,
            lost: 0,
            duplicated: 0
        }
    );
    assert_eq!(records.len(), N, "the mock holds nothing else of ours");
    let stats: Value = s
        .http
        .get(format!("{}/__admin/stats", s.mock_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["validation_failures"], 0, "{stats}");
}

/// A second SIGTERM during the grace stops at once: the operator (or an orchestrator that
/// escalates) does not wait out a long grace, and nothing is left leased.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_sigterm_cuts_the_grace_short_and_returns_the_items() {
    const GRACE_SECS: u64 = 60;
    const CONCURRENCY: usize = 4;
    let mut s = Setup::start(&delivery(CONCURRENCY, GRACE_SECS)).await;
    // Every call takes 5 s: the deliveries in flight would hold the 60 s grace for a while.
    s.set_latency(5_000).await;
    s.queue_passports().await;
    let in_flight = s.wait_in_flight(CONCURRENCY).await;

    let sigterm = Instant::now();
    s.terminate_and_see_listener_closed().await;
    // The first signal alone does not stop the deliveries: still running a moment later.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        s.gateway.running(),
        "the first SIGTERM should start the grace, not end the process:\n{}",
        process_support::tail(&s.gateway.log)
    );
    s.gateway.terminate();
    let status = s.gateway.wait_exit(Duration::from_secs(30)).await;
    let exited_after = sigterm.elapsed();
    assert!(
        status.success(),
        "dpp-gateway exited with {status} after two SIGTERMs:\n{}",
        process_support::tail(&s.gateway.log)
    );
    assert!(
        exited_after < Duration::from_secs(GRACE_SECS / 2),
        "the second SIGTERM should end the {GRACE_SECS} s grace at once; exited after \
         {exited_after:?}"
    );
    let rows = outbox_rows(&s.gateway.database()).await;
    assert_no_lease_held(&rows);
    for passport in &in_flight {
        let row = &rows[passport];
        assert_eq!(
            (row.state.as_str(), row.attempts),
            ("queued", 1),
            "aborted in flight, so back in the queue with its attempt counted: {row:#?}"
        );
    }
    println!(
        "two SIGTERMs (grace {GRACE_SECS} s): {} in flight, exited after {exited_after:.1?}",
        in_flight.len()
    );
}
