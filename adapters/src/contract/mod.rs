//! The adapter contract: what every data-space adapter provides and what it is given.
//!
//! Lifecycle (Vector's split): the gateway reads a partner's `{ type = "<dataspace>", … }` table,
//! [`AdapterFactory::validate`] checks it without any I/O (so `dpp-gateway config validate` can
//! run offline), then [`AdapterFactory::build`] makes the live [`Connection`] and its
//! [`HealthCheck`] from the checked config and an [`AdapterContext`]. The context carries
//! everything with side effects — the SSRF-guarded [`HttpClient`], the [`SecretSources`] the
//! operator allows, signer, key resolver, clock, metrics — so an adapter holds no cache and opens no socket of its own.
//!
//! ```
//! use dpp_adapters::contract::{Capabilities, Capability};
//! let caps = Capabilities { publish: true, fetch: true, ..Capabilities::NONE };
//! assert!(caps.has(Capability::Fetch) && !caps.has(Capability::Serve));
//! ```

mod capabilities;
pub mod compliance;
mod config;
mod connection;
mod context;
mod error;
mod http;
pub mod oauth2;
mod secrets;

pub use capabilities::{Capabilities, Capability};
pub use config::{CheckedConfig, ConfigReader, Secret, SecretRef};
pub use connection::{
    AdapterFactory, ConformanceCredentials, Connection, FetchedPassport, FootprintNegotiation,
    FootprintRequest, HealthCheck, IncomingFootprintRequest, NegotiationHandle, NegotiationState,
    PassportReference, PublishReceipt, PublishRequest, SearchHit, SearchPage, SearchQuery,
};
pub use context::{
    AdapterContext, Clock, KeyResolver, ManualClock, MetricsHook, NoKeyResolver, NoMetrics,
    NoSigner, PayloadSigner, RemoteCallEvent, SigningError, SystemClock, TokenEvent,
};
pub use error::{AdapterError, BODY_EXCERPT_LIMIT, ConfigProblem, excerpt};
pub use http::{
    EgressPolicy, HttpClient, HttpObserver, HttpRequest, HttpResponse, HttpSettings,
    RecordedExchange, RecordingObserver, is_public_ip,
};
pub use secrets::{MAX_SECRET_BYTES, RESERVED_ENV_PREFIX, SecretSources, SecretSourcesError};
