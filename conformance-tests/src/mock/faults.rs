//! Seeded fault injection shared by the mocks: added latency, 5xx answers, 429 with
//! `Retry-After`, connection resets, stalls past the client's timeout, and "commit then drop the
//! response".
//!
//! Rates are drawn from a [SplitMix64](super::rng) generator seeded by [`Faults::seed`], a fixed
//! number of draws per request, so the same seed and the same request sequence give the same
//! faults. The `*_next` counters inject a fault into exactly the next N eligible requests, before
//! any rate applies, for tests that need one precise failure.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::rng::SplitMix64;

/// What goes wrong, and how often. Sent as JSON to `POST /__admin/faults` (missing members take
/// their defaults, so the body replaces the whole setting).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every request before it is handled.
    pub latency_ms: u64,
    /// Share of requests answered with [`Faults::error_status`] and the data space's error body.
    pub error_rate: f64,
    /// Status of injected errors: 500, 502, 503 or 504.
    pub error_status: u16,
    /// Share of requests answered `429 Too Many Requests` with `Retry-After`.
    pub rate_limit_rate: f64,
    /// `Retry-After` of injected 429s, in seconds.
    pub retry_after_secs: u64,
    /// Share of requests whose connection is closed before anything is processed or answered.
    pub reset_rate: f64,
    /// Share of successful writes (PUT/POST/DELETE) whose data is stored but whose response is
    /// never sent: the connection is closed instead.
    pub drop_after_commit_rate: f64,
    /// Share of requests that stall [`Faults::stall_ms`] before they are handled: longer than
    /// the client waits, they are timeouts on its side (what the mock does with the request
    /// after the stall depends on whether the client is still connected).
    pub stall_rate: f64,
    /// How long a stalled request waits, milliseconds.
    pub stall_ms: u64,
    /// The next N requests get an injected error.
    pub error_next: u32,
    /// The next N requests get an injected 429.
    pub rate_limit_next: u32,
    /// The next N requests get their connection reset.
    pub reset_next: u32,
    /// The next N successful writes are committed, then their connection is dropped.
    pub drop_after_commit_next: u32,
    /// Seed of the generator the rates draw from.
    pub seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            error_rate: 0.0,
            error_status: 503,
            rate_limit_rate: 0.0,
            retry_after_secs: 1,
            reset_rate: 0.0,
            drop_after_commit_rate: 0.0,
            stall_rate: 0.0,
            stall_ms: 5_000,
            error_next: 0,
            rate_limit_next: 0,
            reset_next: 0,
            drop_after_commit_next: 0,
            seed: 0,
        }
    }
}

impl Faults {
    /// Checks rates are within `0..=1` and the error status is a 5xx the mocks can send.
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("rate_limit_rate", self.rate_limit_rate),
            ("reset_rate", self.reset_rate),
            ("drop_after_commit_rate", self.drop_after_commit_rate),
            ("stall_rate", self.stall_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be within 0..=1, got {rate}"));
            }
        }
        if ![500, 502, 503, 504].contains(&self.error_status) {
            return Err(format!(
                "error_status must be 500, 502, 503 or 504, got {}",
                self.error_status
            ));
        }
        Ok(())
    }
}

/// How many faults were injected, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    /// Requests delayed by `latency_ms`.
    pub delayed: u64,
    /// Injected 5xx answers.
    pub errors: u64,
    /// Injected 429 answers.
    pub rate_limited: u64,
    /// Connections reset before processing.
    pub resets: u64,
    /// Writes committed whose response was then dropped.
    pub dropped_after_commit: u64,
    /// Requests stalled for `stall_ms`.
    #[serde(default)]
    pub stalled: u64,
}

/// The fault to apply before a request is processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Before {
    /// Handle the request normally.
    Proceed,
    /// Close the connection without an answer.
    Reset,
    /// Answer 429 with this `Retry-After`.
    RateLimit {
        /// Seconds.
        retry_after_secs: u64,
    },
    /// Answer with this 5xx status.
    Error {
        /// HTTP status.
        status: u16,
    },
}

/// Decides, request by request, which fault to inject.
#[derive(Debug)]
pub struct FaultInjector {
    faults: Faults,
    rng: SplitMix64,
    counts: FaultCounts,
}

impl FaultInjector {
    /// An injector applying `faults`.
    pub fn new(faults: Faults) -> Self {
        Self {
            rng: SplitMix64::new(faults.seed),
            faults,
            counts: FaultCounts::default(),
        }
    }

    /// Replaces the setting and reseeds the generator (counts are kept).
    pub fn set(&mut self, faults: Faults) {
        self.rng = SplitMix64::new(faults.seed);
        self.faults = faults;
    }

    /// The current setting.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Faults injected so far.
    pub fn counts(&self) -> &FaultCounts {
        &self.counts
    }

    /// Forgets the counts.
    pub fn reset_counts(&mut self) {
        self.counts = FaultCounts::default();
    }

    /// The latency to add and the fault to apply before processing one request. Always draws
    /// four numbers, so one request's outcome does not shift the next one's.
    pub fn before(&mut self) -> (Duration, Before) {
        let (reset, limited, error, stall) = (
            self.rng.next_f64(),
            self.rng.next_f64(),
            self.rng.next_f64(),
            self.rng.next_f64(),
        );
        let f = &mut self.faults;
        let mut latency = Duration::from_millis(f.latency_ms);
        if f.latency_ms > 0 {
            self.counts.delayed += 1;
        }
        if stall < f.stall_rate {
            self.counts.stalled += 1;
            latency += Duration::from_millis(f.stall_ms);
        }
        let decision = if take(&mut f.reset_next) || reset < f.reset_rate {
            self.counts.resets += 1;
            Before::Reset
        } else if take(&mut f.rate_limit_next) || limited < f.rate_limit_rate {
            self.counts.rate_limited += 1;
            Before::RateLimit {
                retry_after_secs: f.retry_after_secs,
            }
        } else if take(&mut f.error_next) || error < f.error_rate {
            self.counts.errors += 1;
            Before::Error {
                status: f.error_status,
            }
        } else {
            Before::Proceed
        };
        (latency, decision)
    }

    /// Whether to drop the response of a write that has just been committed. Draws one number.
    pub fn drop_after_commit(&mut self) -> bool {
        let roll = self.rng.next_f64();
        let f = &mut self.faults;
        let drop = take(&mut f.drop_after_commit_next) || roll < f.drop_after_commit_rate;
        if drop {
            self.counts.dropped_after_commit += 1;
        }
        drop
    }
}

/// Decrements a positive counter and says whether it was positive.
fn take(counter: &mut u32) -> bool {
    if *counter > 0 {
        *counter -= 1;
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_reproducible_for_a_seed() {
        let faults = Faults {
            error_rate: 0.3,
            seed: 42,
            ..Faults::default()
        };
        let run = |f: &Faults| {
            let mut injector = FaultInjector::new(f.clone());
            (0..200).map(|_| injector.before().1).collect::<Vec<_>>()
        };
        let first = run(&faults);
        assert_eq!(first, run(&faults));
        let errors = first.iter().filter(|d| **d != Before::Proceed).count();
        assert!(
            (40..=80).contains(&errors),
            "{errors} errors of 200 at rate 0.3"
        );
        assert_ne!(first, run(&Faults { seed: 43, ..faults }));
    }

    #[test]
    fn next_counters_hit_exactly_n_requests_in_priority_order() {
        let mut injector = FaultInjector::new(Faults {
            reset_next: 1,
            rate_limit_next: 1,
            error_next: 1,
            drop_after_commit_next: 1,
            retry_after_secs: 7,
            ..Faults::default()
        });
        assert_eq!(injector.before().1, Before::Reset);
        assert_eq!(
            injector.before().1,
            Before::RateLimit {
                retry_after_secs: 7
            }
        );
        assert_eq!(injector.before().1, Before::Error { status: 503 });
        assert_eq!(injector.before().1, Before::Proceed);
        assert!(injector.drop_after_commit());
        assert!(!injector.drop_after_commit());
        assert_eq!(
            injector.counts(),
            &FaultCounts {
                delayed: 0,
                errors: 1,
                rate_limited: 1,
                resets: 1,
                dropped_after_commit: 1,
                stalled: 0,
            }
        );
    }

    #[test]
    fn out_of_range_settings_are_refused() {
        assert!(
            Faults {
                error_rate: 1.5,
                ..Faults::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Faults {
                error_status: 404,
                ..Faults::default()
            }
            .validate()
            .is_err()
        );
        assert!(Faults::default().validate().is_ok());
    }
}
