//! Claims checks (RFC 7519, RFC 8725 §3.8–3.11): `exp`, `nbf` and `iat` with a leeway, `iss` and
//! `aud` when the caller names them, and a replay memory of `jti` values.
//!
//! The rule: **a payload that is a JSON object is a claims set**, whatever the header's `typ` says
//! or whether it has one (RFC 7519 makes `typ` optional, so keying the check on it let a token
//! without `typ` skip `exp` and `jti`). Registered claims present are checked; absent ones are not
//! required unless the caller asks. Our passport JWS (`typ: dpp+jws`) are JSON objects too; the
//! closed passport schema has none of these members, so they pass unchanged. A payload that is
//! not a JSON object carries no claims; it is refused only when the token says it is a JWT (`typ`
//! ending in `jwt`) or the caller asks for claims.
//!
//! Replay: a token with a `jti` is accepted once per signing key. Its `jti` is remembered until the
//! token expires (`exp` plus the leeway), so such a token must carry an `exp` no more than
//! [`REPLAY_HORIZON`] ahead: a `jti` without `exp`, or with `exp` further out, is refused because
//! no bounded memory could keep it for its whole life. The memory holds at most
//! [`REPLAY_CAPACITY`] unexpired ids; when it is full, new `jti` tokens are refused (fail closed)
//! until some expire, rather than forgetting ids that are still valid. It lives in the process: a
//! restart, or another replica, starts with an empty memory.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::verifier::VerifyError;

/// Longest time ahead a `jti`-bearing token may expire: how long its id may need remembering.
pub const REPLAY_HORIZON: Duration = Duration::from_secs(24 * 3600);
/// Most unexpired `jti` values remembered at once (about 100 bytes each).
pub const REPLAY_CAPACITY: usize = 100_000;
/// Default clock skew allowed on `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// What a caller expects of a token's claims. With the defaults, the registered claims a payload
/// carries are checked and nothing more is required (see the module docs for the rule).
///
/// ```
/// use dpp_gateway::trust::VerifyOptions;
/// let options = VerifyOptions {
///     expected_iss: Some("did:web:partner.example".into()),
///     expected_aud: Some("did:web:gateway.example".into()),
///     require_exp: true,
///     ..VerifyOptions::default()
/// };
/// assert!(options.asks_for_claims());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// `iss` must equal this.
    pub expected_iss: Option<String>,
    /// `aud` must be or contain this. A token with an `aud` is refused when this is `None`
    /// (RFC 7519 §4.1.3: a recipient not named in `aud` must reject the token).
    pub expected_aud: Option<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// A token without `exp` is refused.
    pub require_exp: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            expected_iss: None,
            expected_aud: None,
            leeway: DEFAULT_LEEWAY,
            require_exp: false,
        }
    }
}

impl VerifyOptions {
    /// Whether these options ask for a claims check whatever the token's `typ`.
    pub fn asks_for_claims(&self) -> bool {
        self.expected_iss.is_some() || self.expected_aud.is_some() || self.require_exp
    }

    /// Whether a token with this protected header must have a claims set (a JSON object) as its
    /// payload: it says it is a JWT, or the caller asks for claims.
    pub(super) fn requires_claims(&self, header: &Map<String, Value>) -> bool {
        let jwt_typed = header
            .get("typ")
            .and_then(Value::as_str)
            .is_some_and(|typ| typ.to_ascii_lowercase().ends_with("jwt"));
        jwt_typed || self.asks_for_claims()
    }
}

/// The claims that outlive the check: what the replay cache needs.
#[derive(Debug)]
pub(super) struct CheckedClaims {
    pub jti: Option<String>,
    pub exp: Option<f64>,
}

/// Checks the claims of a verified payload at `now` (seconds since the epoch).
pub(super) fn check_claims(
    claims: &Map<String, Value>,
    options: &VerifyOptions,
    now: f64,
) -> Result<CheckedClaims, VerifyError> {
    let leeway = options.leeway.as_secs_f64();
    let exp = numeric_date(claims, "exp")?;
    let nbf = numeric_date(claims, "nbf")?;
    let iat = numeric_date(claims, "iat")?;
    match exp {
        Some(exp) if now > exp + leeway => return Err(VerifyError::Expired { exp }),
        None if options.require_exp => return Err(VerifyError::MissingClaim("exp")),
        _ => {}
    }
    if let Some(nbf) = nbf
        && now + leeway < nbf
    {
        return Err(VerifyError::NotYetValid { nbf });
    }
    if let Some(iat) = iat
        && now + leeway < iat
    {
        return Err(VerifyError::IssuedInFuture { iat });
    }
    if let Some(expected) = &options.expected_iss {
        match claims.get("iss") {
            Some(Value::String(iss)) if iss == expected => {}
            Some(Value::String(iss)) => {
                return Err(VerifyError::WrongIssuer {
                    expected: expected.clone(),
                    got: super::verifier::shown(iss),
                });
            }
            Some(_) => return Err(VerifyError::InvalidClaim("iss must be a string".into())),
            None => return Err(VerifyError::MissingClaim("iss")),
        }
    }
    check_audience(claims.get("aud"), options.expected_aud.as_deref())?;
    let jti = match claims.get("jti") {
        None => None,
        Some(Value::String(jti)) if !jti.is_empty() => Some(jti.clone()),
        Some(_) => {
            return Err(VerifyError::InvalidClaim(
                "jti must be a non-empty string".into(),
            ));
        }
    };
    if let Some(jti) = &jti {
        let unprotectable = |reason: String| VerifyError::ReplayUnprotectable {
            jti: super::verifier::shown(jti),
            reason,
        };
        match exp {
            None => return Err(unprotectable("the token has no exp claim".into())),
            Some(exp) if exp - now > REPLAY_HORIZON.as_secs_f64() => {
                return Err(unprotectable(format!(
                    "its exp is {:.0} s ahead, more than the {} s token ids are remembered",
                    exp - now,
                    REPLAY_HORIZON.as_secs()
                )));
            }
            Some(_) => {}
        }
    }
    Ok(CheckedClaims { jti, exp })
}

fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<f64>, VerifyError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| VerifyError::InvalidClaim(format!("{name} must be a finite number"))),
        Some(_) => Err(VerifyError::InvalidClaim(format!(
            "{name} must be a NumericDate (seconds since the epoch)"
        ))),
    }
}

fn check_audience(aud: Option<&Value>, expected: Option<&str>) -> Result<(), VerifyError> {
    let named: Vec<&str> = match aud {
        None => Vec::new(),
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) if many.iter().all(Value::is_string) => {
            many.iter().filter_map(Value::as_str).collect()
        }
        Some(_) => {
            return Err(VerifyError::InvalidClaim(
                "aud must be a string or an array of strings".into(),
            ));
        }
    };
    match (expected, aud.is_some()) {
        (None, false) => Ok(()),
        (Some(_), false) => Err(VerifyError::MissingClaim("aud")),
        (Some(expected), true) if named.contains(&expected) => Ok(()),
        (expected, true) => Err(VerifyError::WrongAudience {
            expected: expected.map(str::to_owned),
            got: named
                .iter()
                .take(4)
                .map(|a| super::verifier::shown(a))
                .collect(),
        }),
    }
}

/// `jti` values seen in verified tokens, each kept until its token expires (plus the leeway).
/// Shared by every clone. Time is passed in, so tests drive it.
#[derive(Clone)]
pub(super) struct ReplayCache {
    inner: Arc<Mutex<ReplayMemory>>,
}

struct ReplayMemory {
    capacity: usize,
    /// SHA-256 of (kid, jti) → last second (Unix time) the id must be remembered. A digest, so
    /// an attacker-sized `jti` costs the same 32 bytes as any other.
    until: HashMap<[u8; 32], i64>,
    /// The same entries ordered by expiry, soonest first, so forgetting costs O(log n) each.
    by_expiry: BinaryHeap<Reverse<(i64, [u8; 32])>>,
}

impl ReplayCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(ReplayMemory {
                capacity,
                until: HashMap::new(),
                by_expiry: BinaryHeap::new(),
            })),
        }
    }

    /// Records `jti` of a token signed by `kid`; a second sighting while remembered is a replay.
    /// `claims` passed [`check_claims`] at `now`, so a `jti` comes with an `exp` within the horizon.
    pub fn first_sighting(
        &self,
        kid: &str,
        claims: &CheckedClaims,
        leeway: Duration,
        now: f64,
    ) -> Result<(), VerifyError> {
        let Some(jti) = &claims.jti else {
            return Ok(());
        };
        let Some(exp) = claims.exp else {
            return Err(VerifyError::ReplayUnprotectable {
                jti: super::verifier::shown(jti),
                reason: "the token has no exp claim".into(),
            });
        };
        // The token is accepted while now <= exp + leeway: remember it that long (whole seconds,
        // rounded up). check_claims bounded exp, so the cast cannot saturate.
        let until = (exp + leeway.as_secs_f64()).ceil() as i64;
        // The kid is part of the key: two issuers may pick the same jti.
        let mut hasher = Sha256::new();
        hasher.update(kid.as_bytes());
        hasher.update([0]);
        hasher.update(jti.as_bytes());
        let key: [u8; 32] = hasher.finalize().into();

        let mut memory = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        memory.forget_expired(now);
        if memory.until.contains_key(&key) {
            return Err(VerifyError::Replayed {
                jti: super::verifier::shown(jti),
            });
        }
        if memory.until.len() >= memory.capacity {
            return Err(VerifyError::ReplayMemoryFull {
                capacity: memory.capacity,
            });
        }
        memory.until.insert(key, until);
        memory.by_expiry.push(Reverse((until, key)));
        Ok(())
    }

    /// How many ids are remembered (expired ones may linger until the next sighting).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .until
            .len()
    }
}

impl ReplayMemory {
    /// Drops every id whose token can no longer be accepted at `now`.
    fn forget_expired(&mut self, now: f64) {
        while let Some(Reverse((until, key))) = self.by_expiry.peek().copied() {
            if (until as f64) >= now {
                break;
            }
            self.by_expiry.pop();
            self.until.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn time_claims_honour_the_leeway() {
        let options = VerifyOptions::default();
        let now = 1_767_225_600.0;
        assert!(check_claims(&claims(json!({"exp": now - 30.0})), &options, now).is_ok());
        assert!(matches!(
            check_claims(&claims(json!({"exp": now - 61.0})), &options, now),
            Err(VerifyError::Expired { .. })
        ));
        assert!(matches!(
            check_claims(&claims(json!({"nbf": now + 120.0})), &options, now),
            Err(VerifyError::NotYetValid { .. })
        ));
        assert!(matches!(
            check_claims(&claims(json!({"iat": now + 3600.0})), &options, now),
            Err(VerifyError::IssuedInFuture { .. })
        ));
        assert!(matches!(
            check_claims(&claims(json!({"exp": "tomorrow"})), &options, now),
            Err(VerifyError::InvalidClaim(_))
        ));
        let strict = VerifyOptions {
            require_exp: true,
            ..VerifyOptions::default()
        };
        assert!(matches!(
            check_claims(&claims(json!({})), &strict, now),
            Err(VerifyError::MissingClaim("exp"))
        ));
    }

    #[test]
    fn audience_must_name_us_when_present() {
        let ours = Some("did:web:gw.example");
        assert!(check_audience(Some(&json!(["x", "did:web:gw.example"])), ours).is_ok());
        assert!(check_audience(None, None).is_ok());
        assert!(matches!(
            check_audience(Some(&json!("did:web:other")), ours),
            Err(VerifyError::WrongAudience { .. })
        ));
        assert!(matches!(
            check_audience(Some(&json!("did:web:gw.example")), None),
            Err(VerifyError::WrongAudience { expected: None, .. })
        ));
        assert!(matches!(
            check_audience(None, ours),
            Err(VerifyError::MissingClaim("aud"))
        ));
    }

    #[test]
    fn a_jti_is_accepted_once_per_key() {
        let cache = ReplayCache::new(REPLAY_CAPACITY);
        let now = 1_767_225_600.0;
        let seen = CheckedClaims {
            jti: Some("j-1".into()),
            exp: Some(now + 300.0),
        };
        assert!(
            cache
                .first_sighting("k1", &seen, DEFAULT_LEEWAY, now)
                .is_ok()
        );
        assert!(matches!(
            cache.first_sighting("k1", &seen, DEFAULT_LEEWAY, now),
            Err(VerifyError::Replayed { .. })
        ));
        assert!(
            cache
                .first_sighting("k2", &seen, DEFAULT_LEEWAY, now)
                .is_ok()
        );
    }

    fn sighting(jti: &str, exp: f64) -> CheckedClaims {
        CheckedClaims {
            jti: Some(jti.into()),
            exp: Some(exp),
        }
    }

    #[test]
    fn a_jti_is_remembered_until_its_exp_plus_leeway_then_forgotten() {
        let cache = ReplayCache::new(REPLAY_CAPACITY);
        let t0 = 1_767_225_600.0;
        // A token valid for 20 h, more than a fixed window of a few hours would cover.
        let exp = t0 + 20.0 * 3600.0;
        let seen = sighting("day-pass", exp);
        cache
            .first_sighting("k1", &seen, DEFAULT_LEEWAY, t0)
            .unwrap();
        for later in [1.0, 3600.0, 19.0 * 3600.0, 20.0 * 3600.0 + 60.0] {
            assert!(
                matches!(
                    cache.first_sighting("k1", &seen, DEFAULT_LEEWAY, t0 + later),
                    Err(VerifyError::Replayed { .. })
                ),
                "replay accepted {later} s after first use"
            );
        }
        // Once the token itself can no longer be accepted, its id leaves the memory.
        cache
            .first_sighting(
                "k1",
                &sighting("other", exp + 3600.0),
                DEFAULT_LEEWAY,
                exp + 61.0,
            )
            .unwrap();
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_full_replay_memory_refuses_new_ids_instead_of_forgetting_live_ones() {
        let cache = ReplayCache::new(3);
        let t0 = 1_767_225_600.0;
        for (i, lifetime) in [600.0, 3600.0, 7200.0].into_iter().enumerate() {
            cache
                .first_sighting(
                    "k",
                    &sighting(&format!("j{i}"), t0 + lifetime),
                    Duration::ZERO,
                    t0,
                )
                .unwrap();
        }
        assert!(matches!(
            cache.first_sighting("k", &sighting("j3", t0 + 600.0), Duration::ZERO, t0 + 1.0),
            Err(VerifyError::ReplayMemoryFull { capacity: 3 })
        ));
        // The first ones are still remembered, not evicted to make room.
        assert!(matches!(
            cache.first_sighting("k", &sighting("j0", t0 + 600.0), Duration::ZERO, t0 + 2.0),
            Err(VerifyError::Replayed { .. })
        ));
        // When j0 expires there is room again.
        cache
            .first_sighting(
                "k",
                &sighting("j3", t0 + 1200.0),
                Duration::ZERO,
                t0 + 601.0,
            )
            .unwrap();
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn a_jti_needs_an_exp_within_the_replay_horizon() {
        let options = VerifyOptions::default();
        let now = 1_767_225_600.0;
        let horizon = REPLAY_HORIZON.as_secs_f64();
        assert!(
            check_claims(
                &claims(json!({"jti": "a", "exp": now + horizon})),
                &options,
                now
            )
            .is_ok()
        );
        for value in [
            json!({"jti": "a"}),
            json!({"jti": "a", "exp": now + horizon + 1.0}),
            json!({"jti": "a", "exp": 1e300}),
        ] {
            let err = check_claims(&claims(value.clone()), &options, now).unwrap_err();
            assert!(
                matches!(&err, VerifyError::ReplayUnprotectable { jti, .. } if jti == "a"),
                "{value}: {err}"
            );
        }
        // Without a jti there is nothing to remember: a long exp is fine.
        assert!(
            check_claims(
                &claims(json!({"exp": now + 365.0 * 86400.0})),
                &options,
                now
            )
            .is_ok()
        );
    }

    #[test]
    fn which_payloads_must_be_claims() {
        let header = |value: Value| value.as_object().unwrap().clone();
        let defaults = VerifyOptions::default();
        assert!(defaults.requires_claims(&header(json!({"typ": "JWT"}))));
        assert!(defaults.requires_claims(&header(json!({"typ": "vc+jwt"}))));
        assert!(!defaults.requires_claims(&header(json!({"typ": "dpp+jws"}))));
        assert!(!defaults.requires_claims(&header(json!({}))));
        let strict = VerifyOptions {
            require_exp: true,
            ..VerifyOptions::default()
        };
        assert!(strict.requires_claims(&header(json!({}))));
    }
}
