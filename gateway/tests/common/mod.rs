//! Starts a real gateway (SQLite in a temp dir, port 0) for black-box tests over HTTP.
#![allow(dead_code)]

use dpp_gateway::app::{Gateway, bind};
use dpp_gateway::config::Config;
use dpp_gateway::store::Store;

pub const ADMIN: &str = "test-admin-token-0123456789";
pub const READER: &str = "test-reader-token-0123456789";

pub struct TestGateway {
    pub base: String,
    pub http: reqwest::Client,
    pub store: Store,
    pub state: dpp_gateway::api::AppState,
    pub dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl TestGateway {
    pub async fn start() -> TestGateway {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestGateway {
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
        let gateway = Gateway::build(config).await.unwrap();
        let store = gateway.state.store().clone();
        let state = gateway.state.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(gateway.serve(listener, async move {
            let _ = stopped.await;
        }));
        TestGateway {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            store,
            state,
            dir,
            _stop: stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(ADMIN)
    }

    pub fn reader(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(READER)
    }

    /// GETs `path` with the reader token and parses the JSON answer (any status).
    pub async fn read_json(&self, path: &str) -> serde_json::Value {
        self.reader(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Counts every row a write could leave behind, to prove refused requests store nothing.
    pub async fn footprint(&self) -> (i64, usize, usize) {
        let passports = self.store.passport_count().await.unwrap();
        let versions: usize = {
            let mut n = 0;
            let page = self
                .store
                .list_passports(&Default::default(), None, 500)
                .await
                .unwrap();
            for p in page.items {
                n += self.store.passport_versions(&p.id).await.unwrap().len();
            }
            n
        };
        let events = {
            let mut n = 0;
            for e in dpp_schemas::fixtures::trace_events() {
                if self
                    .store
                    .trace_event(&e.event_id.to_string())
                    .await
                    .unwrap()
                    .is_some()
                {
                    n += 1;
                }
            }
            n
        };
        (passports, versions, events)
    }
}

/// Asserts a problem+json answer with `status` and returns its body.
pub async fn expect_problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("https://dpp-gateway.dev/problems/")
    );
    assert!(!body["detail"].as_str().unwrap().is_empty());
    body
}

/// A valid Ouranos partner registration whose credentials are references that are never read
/// (no connection is made): the base the API tests add state, limits or policy to.
pub fn ouranos_registration(name: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "type": "ouranos",
        "endpoint": "https://api.ouranos.example/",
        "settings": {
            "api_key": { "env": "OURANOS_API_KEY" },
            "operator_id": "d9a38406-cae2-4679-b052-15a75f5531e8",
            "plant_id": "d9a38406-cae2-4679-b052-15a75f5531e7",
            "auth": { "mode": "client", "client_id": "gw", "client_secret": { "file": "ouranos" } }
        }
    })
}
