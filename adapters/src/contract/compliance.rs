//! The adapter-compliance harness (Vector's `run_and_assert_sink_compliance` pattern): one
//! contract check every adapter runs against its mock data space.
//!
//! [`run_and_assert_adapter_compliance`] panics with a precise message on the first breach:
//! - publish, then fetch back, equals [`Connection::carried_subset`] of the canonical passport,
//!   and the carried [`PassportReference`] verifies against the JWS we signed;
//! - every request body the adapter sent (observed through the context's [`HttpClient`] by a
//!   [`RecordingObserver`]) validates against the official wire schema, chosen from method and
//!   URL alone by [`Connection::check_request_body`];
//! - listing with a small page size walks several pages and finds every published passport;
//! - wrong credentials give [`AdapterError::Auth`], an injected 5xx gives a retryable
//!   [`AdapterError::Remote`], an injected 429 gives [`AdapterError::RateLimited`] with the
//!   remote's `Retry-After`, an unknown id gives [`AdapterError::NotFound`].
//!
//! [`HttpClient`]: super::HttpClient

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dpp_schemas::Passport;

use super::{AdapterError, Capability, Connection, PublishRequest, RecordingObserver, SearchQuery};

/// Makes the mock misbehave on purpose. Implemented by each adapter's test over its mock.
#[async_trait]
pub trait FaultInjector: Send + Sync {
    /// The next request is answered with `status` (a 5xx).
    async fn fail_next(&self, status: u16);
    /// The next request is answered 429 with `Retry-After: retry_after_secs`.
    async fn rate_limit_next(&self, retry_after_secs: u64);
    /// No more faults.
    async fn clear(&self);
}

/// A canonical passport with the compact JWS we stored for it.
#[derive(Debug, Clone)]
pub struct SignedPassport {
    /// The passport.
    pub passport: Passport,
    /// Our compact JWS over it.
    pub signed_jws: String,
}

/// What the harness runs against.
pub struct ComplianceSubject {
    /// A connection built against the mock, its context's HTTP client observed by `recorder`.
    pub connection: Arc<dyn Connection>,
    /// The observer installed on the connection's HTTP client.
    pub recorder: Arc<RecordingObserver>,
    /// The same adapter against the same mock with wrong credentials.
    pub wrong_credentials: Arc<dyn Connection>,
    /// Fault injection into the mock.
    pub faults: Arc<dyn FaultInjector>,
    /// A remote id that does not exist in the mock.
    pub unknown_remote_id: String,
}

/// What the harness checked (to assert coverage in the calling test).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComplianceReport {
    /// Passports published and fetched back.
    pub round_trips: usize,
    /// Request bodies validated against the wire schema.
    pub bodies_validated: usize,
    /// Search pages walked.
    pub pages: usize,
    /// Typed-error checks passed.
    pub error_checks: usize,
}

/// Runs the whole contract check; panics on the first breach.
pub async fn run_and_assert_adapter_compliance(
    subject: &ComplianceSubject,
    passports: &[SignedPassport],
) -> ComplianceReport {
    let conn = subject.connection.as_ref();
    let caps = conn.capabilities();
    let kind = conn.kind();
    let mut report = ComplianceReport::default();
    subject.faults.clear().await;
    subject.recorder.take();

    let mut remote_ids = Vec::new();
    if caps.has(Capability::Publish) && caps.has(Capability::Fetch) {
        for (i, signed) in passports.iter().enumerate() {
            let receipt = conn
                .publish(PublishRequest {
                    passport: &signed.passport,
                    signed_jws: &signed.signed_jws,
                    idempotency_key: &format!("compliance-{i}"),
                })
                .await
                .unwrap_or_else(|e| {
                    panic!("{kind}: publish of {} failed: {e}", signed.passport.id)
                });
            assert!(
                receipt.reference.verifies(&signed.signed_jws),
                "{kind}: the receipt's reference does not verify against the signed passport"
            );
            let fetched = conn
                .fetch(&receipt.remote_id)
                .await
                .unwrap_or_else(|e| panic!("{kind}: fetch of {} failed: {e}", receipt.remote_id));
            let expected = conn.carried_subset(&signed.passport);
            if fetched.passport != expected {
                panic!(
                    "{kind}: fetched passport differs from the carried subset of {}\nexpected: {}\n     got: {}",
                    signed.passport.id,
                    serde_json::to_string(&expected).unwrap_or_default(),
                    serde_json::to_string(&fetched.passport).unwrap_or_default()
                );
            }
            let reference = fetched.reference.unwrap_or_else(|| {
                panic!(
                    "{kind}: fetched record of {} carries no passport reference",
                    signed.passport.id
                )
            });
            assert!(
                reference.verifies(&signed.signed_jws)
                    && reference.passport_id == signed.passport.id,
                "{kind}: fetched reference does not point at the signed passport"
            );
            remote_ids.push(receipt.remote_id);
            report.round_trips += 1;
        }
    }

    if caps.has(Capability::Search) {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = conn
                .search(&SearchQuery {
                    text: None,
                    page_size: Some(2),
                    cursor: cursor.clone(),
                })
                .await
                .unwrap_or_else(|e| panic!("{kind}: search page {} failed: {e}", report.pages + 1));
            report.pages += 1;
            assert!(
                page.hits.len() <= 2,
                "{kind}: page size 2 answered {} hits",
                page.hits.len()
            );
            seen.extend(page.hits.into_iter().map(|h| h.remote_id));
            match page.next_cursor {
                Some(next) if report.pages < 1000 => cursor = Some(next),
                _ => break,
            }
        }
        if remote_ids.len() > 2 {
            assert!(
                report.pages >= 2,
                "{kind}: {} passports fit on one page of 2",
                remote_ids.len()
            );
        }
        for id in &remote_ids {
            assert!(
                seen.contains(id),
                "{kind}: published {id} missing from the paged listing"
            );
        }
    }

    for exchange in subject.recorder.take() {
        let Some(body) = &exchange.request_body else {
            continue;
        };
        if let Err(violations) = conn.check_request_body(&exchange.method, &exchange.url, body) {
            if violations.is_empty() {
                panic!(
                    "{kind}: no wire schema known for {} {}",
                    exchange.method, exchange.url
                );
            }
            panic!(
                "{kind}: {} {} sent a body breaking the wire schema: {violations:?}\n{body}",
                exchange.method, exchange.url
            );
        }
        report.bodies_validated += 1;
    }
    assert!(
        report.round_trips == 0 || report.bodies_validated > 0,
        "{kind}: published without sending any body the harness could see (is the recorder on the context's client?)"
    );

    if let Some(probe) = remote_ids.first() {
        match subject.wrong_credentials.fetch(probe).await {
            Err(AdapterError::Auth { .. }) => report.error_checks += 1,
            other => {
                panic!("{kind}: wrong credentials must give AdapterError::Auth, got {other:?}")
            }
        }
        subject.faults.fail_next(503).await;
        match conn.fetch(probe).await {
            Err(e @ AdapterError::Remote { status: 503, .. }) if e.is_retryable() => {
                report.error_checks += 1
            }
            other => {
                panic!("{kind}: an injected 503 must give AdapterError::Remote, got {other:?}")
            }
        }
        subject.faults.rate_limit_next(7).await;
        match conn.fetch(probe).await {
            Err(AdapterError::RateLimited { retry_after }) => {
                assert_eq!(
                    retry_after,
                    Some(Duration::from_secs(7)),
                    "{kind}: Retry-After lost"
                );
                report.error_checks += 1;
            }
            other => {
                panic!("{kind}: an injected 429 must give AdapterError::RateLimited, got {other:?}")
            }
        }
        subject.faults.clear().await;
        match conn.fetch(&subject.unknown_remote_id).await {
            Err(AdapterError::NotFound(_)) => report.error_checks += 1,
            other => {
                panic!("{kind}: an unknown id must give AdapterError::NotFound, got {other:?}")
            }
        }
        conn.fetch(probe)
            .await
            .unwrap_or_else(|e| panic!("{kind}: fetch after the faults were cleared failed: {e}"));
    }
    report
}
