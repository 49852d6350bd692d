//! Pull cache: partners' passports fetched through their adapter connection, validated against
//! the canonical passport schema, and kept in moka so that however many callers ask for one
//! remote passport at once, one upstream call is made.
//!
//! Two moka `future::Cache`s share the entries (an `Arc` each):
//! - **current** answers within the partner's TTL. A miss runs the loader once per key
//!   (`entry().or_try_insert_with`, moka's `try_get_with` coalescing); a remote 404 is kept
//!   for the short negative TTL; failures and invalid data are not kept.
//! - **last good** keeps every validated copy for TTL + `stale_if_error`, and is read only when
//!   a refresh fails transiently (RFC 5861 stale-if-error): the copy is served marked
//!   [`Freshness::Stale`]. A remote 404 removes it.
//!
//! Every entry carries its own lifetimes (moka [`Expiry`]), so partners with different
//! [`PullPolicy`]s share one cache.
//!
//! ```no_run
//! # async fn demo(conn: std::sync::Arc<dyn dpp_adapters::contract::Connection>) {
//! use dpp_gateway::exchange::pull::{PullCache, PullPolicy};
//!
//! let schemas = std::sync::Arc::new(dpp_schemas::SchemaRegistry::new().unwrap());
//! let cache = PullCache::new(schemas, 100_000);
//! let pulled = cache
//!     .get("kanto-recycling", "b1", &PullPolicy::default(), conn.fetch("b1"))
//!     .await;
//! # let _ = pulled; }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dpp_adapters::AdapterError;
use dpp_adapters::contract::{Connection, FetchedPassport, PassportReference};
use dpp_schemas::{Passport, SchemaKind, SchemaRegistry, Violation, check_passport};
use metrics::counter;
use moka::Expiry;
use moka::future::Cache;

use crate::store::PullSettings;

/// How long a partner's passports are kept, and how long to wait for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullPolicy {
    /// A fetched passport is served from the cache this long.
    pub ttl: Duration,
    /// A remote 404 is remembered this long.
    pub negative_ttl: Duration,
    /// After `ttl`, the last good copy may still be served (marked stale) this long when the
    /// remote fails.
    pub stale_if_error: Duration,
    /// Longest wait for one upstream fetch.
    pub timeout: Duration,
}

impl Default for PullPolicy {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(30),
            stale_if_error: Duration::from_secs(24 * 3600),
            timeout: Duration::from_secs(10),
        }
    }
}

impl PullPolicy {
    /// The policy of a partner registered with `settings`: each member given replaces the
    /// default (a negative value, which registration refuses, keeps the default).
    pub fn from_settings(settings: &PullSettings) -> Self {
        let default = Self::default();
        let seconds = |given: Option<i64>, fallback: Duration| {
            given
                .and_then(|s| u64::try_from(s).ok())
                .map_or(fallback, Duration::from_secs)
        };
        Self {
            ttl: seconds(settings.ttl_seconds, default.ttl),
            negative_ttl: seconds(settings.negative_ttl_seconds, default.negative_ttl),
            stale_if_error: seconds(settings.stale_if_error_seconds, default.stale_if_error),
            timeout: seconds(settings.timeout_seconds, default.timeout),
        }
    }

    /// This policy spelled out as settings (every member given, whole seconds).
    pub fn to_settings(&self) -> PullSettings {
        let seconds = |d: Duration| Some(i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        PullSettings {
            ttl_seconds: seconds(self.ttl),
            negative_ttl_seconds: seconds(self.negative_ttl),
            stale_if_error_seconds: seconds(self.stale_if_error),
            timeout_seconds: seconds(self.timeout),
        }
    }
}

/// Where the pull of a partner goes: its live connection and its policy. Implemented by the
/// partner registry ([`PartnerConnections`](super::PartnerConnections), which reads the store),
/// so the HTTP handler needs nothing else.
#[async_trait]
pub trait PullTargets: Send + Sync {
    /// The connection and policy of `partner`.
    async fn target(&self, partner: &str) -> Result<PullTarget, PartnerLookupError>;
}

/// A partner's connection and pull policy.
#[derive(Clone)]
pub struct PullTarget {
    /// The live adapter connection.
    pub connection: Arc<dyn Connection>,
    /// The partner's TTLs and timeout.
    pub policy: PullPolicy,
    /// When the partner was registered: tells this registration from a former partner of the
    /// same name (see [`PullCache::track_registration`]).
    pub registered_at: DateTime<Utc>,
}

impl fmt::Debug for PullTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PullTarget")
            .field("adapter", &self.connection.kind())
            .field("policy", &self.policy)
            .field("registered_at", &self.registered_at)
            .finish()
    }
}

/// Why a partner cannot be pulled from.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PartnerLookupError {
    /// No partner has this name.
    #[error("no partner named {0}")]
    Unknown(String),
    /// The partner exists but has no live connection (its adapter failed to build, or it is
    /// disabled).
    #[error("partner {partner} is unavailable: {reason}")]
    Unavailable {
        /// Partner name.
        partner: String,
        /// Why, lowercase, without secrets.
        reason: String,
    },
    /// The partner's adapter does not declare the `fetch` capability.
    #[error("partner {partner}'s adapter ({adapter}) cannot fetch")]
    CannotFetch {
        /// Partner name.
        partner: String,
        /// Its adapter type.
        adapter: String,
    },
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// This call fetched it from the remote.
    Fresh,
    /// From the cache, within its TTL (including answers of a fetch another caller was making).
    Cached,
    /// The remote failed; this is the last good copy, older than its TTL.
    Stale,
}

impl Freshness {
    /// `fresh`, `cached` or `stale`.
    pub fn as_str(self) -> &'static str {
        match self {
            Freshness::Fresh => "fresh",
            Freshness::Cached => "cached",
            Freshness::Stale => "stale",
        }
    }
}

impl fmt::Display for Freshness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A remote passport as the cache serves it.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The canonical passport, validated.
    pub passport: Arc<Passport>,
    /// The reference to the signed original, if the remote record carries one.
    pub reference: Option<PassportReference>,
    /// Fresh, cached or stale.
    pub freshness: Freshness,
    /// When it was fetched from the remote.
    pub fetched_at: DateTime<Utc>,
    /// Time since that fetch.
    pub age: Duration,
    /// The TTL it was cached with (`age > ttl` when stale).
    pub ttl: Duration,
    /// Why the remote could not refresh it (stale answers only).
    pub stale_because: Option<String>,
}

/// Why a pull gave no passport.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PullError {
    /// The remote has no such passport (`cached`: remembered from an earlier 404).
    #[error("partner {partner} has no passport {remote_id}")]
    NotFound {
        /// Partner name.
        partner: String,
        /// The remote id asked for.
        remote_id: String,
        /// Whether the 404 came from the negative cache.
        cached: bool,
    },
    /// The remote's passport, mapped to canonical, breaks the passport schema; nothing was
    /// cached.
    #[error("passport {remote_id} of partner {partner} breaks the passport schema: {} violation(s)", violations.len())]
    Invalid {
        /// Partner name.
        partner: String,
        /// The remote id.
        remote_id: String,
        /// Every violation.
        violations: Vec<Violation>,
    },
    /// The adapter failed (remote error, timeout, transport, auth, mapping, …) and no stale copy
    /// could stand in.
    #[error("pulling {remote_id} from partner {partner} failed: {source}")]
    Upstream {
        /// Partner name.
        partner: String,
        /// The remote id.
        remote_id: String,
        /// The adapter's error.
        source: Arc<AdapterError>,
    },
}

impl PullError {
    /// What the caller is told: [`AdapterError::summary`] in place of the adapter's full error
    /// (remote bodies, URLs and addresses stay in the log).
    pub fn public_detail(&self) -> String {
        match self {
            PullError::Upstream {
                partner,
                remote_id,
                source,
            } => format!(
                "pulling {remote_id} from partner {partner} failed: {}",
                source.summary()
            ),
            other => other.to_string(),
        }
    }

    /// Whether a stale copy may answer instead (transient failures only: RFC 5861 serves stale
    /// for 5xx, and timeouts, resets and 429 are the same kind of trouble).
    pub fn allows_stale(&self) -> bool {
        matches!(self, PullError::Upstream { source, .. } if source.is_retryable())
    }
}

/// What one `get` did, as one typed event: a log line and the `dpp_pull_cache_total` counter.
#[derive(Debug, Clone, Copy)]
pub struct PullServed<'a> {
    /// Partner name.
    pub partner: &'a str,
    /// The remote id.
    pub remote_id: &'a str,
    /// What happened.
    pub outcome: PullOutcome,
}

/// The outcome of one `get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullOutcome {
    /// Served from the cache.
    Hit,
    /// Fetched from the remote.
    Miss,
    /// The remote failed; the last good copy was served.
    Stale,
    /// A remembered 404.
    NegativeHit,
    /// The remote answered 404 (now remembered).
    NotFound,
    /// The remote's passport broke the schema.
    Invalid,
    /// The remote failed and no stale copy was at hand.
    Failed,
}

impl PullOutcome {
    /// Label value of the metric.
    pub fn as_str(self) -> &'static str {
        match self {
            PullOutcome::Hit => "hit",
            PullOutcome::Miss => "miss",
            PullOutcome::Stale => "stale",
            PullOutcome::NegativeHit => "negative_hit",
            PullOutcome::NotFound => "not_found",
            PullOutcome::Invalid => "invalid",
            PullOutcome::Failed => "failed",
        }
    }
}

impl PullServed<'_> {
    /// Logs the pull (hits at trace level: they are the hot path) and counts it.
    pub fn emit(&self) {
        match self.outcome {
            PullOutcome::Hit | PullOutcome::NegativeHit => tracing::trace!(
                partner = self.partner,
                remote_id = self.remote_id,
                outcome = self.outcome.as_str(),
                "remote passport pulled"
            ),
            PullOutcome::Miss | PullOutcome::NotFound => tracing::debug!(
                partner = self.partner,
                remote_id = self.remote_id,
                outcome = self.outcome.as_str(),
                "remote passport pulled"
            ),
            PullOutcome::Stale | PullOutcome::Invalid | PullOutcome::Failed => tracing::warn!(
                partner = self.partner,
                remote_id = self.remote_id,
                outcome = self.outcome.as_str(),
                "remote passport pulled"
            ),
        }
        counter!(
            "dpp_pull_cache_total",
            "partner" => self.partner.to_owned(),
            "outcome" => self.outcome.as_str()
        )
        .increment(1);
    }
}

/// Counters of one cache since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PullStats {
    /// Answers from the cache.
    pub hits: u64,
    /// Loader runs (upstream fetches, whatever their outcome).
    pub misses: u64,
    /// Stale copies served.
    pub stale: u64,
    /// Remembered 404s served.
    pub negative_hits: u64,
    /// Remote 404s.
    pub not_found: u64,
    /// Remote passports refused by the schema.
    pub invalid: u64,
    /// Failures passed to the caller.
    pub failed: u64,
}

#[derive(Default)]
struct Counters([AtomicU64; 7]);

impl Counters {
    fn count(&self, outcome: PullOutcome) {
        self.0[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self, outcome: PullOutcome) -> u64 {
        self.0[outcome as usize].load(Ordering::Relaxed)
    }
}

/// Cache key: partner and remote id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PullKey {
    partner: Box<str>,
    remote_id: Box<str>,
}

/// A validated copy and the lifetimes it was fetched under.
#[derive(Debug)]
struct GoodCopy {
    passport: Arc<Passport>,
    reference: Option<PassportReference>,
    fetched_at: DateTime<Utc>,
    loaded: Instant,
    ttl: Duration,
    stale_if_error: Duration,
}

#[derive(Debug, Clone)]
enum CachedPull {
    Found(Arc<GoodCopy>),
    Gone { ttl: Duration },
}

struct CurrentExpiry;

impl Expiry<PullKey, CachedPull> for CurrentExpiry {
    fn expire_after_create(&self, _: &PullKey, v: &CachedPull, _: Instant) -> Option<Duration> {
        Some(match v {
            CachedPull::Found(copy) => copy.ttl,
            CachedPull::Gone { ttl } => *ttl,
        })
    }

    fn expire_after_update(
        &self,
        key: &PullKey,
        v: &CachedPull,
        at: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        self.expire_after_create(key, v, at)
    }
}

struct LastGoodExpiry;

impl Expiry<PullKey, Arc<GoodCopy>> for LastGoodExpiry {
    fn expire_after_create(&self, _: &PullKey, v: &Arc<GoodCopy>, _: Instant) -> Option<Duration> {
        Some(v.ttl.saturating_add(v.stale_if_error))
    }

    fn expire_after_update(
        &self,
        key: &PullKey,
        v: &Arc<GoodCopy>,
        at: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        self.expire_after_create(key, v, at)
    }
}

/// The pull cache. One per gateway process; cheap to share behind an `Arc`.
pub struct PullCache {
    current: Cache<PullKey, CachedPull>,
    last_good: Cache<PullKey, Arc<GoodCopy>>,
    schemas: Arc<SchemaRegistry>,
    counters: Counters,
    loads: AtomicU64,
    /// Partner → the registration its cached passports were fetched under.
    registrations: RwLock<HashMap<Box<str>, DateTime<Utc>>>,
}

impl fmt::Debug for PullCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PullCache")
            .field("entries", &self.current.entry_count())
            .field("last_good", &self.last_good.entry_count())
            .finish_non_exhaustive()
    }
}

impl PullCache {
    /// A cache validating with `schemas`, holding at most `max_entries` passports (and as many
    /// last good copies).
    pub fn new(schemas: Arc<SchemaRegistry>, max_entries: u64) -> Self {
        Self {
            current: Cache::builder()
                .name("pull-current")
                .max_capacity(max_entries)
                .expire_after(CurrentExpiry)
                .support_invalidation_closures()
                .build(),
            last_good: Cache::builder()
                .name("pull-last-good")
                .max_capacity(max_entries)
                .expire_after(LastGoodExpiry)
                .support_invalidation_closures()
                .build(),
            schemas,
            counters: Counters::default(),
            loads: AtomicU64::new(0),
            registrations: RwLock::default(),
        }
    }

    /// Forgets `partner`'s passports when they were fetched under another registration than
    /// `registered_at` (the partner was removed and registered again, perhaps through the CLI or
    /// by another replica, possibly with another endpoint), then remembers `registered_at`.
    /// Called before every [`get`](Self::get) of a registered partner.
    pub fn track_registration(&self, partner: &str, registered_at: DateTime<Utc>) {
        // A poisoned lock only means a panic elsewhere mid-insert; the map is still usable.
        let known = self
            .registrations
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(partner)
            .copied();
        if known == Some(registered_at) {
            return;
        }
        let previous = self
            .registrations
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(partner.into(), registered_at);
        if previous.is_some_and(|p| p != registered_at) {
            tracing::info!(
                partner,
                "partner registered again: its cached passports are forgotten"
            );
            self.forget_entries(partner);
        }
    }

    /// The passport `remote_id` of `partner`: from the cache, or by awaiting `load` (at most one
    /// `load` per key runs at a time; concurrent callers share its result). `load` is dropped
    /// unpolled on a hit.
    pub async fn get<F>(
        &self,
        partner: &str,
        remote_id: &str,
        policy: &PullPolicy,
        load: F,
    ) -> Result<Pulled, PullError>
    where
        F: Future<Output = Result<FetchedPassport, AdapterError>>,
    {
        let key = PullKey {
            partner: partner.into(),
            remote_id: remote_id.into(),
        };
        // A plain `get` first: on the hot path it is cheaper than the entry API.
        let answer = match self.current.get(&key).await {
            Some(cached) => Ok((cached, false)),
            None => self
                .current
                .entry_by_ref(&key)
                .or_try_insert_with(self.load(&key, policy, load))
                .await
                .map(|entry| {
                    let loaded_now = entry.is_fresh();
                    (entry.into_value(), loaded_now)
                }),
        };
        let served = |outcome| {
            self.counters.count(outcome);
            PullServed {
                partner,
                remote_id,
                outcome,
            }
            .emit();
        };
        match answer {
            Ok((value, loaded_now)) => match value {
                CachedPull::Found(copy) => {
                    let freshness = if loaded_now {
                        served(PullOutcome::Miss);
                        Freshness::Fresh
                    } else {
                        served(PullOutcome::Hit);
                        Freshness::Cached
                    };
                    Ok(pulled(&copy, freshness, None))
                }
                CachedPull::Gone { .. } => {
                    served(if loaded_now {
                        PullOutcome::NotFound
                    } else {
                        PullOutcome::NegativeHit
                    });
                    Err(PullError::NotFound {
                        partner: partner.to_owned(),
                        remote_id: remote_id.to_owned(),
                        cached: !loaded_now,
                    })
                }
            },
            Err(shared) => {
                let error = Arc::unwrap_or_clone(shared);
                if error.allows_stale()
                    && let Some(copy) = self.last_good.get(&key).await
                {
                    served(PullOutcome::Stale);
                    return Ok(pulled(&copy, Freshness::Stale, Some(error.to_string())));
                }
                served(match error {
                    PullError::Invalid { .. } => PullOutcome::Invalid,
                    _ => PullOutcome::Failed,
                });
                Err(error)
            }
        }
    }

    /// [`get`](Self::get) through `connection`'s fetch.
    pub async fn pull(
        &self,
        partner: &str,
        remote_id: &str,
        policy: &PullPolicy,
        connection: &dyn Connection,
    ) -> Result<Pulled, PullError> {
        self.get(partner, remote_id, policy, connection.fetch(remote_id))
            .await
    }

    /// Forgets one passport (both its current entry and its last good copy).
    pub async fn invalidate(&self, partner: &str, remote_id: &str) {
        let key = PullKey {
            partner: partner.into(),
            remote_id: remote_id.into(),
        };
        self.current.invalidate(&key).await;
        self.last_good.invalidate(&key).await;
    }

    /// Forgets every passport of `partner` (its endpoint or credentials changed, or it left).
    pub fn invalidate_partner(&self, partner: &str) {
        self.registrations
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(partner);
        self.forget_entries(partner);
    }

    fn forget_entries(&self, partner: &str) {
        // Only fails when closures are not supported, which both builders enable.
        let current: Box<str> = partner.into();
        let last_good = current.clone();
        let _ = self
            .current
            .invalidate_entries_if(move |key, _| key.partner == current);
        let _ = self
            .last_good
            .invalidate_entries_if(move |key, _| key.partner == last_good);
    }

    /// Counters since the cache was built.
    pub fn stats(&self) -> PullStats {
        let c = &self.counters;
        PullStats {
            hits: c.get(PullOutcome::Hit),
            misses: self.loads.load(Ordering::Relaxed),
            stale: c.get(PullOutcome::Stale),
            negative_hits: c.get(PullOutcome::NegativeHit),
            not_found: c.get(PullOutcome::NotFound),
            invalid: c.get(PullOutcome::Invalid),
            failed: c.get(PullOutcome::Failed),
        }
    }

    /// The loader of one key: fetch with the timeout, validate, keep the last good copy.
    async fn load<F>(
        &self,
        key: &PullKey,
        policy: &PullPolicy,
        load: F,
    ) -> Result<CachedPull, PullError>
    where
        F: Future<Output = Result<FetchedPassport, AdapterError>>,
    {
        self.loads.fetch_add(1, Ordering::Relaxed);
        let partner = &*key.partner;
        let remote_id = &*key.remote_id;
        let fetched = match tokio::time::timeout(policy.timeout, load).await {
            Ok(result) => result,
            Err(_) => Err(AdapterError::Timeout {
                url: format!("partner {partner} passport {remote_id}"),
            }),
        };
        match fetched {
            Ok(fetched) => {
                let violations = self.violations(&fetched.passport);
                if !violations.is_empty() {
                    return Err(PullError::Invalid {
                        partner: partner.to_owned(),
                        remote_id: remote_id.to_owned(),
                        violations,
                    });
                }
                let copy = Arc::new(GoodCopy {
                    passport: Arc::new(fetched.passport),
                    reference: fetched.reference,
                    fetched_at: Utc::now(),
                    loaded: Instant::now(),
                    ttl: policy.ttl,
                    stale_if_error: policy.stale_if_error,
                });
                self.last_good.insert(key.clone(), copy.clone()).await;
                Ok(CachedPull::Found(copy))
            }
            Err(AdapterError::NotFound(_)) => {
                self.last_good.invalidate(key).await;
                Ok(CachedPull::Gone {
                    ttl: policy.negative_ttl,
                })
            }
            Err(source) => Err(PullError::Upstream {
                partner: partner.to_owned(),
                remote_id: remote_id.to_owned(),
                source: Arc::new(source),
            }),
        }
    }

    /// Canonical schema and semantic rules, every violation.
    fn violations(&self, passport: &Passport) -> Vec<Violation> {
        let mut violations = match serde_json::to_value(passport) {
            Ok(value) => self
                .schemas
                .validate(SchemaKind::Passport, &value)
                .err()
                .unwrap_or_default(),
            Err(e) => vec![Violation::new("", format!("cannot serialise: {e}"))],
        };
        violations.extend(check_passport(passport));
        violations
    }
}

fn pulled(copy: &GoodCopy, freshness: Freshness, stale_because: Option<String>) -> Pulled {
    Pulled {
        passport: copy.passport.clone(),
        reference: copy.reference.clone(),
        freshness,
        fetched_at: copy.fetched_at,
        age: copy.loaded.elapsed(),
        ttl: copy.ttl,
        stale_because,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dpp_schemas::fixtures::pp_pellets;
    use std::sync::atomic::AtomicUsize;

    fn fetched(passport: Passport) -> Result<FetchedPassport, AdapterError> {
        Ok(FetchedPassport {
            remote_id: "r1".into(),
            passport,
            reference: None,
        })
    }

    #[tokio::test]
    async fn a_hit_does_not_poll_the_loader() {
        let cache = PullCache::new(Arc::new(SchemaRegistry::new().unwrap()), 10);
        let policy = PullPolicy::default();
        let polled = AtomicUsize::new(0);
        for _ in 0..3 {
            let got = cache
                .get("p", "r1", &policy, async {
                    polled.fetch_add(1, Ordering::SeqCst);
                    fetched(pp_pellets())
                })
                .await
                .unwrap();
            assert_eq!(got.passport.id, pp_pellets().id);
        }
        assert_eq!(polled.load(Ordering::SeqCst), 1);
        assert_eq!(cache.stats().hits, 2);
        assert_eq!(cache.stats().misses, 1);
    }

    #[tokio::test]
    async fn partners_do_not_share_entries_and_can_be_forgotten() {
        let cache = PullCache::new(Arc::new(SchemaRegistry::new().unwrap()), 10);
        let policy = PullPolicy::default();
        let a = cache
            .get("a", "r1", &policy, async { fetched(pp_pellets()) })
            .await
            .unwrap();
        let b = cache
            .get("b", "r1", &policy, async { fetched(pp_pellets()) })
            .await
            .unwrap();
        assert_eq!(
            (a.freshness, b.freshness),
            (Freshness::Fresh, Freshness::Fresh)
        );
        cache.invalidate_partner("a");
        let again = cache
            .get("a", "r1", &policy, async { fetched(pp_pellets()) })
            .await
            .unwrap();
        assert_eq!(again.freshness, Freshness::Fresh);
        let b_again = cache
            .get("b", "r1", &policy, async { fetched(pp_pellets()) })
            .await
            .unwrap();
        assert_eq!(b_again.freshness, Freshness::Cached);
    }

    #[tokio::test]
    async fn a_slow_remote_times_out_without_being_cached() {
        let cache = PullCache::new(Arc::new(SchemaRegistry::new().unwrap()), 10);
        let policy = PullPolicy {
            timeout: Duration::from_millis(20),
            ..PullPolicy::default()
        };
        let err = cache
            .get("p", "r1", &policy, async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                fetched(pp_pellets())
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&err, PullError::Upstream { source, .. } if matches!(**source, AdapterError::Timeout { .. })),
            "{err:?}"
        );
        let ok = cache
            .get("p", "r1", &policy, async { fetched(pp_pellets()) })
            .await
            .unwrap();
        assert_eq!(ok.freshness, Freshness::Fresh);
    }

    #[tokio::test]
    async fn a_new_registration_of_a_partner_forgets_its_passports() {
        let cache = PullCache::new(Arc::new(SchemaRegistry::new().unwrap()), 10);
        let policy = PullPolicy::default();
        let first = DateTime::from_timestamp_millis(1_700_000_000_000).unwrap();
        let get = |partner: &'static str| {
            cache.get(partner, "r1", &policy, async { fetched(pp_pellets()) })
        };
        cache.track_registration("a", first);
        cache.track_registration("b", first);
        assert_eq!(get("a").await.unwrap().freshness, Freshness::Fresh);
        assert_eq!(get("b").await.unwrap().freshness, Freshness::Fresh);
        cache.track_registration("a", first);
        assert_eq!(get("a").await.unwrap().freshness, Freshness::Cached);
        cache.track_registration("a", first + chrono::TimeDelta::milliseconds(1));
        assert_eq!(get("a").await.unwrap().freshness, Freshness::Fresh);
        assert_eq!(get("b").await.unwrap().freshness, Freshness::Cached);
    }

    #[test]
    fn settings_override_the_defaults_member_by_member() {
        let default = PullPolicy::default();
        assert_eq!(PullPolicy::from_settings(&PullSettings::default()), default);
        let policy = PullPolicy::from_settings(&PullSettings {
            ttl_seconds: Some(1),
            stale_if_error_seconds: Some(0),
            ..PullSettings::default()
        });
        assert_eq!(policy.ttl, Duration::from_secs(1));
        assert_eq!(policy.stale_if_error, Duration::ZERO);
        assert_eq!(
            (policy.negative_ttl, policy.timeout),
            (default.negative_ttl, default.timeout)
        );
        assert_eq!(PullPolicy::from_settings(&policy.to_settings()), policy);
        assert_eq!(default.to_settings().ttl_seconds, Some(300));
    }
}
