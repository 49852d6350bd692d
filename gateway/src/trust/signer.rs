//! ES256 signing: an aws-lc-rs key behind josekit's `JwsSigner` trait, and the passport signer
//! that writes compact JWS with our protected header.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use josekit::JoseError;
use josekit::jws::alg::ecdsa::EcdsaJwsAlgorithm;
use josekit::jws::{JwsAlgorithm, JwsContext, JwsHeader, JwsSigner};
use serde_json::Value;

use super::TrustError;
use super::jwk::EcP256PublicJwk;
use super::low_s::normalize_low_s;

/// Length of an ES256 JWS signature: `r || s`, 32 bytes each (RFC 7518 §3.4).
const ES256_SIGNATURE_LEN: usize = 64;

struct SignerKey {
    kid: String,
    key_pair: EcdsaKeyPair,
    public: EcP256PublicJwk,
    rng: SystemRandom,
}

/// An ES256 signer for josekit backed by aws-lc-rs (`ECDSA_P256_SHA256_FIXED_SIGNING`, which
/// yields the 64-byte `r || s` form JWS wants), always in the canonical low-S form the verifier
/// requires. Cheap to clone: the key sits behind an `Arc`.
///
/// Use it wherever josekit takes a `&dyn JwsSigner` (e.g. `josekit::jwt::encode_with_signer`
/// for VC-JWTs); [`PassportSigner`] wraps it for passports.
#[derive(Clone)]
pub struct AwsLcEs256Signer {
    key: Arc<SignerKey>,
}

impl fmt::Debug for AwsLcEs256Signer {
    // Never print key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsLcEs256Signer")
            .field("kid", &self.key.kid)
            .finish_non_exhaustive()
    }
}

impl AwsLcEs256Signer {
    /// From a PKCS#8 DER private key; the kid is the key's RFC 7638 thumbprint.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, TrustError> {
        let key_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|e| TrustError::Crypto(format!("not a pkcs#8 p-256 private key: {e}")))?;
        let public = EcP256PublicJwk::from_uncompressed_point(key_pair.public_key().as_ref())?;
        Ok(Self {
            key: Arc::new(SignerKey {
                kid: public.thumbprint(),
                key_pair,
                public,
                rng: SystemRandom::new(),
            }),
        })
    }

    /// A fresh P-256 key; returns the signer and the PKCS#8 v1 DER to persist.
    pub fn generate() -> Result<(Self, Vec<u8>), TrustError> {
        let der =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|e| TrustError::Crypto(format!("p-256 key generation failed: {e}")))?;
        let der = der.as_ref().to_vec();
        Ok((Self::from_pkcs8_der(&der)?, der))
    }

    /// The key id (RFC 7638 thumbprint).
    pub fn kid(&self) -> &str {
        &self.key.kid
    }

    /// The public key as a JWKS entry.
    pub fn public_jwk(&self) -> Value {
        self.key.public.to_jwk(&self.key.kid)
    }
}

impl JwsSigner for AwsLcEs256Signer {
    fn algorithm(&self) -> &dyn JwsAlgorithm {
        &EcdsaJwsAlgorithm::Es256
    }

    fn key_id(&self) -> Option<&str> {
        Some(&self.key.kid)
    }

    fn signature_len(&self) -> usize {
        ES256_SIGNATURE_LEN
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        let signature = self
            .key
            .key_pair
            .sign(&self.key.rng, message)
            .map_err(|e| JoseError::InvalidSignature(anyhow::anyhow!("aws-lc-rs es256: {e}")))?;
        let mut signature = signature.as_ref().to_vec();
        // aws-lc-rs returns either twin; our verifier (and strict ones elsewhere) take only the
        // low-S one.
        normalize_low_s(&mut signature);
        Ok(signature)
    }

    fn box_clone(&self) -> Box<dyn JwsSigner> {
        Box::new(self.clone())
    }
}

/// Signs passports (and other payloads) with the active key as compact JWS. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PassportSigner {
    inner: AwsLcEs256Signer,
}

impl From<AwsLcEs256Signer> for PassportSigner {
    /// A passport signer for a key held outside the [`super::KeyStore`] (ephemeral keys in tests
    /// and benches).
    fn from(inner: AwsLcEs256Signer) -> Self {
        Self { inner }
    }
}

impl PassportSigner {
    pub(crate) fn new(inner: AwsLcEs256Signer) -> Self {
        Self { inner }
    }

    /// The key id that goes into the `kid` header.
    pub fn kid(&self) -> &str {
        self.inner.kid()
    }

    /// The signing key as a josekit signer (for JWTs and VC-JWTs built with josekit).
    pub fn jws_signer(&self) -> &AwsLcEs256Signer {
        &self.inner
    }

    /// Compact JWS over `payload` (the passport's JCS bytes), protected header
    /// `{"typ":…,"iat":<unix seconds>,"alg":"ES256","kid":…}`.
    pub fn sign_compact(&self, payload: &[u8], typ: &str) -> Result<String, TrustError> {
        self.sign_compact_at(payload, typ, chrono::Utc::now().timestamp())
    }

    /// As [`sign_compact`](Self::sign_compact) with an explicit `iat` (tests, replays of a clock).
    pub fn sign_compact_at(
        &self,
        payload: &[u8],
        typ: &str,
        issued_at: i64,
    ) -> Result<String, TrustError> {
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_claim("iat", Some(Value::from(issued_at)))?;
        // josekit adds `alg` and `kid` from the signer.
        Ok(JwsContext::new().serialize_compact(payload, &header, &self.inner)?)
    }

    /// As [`sign_compact`](Self::sign_compact) with further protected header parameters
    /// (`(name, value)`, names JWS does not define itself, e.g. the redaction a redacted
    /// passport went through).
    pub fn sign_compact_with(
        &self,
        payload: &[u8],
        typ: &str,
        extra: &[(&str, Value)],
    ) -> Result<String, TrustError> {
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_claim("iat", Some(Value::from(chrono::Utc::now().timestamp())))?;
        for (name, value) in extra {
            header.set_claim(name, Some(value.clone()))?;
        }
        Ok(JwsContext::new().serialize_compact(payload, &header, &self.inner)?)
    }
}
