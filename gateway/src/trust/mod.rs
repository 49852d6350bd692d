//! Trust: our ES256 signing keys (generated on first run, rotated, retired keys kept published,
//! revoked keys trusted no more), compact JWS signing at write time, JWS verification against a
//! JWKS following RFC 8725, and the `did:web` document that publishes the keys.
//!
//! JOSE framing (headers, compact serialisation, verification) is josekit's; the ES256 signature
//! primitive is aws-lc-rs, plugged into josekit through its `JwsSigner` trait because it is about
//! 1.6× faster than josekit's own OpenSSL signer (see `docs/adr/0003-aws-lc-rs-signer-for-josekit.md`).
//!
//! ```no_run
//! use dpp_gateway::trust::KeyStore;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = KeyStore::open_or_generate(std::path::Path::new("/var/lib/dpp-gateway"))?;
//! let jws = keys.signer().sign_compact(br#"{"id":"urn:uuid:..."}"#, "dpp+jws")?;
//! let verified = keys.verifier().verify(&jws)?;
//! assert_eq!(verified.kid, keys.signer().kid());
//! # Ok(()) }
//! ```

mod claims;
mod did_web;
mod jwk;
mod keystore;
mod low_s;
mod signer;
mod verifier;

pub use claims::{DEFAULT_LEEWAY, REPLAY_CAPACITY, REPLAY_HORIZON, VerifyOptions};
pub use did_web::{did_document_without, did_web_document, did_web_id};
pub use jwk::{ec_p256_thumbprint, jwk_thumbprint, jwks_without};
pub use keystore::{KEYS_DIR, KeyInfo, KeyStatus, KeyStore};
pub use signer::{AwsLcEs256Signer, PassportSigner};
pub use verifier::{JwsVerifier, VerifiedJws, VerifyError};

/// The only JWS algorithm we sign with and accept (ECDSA P-256 with SHA-256).
pub const ES256: &str = "ES256";

/// Errors of key management, signing and publication (verification has [`VerifyError`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// A file or directory of the key store could not be read or written.
    #[error("key store i/o on {path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `open` found no key store where one was expected.
    #[error("no signing keys in {0} (run `keys generate` or start with key generation enabled)")]
    NoKeys(std::path::PathBuf),
    /// `generate` found keys already present and refuses to overwrite them.
    #[error("signing keys already exist in {0}; refusing to overwrite them (use rotation instead)")]
    KeysExist(std::path::PathBuf),
    /// `revoke` was given a kid the key store does not list.
    #[error("no signing key with kid {0:?} in the key store")]
    UnknownKey(String),
    /// `revoke` was asked to revoke the active key without putting a new one in its place.
    #[error(
        "key {0} is the active signing key; revoking it alone would leave nothing to sign with: rotate first, or revoke it with --rotate to make a new active key in the same step"
    )]
    ActiveKey(String),
    /// A private key file is readable or writable by group or others.
    #[error("private key file {path} has mode {mode:o}; it must be 0600 (chmod 600)")]
    InsecurePermissions {
        /// The key file.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key manifest or a key file is inconsistent or unreadable.
    #[error("invalid key store in {path}: {reason}")]
    InvalidKeyStore {
        /// The manifest or key file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A JWK or JWKS is not usable.
    #[error("invalid jwk: {0}")]
    InvalidJwk(String),
    /// A public base URL cannot be turned into a `did:web` identifier.
    #[error("cannot derive a did:web from {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The URL given.
        url: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The cryptographic backend failed (key generation, parsing or signing).
    #[error("crypto backend: {0}")]
    Crypto(String),
    /// josekit refused to build the JWS.
    #[error("jws serialisation: {0}")]
    Jose(#[from] josekit::JoseError),
}
