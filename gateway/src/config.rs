//! Gateway configuration: a TOML file, overridden by `DPP_GATEWAY_*` environment variables, overridden
//! by command-line flags. Every field has a default so `serve` runs with no file at all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::exchange::DeliverySettings;

/// Default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The whole configuration. Field docs are the config reference (README § Configuration).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Directory for keys and the embedded SQLite database.
    pub data_dir: PathBuf,
    /// `postgres://…` to share state between replicas; default is SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// Public base URL of this gateway (for `Location` headers and the did:web identifier).
    pub public_base_url: String,
    /// Operator id of this company in its data spaces (used by the demo and imports).
    pub operator_id: String,
    /// Largest accepted request body, bytes.
    pub body_limit_bytes: usize,
    /// Longest a request may take before it is answered 503 (its work is cancelled, its
    /// transaction rolled back), seconds.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// API tokens.
    pub auth: AuthConfig,
    /// How the outbox delivery worker paces itself.
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// Default limits on each partner's calls to the partner-facing API.
    #[serde(default)]
    pub inbound: InboundConfig,
    /// Timeouts of the HTTP clients that call partners.
    #[serde(default)]
    pub http: HttpClientConfig,
    /// Limits of the HTTP server on connections (slow clients, connection floods).
    #[serde(default)]
    pub server: ServerConfig,
    /// How long an `Idempotency-Key` answer is kept for replay, hours; older receipts are
    /// deleted (a retry after that is a new request).
    #[serde(default = "default_idempotency_retention")]
    pub idempotency_retention_hours: u64,
    /// Where partner credential references may point.
    #[serde(default)]
    pub secrets: SecretsConfig,
}

/// Where partner credential references may point (`[secrets]`): the operator's decision, which
/// no API token can widen. With neither set, partners can only be registered without
/// credentials.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// Directory holding one file per secret (e.g. `/run/secrets`); `{ file = "name" }` reads
    /// `<dir>/name`. It must not be or contain the data dir's key store or database.
    pub dir: Option<PathBuf>,
    /// Environment variables `{ env = "NAME" }` may name: exact names or `PREFIX*`; the gateway's
    /// own `DPP_GATEWAY_*` variables never.
    pub env: Vec<String>,
}

impl Config {
    /// The places credential references may be read from: the `[secrets]` table, with the key
    /// store and the SQLite database protected.
    pub fn secret_sources(&self) -> Result<dpp_adapters::contract::SecretSources, ConfigError> {
        let db = self.data_dir.join(crate::store::SQLITE_FILE_NAME);
        let mut protected = vec![self.data_dir.join(crate::trust::KEYS_DIR), db.clone()];
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            protected.push(PathBuf::from(name));
        }
        dpp_adapters::contract::SecretSources::new(
            self.secrets.dir.as_deref(),
            &self.secrets.env,
            &protected,
        )
        .map_err(|e| ConfigError::Semantic(e.to_string()))
    }
}

fn default_idempotency_retention() -> u64 {
    7 * 24
}

/// Timeouts of the HTTP clients the adapters call partners with (`[http]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpClientConfig {
    /// Longest one request to a partner may take, connecting included, seconds.
    pub timeout_secs: u64,
    /// Longest a TCP/TLS connect to a partner may take, seconds.
    pub connect_timeout_secs: u64,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        let d = dpp_adapters::contract::HttpSettings::default();
        Self {
            timeout_secs: d.timeout.as_secs(),
            connect_timeout_secs: d.connect_timeout.as_secs(),
        }
    }
}

impl HttpClientConfig {
    /// The client settings.
    pub fn settings(&self) -> dpp_adapters::contract::HttpSettings {
        dpp_adapters::contract::HttpSettings {
            timeout: Duration::from_secs(self.timeout_secs),
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
            ..dpp_adapters::contract::HttpSettings::default()
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("timeout_secs", self.timeout_secs),
            ("connect_timeout_secs", self.connect_timeout_secs),
        ] {
            if !(1..=600).contains(&value) {
                return Err(ConfigError::Semantic(format!(
                    "http.{key} must be 1 to 600 seconds, got {value}"
                )));
            }
        }
        Ok(())
    }
}

/// Limits of the HTTP server on its connections (`[server]`): how long a client may take to send
/// a request's head, and how many connections it holds open, in all and from one address. They
/// keep a slow or flooding client from exhausting the process's open files (slowloris).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Longest a client may take to send a request's line and headers, counted from the
    /// connection's start or the end of its previous response, seconds; then the connection is
    /// closed. The wait for the next request on an idle keep-alive connection is the same wait.
    pub header_read_timeout_secs: u64,
    /// Most connections open at once; beyond it new connections are closed at once. Lowered at
    /// start to fit the process's open-file limit.
    pub max_connections: usize,
    /// Most connections open at once from one IPv4 address or one IPv6 /64; beyond it that peer's
    /// new connections are closed at once. Behind a reverse proxy every connection comes from the
    /// proxy: raise it to `max_connections` there.
    pub max_connections_per_ip: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_secs: 10,
            max_connections: 4096,
            max_connections_per_ip: 128,
        }
    }
}

impl ServerConfig {
    /// The limits the server applies (before [`max_connections`](Self::max_connections) is fitted
    /// to the open-file limit).
    pub fn settings(&self) -> crate::server::ServerSettings {
        crate::server::ServerSettings {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        if !(1..=300).contains(&self.header_read_timeout_secs) {
            return Err(ConfigError::Semantic(format!(
                "server.header_read_timeout_secs must be 1 to 300 seconds, got {}",
                self.header_read_timeout_secs
            )));
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err(ConfigError::Semantic(format!(
                "server.max_connections must be 1 to 1000000, got {}",
                self.max_connections
            )));
        }
        if self.max_connections_per_ip == 0 || self.max_connections_per_ip > self.max_connections {
            return Err(ConfigError::Semantic(format!(
                "server.max_connections_per_ip must be 1 to server.max_connections ({}), got {}",
                self.max_connections, self.max_connections_per_ip
            )));
        }
        Ok(())
    }
}

/// Default limits on each partner's calls to `/partner/v1` (`[inbound]`); a partner's
/// registration may set its own (`limits`). A call over a limit is answered 429 with
/// `Retry-After`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct InboundConfig {
    /// Sustained requests per second per partner.
    pub requests_per_second: f64,
    /// Requests a partner may send at once after a quiet spell (the token bucket's size).
    pub burst: u32,
    /// Requests of one partner being answered at once.
    pub max_concurrent: u32,
}

impl Default for InboundConfig {
    fn default() -> Self {
        Self {
            requests_per_second: 50.0,
            burst: 100,
            max_concurrent: 8,
        }
    }
}

impl InboundConfig {
    fn check(&self) -> Result<(), ConfigError> {
        let limits = crate::store::InboundLimits {
            requests_per_second: Some(self.requests_per_second),
            burst: Some(self.burst),
            max_concurrent: Some(self.max_concurrent),
        };
        match limits.problems().first() {
            None => Ok(()),
            Some((member, message)) => {
                Err(ConfigError::Semantic(format!("inbound.{member} {message}")))
            }
        }
    }
}

/// Pacing of the outbox delivery worker (`[delivery]`); the defaults are those of
/// [`DeliverySettings::default`]. Short values make crash and fault tests finish quickly.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Deliveries running at once.
    pub concurrency: usize,
    /// Most items claimed per claim.
    pub batch: u32,
    /// How often to look for due items when nothing wakes the worker, milliseconds.
    pub poll_interval_ms: u64,
    /// How long a claim holds an item, seconds; after a crash, its items wait this long.
    pub lease_secs: u64,
    /// Attempts before an item is dead.
    pub max_attempts: u32,
    /// Backoff of the first retry (before jitter), milliseconds; doubles with each attempt.
    pub backoff_base_ms: u64,
    /// Longest backoff (before jitter), milliseconds.
    pub backoff_max_ms: u64,
    /// How long running deliveries may finish after shutdown starts, seconds.
    pub shutdown_grace_secs: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        let d = DeliverySettings::default();
        let ms = |t: Duration| u64::try_from(t.as_millis()).unwrap_or(u64::MAX);
        Self {
            concurrency: d.concurrency,
            batch: d.batch,
            poll_interval_ms: ms(d.poll_interval),
            lease_secs: d.lease.as_secs(),
            max_attempts: d.max_attempts,
            backoff_base_ms: ms(d.backoff_base),
            backoff_max_ms: ms(d.backoff_max),
            shutdown_grace_secs: d.shutdown_grace.as_secs(),
        }
    }
}

impl From<&DeliveryConfig> for DeliverySettings {
    fn from(c: &DeliveryConfig) -> Self {
        DeliverySettings {
            concurrency: c.concurrency,
            batch: c.batch,
            poll_interval: Duration::from_millis(c.poll_interval_ms),
            lease: Duration::from_secs(c.lease_secs),
            max_attempts: c.max_attempts,
            backoff_base: Duration::from_millis(c.backoff_base_ms),
            backoff_max: Duration::from_millis(c.backoff_max_ms),
            shutdown_grace: Duration::from_secs(c.shutdown_grace_secs),
        }
    }
}

impl DeliveryConfig {
    fn check(&self) -> Result<(), ConfigError> {
        let positive = [
            ("concurrency", self.concurrency as u64),
            ("batch", u64::from(self.batch)),
            ("poll_interval_ms", self.poll_interval_ms),
            ("lease_secs", self.lease_secs),
            ("max_attempts", u64::from(self.max_attempts)),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError::Semantic(format!(
                "delivery.{key} must be at least 1, got 0"
            )));
        }
        if self.backoff_base_ms > self.backoff_max_ms {
            return Err(ConfigError::Semantic(format!(
                "delivery.backoff_base_ms ({}) must not exceed delivery.backoff_max_ms ({})",
                self.backoff_base_ms, self.backoff_max_ms
            )));
        }
        Ok(())
    }
}

/// Bearer tokens of the management API.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Tokens with full access (`DPP_GATEWAY_ADMIN_TOKEN` adds one).
    #[serde(default)]
    pub admin_tokens: Vec<String>,
    /// Tokens with read-only access (`DPP_GATEWAY_READER_TOKEN` adds one).
    #[serde(default)]
    pub reader_tokens: Vec<String>,
    /// Tokens a metrics scraper sends to `/metrics` (`DPP_GATEWAY_METRICS_TOKEN` adds one). When
    /// any is set, `/metrics` answers only these (and admin tokens); otherwise it is open, as
    /// Prometheus expects on a private network — it names partners, so set one elsewhere.
    #[serde(default)]
    pub metrics_tokens: Vec<String>,
}

fn default_request_timeout() -> u64 {
    30
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./dpp-data"),
            database_url: None,
            public_base_url: "http://127.0.0.1:8080".into(),
            operator_id: "urn:example:operator:self".into(),
            body_limit_bytes: DEFAULT_BODY_LIMIT,
            request_timeout_secs: default_request_timeout(),
            auth: AuthConfig::default(),
            delivery: DeliveryConfig::default(),
            inbound: InboundConfig::default(),
            http: HttpClientConfig::default(),
            server: ServerConfig::default(),
            idempotency_retention_hours: default_idempotency_retention(),
            secrets: SecretsConfig::default(),
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file or an environment variable has a bad value or an unknown key.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    /// The file named on the command line does not exist.
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    /// A value is well-typed but unusable.
    #[error("invalid configuration: {0}")]
    Semantic(String),
}

/// Command-line overrides (highest precedence).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    pub database_url: Option<String>,
}

impl Config {
    /// Loads defaults ← `file` (if given) ← `DPP_GATEWAY_*` env ← `overrides`, then checks it.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::MissingFile(file.to_owned()));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        // Nested keys with a double underscore: DPP_GATEWAY_AUTH__ADMIN_TOKENS='["…"]'.
        // The two single-token variables are handled below, and `DPP_GATEWAY_LOG` (log filter)
        // and `DPP_GATEWAY_CONFIG` (the file) are not config keys, so they are ignored here.
        figment = figment.merge(
            Env::prefixed("DPP_GATEWAY_")
                .ignore(&[
                    "ADMIN_TOKEN",
                    "READER_TOKEN",
                    "METRICS_TOKEN",
                    "LOG",
                    "CONFIG",
                ])
                .split("__"),
        );
        let mut config: Config = figment.extract().map_err(Box::new)?;
        if let Ok(token) = std::env::var("DPP_GATEWAY_ADMIN_TOKEN") {
            config.auth.admin_tokens.push(token);
        }
        if let Ok(token) = std::env::var("DPP_GATEWAY_READER_TOKEN") {
            config.auth.reader_tokens.push(token);
        }
        if let Ok(token) = std::env::var("DPP_GATEWAY_METRICS_TOKEN") {
            config.auth.metrics_tokens.push(token);
        }
        if let Some(listen) = overrides.listen {
            config.listen = listen;
        }
        if let Some(dir) = &overrides.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(url) = &overrides.database_url {
            config.database_url = Some(url.clone());
        }
        config.check()?;
        Ok(config)
    }

    /// Checks what types cannot: URLs, limits, token strength.
    pub fn check(&self) -> Result<(), ConfigError> {
        if !(self.public_base_url.starts_with("http://")
            || self.public_base_url.starts_with("https://"))
        {
            return Err(ConfigError::Semantic(format!(
                "public_base_url must be an http(s) URL, got {:?}",
                self.public_base_url
            )));
        }
        if !(1..=3600).contains(&self.request_timeout_secs) {
            return Err(ConfigError::Semantic(format!(
                "request_timeout_secs must be within 1 and 3600, got {}",
                self.request_timeout_secs
            )));
        }
        if self.body_limit_bytes < 1024 {
            return Err(ConfigError::Semantic(format!(
                "body_limit_bytes must be at least 1024, got {}",
                self.body_limit_bytes
            )));
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:"))
        {
            return Err(ConfigError::Semantic(format!(
                "database_url must start with postgres:// or sqlite:, got {:?}",
                redact_url(url)
            )));
        }
        for token in self
            .auth
            .admin_tokens
            .iter()
            .chain(&self.auth.reader_tokens)
            .chain(&self.auth.metrics_tokens)
        {
            if token.len() < 16 {
                return Err(ConfigError::Semantic(
                    "API tokens must be at least 16 characters long".into(),
                ));
            }
        }
        if self.idempotency_retention_hours == 0 {
            return Err(ConfigError::Semantic(
                "idempotency_retention_hours must be at least 1, got 0".into(),
            ));
        }
        self.delivery.check()?;
        self.http.check()?;
        self.server.check()?;
        self.inbound.check()
    }
}

pub use crate::store::redact_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_overrides_take_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gw.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9999\"\nbody_limit_bytes = 2048\n[auth]\nreader_tokens = [\"reader-token-0123456789\"]\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(config.listen.port(), 9999);
        assert_eq!(config.body_limit_bytes, 2048);
        assert_eq!(
            config.auth.reader_tokens,
            vec!["reader-token-0123456789".to_string()]
        );

        let overrides = Overrides {
            listen: Some("127.0.0.1:7000".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(
            Config::load(Some(&file), &overrides).unwrap().listen.port(),
            7000
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gw.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:9999\"\n").unwrap();
        let err = Config::load(Some(&file), &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");

        std::fs::write(&file, "public_base_url = \"ftp://x\"\n").unwrap();
        let err = Config::load(Some(&file), &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("ftp://x"), "{err}");

        let missing = dir.path().join("nope.toml");
        assert!(matches!(
            Config::load(Some(&missing), &Overrides::default()),
            Err(ConfigError::MissingFile(_))
        ));
    }

    #[test]
    fn delivery_pacing_defaults_to_the_code_defaults_and_is_checked() {
        assert_eq!(
            DeliverySettings::from(&DeliveryConfig::default()),
            DeliverySettings::default()
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gw.toml");
        std::fs::write(
            &file,
            "[delivery]\nlease_secs = 5\nbackoff_base_ms = 20\nbackoff_max_ms = 200\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), &Overrides::default()).unwrap();
        let settings = DeliverySettings::from(&config.delivery);
        assert_eq!(settings.lease, Duration::from_secs(5));
        assert_eq!(settings.backoff_max, Duration::from_millis(200));
        assert_eq!(
            settings.max_attempts,
            DeliverySettings::default().max_attempts
        );

        std::fs::write(&file, "[delivery]\nmax_attempts = 0\n").unwrap();
        let err = Config::load(Some(&file), &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("delivery.max_attempts"), "{err}");
        std::fs::write(&file, "[delivery]\nleese_secs = 1\n").unwrap();
        let err = Config::load(Some(&file), &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("leese_secs"), "{err}");
    }

    #[test]
    fn server_limits_default_sanely_and_are_checked() {
        let defaults = ServerConfig::default();
        assert_eq!(defaults.header_read_timeout_secs, 10);
        assert!(defaults.max_connections_per_ip < defaults.max_connections);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gw.toml");
        std::fs::write(
            &file,
            "[server]\nheader_read_timeout_secs = 3\nmax_connections = 100\nmax_connections_per_ip = 100\n",
        )
        .unwrap();
        let settings = Config::load(Some(&file), &Overrides::default())
            .unwrap()
            .server
            .settings();
        assert_eq!(settings.header_read_timeout, Duration::from_secs(3));
        assert_eq!(settings.max_connections, 100);
        assert_eq!(settings.max_connections_per_ip, 100);

        for (table, key) in [
            (
                "header_read_timeout_secs = 0",
                "server.header_read_timeout_secs",
            ),
            (
                "header_read_timeout_secs = 301",
                "server.header_read_timeout_secs",
            ),
            ("max_connections = 0", "server.max_connections"),
            (
                "max_connections_per_ip = 0",
                "server.max_connections_per_ip",
            ),
            (
                "max_connections = 10\nmax_connections_per_ip = 11",
                "server.max_connections_per_ip",
            ),
            ("max_conections = 10", "max_conections"),
        ] {
            std::fs::write(&file, format!("[server]\n{table}\n")).unwrap();
            let err = Config::load(Some(&file), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains(key), "{table}: {err}");
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/dpp"),
            "postgres://app:***@db:5432/dpp"
        );
        assert_eq!(redact_url("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
