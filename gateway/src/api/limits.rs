//! Per-partner limits on the partner-facing API: a token bucket (governor) for the request rate
//! and a semaphore for the requests answered at once. Over either, a call is refused at once with
//! 429 and `Retry-After`, never queued: a partner's burst cannot hold up other partners.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use metrics::counter;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::InboundConfig;
use crate::problem::Problem;
use crate::store::PartnerRecord;

/// The limits of every partner that called lately, rebuilt when its registration changes.
pub struct InboundGates {
    defaults: InboundConfig,
    gates: moka::sync::Cache<String, Arc<Gate>>,
}

/// The limits in effect for one partner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EffectiveLimits {
    /// Sustained requests per second.
    pub requests_per_second: f64,
    /// Token bucket size.
    pub burst: u32,
    /// Requests answered at once.
    pub max_concurrent: u32,
}

struct Gate {
    /// Which registration the gate belongs to: a partner removed and registered again under the
    /// same name starts at revision 1 again, but not at the same creation time.
    registration: (DateTime<Utc>, i64),
    limits: EffectiveLimits,
    bucket: DefaultDirectRateLimiter,
    slots: Arc<Semaphore>,
}

/// A partner's request admitted under its limits: holds one of its concurrency slots until
/// dropped.
#[must_use = "the concurrency slot is given back when the admission is dropped"]
pub struct Admission {
    _slot: OwnedSemaphorePermit,
}

impl InboundGates {
    /// Gates with the gateway's `[inbound]` defaults.
    pub fn new(defaults: InboundConfig) -> Self {
        Self {
            defaults,
            gates: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(3600))
                .build(),
        }
    }

    /// The limits in effect for `partner`: its registration's, the defaults for members it left out.
    pub fn limits_of(&self, partner: &PartnerRecord) -> EffectiveLimits {
        let given = partner.limits;
        EffectiveLimits {
            requests_per_second: given
                .requests_per_second
                .unwrap_or(self.defaults.requests_per_second),
            burst: given.burst.unwrap_or(self.defaults.burst),
            max_concurrent: given.max_concurrent.unwrap_or(self.defaults.max_concurrent),
        }
    }

    /// Admits one request of `partner`, or the 429 saying which limit it is over and when to
    /// come back.
    pub fn admit(&self, partner: &PartnerRecord) -> Result<Admission, Problem> {
        let gate = self.gate(partner);
        if let Err(not_until) = gate.bucket.check() {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            counter!("dpp_partner_requests_refused_total", "partner" => partner.name.clone(), "reason" => "rate").increment(1);
            return Err(Problem::too_many_requests(
                format!(
                    "partner {} is over its rate limit of {} requests per second (burst {})",
                    partner.name, gate.limits.requests_per_second, gate.limits.burst
                ),
                wait.as_secs_f64().ceil() as u64,
            ));
        }
        match gate.slots.clone().try_acquire_owned() {
            Ok(slot) => Ok(Admission { _slot: slot }),
            Err(_) => {
                counter!("dpp_partner_requests_refused_total", "partner" => partner.name.clone(), "reason" => "concurrency").increment(1);
                Err(Problem::too_many_requests(
                    format!(
                        "partner {} has {} requests being answered, the most it may have at once",
                        partner.name, gate.limits.max_concurrent
                    ),
                    1,
                ))
            }
        }
    }

    fn gate(&self, partner: &PartnerRecord) -> Arc<Gate> {
        if let Some(gate) = self.gates.get(&partner.name)
            && gate.registration == (partner.created_at, partner.revision)
        {
            return gate;
        }
        // New, or the registration changed: start from a full bucket and free slots. Requests
        // still holding slots of the old gate finish under it.
        let limits = self.limits_of(partner);
        let gate = Arc::new(Gate {
            registration: (partner.created_at, partner.revision),
            limits,
            bucket: RateLimiter::direct(quota(&limits)),
            slots: Arc::new(Semaphore::new(limits.max_concurrent as usize)),
        });
        self.gates.insert(partner.name.clone(), gate.clone());
        gate
    }
}

/// The token bucket of `limits` (rate and burst are checked at registration and config load;
/// anything out of range falls back to one request per second).
fn quota(limits: &EffectiveLimits) -> Quota {
    let burst = std::num::NonZeroU32::new(limits.burst).unwrap_or(std::num::NonZeroU32::MIN);
    let period = Duration::from_secs_f64(1.0 / limits.requests_per_second.max(0.001));
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(std::num::NonZeroU32::MIN))
        .allow_burst(burst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::InboundLimits;

    fn partner(limits: InboundLimits, revision: i64) -> PartnerRecord {
        PartnerRecord {
            name: "p".into(),
            adapter_type: "ouranos".into(),
            endpoint: "https://example.com".into(),
            settings: Default::default(),
            allowed_hosts: vec![],
            policy: Default::default(),
            pull: Default::default(),
            limits,
            state: crate::store::PartnerState::Verified,
            revision,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_bucket_admits_its_burst_then_refuses_with_a_retry_after() {
        let gates = InboundGates::new(InboundConfig::default());
        let p = partner(
            InboundLimits {
                requests_per_second: Some(0.5),
                burst: Some(3),
                max_concurrent: Some(100),
            },
            1,
        );
        let admitted: Vec<_> = (0..3).map(|_| gates.admit(&p).unwrap()).collect();
        let refused = gates.admit(&p).err().unwrap();
        assert_eq!(refused.status, 429);
        // One token every 2 s: the next comes in at most 2 s.
        assert!(
            matches!(refused.retry_after, Some(1..=2)),
            "{:?}",
            refused.retry_after
        );
        assert!(refused.detail.contains("rate limit"), "{}", refused.detail);
        drop(admitted);
        // A changed registration (new revision) starts a new bucket.
        let changed = partner(p.limits, 2);
        assert!(gates.admit(&changed).is_ok());
    }

    #[test]
    fn a_partner_registered_again_under_the_same_name_gets_its_own_bucket() {
        let gates = InboundGates::new(InboundConfig::default());
        let limits = InboundLimits {
            requests_per_second: Some(0.01),
            burst: Some(1),
            max_concurrent: Some(100),
        };
        let old = partner(limits, 1);
        let _spent = gates.admit(&old).unwrap();
        assert!(gates.admit(&old).is_err());
        // Removed, then registered again: revision 1 again, a later creation time.
        let mut new = partner(limits, 1);
        new.created_at = old.created_at + chrono::Duration::milliseconds(1);
        assert!(gates.admit(&new).is_ok());
    }

    #[test]
    fn concurrency_slots_are_given_back_when_an_admission_drops() {
        let gates = InboundGates::new(InboundConfig::default());
        let p = partner(
            InboundLimits {
                max_concurrent: Some(2),
                ..Default::default()
            },
            1,
        );
        let first = gates.admit(&p).unwrap();
        let _second = gates.admit(&p).unwrap();
        let refused = gates.admit(&p).err().unwrap();
        assert_eq!((refused.status, refused.retry_after), (429, Some(1)));
        assert!(refused.detail.contains("at once"), "{}", refused.detail);
        drop(first);
        assert!(gates.admit(&p).is_ok());
        assert_eq!(
            gates.limits_of(&p),
            EffectiveLimits {
                requests_per_second: InboundConfig::default().requests_per_second,
                burst: InboundConfig::default().burst,
                max_concurrent: 2,
            }
        );
    }
}
