//! The key store: our ES256 signing keys in `<data_dir>/keys/`, one PKCS#8 PEM file per key
//! (`<kid>.pem`, mode 0600, directory 0700) and `manifest.json` listing kid, creation time and
//! status. A key is in one of three states:
//!
//! ```text
//! generate / rotate ─► active ──rotate──► retired ──revoke──► revoked
//!                        └───────revoke --rotate────────────────┘
//! ```
//!
//! - **active**: exactly one; it signs, and it is the only key under `authentication` in our DID
//!   document.
//! - **retired**: superseded by a rotation; stays in the JWKS and the DID document (also under
//!   `assertionMethod`) so that everything it signed keeps verifying.
//! - **revoked**: verifies nothing, not even what it signed before; gone from the JWKS and the DID
//!   document, its private key file deleted. Irreversible. The active key is revoked only together
//!   with a rotation, so there is always a key to sign with.
//!
//! Changes (rotate, revoke) hold an advisory lock on `keys/.lock` and re-read the manifest under
//! it, so a `keys` command and a running gateway revoking through the API never overwrite each
//! other's change.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SubsecRound as _, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::did_web;
use super::jwk::is_thumbprint_shaped;
use super::signer::{AwsLcEs256Signer, PassportSigner};
use super::verifier::JwsVerifier;
use super::{ES256, TrustError};

/// The key store's directory inside the data dir.
pub const KEYS_DIR: &str = "keys";
const MANIFEST: &str = "manifest.json";
const LOCK_FILE: &str = ".lock";
const MANIFEST_VERSION: u32 = 1;
const PEM_LABEL: &str = "PRIVATE KEY";

/// Whether a key signs, only verifies what it signed, or verifies nothing (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// The one key that signs.
    Active,
    /// Superseded by a rotation; still in the JWKS and the DID document.
    Retired,
    /// Trusted no more: verifies nothing, published nowhere, private key deleted.
    Revoked,
}

impl KeyStatus {
    /// `active`, `retired` or `revoked`, as in the manifest and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Retired => "retired",
            KeyStatus::Revoked => "revoked",
        }
    }
}

/// What `keys list` shows about one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// When the key was generated.
    pub created_at: DateTime<Utc>,
    /// Active, retired or revoked.
    pub status: KeyStatus,
    /// Always `ES256` for now.
    pub alg: String,
    /// When the key was revoked (revoked keys only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    keys: Vec<KeyInfo>,
}

#[derive(Debug, Clone)]
struct StoredKey {
    info: KeyInfo,
    /// `None` for a revoked key: its private key file is gone.
    signer: Option<AwsLcEs256Signer>,
}

impl StoredKey {
    fn is(&self, status: KeyStatus) -> bool {
        self.info.status == status
    }
}

/// Our signing keys, loaded from the data directory (see the module docs for the layout).
#[derive(Debug)]
pub struct KeyStore {
    dir: PathBuf,
    /// In creation order, oldest first; exactly one is active.
    keys: Vec<StoredKey>,
    /// Shared with every clone handed out by [`verifier`](Self::verifier), so a revocation
    /// through this store reaches them all.
    verifier: JwsVerifier,
}

impl KeyStore {
    /// Opens the key store, generating the first key if there is none yet (first run).
    pub fn open_or_generate(data_dir: &Path) -> Result<KeyStore, TrustError> {
        if manifest_path(data_dir).exists() {
            return Self::open(data_dir);
        }
        match Self::generate(data_dir) {
            // Another process generated first: use its key.
            Err(TrustError::KeysExist(_)) => Self::open(data_dir),
            other => other,
        }
    }

    /// Opens an existing key store; an error if there is none.
    pub fn open(data_dir: &Path) -> Result<KeyStore, TrustError> {
        let dir = data_dir.join(KEYS_DIR);
        let keys = load_keys(&dir)?;
        Self::from_keys(dir, keys)
    }

    /// The keys listed in the manifest of `data_dir`, without reading any private key (what
    /// `GET /api/v1/keys` shows); an error if there is no key store.
    pub fn list_in(data_dir: &Path) -> Result<Vec<KeyInfo>, TrustError> {
        let dir = data_dir.join(KEYS_DIR);
        Ok(read_manifest(&dir)?.keys)
    }

    /// Generates the first key (`keys generate`); refuses if keys already exist.
    pub fn generate(data_dir: &Path) -> Result<KeyStore, TrustError> {
        let dir = data_dir.join(KEYS_DIR);
        create_private_dir(&dir)?;
        if dir.join(MANIFEST).exists() || holds_pem(&dir)? {
            return Err(TrustError::KeysExist(dir));
        }
        let key = new_key(&dir, KeyStatus::Active)?;
        let manifest = Manifest {
            version: MANIFEST_VERSION,
            keys: vec![key.info.clone()],
        };
        write_manifest(&dir, &manifest, WriteMode::CreateNew)?;
        Self::from_keys(dir, vec![key])
    }

    /// Makes a new active key; the previous one is retired but stays published. Returns the new kid.
    /// Revoked keys stay revoked. Verifiers handed out before do not learn the new key (a running
    /// gateway signs with it after a restart).
    pub fn rotate(&mut self) -> Result<String, TrustError> {
        let _lock = lock_keys(&self.dir)?;
        // Under the lock, from disk: another process may have changed the store since we read it.
        let mut keys = load_keys(&self.dir)?;
        let new_kid = push_new_active(&self.dir, &mut keys)?;
        // The key file is durable before the manifest names it; a crash in between leaves an
        // unreferenced file, never a manifest pointing at nothing.
        write_manifest(&self.dir, &manifest_of(&keys), WriteMode::Replace)?;
        self.replace_keys(keys)?;
        Ok(new_kid)
    }

    /// Revokes a retired key: it verifies nothing from now on, in this store's verifier and every
    /// clone of it at once, and leaves the JWKS and the DID document; its private key file is
    /// deleted. Revoking a revoked key changes nothing. The active key is refused
    /// ([`TrustError::ActiveKey`]): see [`rotate_revoking`](Self::rotate_revoking).
    pub fn revoke(&mut self, kid: &str) -> Result<KeyInfo, TrustError> {
        self.revoke_inner(kid, false).map(|(info, _)| info)
    }

    /// Revokes `kid` (the active key included) and makes a new active key, in one manifest write,
    /// so the store is never without a key to sign with. Returns the revoked key and the new kid.
    pub fn rotate_revoking(&mut self, kid: &str) -> Result<(KeyInfo, String), TrustError> {
        let (info, new_kid) = self.revoke_inner(kid, true)?;
        // revoke_inner rotates when asked to.
        let new_kid = new_kid.unwrap_or_else(|| unreachable!("rotation without a new key"));
        Ok((info, new_kid))
    }

    fn revoke_inner(
        &mut self,
        kid: &str,
        rotate: bool,
    ) -> Result<(KeyInfo, Option<String>), TrustError> {
        let _lock = lock_keys(&self.dir)?;
        let mut keys = load_keys(&self.dir)?;
        let index = keys
            .iter()
            .position(|k| k.info.kid == kid)
            .ok_or_else(|| TrustError::UnknownKey(super::verifier::shown(kid)))?;
        if keys[index].is(KeyStatus::Active) && !rotate {
            return Err(TrustError::ActiveKey(kid.to_owned()));
        }
        let new_kid = if rotate {
            Some(push_new_active(&self.dir, &mut keys)?)
        } else {
            None
        };
        let key = &mut keys[index];
        let changed = !key.is(KeyStatus::Revoked);
        if changed {
            key.info.status = KeyStatus::Revoked;
            key.info.revoked_at = Some(Utc::now().trunc_subsecs(0));
            key.signer = None;
        }
        let info = key.info.clone();
        if changed || rotate {
            write_manifest(&self.dir, &manifest_of(&keys), WriteMode::Replace)?;
        }
        // Only once the manifest no longer trusts the key (also cleans up after a revocation
        // interrupted between the two steps).
        remove_private_key(&self.dir, kid)?;
        if changed {
            tracing::warn!(kid, rotated_to = new_kid.as_deref(), "signing key revoked");
        }
        self.replace_keys(keys)?;
        Ok((info, new_kid))
    }

    /// Every key, oldest first.
    pub fn list(&self) -> Vec<KeyInfo> {
        self.keys.iter().map(|k| k.info.clone()).collect()
    }

    /// The signer of the active key.
    pub fn signer(&self) -> PassportSigner {
        PassportSigner::new(active_signer(&self.keys).clone())
    }

    /// `{"keys":[…]}` with the public keys that verify: the active one first, then retired ones
    /// newest first. Revoked keys are not in it.
    pub fn jwks(&self) -> Value {
        jwks_of(&self.keys)
    }

    /// A verifier that trusts exactly our active and retired keys and refuses revoked ones by
    /// name. Clones share its state: a later [`revoke`](Self::revoke) through this store reaches
    /// them too.
    pub fn verifier(&self) -> JwsVerifier {
        self.verifier.clone()
    }

    /// Our `did:web` document; unlike [`did_web::did_web_document`] it knows which key is active,
    /// so only that one is listed under `authentication` (retired keys stay under
    /// `assertionMethod`, so what they signed still verifies; revoked keys are not listed).
    pub fn did_web_document(&self, public_base_url: &str) -> Result<Value, TrustError> {
        let active = [active_of(&self.keys).info.kid.as_str()];
        did_web::document(public_base_url, &self.jwks(), Some(&active))
    }

    /// The directory holding the key files and manifest.
    pub fn keys_dir(&self) -> &Path {
        &self.dir
    }

    fn from_keys(dir: PathBuf, keys: Vec<StoredKey>) -> Result<Self, TrustError> {
        let verifier = JwsVerifier::from_jwks(&jwks_of(&keys))?;
        mark_revoked(&verifier, &keys);
        Ok(Self {
            dir,
            keys,
            verifier,
        })
    }

    /// Takes `keys` (just written) as the store's state. Revocations reach the verifier every
    /// clone shares; a new key needs a new verifier.
    fn replace_keys(&mut self, keys: Vec<StoredKey>) -> Result<(), TrustError> {
        mark_revoked(&self.verifier, &keys);
        let known = self.verifier.kids();
        let grown = keys
            .iter()
            .any(|k| !k.is(KeyStatus::Revoked) && !known.contains(&k.info.kid));
        if grown {
            *self = Self::from_keys(self.dir.clone(), keys)?;
        } else {
            self.keys = keys;
        }
        Ok(())
    }
}

/// Tells `verifier` every revoked key of `keys`, so tokens under them are refused as revoked.
fn mark_revoked(verifier: &JwsVerifier, keys: &[StoredKey]) {
    for key in keys.iter().filter(|k| k.is(KeyStatus::Revoked)) {
        verifier.revoke(&key.info.kid);
    }
}

/// Retires the active key and appends a new active one (its private key file written); returns
/// its kid.
fn push_new_active(dir: &Path, keys: &mut Vec<StoredKey>) -> Result<String, TrustError> {
    let new = new_key(dir, KeyStatus::Active)?;
    for key in keys.iter_mut().filter(|k| k.is(KeyStatus::Active)) {
        key.info.status = KeyStatus::Retired;
    }
    let kid = new.info.kid.clone();
    keys.push(new);
    Ok(kid)
}

fn manifest_of(keys: &[StoredKey]) -> Manifest {
    Manifest {
        version: MANIFEST_VERSION,
        keys: keys.iter().map(|k| k.info.clone()).collect(),
    }
}

fn active_of(keys: &[StoredKey]) -> &StoredKey {
    // `read_manifest` checks, and `generate`, `rotate` and `revoke` keep, exactly one active key.
    keys.iter()
        .find(|k| k.is(KeyStatus::Active))
        .unwrap_or_else(|| unreachable!("key store without an active key"))
}

fn active_signer(keys: &[StoredKey]) -> &AwsLcEs256Signer {
    // `load_keys` reads the private key of every key that is not revoked.
    active_of(keys)
        .signer
        .as_ref()
        .unwrap_or_else(|| unreachable!("active key without its private key"))
}

/// The active key first, then retired ones newest first; revoked keys are left out.
fn jwks_of(keys: &[StoredKey]) -> Value {
    let retired = keys.iter().rev().filter(|k| k.is(KeyStatus::Retired));
    let published: Vec<Value> = std::iter::once(active_of(keys))
        .chain(retired)
        .filter_map(|k| k.signer.as_ref())
        .map(AwsLcEs256Signer::public_jwk)
        .collect();
    json!({ "keys": published })
}

/// Reads and checks the manifest in `dir` (the keys directory).
fn read_manifest(dir: &Path) -> Result<Manifest, TrustError> {
    let manifest_path = dir.join(MANIFEST);
    let bytes = match fs::read(&manifest_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TrustError::NoKeys(dir.to_owned()));
        }
        Err(source) => return Err(io_err(&manifest_path, source)),
    };
    let invalid = |reason: String| TrustError::InvalidKeyStore {
        path: manifest_path.clone(),
        reason,
    };
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    if manifest.version != MANIFEST_VERSION {
        return Err(invalid(format!(
            "unsupported manifest version {}",
            manifest.version
        )));
    }
    for (i, info) in manifest.keys.iter().enumerate() {
        // The kid becomes a file name: only ever a thumbprint, never a path.
        if !is_thumbprint_shaped(&info.kid) {
            return Err(invalid(format!(
                "kid {:?} is not a jwk thumbprint",
                info.kid
            )));
        }
        if info.alg != ES256 {
            return Err(invalid(format!(
                "key {} has unsupported alg {:?}",
                info.kid, info.alg
            )));
        }
        if manifest.keys[..i].iter().any(|k| k.kid == info.kid) {
            return Err(invalid(format!("kid {} listed twice", info.kid)));
        }
    }
    let active = manifest
        .keys
        .iter()
        .filter(|k| k.status == KeyStatus::Active)
        .count();
    if active != 1 {
        return Err(invalid(format!(
            "{active} active keys, expected exactly one"
        )));
    }
    Ok(manifest)
}

/// The manifest's keys with the private key of each one that is not revoked.
fn load_keys(dir: &Path) -> Result<Vec<StoredKey>, TrustError> {
    read_manifest(dir)?
        .keys
        .into_iter()
        .map(|info| {
            let signer = match info.status {
                KeyStatus::Revoked => None,
                KeyStatus::Active | KeyStatus::Retired => Some(read_private_key(dir, &info.kid)?),
            };
            Ok(StoredKey { info, signer })
        })
        .collect()
}

/// Takes the store's advisory lock (released when the file is dropped): one change at a time,
/// across processes.
fn lock_keys(dir: &Path) -> Result<fs::File, TrustError> {
    let path = dir.join(LOCK_FILE);
    let mut options = fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&path).map_err(|e| io_err(&path, e))?;
    file.lock().map_err(|e| io_err(&path, e))?;
    Ok(file)
}

/// Deletes the private key file of a revoked key (absent already is fine) and syncs the directory.
fn remove_private_key(dir: &Path, kid: &str) -> Result<(), TrustError> {
    let path = key_path(dir, kid);
    match fs::remove_file(&path) {
        Ok(()) => {
            #[cfg(unix)]
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_err(dir, e))?;
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(&path, e)),
    }
}

fn manifest_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEYS_DIR).join(MANIFEST)
}

fn io_err(path: &Path, source: std::io::Error) -> TrustError {
    TrustError::Io {
        path: path.to_owned(),
        source,
    }
}

fn create_private_dir(dir: &Path) -> Result<(), TrustError> {
    // The data dir around the key store is private too (0700), whoever creates it first.
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::private_files::create_private_dir(parent).map_err(|e| io_err(parent, e))?;
    }
    crate::private_files::create_private_dir(dir).map_err(|e| io_err(dir, e))
}

fn holds_pem(dir: &Path) -> Result<bool, TrustError> {
    for entry in fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        if entry.path().extension().is_some_and(|ext| ext == "pem") {
            return Ok(true);
        }
    }
    Ok(false)
}

fn key_path(dir: &Path, kid: &str) -> PathBuf {
    dir.join(format!("{kid}.pem"))
}

/// Generates a key and writes its private key file.
fn new_key(dir: &Path, status: KeyStatus) -> Result<StoredKey, TrustError> {
    let (signer, der) = AwsLcEs256Signer::generate()?;
    let path = key_path(dir, signer.kid());
    write_file(&path, pem_encode(&der).as_bytes(), WriteMode::CreateNew)?;
    Ok(StoredKey {
        info: KeyInfo {
            kid: signer.kid().to_owned(),
            // Whole seconds: the manifest is for people and the value round-trips exactly.
            created_at: Utc::now().trunc_subsecs(0),
            status,
            alg: ES256.to_owned(),
            revoked_at: None,
        },
        signer: Some(signer),
    })
}

fn read_private_key(dir: &Path, kid: &str) -> Result<AwsLcEs256Signer, TrustError> {
    let path = key_path(dir, kid);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(&path)
            .map_err(|e| io_err(&path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(TrustError::InsecurePermissions {
                path,
                mode: mode & 0o777,
            });
        }
    }
    let pem = fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
    let invalid = |reason: String| TrustError::InvalidKeyStore {
        path: path.clone(),
        reason,
    };
    let der = pem_decode(&pem).map_err(invalid)?;
    let signer = AwsLcEs256Signer::from_pkcs8_der(&der).map_err(|e| invalid(e.to_string()))?;
    if signer.kid() != kid {
        return Err(invalid(format!(
            "key thumbprint {} does not match its kid {kid}",
            signer.kid()
        )));
    }
    Ok(signer)
}

#[derive(Clone, Copy)]
enum WriteMode {
    /// Fail if the file exists (first key, first manifest: two racing first runs cannot both win).
    CreateNew,
    /// Atomically replace.
    Replace,
}

fn write_manifest(dir: &Path, manifest: &Manifest, mode: WriteMode) -> Result<(), TrustError> {
    let mut bytes =
        serde_json::to_vec_pretty(manifest).map_err(|e| TrustError::InvalidKeyStore {
            path: dir.join(MANIFEST),
            reason: e.to_string(),
        })?;
    bytes.push(b'\n');
    match write_file(&dir.join(MANIFEST), &bytes, mode) {
        Err(TrustError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            Err(TrustError::KeysExist(dir.to_owned()))
        }
        other => other,
    }
}

/// Writes `bytes` to a 0600 temporary file, syncs it, then moves it into place and syncs the
/// directory, so a reader sees either the old file or the whole new one.
fn write_file(path: &Path, bytes: &[u8], mode: WriteMode) -> Result<(), TrustError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        match mode {
            // hard_link fails if the target exists: an atomic create-if-absent.
            WriteMode::CreateNew => fs::hard_link(&tmp, path)?,
            WriteMode::Replace => fs::rename(&tmp, path)?,
        }
        Ok(())
    })();
    let _ = fs::remove_file(&tmp);
    result.map_err(|e| io_err(path, e))?;
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))?;
    Ok(())
}

fn pem_encode(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {PEM_LABEL}-----\n");
    for line in b64.as_bytes().chunks(64) {
        // Base64 output is ASCII.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {PEM_LABEL}-----\n"));
    pem
}

fn pem_decode(pem: &str) -> Result<Vec<u8>, String> {
    let begin = format!("-----BEGIN {PEM_LABEL}-----");
    let end = format!("-----END {PEM_LABEL}-----");
    let body = pem
        .split_once(&begin)
        .and_then(|(_, rest)| rest.split_once(&end))
        .map(|(body, _)| body)
        .ok_or_else(|| format!("no {PEM_LABEL} pem block"))?;
    let b64: String = body.split_whitespace().collect();
    STANDARD
        .decode(b64)
        .map_err(|e| format!("pem body is not base64: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn first_run_generates_one_active_key_with_private_file_modes() {
        let data = tempfile::tempdir().unwrap();
        let store = KeyStore::open_or_generate(data.path()).unwrap();
        let keys = store.list();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].status, KeyStatus::Active);
        assert_eq!(keys[0].alg, "ES256");
        assert_eq!(keys[0].kid, store.signer().kid());
        let dir = data.path().join("keys");
        assert!(dir.join(MANIFEST).is_file());
        #[cfg(unix)]
        {
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&key_path(&dir, &keys[0].kid)), 0o600);
        }
        // No temporary files left behind.
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn reopening_finds_the_same_key() {
        let data = tempfile::tempdir().unwrap();
        let first = KeyStore::open_or_generate(data.path()).unwrap();
        let again = KeyStore::open_or_generate(data.path()).unwrap();
        let opened = KeyStore::open(data.path()).unwrap();
        assert_eq!(first.list(), again.list());
        assert_eq!(first.jwks(), opened.jwks());
    }

    #[test]
    fn open_without_keys_fails_and_generate_refuses_to_overwrite() {
        let data = tempfile::tempdir().unwrap();
        assert!(matches!(
            KeyStore::open(data.path()),
            Err(TrustError::NoKeys(_))
        ));
        KeyStore::generate(data.path()).unwrap();
        assert!(matches!(
            KeyStore::generate(data.path()),
            Err(TrustError::KeysExist(_))
        ));
    }

    #[test]
    fn private_key_file_is_standard_pkcs8_pem_readable_by_openssl() {
        let data = tempfile::tempdir().unwrap();
        let store = KeyStore::generate(data.path()).unwrap();
        let kid = store.signer().kid().to_owned();
        let pem = fs::read(key_path(store.keys_dir(), &kid)).unwrap();
        assert!(pem.starts_with(b"-----BEGIN PRIVATE KEY-----\n"));
        // josekit parses it with OpenSSL and signs; our verifier accepts the result.
        let mut openssl_signer = josekit::jws::ES256.signer_from_pem(&pem).unwrap();
        openssl_signer.set_key_id(&kid);
        let mut header = josekit::jws::JwsHeader::new();
        header.set_token_type("JWT");
        // JWT-typed, so the payload is a claims object (the verifier checks it).
        let claims = br#"{"sub":"hello"}"#;
        let token = josekit::jws::serialize_compact(claims, &header, &openssl_signer).unwrap();
        // OpenSSL does not normalise S: half its signatures are the high-S twin, which our
        // verifier refuses. The low-S form of the same signature verifies.
        let (input, signature) = token.rsplit_once('.').unwrap();
        let mut signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .unwrap();
        let was_low = super::super::low_s::is_low_s(&signature);
        let verified = store.verifier().verify(&token);
        assert_eq!(verified.is_ok(), was_low, "{verified:?}");
        super::super::low_s::normalize_low_s(&mut signature);
        let low = format!(
            "{input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&signature)
        );
        assert_eq!(store.verifier().verify(&low).unwrap().payload, claims);
    }

    #[test]
    fn rotation_keeps_old_keys_published_and_both_signatures_verify() {
        let data = tempfile::tempdir().unwrap();
        let mut store = KeyStore::open_or_generate(data.path()).unwrap();
        let signer1 = store.signer();
        let jws1 = signer1.sign_compact(b"{\"v\":1}", "dpp+jws").unwrap();

        let kid2 = store.rotate().unwrap();
        assert_ne!(kid2, signer1.kid());
        let signer2 = store.signer();
        assert_eq!(signer2.kid(), kid2);
        let jws2 = signer2.sign_compact(b"{\"v\":2}", "dpp+jws").unwrap();

        let jwks = store.jwks();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, [kid2.as_str(), signer1.kid()]);

        // Through the published JWKS, as a partner would.
        let verifier = JwsVerifier::from_jwks(&jwks).unwrap();
        assert_eq!(verifier.verify(&jws1).unwrap().kid, signer1.kid());
        assert_eq!(verifier.verify(&jws2).unwrap().kid, kid2);
        assert_eq!(
            store.verifier().verify(&jws1).unwrap().payload,
            b"{\"v\":1}"
        );

        // The rotation is durable, and every key file stays private.
        let reopened = KeyStore::open(data.path()).unwrap();
        let statuses: Vec<(String, KeyStatus)> = reopened
            .list()
            .into_iter()
            .map(|k| (k.kid, k.status))
            .collect();
        assert_eq!(
            statuses,
            [
                (signer1.kid().to_owned(), KeyStatus::Retired),
                (kid2.clone(), KeyStatus::Active)
            ]
        );
        assert_eq!(reopened.signer().kid(), kid2);
        #[cfg(unix)]
        for kid in [signer1.kid(), kid2.as_str()] {
            assert_eq!(mode(&key_path(reopened.keys_dir(), kid)), 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn group_readable_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let data = tempfile::tempdir().unwrap();
        let store = KeyStore::generate(data.path()).unwrap();
        let path = key_path(store.keys_dir(), store.signer().kid());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = KeyStore::open(data.path()).unwrap_err();
        assert!(
            matches!(err, TrustError::InsecurePermissions { mode: 0o640, .. }),
            "{err}"
        );
    }

    #[test]
    fn manifest_kid_that_is_a_path_is_refused() {
        let data = tempfile::tempdir().unwrap();
        let store = KeyStore::generate(data.path()).unwrap();
        let manifest_path = store.keys_dir().join(MANIFEST);
        let text = fs::read_to_string(&manifest_path).unwrap();
        let tampered = text.replace(store.signer().kid(), "../../etc/passwd");
        fs::write(&manifest_path, tampered).unwrap();
        let err = KeyStore::open(data.path()).unwrap_err();
        assert!(err.to_string().contains("../../etc/passwd"), "{err}");
    }

    #[test]
    fn key_file_swapped_under_another_kid_is_refused() {
        let data = tempfile::tempdir().unwrap();
        let mut store = KeyStore::generate(data.path()).unwrap();
        let kid1 = store.signer().kid().to_owned();
        let kid2 = store.rotate().unwrap();
        let dir = store.keys_dir().to_owned();
        fs::rename(key_path(&dir, &kid1), dir.join("tmp.bak")).unwrap();
        fs::rename(key_path(&dir, &kid2), key_path(&dir, &kid1)).unwrap();
        fs::rename(dir.join("tmp.bak"), key_path(&dir, &kid2)).unwrap();
        let err = KeyStore::open(data.path()).unwrap_err();
        assert!(err.to_string().contains("does not match its kid"), "{err}");
    }

    /// A store with a retired key (and a passport it signed) and an active one.
    fn rotated() -> (tempfile::TempDir, KeyStore, String, String, String) {
        let data = tempfile::tempdir().unwrap();
        let mut store = KeyStore::generate(data.path()).unwrap();
        let old = store.signer().kid().to_owned();
        let old_jws = store
            .signer()
            .sign_compact(b"{\"v\":1}", "dpp+jws")
            .unwrap();
        let new = store.rotate().unwrap();
        (data, store, old, new, old_jws)
    }

    fn states(store: &KeyStore) -> Vec<(String, KeyStatus)> {
        store
            .list()
            .into_iter()
            .map(|k| (k.kid, k.status))
            .collect()
    }

    #[test]
    fn revoking_a_retired_key_stops_it_everywhere_and_survives_reopening() {
        let (data, mut store, old, new, old_jws) = rotated();
        let handed_out = store.verifier();
        assert!(handed_out.verify(&old_jws).is_ok());

        let info = store.revoke(&old).unwrap();
        assert_eq!(info.status, KeyStatus::Revoked);
        assert!(info.revoked_at.is_some());
        // The verifier handed out before the revocation refuses at once, naming why.
        assert!(matches!(
            handed_out.verify(&old_jws),
            Err(super::super::VerifyError::RevokedKey(k)) if k == old
        ));
        let jwks = store.jwks();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, [new.as_str()]);
        let did = store.did_web_document("https://gw.example.com").unwrap();
        assert_eq!(did["verificationMethod"].as_array().unwrap().len(), 1);
        assert_eq!(
            did["assertionMethod"],
            json!([format!("did:web:gw.example.com#{new}")])
        );
        assert!(!key_path(store.keys_dir(), &old).exists());

        let reopened = KeyStore::open(data.path()).unwrap();
        assert_eq!(
            states(&reopened),
            [
                (old.clone(), KeyStatus::Revoked),
                (new.clone(), KeyStatus::Active)
            ]
        );
        assert_eq!(reopened.list()[0].revoked_at, info.revoked_at);
        assert!(matches!(
            reopened.verifier().verify(&old_jws),
            Err(super::super::VerifyError::RevokedKey(_))
        ));
        assert_eq!(KeyStore::list_in(data.path()).unwrap(), reopened.list());
        // Again: nothing changes, no error.
        assert_eq!(store.revoke(&old).unwrap(), info);
    }

    #[test]
    fn the_active_key_is_revoked_only_with_a_rotation() {
        let (data, mut store, old, new, _) = rotated();
        assert!(matches!(store.revoke(&new), Err(TrustError::ActiveKey(k)) if k == new));
        assert!(matches!(
            store.revoke("oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"),
            Err(TrustError::UnknownKey(_))
        ));
        assert!(matches!(
            store.revoke("../manifest.json"),
            Err(TrustError::UnknownKey(_))
        ));
        assert_eq!(states(&store)[1], (new.clone(), KeyStatus::Active));

        let (info, third) = store.rotate_revoking(&new).unwrap();
        assert_eq!(info.kid, new);
        assert_eq!(store.signer().kid(), third);
        assert_eq!(
            states(&KeyStore::open(data.path()).unwrap()),
            [
                (old, KeyStatus::Retired),
                (new.clone(), KeyStatus::Revoked),
                (third, KeyStatus::Active)
            ]
        );
        assert!(!key_path(store.keys_dir(), &new).exists());
    }

    #[test]
    fn a_rotation_never_brings_a_revoked_key_back() {
        let (data, mut store, old, _, old_jws) = rotated();
        // A second handle opened before the revocation, as a `keys rotate` run alongside a
        // running gateway would be.
        let mut stale = KeyStore::open(data.path()).unwrap();
        store.revoke(&old).unwrap();
        stale.rotate().unwrap();
        let reopened = KeyStore::open(data.path()).unwrap();
        assert_eq!(states(&reopened)[0], (old.clone(), KeyStatus::Revoked));
        assert_eq!(
            states(&reopened)
                .iter()
                .filter(|(_, s)| *s == KeyStatus::Active)
                .count(),
            1
        );
        assert!(reopened.verifier().verify(&old_jws).is_err());
        assert!(stale.verifier().verify(&old_jws).is_err());
        assert_eq!(reopened.jwks()["keys"].as_array().unwrap().len(), 2);
    }
}
