//! The live side of an adapter: the factory that validates and builds, the connection it builds,
//! and the values that cross the contract (publish requests and receipts, fetched passports,
//! search pages, footprint negotiations).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use chrono::NaiveDate;
use dpp_schemas::wire::Violation;
use dpp_schemas::{CarbonFootprint, Passport, PassportId};
use reqwest::{Method, Url};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{AdapterContext, AdapterError, Capabilities, Capability, CheckedConfig, SecretSources};

/// Makes connections of one adapter type. One instance per type, listed in
/// [`crate::registry`].
#[async_trait]
pub trait AdapterFactory: Send + Sync {
    /// The config `type` this factory answers to, e.g. `"ouranos"`.
    fn kind(&self) -> &'static str;

    /// What connections of this type can do.
    fn capabilities(&self) -> Capabilities;

    /// Checks a raw config table (`{ type = "ouranos", … }` as JSON). Pure: no I/O, no await,
    /// secrets are checked as references only.
    fn validate(&self, raw: &Value) -> Result<CheckedConfig, AdapterError>;

    /// Builds the live connection from a config this factory validated, and its health check.
    async fn build(
        &self,
        checked: CheckedConfig,
        ctx: AdapterContext,
    ) -> Result<(Arc<dyn Connection>, HealthCheck), AdapterError>;

    /// The endpoint and credentials of a checked config as the conformance suite reads them
    /// (variables such as `API_KEY`, `ACCOUNT`, `PASSWORD`, `CLIENT_ID`, `CLIENT_SECRET`, secrets
    /// resolved through the operator's `secrets`), so `partner check` runs the suite with the partner's own settings without the
    /// gateway knowing any data space's config format. Adapters without a suite keep the default.
    async fn conformance_credentials(
        &self,
        _checked: &CheckedConfig,
        _secrets: &SecretSources,
    ) -> Result<ConformanceCredentials, AdapterError> {
        Err(AdapterError::Config(format!(
            "the {} adapter has no conformance suite yet",
            self.kind()
        )))
    }
}

/// What [`AdapterFactory::conformance_credentials`] answers.
#[derive(Clone)]
pub struct ConformanceCredentials {
    /// Base URL the suite checks.
    pub endpoint: String,
    /// Suite variables by suffix (`API_KEY`, …), secrets resolved.
    pub vars: std::collections::BTreeMap<String, String>,
}

impl fmt::Debug for ConformanceCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: the values are secrets.
        f.debug_struct("ConformanceCredentials")
            .field("endpoint", &self.endpoint)
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

type HealthFuture = Pin<Box<dyn Future<Output = Result<(), AdapterError>> + Send>>;

/// A repeatable check that the remote is reachable and our credentials work.
#[derive(Clone)]
pub struct HealthCheck(Arc<dyn Fn() -> HealthFuture + Send + Sync>);

impl HealthCheck {
    /// A health check running `check` each time.
    pub fn new<F, Fut>(check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), AdapterError>> + Send + 'static,
    {
        Self(Arc::new(move || Box::pin(check())))
    }

    /// A check that always passes (adapters with nothing to reach).
    pub fn always_ok() -> Self {
        Self::new(|| async { Ok(()) })
    }

    /// Runs the check once.
    pub async fn run(&self) -> Result<(), AdapterError> {
        (self.0)().await
    }
}

impl fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HealthCheck")
    }
}

/// A verifiable pointer from a wire record to our signed passport, for data spaces without
/// signatures: the passport id and version, the SHA-256 of the exact compact JWS we stored
/// (base64url, no padding), and optionally where that JWS can be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassportReference {
    /// The passport id.
    pub passport_id: PassportId,
    /// The passport version.
    pub version: u32,
    /// SHA-256 over the compact JWS bytes, base64url without padding (43 characters).
    pub jws_sha256: String,
}

impl PassportReference {
    /// The reference of `passport` signed as `signed_jws`.
    pub fn of(passport: &Passport, signed_jws: &str) -> Self {
        Self {
            passport_id: passport.id,
            version: passport.version,
            jws_sha256: jws_digest(signed_jws),
        }
    }

    /// Whether `signed_jws` is the payload this reference points at.
    pub fn verifies(&self, signed_jws: &str) -> bool {
        self.jws_sha256 == jws_digest(signed_jws)
    }
}

/// SHA-256 of a compact JWS, base64url without padding.
pub(crate) fn jws_digest(signed_jws: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(signed_jws.as_bytes()))
}

/// What the exchange engine hands an adapter to publish.
#[derive(Debug, Clone, Copy)]
pub struct PublishRequest<'a> {
    /// The canonical passport version.
    pub passport: &'a Passport,
    /// Our stored compact JWS over that version (signed at write time, never re-signed).
    pub signed_jws: &'a str,
    /// Stays the same across retries of one delivery.
    pub idempotency_key: &'a str,
}

/// The remote's acknowledgement of a publish.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishReceipt {
    /// The remote's id of the published record (what [`Connection::fetch`] takes).
    pub remote_id: String,
    /// The reference carried in the wire record.
    pub reference: PassportReference,
    /// Correlation ids the remote returned for the calls made (Ouranos `x-track`).
    pub tracks: Vec<String>,
}

/// A remote passport mapped to canonical.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedPassport {
    /// The remote id it was fetched by.
    pub remote_id: String,
    /// The canonical passport (only the subset the wire format carries is meaningful; the
    /// adapter's docs list the rest).
    pub passport: Passport,
    /// The reference to the signed original, if the record carries one.
    pub reference: Option<PassportReference>,
}

/// A search or listing request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Free text or an identifier; adapters match it as their API allows.
    pub text: Option<String>,
    /// Page size; adapters clamp it to what the remote allows.
    pub page_size: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of search results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchPage {
    /// The hits on this page.
    pub hits: Vec<SearchHit>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The remote id, for [`Connection::fetch`].
    pub remote_id: String,
    /// A display name.
    pub name: String,
    /// Our passport id, when the record carries a [`PassportReference`].
    pub passport_id: Option<PassportId>,
}

/// A live connection to one partner in one data space.
#[async_trait]
pub trait Connection: Send + Sync {
    /// The adapter type.
    fn kind(&self) -> &'static str;

    /// What this connection can do.
    fn capabilities(&self) -> Capabilities;

    /// The part of `passport` the wire format carries: what [`fetch`](Self::fetch) returns after
    /// [`publish`](Self::publish) of `passport` (rounded, truncated and defaulted exactly as the
    /// mapping does).
    fn carried_subset(&self, passport: &Passport) -> Passport;

    /// Validates a request body this adapter sends to `url` against the official wire schema,
    /// choosing the schema from the method and URL alone (independently of the code that sent
    /// it). An `Err` with an empty list means no schema is known for that request.
    fn check_request_body(
        &self,
        method: &Method,
        url: &Url,
        body: &Value,
    ) -> Result<(), Vec<Violation>>;

    /// Publishes one passport version.
    async fn publish(&self, _request: PublishRequest<'_>) -> Result<PublishReceipt, AdapterError> {
        Err(AdapterError::Unsupported(Capability::Publish))
    }

    /// Fetches one remote passport.
    async fn fetch(&self, _remote_id: &str) -> Result<FetchedPassport, AdapterError> {
        Err(AdapterError::Unsupported(Capability::Fetch))
    }

    /// Lists or searches remote passports, one page per call.
    async fn search(&self, _query: &SearchQuery) -> Result<SearchPage, AdapterError> {
        Err(AdapterError::Unsupported(Capability::Search))
    }

    /// Inbound routes to mount under `/api/v1/adapters/<partner>/` (capability `serve`).
    fn inbound_routes(&self) -> Option<axum::Router> {
        None
    }

    /// The footprint negotiation of this connection (capability `negotiate`).
    fn negotiation(&self) -> Option<&dyn FootprintNegotiation> {
        None
    }
}

/// Asking a supplier for the carbon footprint of a part, and answering such requests.
#[derive(Debug, Clone, PartialEq)]
pub struct FootprintRequest {
    /// Our remote id of the part we buy (downstream side).
    pub our_remote_id: String,
    /// The supplier's id in the data space.
    pub supplier: String,
    /// A message to the supplier.
    pub message: Option<String>,
    /// When we want the answer.
    pub due: NaiveDate,
}

/// Identifies a negotiation we started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiationHandle {
    /// The remote id of the request (Ouranos `tradeId`).
    pub request_id: String,
    /// The remote id of its status record (Ouranos `statusId`).
    pub status_id: Option<String>,
    /// Our part's remote id.
    pub our_remote_id: String,
}

/// Where a negotiation stands.
#[derive(Debug, Clone, PartialEq)]
pub enum NegotiationState {
    /// Waiting for the supplier.
    Pending,
    /// The supplier linked its part; its footprint (if it published one) is attached.
    Answered {
        /// The supplier's remote id of its part.
        supplier_remote_id: String,
        /// The supplier's footprint, mapped to canonical.
        footprint: Option<CarbonFootprint>,
    },
    /// The supplier rejected the request.
    Rejected {
        /// Its reason.
        reason: Option<String>,
    },
    /// We cancelled it.
    Cancelled,
}

/// A request a customer sent us.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingFootprintRequest {
    /// Its remote id (what [`FootprintNegotiation::answer`] takes).
    pub request_id: String,
    /// Its status record id (what [`FootprintNegotiation::reject`] takes).
    pub status_id: Option<String>,
    /// The customer's id in the data space.
    pub customer: String,
    /// The customer's name of the part it buys from us.
    pub customer_part_name: String,
    /// The customer's message.
    pub message: Option<String>,
    /// When the customer wants the answer.
    pub due: Option<NaiveDate>,
    /// Whether it still waits for an answer.
    pub open: bool,
}

/// Both sides of a footprint negotiation.
#[async_trait]
pub trait FootprintNegotiation: Send + Sync {
    /// Asks a supplier for the footprint of a part we buy.
    async fn request_footprint(
        &self,
        request: &FootprintRequest,
    ) -> Result<NegotiationHandle, AdapterError>;

    /// Where a request we made stands.
    async fn negotiation_state(
        &self,
        handle: &NegotiationHandle,
    ) -> Result<NegotiationState, AdapterError>;

    /// Cancels a request we made.
    async fn cancel(&self, handle: &NegotiationHandle) -> Result<(), AdapterError>;

    /// Requests customers sent us, every page.
    async fn incoming_requests(&self) -> Result<Vec<IncomingFootprintRequest>, AdapterError>;

    /// Answers a customer's request with our part (its remote id, footprint published).
    async fn answer(&self, request_id: &str, our_remote_id: &str) -> Result<(), AdapterError>;

    /// Rejects a customer's request with a reason.
    async fn reject(
        &self,
        request: &IncomingFootprintRequest,
        reason: &str,
    ) -> Result<(), AdapterError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_verifies_only_its_own_jws() {
        let passport = dpp_schemas::fixtures::pp_pellets();
        let r = PassportReference::of(&passport, "aaa.bbb.ccc");
        assert_eq!(r.jws_sha256.len(), 43);
        assert!(r.verifies("aaa.bbb.ccc"));
        assert!(!r.verifies("aaa.bbb.ccd"));
        assert_eq!(r.version, passport.version);
    }

    #[tokio::test]
    async fn a_health_check_can_run_repeatedly() {
        let hc = HealthCheck::always_ok();
        assert!(hc.run().await.is_ok());
        assert!(hc.run().await.is_ok());
        let failing = HealthCheck::new(|| async { Err(AdapterError::NotFound("x".into())) });
        assert!(failing.run().await.is_err());
    }
}
