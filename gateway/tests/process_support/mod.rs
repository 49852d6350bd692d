//! Real processes for the process-level suites (`tests/chaos.rs`, `tests/sigterm.rs`): the
//! `dpp-mock ouranos` binary, the `dpp-gateway serve` binary on a data dir and port of its own
//! (restartable, `kill -9`able, `SIGTERM`able), a client of the mock's own API, and the tally that
//! compares what was queued, what the gateway says it delivered and what the mock holds.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

pub const ADMIN: &str = "chaos-admin-token-0123456789abcdef";
pub const API_KEY: &str = "chaos-mock-api-key";
pub const CLIENT_ID: &str = "gateway";
pub const CLIENT_SECRET: &str = "chaos-client-secret-0123";

/// Kills the child processes it holds when the test ends, passed or not.
#[derive(Default)]
pub struct Processes(pub Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `target/<profile>/dpp-mock`, brought up to date once per test process (it is another
/// crate's binary, so cargo does not build it for this test; a stale one would lack newer flags).
pub fn mock_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_owned();
            let binary = profile_dir.join(format!("dpp-mock{}", std::env::consts::EXE_SUFFIX));
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
            binary
        })
        .clone()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `dpp-mock ouranos` with our API key and client, plus `extra` arguments (faults, seed);
/// returns its base URL.
pub fn start_mock(processes: &mut Processes, extra: &[String], log: &Path) -> String {
    let mut child = Command::new(mock_binary())
        .args(["ouranos", "--listen", "127.0.0.1:0", "--api-key", API_KEY])
        .args(["--client", &format!("{CLIENT_ID}:{CLIENT_SECRET}")])
        .args(extra)
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

/// Replaces the running mock's faults (`POST /__admin/faults`; the admin routes themselves get
/// no faults). Members left out take their defaults.
pub async fn set_mock_faults(http: &reqwest::Client, mock_url: &str, faults: &Value) {
    let response = http
        .post(format!("{mock_url}/__admin/faults"))
        .json(faults)
        .send()
        .await
        .expect("the mock's admin API does not answer");
    assert!(
        response.status().is_success(),
        "setting the mock's faults to {faults}: {}",
        response.status()
    );
}

/// The gateway under test: one data dir and port across restarts.
pub struct GatewayProcess {
    pub config: PathBuf,
    pub log: PathBuf,
    pub base: String,
    /// Its data dir (keys and, with SQLite, the database).
    pub data_dir: PathBuf,
    child: Option<Child>,
    pub starts: usize,
}

impl GatewayProcess {
    /// A gateway in `dir` whose `[delivery]` table holds `delivery` (TOML lines).
    pub fn new(dir: &Path, delivery: &str) -> GatewayProcess {
        let port = free_port();
        let config = dir.join("gateway.toml");
        let data_dir = dir.join("data");
        let secrets = dir.join("secrets");
        std::fs::create_dir_all(&secrets).unwrap();
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{port}\"\n\
                 data_dir = {data:?}\n\
                 public_base_url = \"http://127.0.0.1:{port}\"\n\
                 [secrets]\n\
                 dir = {secrets:?}\n\
                 [delivery]\n\
                 {delivery}",
                data = data_dir.to_string_lossy(),
                secrets = secrets.to_string_lossy()
            ),
        )
        .unwrap();
        GatewayProcess {
            config,
            log: dir.join("gateway.log"),
            base: format!("http://127.0.0.1:{port}"),
            data_dir,
            child: None,
            starts: 0,
        }
    }

    /// The SQLite database in the data dir.
    pub fn database(&self) -> PathBuf {
        self.data_dir.join(dpp_gateway::store::SQLITE_FILE_NAME)
    }

    /// Starts `dpp-gateway serve` and waits until it answers (a port still held by the killed
    /// process is retried).
    pub async fn start(&mut self, http: &reqwest::Client) {
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
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Sends `SIGTERM` (with the `kill` command: the test has no libc binding) and returns at
    /// once; the process is still ours to wait for.
    pub fn terminate(&mut self) {
        let child = self.child.as_mut().expect("dpp-gateway is not running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("cannot run kill -TERM");
        assert!(
            status.success(),
            "kill -TERM {} failed: {status}",
            child.id()
        );
    }

    /// Whether the started process has not exited yet.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| child.try_wait().unwrap().is_none())
    }

    /// Waits for the process to exit on its own; panics (and the drop kills it) if it has not
    /// within `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        let child = self.child.as_mut().expect("dpp-gateway is not running");
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "dpp-gateway did not exit within {limit:?}:\n{}",
                tail(&self.log)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last lines of a log file, for a failure message.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A passport of one recycled-PP pellet lot, distinct by `n`.
pub fn pellet_lot(n: usize, id: uuid::Uuid) -> Value {
    let mut doc = serde_json::to_value(dpp_schemas::fixtures::pp_pellets()).unwrap();
    doc["id"] = json!(format!("urn:uuid:{id}"));
    doc["product"]["ids"] = json!([{ "scheme": "lot", "value": format!("JP-RPP-C{n:05}") }]);
    doc["product"]["batch"] = json!(format!("C{n:05}"));
    doc["version"] = json!(1);
    doc
}

/// The partner record of the mock: an Ouranos partner with client credentials, its secrets in
/// files in `dir/secrets` (the secrets dir of [`GatewayProcess::new`]), allowed to reach the loopback mock, deliverable without a conformance run.
pub fn ouranos_partner(
    dir: &Path,
    name: &str,
    mock_url: &str,
    operator_id: &str,
    plant_id: &str,
) -> Value {
    let secret = |file: &str, value: &str| {
        std::fs::create_dir_all(dir.join("secrets")).unwrap();
        std::fs::write(dir.join("secrets").join(file), format!("{value}\n")).unwrap();
        file.to_owned()
    };
    json!({
        "name": name,
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
    })
}

/// Creates passport `id` (`doc`) and queues it for `partner`, each write retried under its own
/// `Idempotency-Key` (`{key_prefix}-passport`, `{key_prefix}-push`) until the gateway takes it.
pub async fn create_and_queue(
    http: &reqwest::Client,
    base: &str,
    partner: &str,
    id: &str,
    doc: &Value,
    key_prefix: &str,
) {
    write_until_taken(
        http,
        base,
        "/api/v1/passports",
        &format!("{key_prefix}-passport"),
        doc,
        StatusCode::CREATED,
    )
    .await;
    let push = serde_json::json!({ "partner": partner, "passport": id });
    write_until_taken(
        http,
        base,
        "/api/v1/exchanges",
        &format!("{key_prefix}-push"),
        &push,
        StatusCode::ACCEPTED,
    )
    .await;
}

/// Sends one write until the gateway has taken it, through kills and restarts: the same
/// `Idempotency-Key` every time, so a retry of a write that committed stores nothing new.
pub async fn write_until_taken(
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
pub struct MockClient {
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

    pub async fn login(http: &reqwest::Client, base: &str) -> MockClient {
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

    pub async fn get(&self, query: &str) -> Value {
        self.get_url(&format!("{}/api/v1/{query}", self.base))
            .await
            .0
    }

    /// Our operator id and our first plant's id.
    pub async fn operator_and_plant(&self) -> (String, String) {
        let operator_id = self.get("authInfo?dataTarget=operator").await["operatorId"]
            .as_str()
            .unwrap()
            .to_owned();
        let plant_id = self.get("authInfo?dataTarget=plant").await[0]["plantId"]
            .as_str()
            .unwrap()
            .to_owned();
        (operator_id, plant_id)
    }

    /// Every parent part (one per published passport), all pages.
    pub async fn parent_parts(&self) -> Vec<Value> {
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

    /// `(passport id, traceId)` of every parent part that carries one of our passports
    /// (`partsAddInfo1` = the passport id).
    pub async fn passport_records(&self) -> Vec<(String, String)> {
        self.parent_parts()
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
            .collect()
    }
}

/// The verdict over one run.
#[derive(Debug, PartialEq, Eq)]
pub struct Tally {
    /// Passports the mock holds once, delivered by exactly one exchange naming that record.
    pub delivered: usize,
    /// Passports the mock does not hold, or whose exchange is not delivered.
    pub lost: usize,
    /// Passports the mock holds more than once, or queued more than once.
    pub duplicated: usize,
}

/// `passports`: what was queued; `exchanges`: the gateway's outbox items `(passport, state,
/// remoteId)`; `records`: the mock's parent parts `(passport, traceId)`.
pub fn tally(
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
