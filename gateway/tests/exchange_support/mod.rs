//! Shared by the exchange tests: a real gateway (SQLite in a temp dir, port 0) with fast delivery
//! settings, the mock Ouranos, partner registrations pointing at it, and passport makers.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use dpp_conformance::mock::ouranos::{MockConfig, MockOuranos};
use dpp_gateway::api::AppState;
use dpp_gateway::app::{Gateway, bind};
use dpp_gateway::config::Config;
use dpp_gateway::exchange::DeliverySettings;
use dpp_gateway::store::{OutboxState, Store};
use serde_json::{Value, json};

pub const ADMIN: &str = "exchange-admin-token-0123456789";
pub const READER: &str = "exchange-reader-token-0123456789";
pub const CLIENT_ID: &str = "gateway";
pub const CLIENT_SECRET: &str = "s3cret-client-secret-do-not-echo";
pub const API_KEY: &str = "mock-api-key";

/// Delivery settings that make a test finish fast.
pub fn fast_delivery() -> DeliverySettings {
    DeliverySettings {
        concurrency: 32,
        batch: 32,
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_secs(60),
        max_attempts: 60,
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(100),
        shutdown_grace: Duration::from_secs(2),
    }
}

pub struct TestGateway {
    pub base: String,
    pub http: reqwest::Client,
    pub state: AppState,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestGateway {
    pub async fn start(delivery: DeliverySettings) -> TestGateway {
        Self::start_with(delivery, |_| {}).await
    }

    /// [`TestGateway::start`], with a last word on the configuration.
    pub async fn start_with(
        delivery: DeliverySettings,
        adjust: impl FnOnce(&mut Config),
    ) -> TestGateway {
        let dir = tempfile::tempdir().unwrap();
        let listener = bind(([127, 0, 0, 1], 0).into()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Config {
            listen: addr,
            data_dir: dir.path().to_owned(),
            public_base_url: format!("http://{addr}"),
            ..Config::default()
        };
        config.auth.admin_tokens.push(ADMIN.into());
        config.auth.reader_tokens.push(READER.into());
        // Partners' credential files live in <dir>/secrets; tests name variables OURANOS_*.
        let secrets = dir.path().join("secrets");
        std::fs::create_dir_all(&secrets).unwrap();
        config.secrets.dir = Some(secrets);
        config.secrets.env = vec!["OURANOS_*".into(), "DPP_REMOTE_PULL_TEST_*".into()];
        adjust(&mut config);
        let mut gateway = Gateway::build(config).await.unwrap();
        gateway.delivery = delivery;
        let state = gateway.state.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(gateway.serve(listener, async move {
            let _ = stopped.await;
        }));
        TestGateway {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            state,
            dir,
            stop: Some(stop),
            served: Some(served),
        }
    }

    pub fn store(&self) -> &Store {
        self.state.store()
    }

    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(ADMIN)
    }

    pub fn reader(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(READER)
    }

    /// Stops the server and its delivery worker, gracefully.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.unwrap().unwrap();
        }
    }

    /// Creates a passport through the write path; returns its id.
    pub async fn create(&self, doc: Value) -> String {
        self.state.service.create(doc, "test").await.unwrap().id
    }

    /// Registers a partner through the API; panics unless 201.
    pub async fn register(&self, doc: &Value) -> Value {
        let response = self
            .admin(reqwest::Method::POST, "/api/v1/partners")
            .json(doc)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Queues a push through the API; returns the exchange id.
    pub async fn push(&self, partner: &str, passport: &str) -> String {
        let response = self
            .admin(reqwest::Method::POST, "/api/v1/exchanges")
            .json(&json!({ "partner": partner, "passport": passport }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 202, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    pub async fn exchange(&self, id: &str) -> Value {
        self.reader(reqwest::Method::GET, &format!("/api/v1/exchanges/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until no item is queued, in flight or failed; returns the counts by state.
    pub async fn settle(&self, within: Duration) -> Vec<(OutboxState, i64)> {
        let started = Instant::now();
        loop {
            let counts = self.store().outbox_counts(None).await.unwrap();
            let busy = counts.iter().any(|(s, n)| {
                *n > 0
                    && matches!(
                        s,
                        OutboxState::Queued | OutboxState::InFlight | OutboxState::Failed
                    )
            });
            if !busy {
                return counts;
            }
            assert!(
                started.elapsed() < within,
                "outbox not settled within {within:?}: {counts:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Writes a credential file and returns its path.
    /// Writes `secret` into the gateway's secrets dir as `name`; the reference names the file.
    pub fn secret_file(&self, name: &str, secret: &str) -> String {
        let path = self.dir.path().join("secrets").join(name);
        std::fs::write(&path, format!("{secret}\n")).unwrap();
        name.to_owned()
    }
}

pub async fn start_mock() -> MockOuranos {
    MockOuranos::start(MockConfig::default().with_client(CLIENT_ID, CLIENT_SECRET))
        .await
        .unwrap()
}

/// A registration of the mock as partner `name` (credentials by file reference).
pub fn mock_partner(gateway: &TestGateway, mock: &MockOuranos, name: &str) -> Value {
    json!({
        "name": name,
        "type": "ouranos",
        "endpoint": mock.base_url(),
        "settings": {
            "api_key": { "file": gateway.secret_file(&format!("{name}.apikey"), mock.api_key()) },
            "operator_id": mock.operator_id(CLIENT_ID).unwrap(),
            "plant_id": mock.plant_ids(CLIENT_ID)[0],
            "auth": {
                "mode": "client",
                "client_id": CLIENT_ID,
                "client_secret": { "file": gateway.secret_file(&format!("{name}.secret"), CLIENT_SECRET) }
            }
        },
        "allowedHosts": ["127.0.0.1"],
        "state": "trusted-unchecked"
    })
}

/// A new pellet-lot passport (recycled PP compound, with grades and a CFP), distinct by `n`.
pub fn pellet_lot(n: usize) -> Value {
    let mut doc = serde_json::to_value(dpp_schemas::fixtures::pp_pellets()).unwrap();
    doc["id"] = json!(format!("urn:uuid:{}", uuid::Uuid::new_v4()));
    doc["product"]["ids"] = json!([{ "scheme": "lot", "value": format!("JP-RPP-T{n:05}") }]);
    doc["product"]["batch"] = json!(format!("T{n:05}"));
    doc["version"] = json!(1);
    doc
}

/// A new PET flake passport, distinct by `n`.
pub fn pet_flakes(n: usize) -> Value {
    let mut doc = serde_json::to_value(dpp_schemas::fixtures::pet_bottle_flakes()).unwrap();
    doc["id"] = json!(format!("urn:uuid:{}", uuid::Uuid::new_v4()));
    doc["product"]["ids"] = json!([{ "scheme": "lot", "value": format!("JP-PET-T{n:05}") }]);
    doc["version"] = json!(1);
    doc
}

/// The parent parts the mock holds for our passports: passport id → (traceId, part JSON).
pub fn parents_in_mock(mock: &MockOuranos) -> Vec<(String, String, Value)> {
    let stats = mock.stats();
    let mut parents = Vec::new();
    for trace_id in stats.parts_received.keys() {
        let Some(part) = mock.part(trace_id) else {
            continue;
        };
        let info1 = part["partsAddInfo1"].as_str().unwrap_or_default();
        if info1.starts_with("urn:uuid:") && part["amountRequired"].is_null() {
            parents.push((info1.to_owned(), trace_id.clone(), part));
        }
    }
    parents
}
