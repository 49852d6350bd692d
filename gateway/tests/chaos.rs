//! Crash test with real processes: the `dpp-mock ouranos` binary injecting 30 % faults (5xx, 429
//! with `Retry-After`, connection resets, writes committed and then left unanswered), and the
//! `dpp-gateway serve` binary, `kill -9`ed three times at random points and restarted on the same
//! data dir, while a client queues `CHAOS_N` passports (default 200) for delivery, retrying every
//! write under its `Idempotency-Key`. At the end the mock must hold every passport exactly once
//! and the gateway's outbox must show each one delivered, by one exchange.
//!
//! `CHAOS_SEED` replays a run (the seed is printed); `scripts/chaos-delivery.sh N` runs large N.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dpp_gateway::store::{OutboxState, Store};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ADMIN: &str = "chaos-admin-token-0123456789abcdef";
const API_KEY: &str = "chaos-mock-api-key";
const CLIENT_ID: &str = "gateway";
const CLIENT_SECRET: &str = "chaos-client-secret-0123";
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

/// Kills the child processes it holds when the test ends, passed or not.
#[derive(Default)]
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `target/<profile>/dpp-mock`, built once if it is not there (it is another crate's binary, so
/// cargo does not build it for this test).
fn mock_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_owned();
    let binary = profile_dir.join(format!("dpp-mock{}", std::env::consts::EXE_SUFFIX));
    if !binary.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "-p", "dpp-conformance", "--bin", "dpp-mock"])
            .env("CARGO_TARGET_DIR", profile_dir.parent().unwrap());
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("cannot run cargo to build dpp-mock");
        assert!(status.success(), "building dpp-mock failed");
    }
    binary
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the mock with 30 % faults; returns its base URL.
fn start_mock(processes: &mut Processes, seed: u64, log: &Path) -> String {
    let mut child = Command::new(mock_binary())
        .args(["ouranos", "--listen", "127.0.0.1:0", "--api-key", API_KEY])
        .args(["--client", &format!("{CLIENT_ID}:{CLIENT_SECRET}")])
        .args(["--error-rate", "0.10", "--error-status", "503"])
        .args(["--rate-limit-429", "0.07", "--retry-after", "1"])
        .args(["--reset-rate", "0.07", "--drop-after-commit-rate", "0.06"])
        .args(["--seed", &seed.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("cannot start dpp-mock");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    processes.0.push(child);
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .filter(|u| u.starts_with("http://"))
        .unwrap_or_else(|| panic!("dpp-mock did not say where it listens: {line:?}"));
    url.trim_end_matches('/').to_owned()
}

/// The gateway under test: one data dir and port across restarts.
struct GatewayProcess {
    config: PathBuf,
    log: PathBuf,
    base: String,
    child: Option<Child>,
    starts: usize,
}

impl GatewayProcess {
    fn new(dir: &Path) -> GatewayProcess {
        let port = free_port();
        let config = dir.join("gateway.toml");
        // Short leases and backoff: items a killed gateway held come back within seconds.
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\n\
                 data_dir = {data:?}\n\
                 public_base_url = \"http://127.0.0.1:{port}\"\n\
                 [delivery]\n\
                 concurrency = 32\n\
                 batch = 32\n\
                 poll_interval_ms = 50\n\
                 lease_secs = 5\n\
                 max_attempts = 1000\n\
                 backoff_base_ms = 20\n\
                 backoff_max_ms = 500\n\
                 shutdown_grace_secs = 1\n",
                data = dir.join("data").to_string_lossy()
            ),
        )
        .unwrap();
        GatewayProcess {
            config,
            log: dir.join("gateway.log"),
            base: format!("http://127.0.0.1:{port}"),
            child: None,
            starts: 0,
        }
    }

    /// Starts `dpp-gateway serve` and waits until it answers (a port still held by the killed
    /// process is retried).
    async fn start(&mut self, http: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log)
                .unwrap();
            let spawned = Command::new(env!("CARGO_BIN_EXE_dpp-gateway"))
                .args(["serve", "-c"])
                .arg(&self.config)
                .env("DPP_GATEWAY_ADMIN_TOKEN", ADMIN)
                .env("DPP_GATEWAY_LOG", "warn")
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn();
            // A shared target dir may be relinking the binary this instant: try again.
            let mut child = match spawned {
                Ok(child) => child,
                Err(e) => {
                    assert!(Instant::now() < deadline, "cannot start dpp-gateway: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    assert!(
                        Instant::now() < deadline,
                        "dpp-gateway keeps exiting ({status}):\n{}",
                        tail(&self.log)
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    break;
                }
                let ready = http.get(format!("{}/readyz", self.base)).send().await;
                if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
                    self.child = Some(child);
                    self.starts += 1;
                    return;
                }
                assert!(Instant::now() < deadline, "dpp-gateway did not get ready");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// `kill -9`: no graceful shutdown, leases stay held, requests are cut.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last lines of a log file, for a failure message.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A passport of one recycled-PP pellet lot, distinct by `n`.
fn pellet_lot(n: usize, id: uuid::Uuid) -> Value {
    let mut doc = serde_json::to_value(dpp_schemas::fixtures::pp_pellets()).unwrap();
    doc["id"] = json!(format!("urn:uuid:{id}"));
    doc["product"]["ids"] = json!([{ "scheme": "lot", "value": format!("JP-RPP-C{n:05}") }]);
    doc["product"]["batch"] = json!(format!("C{n:05}"));
    doc["version"] = json!(1);
    doc
}

/// Sends one write until the gateway has taken it, through kills and restarts: the same
/// `Idempotency-Key` every time, so a retry of a write that committed stores nothing new.
async fn write_until_taken(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    key: &str,
    body: &Value,
    taken: StatusCode,
) {
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{path} {key} not taken"
        );
        let sent = http
            .post(format!("{base}{path}"))
            .bearer_auth(ADMIN)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await;
        let Ok(response) = sent else {
            // The gateway is down (killed) or cut the connection: try again.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let status = response.status();
        if status == taken {
            return;
        }
        let text = response.text().await.unwrap_or_default();
        match status {
            // The request took effect before a kill, its answer was lost: nothing to repeat.
            StatusCode::CONFLICT if text.contains("idempotency-answer-lost") => return,
            // A request with this key was cut by a kill and holds it for its lease.
            StatusCode::CONFLICT if text.contains("idempotency-in-progress") => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            s if s.is_server_error() => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => panic!("{path} {key}: unexpected {status}: {text}"),
        }
    }
}

/// The mock seen over its own API (with the same faults as the gateway sees, so every call is
/// retried).
struct MockClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl MockClient {
    /// One call, retried through the injected faults; the JSON answer and the `link` of the
    /// next page, if any.
    async fn call(request: impl Fn() -> reqwest::RequestBuilder) -> (Value, Option<String>) {
        for _ in 0..200 {
            if let Ok(response) = request().header("apiKey", API_KEY).send().await
                && response.status().is_success()
            {
                // `link: <http://HOST/api/v1/datatransport?…&after=ID>;` (no rel) when more exist.
                let next = response
                    .headers()
                    .get("link")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| Some(v.split_once('<')?.1.split_once('>')?.0.to_owned()));
                if let Ok(body) = response.json::<Value>().await {
                    return (body, next);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the mock kept failing");
    }

    async fn login(http: &reqwest::Client, base: &str) -> MockClient {
        let (answer, _) = Self::call(|| {
            http.post(format!("{base}/auth/client"))
                .json(&json!({ "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET }))
        })
        .await;
        MockClient {
            http: http.clone(),
            base: base.to_owned(),
            token: answer["accessToken"].as_str().unwrap().to_owned(),
        }
    }

    async fn get_url(&self, url: &str) -> (Value, Option<String>) {
        Self::call(|| self.http.get(url).bearer_auth(&self.token)).await
    }

    async fn get(&self, query: &str) -> Value {
        self.get_url(&format!("{}/api/v1/{query}", self.base))
            .await
            .0
    }

    /// Every parent part (one per published passport), all pages.
    async fn parent_parts(&self) -> Vec<Value> {
        let mut parts = Vec::new();
        let mut url = format!(
            "{}/api/v1/datatransport?dataTarget=parts&parentFlag=true&limit=100",
            self.base
        );
        loop {
            let (page, next) = self.get_url(&url).await;
            parts.extend(page.as_array().unwrap().iter().cloned());
            match next {
                Some(next) => url = next,
                None => return parts,
            }
        }
    }
}

/// The verdict over one run.
#[derive(Debug, PartialEq, Eq)]
struct Tally {
    /// Passports the mock holds once, delivered by exactly one exchange naming that record.
    delivered: usize,
    /// Passports the mock does not hold, or whose exchange is not delivered.
    lost: usize,
    /// Passports the mock holds more than once, or queued more than once.
    duplicated: usize,
}

/// `passports`: what was queued; `exchanges`: the gateway's outbox items `(passport, state,
/// remoteId)`; `records`: the mock's parent parts `(passport, traceId)`.
fn tally(
    passports: &[String],
    exchanges: &[(String, String, Option<String>)],
    records: &[(String, String)],
) -> Tally {
    let mut items: BTreeMap<&str, Vec<(&str, Option<&str>)>> = BTreeMap::new();
    for (passport, state, remote) in exchanges {
        items
            .entry(passport)
            .or_default()
            .push((state, remote.as_deref()));
    }
    let mut held: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (passport, trace_id) in records {
        held.entry(passport).or_default().push(trace_id);
    }
    let mut tally = Tally {
        delivered: 0,
        lost: 0,
        duplicated: 0,
    };
    for passport in passports {
        let queued = items.get(passport.as_str()).map_or(&[][..], Vec::as_slice);
        let stored = held.get(passport.as_str()).map_or(&[][..], Vec::as_slice);
        if queued.len() > 1 || stored.len() > 1 {
            tally.duplicated += 1;
        } else if let ([(state, remote)], [trace_id]) = (queued, stored)
            && *state == "delivered"
            && *remote == Some(*trace_id)
        {
            tally.delivered += 1;
        } else {
            tally.lost += 1;
        }
    }
    tally
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
    let mock_url = start_mock(&mut processes, seed, &dir.path().join("mock.log"));
    let mock = MockClient::login(&http, &mock_url).await;
    let operator_id = mock.get("authInfo?dataTarget=operator").await["operatorId"]
        .as_str()
        .unwrap()
        .to_owned();
    let plant_id = mock.get("authInfo?dataTarget=plant").await[0]["plantId"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut gateway = GatewayProcess::new(dir.path());
    gateway.start(&http).await;
    let base = gateway.base.clone();
    let secret = |name: &str, value: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{value}\n")).unwrap();
        path.to_string_lossy().into_owned()
    };
    let partner = json!({
        "name": PARTNER,
        "type": "ouranos",
        "endpoint": mock_url,
        "settings": {
            "api_key": { "file": secret("mock.apikey", API_KEY) },
            "operator_id": operator_id,
            "plant_id": plant_id,
            "auth": {
                "mode": "client",
                "client_id": CLIENT_ID,
                "client_secret": { "file": secret("mock.secret", CLIENT_SECRET) }
            }
        },
        "allowedHosts": ["127.0.0.1"],
        "state": "trusted-unchecked"
    });
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
    let store = Store::open_in_dir(&dir.path().join("data")).await.unwrap();

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
                let key = format!("chaos-{seed}-passport-{i}");
                write_until_taken(
                    &http,
                    &base,
                    "/api/v1/passports",
                    &key,
                    &doc,
                    StatusCode::CREATED,
                )
                .await;
                let push = json!({ "partner": PARTNER, "passport": id });
                let key = format!("chaos-{seed}-push-{i}");
                write_until_taken(
                    &http,
                    &base,
                    "/api/v1/exchanges",
                    &key,
                    &push,
                    StatusCode::ACCEPTED,
                )
                .await;
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
    let records: Vec<(String, String)> = mock
        .parent_parts()
        .await
        .iter()
        .filter_map(|part| {
            let passport = part["partsAddInfo1"].as_str()?;
            passport.starts_with("urn:uuid:").then(|| {
                (
                    passport.to_owned(),
                    part["traceId"].as_str().unwrap_or_default().to_owned(),
                )
            })
        })
        .collect();
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
         mock: {} requests, faults: {} 5xx, {} 429, {} resets, {} dropped after commit",
        gateway.starts,
        stats["requests"],
        faults["errors"],
        faults["rate_limited"],
        faults["resets"],
        faults["dropped_after_commit"],
    );
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
