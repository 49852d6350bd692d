//! What the gateway hands every adapter: the only ways an adapter may sign, resolve keys, talk to
//! the network, read the time and report metrics. Adapters keep no cache of their own (the
//! gateway's pull cache sits around [`super::Connection::fetch`], outside the adapter).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{AdapterError, HttpClient, SecretSources};

/// Why a signature could not be made.
#[derive(Debug, Clone, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SigningError(pub String);

/// Signs payloads with the gateway's current key (JWS compact serialisation).
pub trait PayloadSigner: Send + Sync {
    /// Key id of the signing key, as published in our JWKS.
    fn kid(&self) -> &str;
    /// Signs `payload` into a compact JWS with header `typ`.
    fn sign_compact(&self, payload: &[u8], typ: &str) -> Result<String, SigningError>;
}

/// Resolves a partner's public key (did:web, JWKS URL, x5u) to a JWK. The gateway's resolver
/// fetches through the SSRF guard and caches per source.
#[async_trait]
pub trait KeyResolver: Send + Sync {
    /// The JWK for `key_id` (a DID URL or `<jwks url>#<kid>`).
    async fn resolve(&self, key_id: &str) -> Result<Value, AdapterError>;
}

/// The time source; tests drive token expiry with a [`ManualClock`].
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// A remote call, as one typed event: `emit` writes the log line and feeds the metrics hook.
#[derive(Debug, Clone)]
pub struct RemoteCallEvent<'a> {
    /// Adapter type.
    pub adapter: &'static str,
    /// Partner name from the context.
    pub partner: &'a str,
    /// What was called, e.g. `PUT partsStructure`.
    pub operation: &'a str,
    /// HTTP status, if an answer came.
    pub status: Option<u16>,
    /// Time from send to full body.
    pub elapsed: Duration,
    /// The remote's correlation id (Ouranos `x-track`).
    pub track: Option<&'a str>,
}

impl RemoteCallEvent<'_> {
    /// Logs the call with structured fields and reports it to `metrics`.
    pub fn emit(&self, metrics: &dyn MetricsHook) {
        tracing::debug!(
            adapter = self.adapter,
            partner = self.partner,
            operation = self.operation,
            status = self.status,
            elapsed_ms = self.elapsed.as_millis() as u64,
            x_track = self.track,
            "remote call"
        );
        metrics.remote_call(self);
    }
}

/// A token was obtained or refreshed.
#[derive(Debug, Clone)]
pub struct TokenEvent<'a> {
    /// Adapter type.
    pub adapter: &'static str,
    /// Partner name.
    pub partner: &'a str,
    /// `login`, `refresh` or `client_credentials`.
    pub grant: &'static str,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
}

impl TokenEvent<'_> {
    /// Logs the token event (never the token) and reports it to `metrics`.
    pub fn emit(&self, metrics: &dyn MetricsHook) {
        tracing::info!(
            adapter = self.adapter,
            partner = self.partner,
            grant = self.grant,
            expires_at = %self.expires_at,
            "token acquired"
        );
        metrics.token_acquired(self);
    }
}

/// Receives adapter telemetry; the gateway maps it onto its `metrics` registry.
pub trait MetricsHook: Send + Sync {
    /// A remote call finished (or failed before an answer).
    fn remote_call(&self, _event: &RemoteCallEvent<'_>) {}
    /// A token was obtained.
    fn token_acquired(&self, _event: &TokenEvent<'_>) {}
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock standing at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A signer for contexts that must not sign (config checks, adapters without signatures).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSigner;

impl PayloadSigner for NoSigner {
    fn kid(&self) -> &str {
        ""
    }
    fn sign_compact(&self, _payload: &[u8], _typ: &str) -> Result<String, SigningError> {
        Err(SigningError("no signing key in this context".into()))
    }
}

/// A key resolver that knows no key.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoKeyResolver;

#[async_trait]
impl KeyResolver for NoKeyResolver {
    async fn resolve(&self, key_id: &str) -> Result<Value, AdapterError> {
        Err(AdapterError::NotFound(format!("key {key_id}")))
    }
}

/// Metrics that go nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl MetricsHook for NoMetrics {}

/// Everything an adapter may use, for one partner.
#[derive(Clone)]
pub struct AdapterContext {
    /// The partner's name (log and metric label).
    pub partner: String,
    /// The gateway's payload signer.
    pub signer: Arc<dyn PayloadSigner>,
    /// Resolves partners' public keys.
    pub keys: Arc<dyn KeyResolver>,
    /// The only way to the network: SSRF-guarded, no redirects, no proxies.
    pub http: HttpClient,
    /// The only way to credentials: the places the operator allows references to point.
    pub secrets: Arc<SecretSources>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Telemetry sink.
    pub metrics: Arc<dyn MetricsHook>,
}

impl AdapterContext {
    /// A context for `partner` with `http`, no secret sources (only inline values resolve), no
    /// signer, no key resolver, the system clock and no metrics; replace pieces with the `with_*`
    /// methods.
    pub fn new(partner: impl Into<String>, http: HttpClient) -> Self {
        Self {
            partner: partner.into(),
            signer: Arc::new(NoSigner),
            keys: Arc::new(NoKeyResolver),
            http,
            secrets: Arc::new(SecretSources::none()),
            clock: Arc::new(SystemClock),
            metrics: Arc::new(NoMetrics),
        }
    }

    /// Uses `signer`.
    pub fn with_signer(mut self, signer: Arc<dyn PayloadSigner>) -> Self {
        self.signer = signer;
        self
    }

    /// Uses `keys`.
    pub fn with_key_resolver(mut self, keys: Arc<dyn KeyResolver>) -> Self {
        self.keys = keys;
        self
    }

    /// Resolves credential references through `secrets`.
    pub fn with_secrets(mut self, secrets: Arc<SecretSources>) -> Self {
        self.secrets = secrets;
        self
    }

    /// Uses `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn MetricsHook>) -> Self {
        self.metrics = metrics;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let start = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(90));
        assert_eq!((clock.now() - start).num_seconds(), 90);
    }

    #[test]
    fn no_signer_refuses_to_sign() {
        assert!(NoSigner.sign_compact(b"{}", "dpp+jwt").is_err());
    }
}
