//! A mock of the Ouranos Ecosystem data space: an independent implementation of the published
//! OpenAPI (data-transaction-system v3.0.0 and ic-user-auth v0.0.5), in memory.
//!
//! It shares no code with the gateway's Ouranos adapter. Every request body is checked against
//! the official schemas (`dpp_schemas::wire::ouranos`) and refused with the spec's 400 shape, so a
//! mapping bug in the adapter fails a test instead of being mirrored.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use dpp_conformance::mock::ouranos::{MockConfig, MockOuranos};
//!
//! let mock = MockOuranos::start(
//!     MockConfig::default().with_account("buyer@example.com", "Passw0rd"),
//! )
//! .await?;
//! let url = format!("{}/auth/login", mock.base_url());
//! // … drive the gateway against `mock.base_url()` with header `apiKey: mock.api_key()` …
//! assert_eq!(mock.total_puts(), 0);
//! mock.shutdown().await;
//! # let _ = url; Ok(()) }
//! ```
//!
//! Behaviour beyond the published interface (documented in conformance-tests/README.md):
//! an `Idempotency-Key` header on PUT/POST/DELETE replays the first successful answer;
//! faults are injected by [`Faults`] and the `/__admin/*` endpoints; [`HostilePaging`] makes it
//! abuse the `link` header of lists, to test that a client is not led elsewhere or forever.

mod breaks;
mod model;
mod routes;
pub mod seed;
mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::faults::FaultInjector;
pub use super::faults::{FaultCounts, Faults};
pub use breaks::Break;

/// An operator account for `POST /auth/login` (v1). Each account is its own operator, created
/// with one plant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `operatorAccountId` (the v1 schema requires an e-mail address).
    pub account_id: String,
    /// `accountPassword`.
    pub password: String,
}

/// Client credentials for `POST /auth/client` (v2). Each client is its own operator, created
/// with one plant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// `clientId`.
    pub client_id: String,
    /// `clientSecret`.
    pub client_secret: String,
}

/// How to run the mock.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Address to bind; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The `apiKey` header value every request must carry.
    pub api_key: String,
    /// v1 login accounts.
    pub accounts: Vec<Account>,
    /// v2 client credentials.
    pub clients: Vec<ClientCredentials>,
    /// Lifetime of access tokens.
    pub token_ttl: Duration,
    /// Page size of lists when the request has no `limit` (at most 100).
    pub page_size: usize,
    /// Faults injected from the start.
    pub faults: Faults,
    /// Seed of generated ids.
    pub seed: u64,
    /// Load the seed data (see [`seed`]).
    pub seed_data: bool,
    /// Rules the mock deliberately breaks, one per conformance case (see [`Break`]); empty for
    /// a correct mock.
    pub breaks: BTreeSet<Break>,
    /// Play a hostile remote in the `link` paging of every list (see [`HostilePaging`]); `None`
    /// for an honest one.
    pub hostile_paging: Option<HostilePaging>,
}

/// How a hostile remote abuses the `link` header of paged lists (`GET parts`, `tradeRequest`,
/// `tradeResponse`, `status`), for testing that a client survives it. Not a [`Break`]: no
/// conformance case checks it; it tests the *client* of the data space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostilePaging {
    /// The `link` URL names the host `169.254.169.254` (the cloud metadata address) instead of
    /// the mock's own; its `after` cursor is still valid on the mock. A client that follows the
    /// URL instead of asking its own endpoint for that cursor leaks its credentials there.
    ForeignHost,
    /// Every list page, the last one included, carries a `link` with a fresh random `after`
    /// (a v4 UUID, never seen before), and a request with an unknown `after` answers the first
    /// page again: the list never ends. A client must give up after a bounded number of pages.
    EndlessCursor,
    /// Every list page ignores `limit` and holds every item from the cursor on (the `link`
    /// still names the next page as if `limit` had been kept): a client that trusts `limit` to
    /// bound what it holds must check the page.
    OversizedPages,
}

impl HostilePaging {
    /// Every mode.
    pub const ALL: [HostilePaging; 3] = [
        HostilePaging::ForeignHost,
        HostilePaging::EndlessCursor,
        HostilePaging::OversizedPages,
    ];

    /// The `--hostile-paging` name: `foreign-host` or `endless-cursor`.
    pub fn as_str(self) -> &'static str {
        match self {
            HostilePaging::ForeignHost => "foreign-host",
            HostilePaging::EndlessCursor => "endless-cursor",
            HostilePaging::OversizedPages => "oversized-pages",
        }
    }

    /// The mode named `name` (see [`as_str`](Self::as_str)).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_key: "mock-api-key".into(),
            accounts: Vec::new(),
            clients: Vec::new(),
            token_ttl: Duration::from_secs(3600),
            page_size: 100,
            faults: Faults::default(),
            seed: 1,
            seed_data: false,
            breaks: BTreeSet::new(),
            hostile_paging: None,
        }
    }
}

impl MockConfig {
    /// Adds a v1 login account.
    pub fn with_account(mut self, account_id: &str, password: &str) -> Self {
        self.accounts.push(Account {
            account_id: account_id.into(),
            password: password.into(),
        });
        self
    }

    /// Makes the mock break one rule on purpose (see [`Break`]).
    pub fn with_break(mut self, rule: Break) -> Self {
        self.breaks.insert(rule);
        self
    }

    /// Makes the mock a hostile remote in its list paging (see [`HostilePaging`]).
    pub fn with_hostile_paging(mut self, mode: HostilePaging) -> Self {
        self.hostile_paging = Some(mode);
        self
    }

    /// Adds v2 client credentials.
    pub fn with_client(mut self, client_id: &str, client_secret: &str) -> Self {
        self.clients.push(ClientCredentials {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        });
        self
    }
}

/// Per-method request counts of one `dataTarget`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodCounts {
    /// GET requests handled.
    pub get: u64,
    /// PUT requests handled.
    pub put: u64,
    /// DELETE requests handled.
    pub delete: u64,
}

/// What the mock has seen. "Handled" means the request got past fault injection,
/// authentication and idempotent replay and reached the operation (valid or not).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests received on the API and auth routes (not `/__admin`).
    pub requests: u64,
    /// `/api/*` GETs handled: the calls a pull cache should save.
    pub gets: u64,
    /// `/api/*` PUTs handled.
    pub puts: u64,
    /// `/api/*` DELETEs handled.
    pub deletes: u64,
    /// `/auth/*` and `/api/v2/systemAuth/token` POSTs handled.
    pub auth_posts: u64,
    /// Handled requests by `dataTarget`.
    pub by_target: BTreeMap<String, MethodCounts>,
    /// Times each traceId was stored (parts PUT, and each part of a partsStructure PUT).
    pub parts_received: BTreeMap<String, u64>,
    /// Bodies refused by the official schema (or its prose rules).
    pub validation_failures: u64,
    /// Requests refused for a missing/wrong `apiKey` or bearer token.
    pub auth_failures: u64,
    /// Answers replayed for a repeated `Idempotency-Key`.
    pub idempotent_replays: u64,
    /// Answers of the mock itself that broke the official response schema (should stay 0).
    pub self_check_failures: u64,
    /// Injected faults.
    pub faults: FaultCounts,
}

/// State shared by the handlers.
pub(crate) struct Shared {
    pub(crate) config: MockConfig,
    pub(crate) store: Mutex<store::Store>,
    pub(crate) faults: Mutex<FaultInjector>,
    pub(crate) idempotency: Mutex<routes::IdempotencyCache>,
    pub(crate) forged: Mutex<Vec<ForgedAnswer>>,
    pub(crate) addr: SocketAddr,
}

/// What the mock sends instead of its own answer to the next authenticated request for
/// `data_target` with `method`: how tests make it a remote that sends what no correct one would.
/// See [`MockOuranos::forge_next`].
#[derive(Clone)]
pub struct ForgedAnswer {
    /// `dataTarget` of the request to answer, e.g. `partsStructure`.
    pub data_target: String,
    /// HTTP method of the request to answer.
    pub method: String,
    /// The forgery.
    pub forgery: Forgery,
}

/// A forged answer: bytes of its own, or the mock's genuine answer changed.
#[derive(Clone)]
pub enum Forgery {
    /// This status, `Content-Type` (none when empty) and body, sent as they are; the request is
    /// not carried out.
    Raw {
        /// HTTP status.
        status: u16,
        /// `Content-Type`.
        content_type: String,
        /// Body bytes.
        body: Vec<u8>,
    },
    /// The request is carried out and its JSON answer passed through this function first.
    Patch(Arc<dyn Fn(&mut serde_json::Value) + Send + Sync>),
}

impl std::fmt::Debug for ForgedAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.forgery {
            Forgery::Raw { status, .. } => format!("raw {status}"),
            Forgery::Patch(_) => "patch".to_owned(),
        };
        write!(f, "{} {} ({kind})", self.method, self.data_target)
    }
}

impl Shared {
    /// Whether the mock was told to break `rule`.
    pub(crate) fn broken(&self, rule: Break) -> bool {
        self.config.breaks.contains(&rule)
    }
}

/// Locks a mutex, ignoring poisoning (a panicked handler leaves the data usable for a mock).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running mock. Dropping it stops the server too.
pub struct MockOuranos {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl MockOuranos {
    /// Binds `config.listen` and serves until [`MockOuranos::shutdown`].
    pub async fn start(config: MockConfig) -> std::io::Result<Self> {
        config
            .faults
            .validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        if let Some(mode) = config.hostile_paging {
            tracing::warn!(
                mode = mode.as_str(),
                "mock pages as a hostile remote on purpose"
            );
        }
        for rule in &config.breaks {
            tracing::warn!(
                case = rule.case_id(),
                "mock breaks on purpose: {}",
                rule.description()
            );
        }
        let shared = Arc::new(Shared {
            store: Mutex::new(store::Store::new(&config)),
            faults: Mutex::new(FaultInjector::new(config.faults.clone())),
            idempotency: Mutex::new(routes::IdempotencyCache::default()),
            forged: Mutex::new(Vec::new()),
            config,
            addr,
        });
        let (shutdown, signal) = watch::channel(false);
        let router = routes::router(shared.clone());
        let task = tokio::spawn(super::server::serve(listener, router, signal));
        tracing::info!(%addr, "mock ouranos listening");
        Ok(Self {
            shared,
            shutdown,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, the root both `/api/v1/…` and `/auth/…` hang off.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The rules this mock breaks on purpose.
    pub fn breaks(&self) -> &BTreeSet<Break> {
        &self.shared.config.breaks
    }

    /// The hostile paging this mock plays on purpose, if any.
    pub fn hostile_paging(&self) -> Option<HostilePaging> {
        self.shared.config.hostile_paging
    }

    /// The `apiKey` the mock expects.
    pub fn api_key(&self) -> &str {
        &self.shared.config.api_key
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let mut stats = lock(&self.shared.store).stats.clone();
        stats.faults = lock(&self.shared.faults).counts().clone();
        stats
    }

    /// Times the part with this traceId was stored.
    pub fn parts_received(&self, trace_id: &str) -> u64 {
        lock(&self.shared.store)
            .stats
            .parts_received
            .get(trace_id)
            .copied()
            .unwrap_or(0)
    }

    /// `/api/*` PUTs handled.
    pub fn total_puts(&self) -> u64 {
        lock(&self.shared.store).stats.puts
    }

    /// `/api/*` GETs handled (what a pull cache should keep low).
    pub fn upstream_gets(&self) -> u64 {
        lock(&self.shared.store).stats.gets
    }

    /// The stored part, as the mock would answer it.
    pub fn part(&self, trace_id: &str) -> Option<serde_json::Value> {
        lock(&self.shared.store).part_json(trace_id)
    }

    /// The operatorId behind a login account or client id.
    pub fn operator_id(&self, login: &str) -> Option<String> {
        lock(&self.shared.store).operator_of_login(login)
    }

    /// The plantIds of the operator behind a login account or client id.
    pub fn plant_ids(&self, login: &str) -> Vec<String> {
        let store = lock(&self.shared.store);
        store
            .operator_of_login(login)
            .map(|op| store.plants_of(&op))
            .unwrap_or_default()
    }

    /// Replaces the injected faults (same as `POST /__admin/faults`).
    pub fn set_faults(&self, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        lock(&self.shared.faults).set(faults);
        Ok(())
    }

    /// Answers the next authenticated request for `answer.data_target` with `answer.method`
    /// with `answer` instead of the mock's own (once; queued answers go out in order). The
    /// request is not carried out.
    pub fn forge_next(&self, answer: ForgedAnswer) {
        lock(&self.shared.forged).push(answer);
    }

    /// Forged answers not sent yet.
    pub fn forged_pending(&self) -> usize {
        lock(&self.shared.forged).len()
    }

    /// The injected faults now in force.
    pub fn faults(&self) -> Faults {
        lock(&self.shared.faults).faults().clone()
    }

    /// Same as `POST /__admin/reset`.
    pub fn reset(&self) {
        routes::reset(&self.shared);
    }

    /// Makes every access token issued so far expired.
    pub fn expire_tokens(&self) {
        lock(&self.shared.store).expire_tokens();
    }

    /// Stops accepting connections and closes the open ones.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockOuranos {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
