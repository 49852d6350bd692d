//! Claims checks for JWT-typed tokens (RFC 7519, RFC 8725 §3.8–3.11): `exp`, `nbf` and `iat` with a
//! leeway, `iss` and `aud` when the caller names them, and a replay cache that remembers each `jti`
//! until its token expires. Our own passport JWS (`typ: dpp+jws`) carries no claims and is not
//! checked here unless the caller asks.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use moka::Expiry;
use serde_json::{Map, Value};

use super::verifier::VerifyError;

/// How long a `jti` of a token without `exp` is remembered.
const REPLAY_WINDOW_WITHOUT_EXP: Duration = Duration::from_secs(24 * 3600);
/// Most `jti` values remembered at once; the oldest go first beyond this.
const REPLAY_CAPACITY: u64 = 100_000;
/// Default clock skew allowed on `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// What a caller expects of a token's claims. With the defaults, only JWT-typed tokens
/// (`typ` ending in `jwt`) are checked, for their time claims and `jti` replay.
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

    /// Whether the token with this protected header gets a claims check.
    pub(super) fn applies_to(&self, header: &Map<String, Value>) -> bool {
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

/// Seconds since the Unix epoch, now.
pub(super) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
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
#[derive(Clone)]
pub(super) struct ReplayCache {
    seen: moka::sync::Cache<String, Duration>,
}

struct UntilExpiry;

impl Expiry<String, Duration> for UntilExpiry {
    fn expire_after_create(&self, _: &String, ttl: &Duration, _: Instant) -> Option<Duration> {
        Some(*ttl)
    }
}

impl ReplayCache {
    pub fn new() -> Self {
        Self {
            seen: moka::sync::Cache::builder()
                .max_capacity(REPLAY_CAPACITY)
                .expire_after(UntilExpiry)
                .build(),
        }
    }

    /// Records `jti` of a token signed by `kid`; a second sighting while remembered is a replay.
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
        let ttl = match claims.exp {
            Some(exp) => Duration::try_from_secs_f64((exp - now).max(0.0))
                .unwrap_or(REPLAY_WINDOW_WITHOUT_EXP)
                .saturating_add(leeway),
            None => REPLAY_WINDOW_WITHOUT_EXP,
        };
        // The kid is part of the key: two issuers may pick the same jti.
        let entry = self
            .seen
            .entry(format!("{kid}\u{0}{jti}"))
            .or_insert_with(|| ttl);
        if entry.is_fresh() {
            Ok(())
        } else {
            Err(VerifyError::Replayed {
                jti: super::verifier::shown(jti),
            })
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
        let cache = ReplayCache::new();
        let now = unix_now();
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
}
