//! The delivery worker: claims due outbox items under a lease, pushes each through its partner's
//! adapter with the item's idempotency key, and records the outcome — delivered only once the
//! adapter returned the remote's acknowledgement; otherwise retried with exponential backoff and
//! full jitter (never sooner than the remote's `Retry-After`), and dead after the attempt limit
//! or on an error retrying cannot fix.
//!
//! Any number of workers, in one process or in several replicas sharing PostgreSQL, may run at
//! once: a claim is a lease, and only the lease holder can record an outcome. On shutdown the
//! worker stops claiming, lets running deliveries finish for a grace period, then aborts the rest
//! and gives their items back to the queue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dpp_adapters::AdapterError;
use dpp_adapters::contract::{PublishReceipt, PublishRequest};
use dpp_schemas::Passport;
use serde_json::Value;
use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::events::{DeliveryAttempted, DeliveryDead, DeliveryFailed, DeliverySucceeded};
use super::partners::{PartnerConnections, PartnerError};
use super::policy::{Withheld, is_signed_redacted_under, share, share_version, sign_redacted};
use crate::store::{AttemptFailure, FieldPolicy, OutboxItem, Store};

/// How the worker paces itself.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySettings {
    /// Deliveries running at once per worker.
    pub concurrency: usize,
    /// Most items claimed per claim.
    pub batch: u32,
    /// How often to look for due items when nothing wakes the worker.
    pub poll_interval: Duration,
    /// How long a claim holds an item. Longer than one whole delivery can take (every call of
    /// the adapter timing out), or a second worker may start the same item while the first
    /// still runs (harmless for the remote, which sees the same idempotency key, but wasteful).
    pub lease: Duration,
    /// Attempts before an item is dead.
    pub max_attempts: u32,
    /// Backoff of the first retry (before jitter); doubles with each attempt.
    pub backoff_base: Duration,
    /// Longest backoff (before jitter).
    pub backoff_max: Duration,
    /// How long running deliveries may finish after shutdown starts.
    pub shutdown_grace: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            concurrency: 16,
            batch: 32,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(300),
            max_attempts: 12,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(30 * 60),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl DeliverySettings {
    /// The wait before attempt `attempt + 1` after attempt `attempt` (from 1) failed: uniform in
    /// `0..=min(backoff_max, backoff_base · 2^(attempt-1))` ("full jitter"), and never shorter
    /// than the remote's `Retry-After`.
    pub fn retry_delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let ceiling = self
            .backoff_base
            .saturating_mul(1u32 << exponent)
            .min(self.backoff_max);
        let jittered = ceiling.mul_f64(random_unit());
        match retry_after {
            Some(wait) => jittered.max(wait),
            None => jittered,
        }
    }
}

/// A uniform draw from `[0, 1)`.
fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Why an attempt failed, and whether trying again can help.
#[derive(Debug)]
enum AttemptError {
    /// The adapter's typed error decides.
    Adapter(AdapterError),
    /// Worth another try (store hiccup).
    Transient(String),
    /// No retry will fix it (partner removed, policy refuses, unreadable data).
    Permanent(String),
}

impl AttemptError {
    fn retryable(&self) -> bool {
        match self {
            AttemptError::Adapter(e) => e.is_retryable(),
            AttemptError::Transient(_) => true,
            AttemptError::Permanent(_) => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            AttemptError::Adapter(AdapterError::RateLimited { retry_after }) => *retry_after,
            _ => None,
        }
    }

    /// The whole error, for the operator's log.
    fn message(&self) -> String {
        match self {
            AttemptError::Adapter(e) => e.to_string(),
            AttemptError::Transient(m) | AttemptError::Permanent(m) => m.clone(),
        }
    }

    /// What the exchange record keeps (and the API shows to reader tokens): an adapter error's
    /// summary, without the remote's body, URLs or addresses, which stay in the log line.
    fn public_message(&self) -> String {
        match self {
            AttemptError::Adapter(e) => e.summary(),
            AttemptError::Transient(m) | AttemptError::Permanent(m) => m.clone(),
        }
    }
}

struct WorkerInner {
    store: Store,
    partners: Arc<PartnerConnections>,
    settings: DeliverySettings,
    owner: String,
    wake: Arc<Notify>,
}

/// Delivers outbox items; see the module docs.
pub struct DeliveryWorker {
    inner: Arc<WorkerInner>,
}

/// A running worker.
pub struct DeliveryHandle {
    stop: watch::Sender<bool>,
    force: watch::Sender<bool>,
    task: JoinHandle<()>,
    owner: String,
}

/// Cuts a worker's shutdown grace short: running deliveries are aborted at once and their items
/// returned to the outbox (an operator's second Ctrl-C / SIGTERM).
#[derive(Clone)]
pub struct ForceStop(watch::Sender<bool>);

impl ForceStop {
    /// Aborts what still runs; a shutdown in progress then returns promptly.
    pub fn now(&self) {
        let _ = self.0.send(true);
    }
}

impl DeliveryHandle {
    /// The lease owner id of the worker.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// A handle that cuts the shutdown grace short.
    pub fn force_stop(&self) -> ForceStop {
        ForceStop(self.force.clone())
    }

    /// Stops claiming, waits up to the grace period for running deliveries, aborts the rest
    /// and returns their items to the queue.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

impl DeliveryWorker {
    /// A worker over the partners' store. `wake` is notified when something is queued.
    pub fn new(
        partners: Arc<PartnerConnections>,
        settings: DeliverySettings,
        wake: Arc<Notify>,
    ) -> Self {
        let owner = format!("worker-{}", uuid::Uuid::new_v4().simple());
        Self {
            inner: Arc::new(WorkerInner {
                store: partners.store().clone(),
                partners,
                settings,
                owner,
                wake,
            }),
        }
    }

    /// Starts the worker on the runtime.
    pub fn spawn(self) -> DeliveryHandle {
        let (stop, stopped) = watch::channel(false);
        let (force, forced) = watch::channel(false);
        let owner = self.inner.owner.clone();
        tracing::info!(worker = %owner, "delivery worker started");
        let task = tokio::spawn(run(self.inner, stopped, forced));
        DeliveryHandle {
            stop,
            force,
            task,
            owner,
        }
    }
}

async fn run(
    inner: Arc<WorkerInner>,
    mut stop: watch::Receiver<bool>,
    mut force: watch::Receiver<bool>,
) {
    let settings = &inner.settings;
    let mut tasks: JoinSet<()> = JoinSet::new();
    loop {
        if *stop.borrow() {
            break;
        }
        while tasks.try_join_next().is_some() {}
        let free = settings.concurrency.saturating_sub(tasks.len());
        let wanted = u32::try_from(free).unwrap_or(u32::MAX).min(settings.batch);
        let mut claimed = 0;
        if wanted > 0 {
            match inner
                .store
                .claim_outbox(&inner.owner, settings.lease, wanted)
                .await
            {
                Ok(items) => {
                    claimed = items.len();
                    for item in items {
                        let worker = inner.clone();
                        tasks.spawn(async move { deliver(&worker, item).await });
                    }
                }
                Err(e) => {
                    tracing::warn!(worker = %inner.owner, error = %e, "cannot claim outbox items")
                }
            }
        }
        // Claim again at once while full batches come back and slots are free.
        if wanted > 0 && claimed == wanted as usize && tasks.len() < settings.concurrency {
            continue;
        }
        tokio::select! {
            () = inner.wake.notified() => {}
            () = tokio::time::sleep(settings.poll_interval) => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = stop.changed() => {}
        }
    }
    let running = tasks.len();
    let drain = async { while tasks.join_next().await.is_some() {} };
    let forced = async {
        // A dropped sender is no order to stop at once.
        if force.wait_for(|now| *now).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let finished = tokio::select! {
        drained = tokio::time::timeout(settings.shutdown_grace, drain) => drained.is_ok(),
        () = forced => {
            tracing::warn!(worker = %inner.owner, running, "stopping now: running deliveries aborted");
            false
        }
    };
    if !finished {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    match inner.store.release_leases(&inner.owner).await {
        Ok(released) => tracing::info!(
            worker = %inner.owner,
            running,
            released,
            "delivery worker stopped; unfinished items returned to the outbox"
        ),
        Err(e) => tracing::warn!(
            worker = %inner.owner,
            error = %e,
            "delivery worker stopped; leases will expire instead"
        ),
    }
}

/// Share of the lease one delivery attempt may take.
const ATTEMPT_SHARE_OF_LEASE: f64 = 0.9;

async fn deliver(inner: &WorkerInner, item: OutboxItem) {
    DeliveryAttempted {
        exchange: &item.id,
        partner: &item.partner,
        passport: &item.passport_id,
        attempt: item.attempts,
    }
    .emit();
    let started = Instant::now();
    // An attempt may not outlive its lease: past it, another worker may claim the item, and two
    // attempts of one delivery would run at once. It is cut at 90 % of the lease and retried.
    let budget = inner.settings.lease.mul_f64(ATTEMPT_SHARE_OF_LEASE);
    let outcome = match tokio::time::timeout(budget, attempt(inner, &item)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(AttemptError::Transient(format!(
            "the attempt ran past {:.1} s, 90 % of its {:.1} s lease, and was cancelled",
            budget.as_secs_f64(),
            inner.settings.lease.as_secs_f64()
        ))),
    };
    let store = &inner.store;
    let recorded = match outcome {
        Ok(receipt) => {
            let recorded = store
                .complete_delivery(&item.id, &inner.owner, &receipt.remote_id)
                .await;
            if matches!(recorded, Ok(true)) {
                DeliverySucceeded {
                    exchange: &item.id,
                    partner: &item.partner,
                    passport: &item.passport_id,
                    attempts: item.attempts,
                    remote_id: &receipt.remote_id,
                    elapsed: started.elapsed(),
                }
                .emit();
            }
            recorded
        }
        Err(error) => {
            let message = error.public_message();
            let full = error.message();
            let attempts = u32::try_from(item.attempts).unwrap_or(u32::MAX);
            if error.retryable() && attempts < inner.settings.max_attempts {
                let wait = inner.settings.retry_delay(attempts, error.retry_after());
                let at = chrono::Utc::now()
                    + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                let recorded = store
                    .fail_delivery(
                        &item.id,
                        &inner.owner,
                        &message,
                        &AttemptFailure::RetryAt(at),
                    )
                    .await;
                DeliveryFailed {
                    exchange: &item.id,
                    partner: &item.partner,
                    attempt: item.attempts,
                    error: &full,
                    retry_in: wait,
                }
                .emit();
                recorded
            } else {
                let recorded = store
                    .fail_delivery(&item.id, &inner.owner, &message, &AttemptFailure::Dead)
                    .await;
                DeliveryDead {
                    exchange: &item.id,
                    partner: &item.partner,
                    attempts: item.attempts,
                    error: &full,
                }
                .emit();
                recorded
            }
        }
    };
    match recorded {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            exchange.id = %item.id,
            worker = %inner.owner,
            "lease lost before the outcome was recorded; the new holder delivers with the same idempotency key"
        ),
        // The lease runs out and another attempt (same idempotency key) settles the item.
        Err(e) => {
            tracing::error!(exchange.id = %item.id, error = %e, "cannot record delivery outcome")
        }
    }
}

/// One attempt: partner, state, policy, the signed form, then the adapter's publish.
async fn attempt(inner: &WorkerInner, item: &OutboxItem) -> Result<PublishReceipt, AttemptError> {
    let (connection, partner) = match inner.partners.connection(&item.partner).await {
        Ok(found) => found,
        Err(PartnerError::NotFound(name)) => {
            return Err(AttemptError::Permanent(format!(
                "partner {name} was removed"
            )));
        }
        Err(PartnerError::Connect { partner, source }) => {
            tracing::warn!(exchange.id = %item.id, partner = %partner, error = %source, "partner connection cannot be built");
            let message = format!("cannot connect partner {partner}: {}", source.summary());
            return Err(if source.is_retryable() {
                AttemptError::Transient(message)
            } else {
                AttemptError::Permanent(message)
            });
        }
        Err(e) => return Err(AttemptError::Transient(e.to_string())),
    };
    if !partner.state.may_receive_deliveries() {
        return Err(AttemptError::Permanent(format!(
            "partner {} is {}; deliveries go only to verified or trusted-unchecked partners",
            partner.name, partner.state
        )));
    }
    let stored = inner
        .store
        .passport(&item.passport_id, Some(item.version))
        .await
        .map_err(|e| AttemptError::Transient(e.to_string()))?
        .ok_or_else(|| {
            AttemptError::Permanent(format!(
                "passport {} has no version {}",
                item.passport_id, item.version
            ))
        })?;
    let doc: Value = serde_json::from_str(&stored.canonical_json)
        .map_err(|e| AttemptError::Permanent(format!("stored passport is unreadable: {e}")))?;
    // An older version goes out only while the passport's latest version is still granted.
    let latest = inner
        .store
        .passport(&item.passport_id, None)
        .await
        .map_err(|e| AttemptError::Transient(e.to_string()))?
        .filter(|latest| latest.version != item.version)
        .map(|latest| serde_json::from_str::<Value>(&latest.canonical_json))
        .transpose()
        .map_err(|e| AttemptError::Permanent(format!("stored passport is unreadable: {e}")))?;
    let shared = match &latest {
        None => share(&partner.policy, &item.passport_id, &doc),
        Some(latest) => share_version(&partner.policy, &item.passport_id, &doc, latest),
    }
    .map_err(|e| match e {
        Withheld::NotSelected => AttemptError::Permanent(format!(
            "the access policy of partner {} no longer selects passport {}",
            partner.name, item.passport_id
        )),
        Withheld::Unusable(why) => AttemptError::Permanent(format!(
            "passport {} for partner {}: {why}",
            item.passport_id, partner.name
        )),
    })?;
    let (passport, signed_jws) = if shared.redacted {
        let jws = redacted_jws(inner, item, &shared.passport, &partner.policy.fields).await?;
        (shared.passport, jws)
    } else {
        (shared.passport, stored.jws)
    };
    connection
        .publish(PublishRequest {
            passport: &passport,
            signed_jws: &signed_jws,
            idempotency_key: &item.idempotency_key,
        })
        .await
        .map_err(AttemptError::Adapter)
}

/// The signed form of the redacted passport, marked as redacted ([`sign_redacted`]): the one
/// kept from an earlier attempt when its payload is still what the policy lets through and it
/// names the same field policy, else signed now and kept for later attempts.
async fn redacted_jws(
    inner: &WorkerInner,
    item: &OutboxItem,
    passport: &Passport,
    fields: &FieldPolicy,
) -> Result<String, AttemptError> {
    let canonical = dpp_schemas::jcs::to_vec(passport)
        .map_err(|e| AttemptError::Permanent(format!("cannot canonicalise: {e}")))?;
    if let Some(kept) = &item.redacted_jws
        && jws_payload(kept).as_deref() == Some(canonical.as_slice())
        && is_signed_redacted_under(kept, fields)
    {
        return Ok(kept.clone());
    }
    let signer = inner.partners.signer().clone();
    let fields = fields.clone();
    let jws = tokio::task::spawn_blocking(move || sign_redacted(&signer, &canonical, &fields))
        .await
        .map_err(|e| AttemptError::Transient(format!("signing task failed: {e}")))?
        .map_err(|e| AttemptError::Transient(format!("signing failed: {e}")))?;
    inner
        .store
        .set_redacted_jws(&item.id, &inner.owner, &jws)
        .await
        .map_err(|e| AttemptError::Transient(e.to_string()))?;
    Ok(jws)
}

/// The decoded payload of a compact JWS.
pub fn jws_payload(jws: &str) -> Option<Vec<u8>> {
    let payload = jws.split('.').nth(1)?;
    URL_SAFE_NO_PAD.decode(payload).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_jittered_and_honours_retry_after() {
        let s = DeliverySettings {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            ..DeliverySettings::default()
        };
        for _ in 0..200 {
            assert!(s.retry_delay(1, None) <= Duration::from_millis(100));
            assert!(s.retry_delay(3, None) <= Duration::from_millis(400));
            assert!(s.retry_delay(40, None) <= Duration::from_secs(1));
            assert!(s.retry_delay(1, Some(Duration::from_secs(7))) >= Duration::from_secs(7));
        }
        let draws: Vec<_> = (0..50).map(|_| s.retry_delay(10, None)).collect();
        assert!(
            draws.iter().any(|d| *d != draws[0]),
            "full jitter must vary the delay"
        );
    }

    #[test]
    fn jws_payloads_decode() {
        assert_eq!(jws_payload("eyJ9.e30.sig").unwrap(), b"{}");
        assert!(jws_payload("nodots").is_none());
    }
}
