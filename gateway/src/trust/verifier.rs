//! Verification of compact JWS against a JWKS, strict per RFC 8725: ES256 only, keys only from the
//! JWKS we were given (never from the token), every `crit` refused, no unencoded payloads, only
//! canonical (low-S) signatures; payloads that are JSON objects also get their claims checked and
//! their `jti` remembered (see [`super::claims`]). A key can be revoked while the verifier is in
//! use: every clone stops accepting it at once.
//!
//! ```text
//! header checks ─► kid: revoked? trusted? ─► signature: 64 bytes, low S ─► josekit/OpenSSL ES256
//!                                                                      ─► claims ─► jti memory
//! ```
//!
//! The header is checked here before any cryptography; the signature itself is checked by josekit's
//! OpenSSL-backed ES256 verifier, so a token we sign with aws-lc-rs is proven to interoperate.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dpp_adapters::contract::{Clock, SystemClock};
use josekit::jwk::Jwk;
use josekit::jws::JwsContext;
use josekit::jws::alg::ecdsa::{EcdsaJwsAlgorithm, EcdsaJwsVerifier};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::claims::{REPLAY_CAPACITY, ReplayCache, VerifyOptions, check_claims};
use super::low_s::is_low_s;
use super::{ES256, TrustError};

/// Header parameters that carry or point at keys. RFC 8725 §3.10: never let the token choose the key.
const KEY_BEARING_HEADERS: [&str; 4] = ["jku", "x5u", "jwk", "x5c"];
/// Longest attacker-supplied value quoted in an error message.
const MAX_SHOWN: usize = 80;

/// A JWS that verified: its protected header, its payload and the key that signed it.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedJws {
    /// The protected header as sent.
    pub header: Map<String, Value>,
    /// The payload bytes (base64url-decoded).
    pub payload: Vec<u8>,
    /// The `kid` of the key that verified the signature.
    pub kid: String,
}

/// Why a JWS was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not three base64url parts, or the header is not a JSON object with unique names.
    #[error("malformed compact jws: {0}")]
    Malformed(String),
    /// `alg` is anything but ES256 (`none`, HS256, RS256…).
    #[error("jws algorithm {0:?} is not accepted, only ES256")]
    AlgorithmNotAllowed(String),
    /// No `kid` in the header: we never try every key.
    #[error("jws header has no kid")]
    MissingKid,
    /// The `kid` is not in the JWKS this verifier trusts.
    #[error("jws kid {0:?} is not a trusted key")]
    UnknownKid(String),
    /// The `kid` names a key that was revoked: it verifies nothing, old signatures included.
    #[error(
        "jws kid {0:?} names a revoked key: it verifies nothing, not even what it signed before"
    )]
    RevokedKey(String),
    /// `jku`, `x5u`, `jwk` or `x5c` in the header: keys are never taken from the token.
    #[error("jws header parameter {0:?} is not accepted: keys are never taken from the token")]
    KeyInHeader(String),
    /// `crit` names extensions we do not implement.
    #[error("jws critical header parameters {0:?} are not understood")]
    UnsupportedCritical(Vec<String>),
    /// `b64: false` (RFC 7797 unencoded payload) is not accepted.
    #[error("jws with unencoded payload (b64: {0}) is not accepted")]
    UnencodedPayload(String),
    /// The ES256 signature's `s` is above n/2: the twin `(r, n - s)` of a signature, which anyone
    /// can make from a valid one without the key. Only the low-S form is accepted.
    #[error(
        "jws signature is not canonical: its ecdsa s is above n/2 (the malleated twin of a signature)"
    )]
    HighS,
    /// The signature does not match the signing input under the key named by `kid`.
    #[error("jws signature does not verify with key {kid:?}")]
    BadSignature {
        /// The key tried.
        kid: String,
    },
    /// A JWT's `exp` has passed (beyond the leeway).
    #[error("token expired at {exp} (seconds since the epoch)")]
    Expired {
        /// The `exp` claim.
        exp: f64,
    },
    /// A JWT's `nbf` is still ahead (beyond the leeway).
    #[error("token is not valid before {nbf} (seconds since the epoch)")]
    NotYetValid {
        /// The `nbf` claim.
        nbf: f64,
    },
    /// A JWT claims to be issued in the future (beyond the leeway).
    #[error("token is issued in the future, at {iat} (seconds since the epoch)")]
    IssuedInFuture {
        /// The `iat` claim.
        iat: f64,
    },
    /// `iss` is not the issuer the caller expects.
    #[error("token issuer {got:?} is not the expected {expected:?}")]
    WrongIssuer {
        /// The issuer asked for.
        expected: String,
        /// The `iss` claim.
        got: String,
    },
    /// `aud` does not name the audience the caller expects (or the caller named none).
    #[error("token audience {got:?} does not name {}", expected.as_deref().map_or("this verifier (no audience expected)".to_owned(), |e| format!("{e:?}")))]
    WrongAudience {
        /// The audience asked for, if any.
        expected: Option<String>,
        /// The `aud` claim (first few values).
        got: Vec<String>,
    },
    /// A claim the caller requires is absent.
    #[error("token has no {0} claim")]
    MissingClaim(&'static str),
    /// The payload of a JWT is not a claims object, or a claim has the wrong type.
    #[error("invalid token claims: {0}")]
    InvalidClaim(String),
    /// The `jti` was seen before, from the same key, while its token was still valid.
    #[error("token id (jti) {jti:?} was already used: replay refused")]
    Replayed {
        /// The `jti` claim.
        jti: String,
    },
    /// A token with a `jti` that the replay memory could not keep for its whole life: no `exp`,
    /// or `exp` beyond [`super::claims::REPLAY_HORIZON`].
    #[error("token id (jti) {jti:?} cannot be protected against replay: {reason}")]
    ReplayUnprotectable {
        /// The `jti` claim.
        jti: String,
        /// Why not.
        reason: String,
    },
    /// The replay memory holds as many unexpired ids as it may; new `jti` tokens wait until some
    /// expire rather than evicting ids that could then be replayed.
    #[error("the replay memory is full ({capacity} unexpired token ids): try again later")]
    ReplayMemoryFull {
        /// How many ids it holds.
        capacity: usize,
    },
}

/// Verifies compact JWS against the keys of a JWKS (ours now; partners' later). Cheap to clone;
/// clones share the trusted keys and the replay memory.
#[derive(Clone)]
pub struct JwsVerifier {
    /// Shared by every clone, so a revocation reaches every handler at once.
    keys: Arc<RwLock<TrustedKeys>>,
    /// Shared by every clone, so a replay is caught whichever handler sees it.
    replay: ReplayCache,
    clock: Arc<dyn Clock>,
}

struct TrustedKeys {
    by_kid: HashMap<String, Arc<EcdsaJwsVerifier>>,
    /// Named so a token under one is refused as revoked, not merely unknown.
    revoked: HashSet<String>,
}

impl fmt::Debug for JwsVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        let mut kids: Vec<&String> = keys.by_kid.keys().collect();
        kids.sort();
        let mut revoked: Vec<&String> = keys.revoked.iter().collect();
        revoked.sort();
        f.debug_struct("JwsVerifier")
            .field("kids", &kids)
            .field("revoked", &revoked)
            .finish()
    }
}

impl JwsVerifier {
    /// Trusts every EC P-256 signing key of `jwks` (`{"keys":[…]}`). Keys of other types or uses
    /// (RSA, `use: enc`, another `alg`) are skipped; a P-256 key without `kid`, with bad
    /// coordinates or a duplicate `kid` is an error, and so is a JWKS with no usable key.
    pub fn from_jwks(jwks: &Value) -> Result<Self, TrustError> {
        let entries = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| TrustError::InvalidJwk("jwks has no \"keys\" array".into()))?;
        let mut keys = HashMap::with_capacity(entries.len());
        for entry in entries {
            let jwk = entry
                .as_object()
                .ok_or_else(|| TrustError::InvalidJwk("jwks entry is not an object".into()))?;
            if !is_es256_signing_key(jwk) {
                continue;
            }
            let kid = jwk
                .get("kid")
                .and_then(Value::as_str)
                .ok_or_else(|| TrustError::InvalidJwk("p-256 key without string kid".into()))?;
            let verifier = es256_verifier(jwk, kid)?;
            if keys.insert(kid.to_owned(), Arc::new(verifier)).is_some() {
                return Err(TrustError::InvalidJwk(format!("duplicate kid {kid:?}")));
            }
        }
        if keys.is_empty() {
            return Err(TrustError::InvalidJwk(
                "jwks holds no ES256 (EC P-256) signing key".into(),
            ));
        }
        Ok(Self {
            keys: Arc::new(RwLock::new(TrustedKeys {
                by_kid: keys,
                revoked: HashSet::new(),
            })),
            replay: ReplayCache::new(REPLAY_CAPACITY),
            clock: Arc::new(SystemClock),
        })
    }

    /// The same verifier reading time from `clock` (tests drive `exp`, `nbf` and the replay
    /// memory with a `ManualClock`).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The key ids this verifier trusts now, sorted.
    pub fn kids(&self) -> Vec<String> {
        let keys = self.read_keys();
        let mut kids: Vec<String> = keys.by_kid.keys().cloned().collect();
        kids.sort_unstable();
        kids
    }

    /// Stops trusting `kid`, in this verifier and every clone of it, from the next verification
    /// on; tokens under it are then refused as [`VerifyError::RevokedKey`]. Returns whether the
    /// key was trusted until now (a kid never trusted is still remembered as revoked).
    pub fn revoke(&self, kid: &str) -> bool {
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        keys.revoked.insert(kid.to_owned());
        keys.by_kid.remove(kid).is_some()
    }

    /// Whether a signature by `kid` can verify here now.
    pub fn trusts(&self, kid: &str) -> bool {
        self.read_keys().by_kid.contains_key(kid)
    }

    /// Whether `kid` was revoked (see [`revoke`](Self::revoke)).
    pub fn is_revoked(&self, kid: &str) -> bool {
        self.read_keys().revoked.contains(kid)
    }

    fn read_keys(&self) -> std::sync::RwLockReadGuard<'_, TrustedKeys> {
        // The data stays consistent whatever a panicking writer did: each write is one insert
        // and one remove.
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds since the Unix epoch, by this verifier's clock.
    fn now(&self) -> f64 {
        self.clock.now().timestamp_micros() as f64 / 1e6
    }

    /// Verifies a compact JWS with the default [`VerifyOptions`]: the registered claims a JSON
    /// payload carries are checked and its `jti` remembered; no claim is required.
    pub fn verify(&self, compact: &str) -> Result<VerifiedJws, VerifyError> {
        self.verify_with(compact, &VerifyOptions::default())
    }

    /// Verifies a compact JWS; a payload that is a JSON object is a claims set and checked as
    /// `options` say (see [`super::claims`] for the rule). On success returns its header,
    /// payload and signing kid.
    pub fn verify_with(
        &self,
        compact: &str,
        options: &VerifyOptions,
    ) -> Result<VerifiedJws, VerifyError> {
        let mut parts = compact.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::Malformed(
                "expected three base64url parts separated by '.'".into(),
            ));
        };
        let header_bytes = decode_part("header", header_b64)?;
        let StrictHeader(header) = serde_json::from_slice(&header_bytes)
            .map_err(|e| VerifyError::Malformed(format!("header is not a json object: {e}")))?;

        let kid = check_header(&header)?;
        let verifier = {
            let keys = self.read_keys();
            if keys.revoked.contains(kid) {
                return Err(VerifyError::RevokedKey(shown(kid)));
            }
            keys.by_kid
                .get(kid)
                .cloned()
                .ok_or_else(|| VerifyError::UnknownKid(shown(kid)))?
        };

        let signature = decode_part("signature", signature_b64)?;
        if signature.len() != 64 {
            return Err(VerifyError::Malformed(format!(
                "es256 signature must be 64 bytes, got {}",
                signature.len()
            )));
        }
        // OpenSSL accepts both twins (r, s) and (r, n - s); one signed content must have one
        // signature form, or a replayed token gets past anything keyed by its bytes.
        if !is_low_s(&signature) {
            return Err(VerifyError::HighS);
        }
        // Decoded here only to tell a broken payload from a bad signature.
        decode_part("payload", payload_b64)?;

        // josekit re-checks alg, kid and crit (refusing every crit: no acceptable ones are
        // registered), then verifies with OpenSSL.
        let (payload, _) = JwsContext::new()
            .deserialize_compact(compact, verifier.as_ref())
            .map_err(|_| VerifyError::BadSignature {
                kid: kid.to_owned(),
            })?;
        // Claims only after the signature: unauthenticated claims must not fill the replay cache.
        if let Some(claims) = claims_set(&header, &payload, options)? {
            let now = self.now();
            let checked = check_claims(&claims, options, now)?;
            self.replay
                .first_sighting(kid, &checked, options.leeway, now)?;
        }
        Ok(VerifiedJws {
            kid: kid.to_owned(),
            header,
            payload,
        })
    }
}

/// The payload as a claims set: a JSON object (with unique member names) is one whatever the
/// `typ`; anything else carries no claims, which is an error only when the header says JWT or the
/// caller asks for claims.
fn claims_set(
    header: &Map<String, Value>,
    payload: &[u8],
    options: &VerifyOptions,
) -> Result<Option<Map<String, Value>>, VerifyError> {
    let looks_like_object = payload
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if looks_like_object {
        // Strictly: a payload with `exp` twice must not be read one way here and another
        // elsewhere, and one that starts like an object must not escape the check by being broken.
        let StrictHeader(claims) = serde_json::from_slice(payload).map_err(|e| {
            VerifyError::InvalidClaim(format!("the payload is not a json object: {e}"))
        })?;
        return Ok(Some(claims));
    }
    if options.requires_claims(header) {
        return Err(VerifyError::InvalidClaim(
            "the payload is not a json object".into(),
        ));
    }
    Ok(None)
}

/// Whether a JWK is a P-256 key we may verify ES256 with (its `use`, `alg` and `key_ops` allow it).
fn is_es256_signing_key(jwk: &Map<String, Value>) -> bool {
    let is = |name: &str, want: &str| jwk.get(name).and_then(Value::as_str) == Some(want);
    let absent_or = |name: &str, want: &str| jwk.get(name).is_none() || is(name, want);
    let ops_allow_verify = match jwk.get("key_ops") {
        None => true,
        Some(Value::Array(ops)) => ops.iter().any(|op| op.as_str() == Some("verify")),
        Some(_) => false,
    };
    is("kty", "EC")
        && is("crv", "P-256")
        && absent_or("use", "sig")
        && absent_or("alg", ES256)
        && ops_allow_verify
}

/// josekit's ES256 verifier for one public key, from its coordinates only (never `d`).
fn es256_verifier(jwk: &Map<String, Value>, kid: &str) -> Result<EcdsaJwsVerifier, TrustError> {
    let mut public = Map::new();
    for name in ["kty", "crv", "x", "y"] {
        let value = jwk
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| TrustError::InvalidJwk(format!("key {kid:?} without string {name}")))?;
        public.insert(name.to_owned(), Value::String(value.to_owned()));
    }
    for coord in ["x", "y"] {
        let bytes = public[coord]
            .as_str()
            .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
            .ok_or_else(|| TrustError::InvalidJwk(format!("key {kid:?}: {coord} not base64url")))?;
        if bytes.len() != 32 {
            return Err(TrustError::InvalidJwk(format!(
                "key {kid:?}: {coord} is {} bytes, p-256 needs 32",
                bytes.len()
            )));
        }
    }
    let jwk =
        Jwk::from_map(public).map_err(|e| TrustError::InvalidJwk(format!("key {kid:?}: {e}")))?;
    let mut verifier = EcdsaJwsAlgorithm::Es256
        .verifier_from_jwk(&jwk)
        .map_err(|e| TrustError::InvalidJwk(format!("key {kid:?}: {e}")))?;
    verifier.set_key_id(kid);
    Ok(verifier)
}

/// The RFC 8725 header checks, in an order that reports the most telling problem; returns the kid.
fn check_header(header: &Map<String, Value>) -> Result<&str, VerifyError> {
    match header.get("alg") {
        Some(Value::String(alg)) if alg == ES256 => {}
        Some(Value::String(alg)) => return Err(VerifyError::AlgorithmNotAllowed(shown(alg))),
        Some(other) => return Err(VerifyError::AlgorithmNotAllowed(shown(&other.to_string()))),
        None => return Err(VerifyError::Malformed("header has no alg".into())),
    }
    if let Some(name) = KEY_BEARING_HEADERS
        .iter()
        .find(|name| header.contains_key(**name))
    {
        return Err(VerifyError::KeyInHeader((*name).to_owned()));
    }
    match header.get("b64") {
        None | Some(Value::Bool(true)) => {}
        Some(other) => return Err(VerifyError::UnencodedPayload(shown(&other.to_string()))),
    }
    match header.get("crit") {
        None => {}
        // We implement no extension, so any well-formed crit is refused.
        Some(Value::Array(names)) if !names.is_empty() && names.iter().all(Value::is_string) => {
            let names = names.iter().filter_map(Value::as_str).map(shown).collect();
            return Err(VerifyError::UnsupportedCritical(names));
        }
        Some(_) => {
            return Err(VerifyError::Malformed(
                "crit must be a non-empty array of strings".into(),
            ));
        }
    }
    match header.get("kid") {
        Some(Value::String(kid)) => Ok(kid),
        Some(_) => Err(VerifyError::Malformed("kid must be a string".into())),
        None => Err(VerifyError::MissingKid),
    }
}

fn decode_part(what: &str, part: &str) -> Result<Vec<u8>, VerifyError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| VerifyError::Malformed(format!("{what} is not unpadded base64url: {e}")))
}

/// An attacker-supplied value, cut short for error messages and logs.
pub(super) fn shown(value: &str) -> String {
    if value.chars().count() <= MAX_SHOWN {
        value.to_owned()
    } else {
        let mut cut: String = value.chars().take(MAX_SHOWN).collect();
        cut.push('…');
        cut
    }
}

/// A JSON object whose member names are unique (RFC 7515 §5.2 lets us reject duplicates, and
/// we do: a parser differential on a duplicated `alg` or `kid` is a classic bypass).
struct StrictHeader(Map<String, Value>);

impl<'de> Deserialize<'de> for StrictHeader {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = StrictHeader;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a json object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<StrictHeader, A::Error> {
                let mut map = Map::new();
                while let Some(name) = access.next_key::<String>()? {
                    if map.contains_key(&name) {
                        return Err(serde::de::Error::custom(format_args!(
                            "duplicate member {:?}",
                            shown(&name)
                        )));
                    }
                    let value: Value = access.next_value()?;
                    map.insert(name, value);
                }
                Ok(StrictHeader(map))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use josekit::jws::JwsSigner as _;
    use serde_json::json;

    use super::*;
    use crate::trust::{AwsLcEs256Signer, PassportSigner};

    const PAYLOAD: &[u8] =
        br#"{"id":"urn:uuid:7d0a4c1e-9f3b-4c55-8a51-0b6f4e0c2f10","polymer":"PP"}"#;

    fn key() -> (AwsLcEs256Signer, JwsVerifier) {
        let (signer, _der) = AwsLcEs256Signer::generate().unwrap();
        let verifier = JwsVerifier::from_jwks(&json!({ "keys": [signer.public_jwk()] })).unwrap();
        (signer, verifier)
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A token with an arbitrary header, signed (validly, over its own signing input) by `signer`.
    fn craft(header: &Value, payload: &[u8], signer: &AwsLcEs256Signer) -> String {
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload));
        let signature = signer.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", b64(&signature))
    }

    #[test]
    fn our_token_verifies_and_carries_the_protected_header() {
        let (signer, verifier) = key();
        let passport_signer = PassportSigner::new(signer.clone());
        let jws = passport_signer
            .sign_compact_at(PAYLOAD, "dpp+jws", 1_767_225_600)
            .unwrap();
        let verified = verifier.verify(&jws).unwrap();
        assert_eq!(verified.payload, PAYLOAD);
        assert_eq!(verified.kid, signer.kid());
        assert_eq!(
            Value::Object(verified.header),
            json!({"typ": "dpp+jws", "iat": 1_767_225_600, "alg": "ES256", "kid": signer.kid()})
        );
        // The ES256 signature part is 64 bytes (r || s), not DER.
        let signature = jws.rsplit('.').next().unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(signature).unwrap().len(), 64);
    }

    #[test]
    fn josekit_openssl_verifier_accepts_aws_lc_rs_signatures() {
        let (signer, _) = key();
        let jws = PassportSigner::new(signer.clone())
            .sign_compact(PAYLOAD, "dpp+jws")
            .unwrap();
        // Straight josekit, none of our checks in between.
        let jwk = Jwk::from_map(signer.public_jwk().as_object().unwrap().clone()).unwrap();
        let openssl = EcdsaJwsAlgorithm::Es256.verifier_from_jwk(&jwk).unwrap();
        let (payload, header) = josekit::jws::deserialize_compact(&jws, &openssl).unwrap();
        assert_eq!(payload, PAYLOAD);
        assert_eq!(header.key_id(), Some(signer.kid()));
        assert_eq!(header.token_type(), Some("dpp+jws"));
    }

    #[test]
    fn alg_none_is_refused() {
        let (signer, verifier) = key();
        let header = json!({"alg": "none", "kid": signer.kid()});
        let token = format!("{}.{}.", b64(header.to_string().as_bytes()), b64(PAYLOAD));
        let err = verifier.verify(&token).unwrap_err();
        assert!(
            matches!(&err, VerifyError::AlgorithmNotAllowed(a) if a == "none"),
            "{err}"
        );
        assert!(err.to_string().contains("\"none\""));
    }

    #[test]
    fn hs256_keyed_with_our_public_key_is_refused() {
        // The classic confusion attack: HMAC with the public key as the shared secret.
        let (signer, verifier) = key();
        let header = json!({"alg": "HS256", "kid": signer.kid(), "typ": "JWT"});
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(PAYLOAD));
        let public_key_bytes = signer.public_jwk().to_string();
        let hmac_key =
            aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, public_key_bytes.as_bytes());
        let tag = aws_lc_rs::hmac::sign(&hmac_key, input.as_bytes());
        let token = format!("{input}.{}", b64(tag.as_ref()));
        let err = verifier.verify(&token).unwrap_err();
        assert!(
            matches!(&err, VerifyError::AlgorithmNotAllowed(a) if a == "HS256"),
            "{err}"
        );
    }

    #[test]
    fn signature_over_other_bytes_is_refused() {
        let (signer, verifier) = key();
        let genuine = PassportSigner::new(signer.clone())
            .sign_compact(PAYLOAD, "dpp+jws")
            .unwrap();
        let (head, rest) = genuine.split_once('.').unwrap();
        let signature = rest.rsplit('.').next().unwrap();
        let forged_payload =
            br#"{"id":"urn:uuid:7d0a4c1e-9f3b-4c55-8a51-0b6f4e0c2f10","polymer":"PE"}"#;
        let forged = format!("{head}.{}.{signature}", b64(forged_payload));
        let err = verifier.verify(&forged).unwrap_err();
        assert!(
            matches!(&err, VerifyError::BadSignature { kid } if kid == signer.kid()),
            "{err}"
        );

        // A well-formed signature by a key we do not trust, under our kid.
        let (stranger, _) = key();
        let token = craft(
            &json!({"alg": "ES256", "kid": signer.kid()}),
            PAYLOAD,
            &stranger,
        );
        assert!(matches!(
            verifier.verify(&token),
            Err(VerifyError::BadSignature { .. })
        ));
    }

    #[test]
    fn unknown_or_missing_kid_is_refused() {
        let (signer, verifier) = key();
        let token = craft(
            &json!({"alg": "ES256", "kid": "../../etc/passwd"}),
            PAYLOAD,
            &signer,
        );
        let err = verifier.verify(&token).unwrap_err();
        assert!(
            matches!(&err, VerifyError::UnknownKid(k) if k == "../../etc/passwd"),
            "{err}"
        );
        assert!(err.to_string().contains("../../etc/passwd"));

        let token = craft(&json!({"alg": "ES256"}), PAYLOAD, &signer);
        assert!(matches!(
            verifier.verify(&token),
            Err(VerifyError::MissingKid)
        ));

        let token = craft(&json!({"alg": "ES256", "kid": 7}), PAYLOAD, &signer);
        assert!(matches!(
            verifier.verify(&token),
            Err(VerifyError::Malformed(_))
        ));
    }

    #[test]
    fn keys_offered_by_the_token_are_refused() {
        let (signer, verifier) = key();
        let cases = [
            ("jku", json!("https://attacker.example/jwks.json")),
            ("x5u", json!("https://attacker.example/chain.pem")),
            // Even when the embedded key is our own: the token does not choose the key.
            ("jwk", signer.public_jwk()),
            ("x5c", json!(["MIIBszCCAVmgAwIBAgIUd"])),
        ];
        for (name, value) in cases {
            let mut header = json!({"alg": "ES256", "kid": signer.kid()});
            header[name] = value;
            let token = craft(&header, PAYLOAD, &signer);
            let err = verifier.verify(&token).unwrap_err();
            assert!(
                matches!(&err, VerifyError::KeyInHeader(n) if n == name),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn critical_extensions_are_refused() {
        let (signer, verifier) = key();
        let header = json!({"alg": "ES256", "kid": signer.kid(), "crit": ["exp"], "exp": 1});
        let err = verifier
            .verify(&craft(&header, PAYLOAD, &signer))
            .unwrap_err();
        assert!(
            matches!(&err, VerifyError::UnsupportedCritical(c) if c == &["exp"]),
            "{err}"
        );
        assert!(err.to_string().contains("exp"));

        for crit in [json!([]), json!("exp"), json!([1])] {
            let header = json!({"alg": "ES256", "kid": signer.kid(), "crit": crit});
            let err = verifier
                .verify(&craft(&header, PAYLOAD, &signer))
                .unwrap_err();
            assert!(matches!(err, VerifyError::Malformed(_)), "{err}");
        }
    }

    #[test]
    fn unencoded_payload_is_refused() {
        let (signer, verifier) = key();
        let header = json!({"alg": "ES256", "kid": signer.kid(), "b64": false, "crit": ["b64"]});
        // RFC 7797: the payload goes in as is.
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), "hello");
        let signature = signer.sign(input.as_bytes()).unwrap();
        let token = format!("{input}.{}", b64(&signature));
        let err = verifier.verify(&token).unwrap_err();
        assert!(
            matches!(&err, VerifyError::UnencodedPayload(v) if v == "false"),
            "{err}"
        );
    }

    #[test]
    fn malformed_compact_forms_are_refused() {
        let (signer, verifier) = key();
        let good = PassportSigner::new(signer.clone())
            .sign_compact(PAYLOAD, "dpp+jws")
            .unwrap();
        let parts: Vec<&str> = good.split('.').collect();
        let header_of = |h: &str| b64(h.as_bytes());
        let cases = [
            String::new(),
            "abc".to_owned(),
            format!("{}.{}", parts[0], parts[1]),
            format!("{good}.extra"),
            format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
            format!("!!!.{}.{}", parts[1], parts[2]),
            format!("{}.{}.{}", header_of("not json"), parts[1], parts[2]),
            format!("{}.{}.{}", header_of("[1,2]"), parts[1], parts[2]),
            format!("{}.%%%.{}", parts[0], parts[2]),
            format!("{}.{}.{}", parts[0], parts[1], &parts[2][..40]),
            format!("{}.{}.{}", parts[0], parts[1], b64(&[0u8; 72])),
            format!("{}.{}.{}", header_of(r#"{"kid":"x"}"#), parts[1], parts[2]),
        ];
        for token in cases {
            let err = verifier.verify(&token).unwrap_err();
            assert!(matches!(err, VerifyError::Malformed(_)), "{token:?}: {err}");
        }
    }

    #[test]
    fn duplicate_header_members_are_refused() {
        let (signer, verifier) = key();
        let header = format!(r#"{{"alg":"none","kid":"{}","alg":"ES256"}}"#, signer.kid());
        let input = format!("{}.{}", b64(header.as_bytes()), b64(PAYLOAD));
        let signature = signer.sign(input.as_bytes()).unwrap();
        let err = verifier
            .verify(&format!("{input}.{}", b64(&signature)))
            .unwrap_err();
        assert!(
            matches!(&err, VerifyError::Malformed(m) if m.contains("duplicate member \"alg\"")),
            "{err}"
        );
    }

    #[test]
    fn error_messages_are_lowercase_and_bounded() {
        let (signer, verifier) = key();
        let long_kid = "k".repeat(10_000);
        let token = craft(&json!({"alg": "ES256", "kid": long_kid}), PAYLOAD, &signer);
        let message = verifier.verify(&token).unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
        assert!(message.starts_with(|c: char| c.is_lowercase()));
    }

    #[test]
    fn jwks_keys_we_cannot_use_are_skipped_and_bad_ones_refused() {
        let (signer, _) = key();
        let ours = signer.public_jwk();
        let rsa = json!({"kty": "RSA", "n": "0vx7", "e": "AQAB", "kid": "rsa-1"});
        let mut enc = ours.clone();
        enc["use"] = json!("enc");
        enc["kid"] = json!("enc-1");
        let verifier = JwsVerifier::from_jwks(&json!({"keys": [rsa, enc, ours]})).unwrap();
        assert_eq!(verifier.kids(), [signer.kid()]);

        assert!(JwsVerifier::from_jwks(&json!({"keys": []})).is_err());
        assert!(JwsVerifier::from_jwks(&json!({"nokeys": []})).is_err());
        assert!(JwsVerifier::from_jwks(&json!({"keys": [ours, ours]})).is_err());
        let mut no_kid = ours.clone();
        no_kid.as_object_mut().unwrap().remove("kid");
        assert!(JwsVerifier::from_jwks(&json!({"keys": [no_kid]})).is_err());
        let mut short = ours.clone();
        short["x"] = json!("AAAA");
        assert!(JwsVerifier::from_jwks(&json!({"keys": [short]})).is_err());
        // (1, 1) is not on P-256.
        let mut off_curve = ours.clone();
        let mut one = [0u8; 32];
        one[31] = 1;
        off_curve["x"] = json!(b64(&one));
        off_curve["y"] = json!(b64(&one));
        assert!(JwsVerifier::from_jwks(&json!({"keys": [off_curve]})).is_err());
    }

    #[test]
    fn a_revocation_reaches_every_clone_at_once() {
        let (signer, verifier) = key();
        let (other, _) = key();
        let both =
            JwsVerifier::from_jwks(&json!({"keys": [signer.public_jwk(), other.public_jwk()]}))
                .unwrap();
        let handed_out = both.clone();
        let jws = PassportSigner::new(signer.clone())
            .sign_compact(PAYLOAD, "dpp+jws")
            .unwrap();
        assert!(handed_out.verify(&jws).is_ok());

        assert!(both.revoke(signer.kid()));
        let err = handed_out.verify(&jws).unwrap_err();
        assert!(
            matches!(&err, VerifyError::RevokedKey(k) if k == signer.kid()),
            "{err}"
        );
        assert!(err.to_string().contains("revoked"));
        assert!(handed_out.is_revoked(signer.kid()));
        assert_eq!(handed_out.kids(), [other.kid()]);
        // The other key is untouched; revoking twice reports it was no longer trusted.
        let jws_other = PassportSigner::new(other)
            .sign_compact(PAYLOAD, "dpp+jws")
            .unwrap();
        assert!(handed_out.verify(&jws_other).is_ok());
        assert!(!both.revoke(signer.kid()));
        // A verifier built separately is not affected.
        assert!(verifier.verify(&jws).is_ok());
    }

    #[test]
    fn a_high_s_signature_is_refused_before_the_crypto() {
        let (signer, verifier) = key();
        let jws = PassportSigner::new(signer)
            .sign_compact(PAYLOAD, "dpp+jws")
            .unwrap();
        let (input, signature) = jws.rsplit_once('.').unwrap();
        let mut signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert!(is_low_s(&signature), "our signer made a high-s signature");
        // s := 0xff…ff is above n/2 (and above n): refused by form, whatever it would verify to.
        signature[32..].fill(0xff);
        let err = verifier
            .verify(&format!("{input}.{}", b64(&signature)))
            .unwrap_err();
        assert!(matches!(err, VerifyError::HighS), "{err}");
    }

    #[test]
    fn claims_follow_the_verifiers_clock() {
        use chrono::TimeZone as _;
        use dpp_adapters::contract::ManualClock;

        let (signer, verifier) = key();
        let start = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let clock = Arc::new(ManualClock::new(start));
        let verifier = verifier.with_clock(clock.clone());
        let t0 = start.timestamp();
        // No typ at all: still a claims set.
        let token = craft(
            &json!({"alg": "ES256", "kid": signer.kid()}),
            json!({"jti": "t-1", "exp": t0 + 7200, "nbf": t0 + 30})
                .to_string()
                .as_bytes(),
            &signer,
        );
        assert!(verifier.verify(&token).is_ok(), "nbf within the leeway");
        clock.advance(std::time::Duration::from_secs(3600));
        assert!(matches!(
            verifier.verify(&token),
            Err(VerifyError::Replayed { .. })
        ));
        clock.advance(std::time::Duration::from_secs(3600 + 61));
        assert!(matches!(
            verifier.verify(&token),
            Err(VerifyError::Expired { .. })
        ));
    }
}
