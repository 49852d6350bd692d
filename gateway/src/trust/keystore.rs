//! The key store: our ES256 signing keys in `<data_dir>/keys/`, one PKCS#8 PEM file per key
//! (`<kid>.pem`, mode 0600, directory 0700) and `manifest.json` listing kid, creation time and
//! status. Exactly one key is active (it signs); retired keys stay published so that everything
//! they signed keeps verifying.

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
const MANIFEST_VERSION: u32 = 1;
const PEM_LABEL: &str = "PRIVATE KEY";

/// Whether a key signs new payloads or is only kept published for verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// The one key that signs.
    Active,
    /// Superseded by a rotation; still in the JWKS and the DID document.
    Retired,
}

/// What `keys list` shows about one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// When the key was generated.
    pub created_at: DateTime<Utc>,
    /// Active or retired.
    pub status: KeyStatus,
    /// Always `ES256` for now.
    pub alg: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    keys: Vec<KeyInfo>,
}

#[derive(Debug, Clone)]
struct StoredKey {
    info: KeyInfo,
    signer: AwsLcEs256Signer,
}

/// Our signing keys, loaded from the data directory (see the module docs for the layout).
#[derive(Debug)]
pub struct KeyStore {
    dir: PathBuf,
    /// In creation order, oldest first; exactly one is active.
    keys: Vec<StoredKey>,
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
        let manifest_path = dir.join(MANIFEST);
        let bytes = match fs::read(&manifest_path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TrustError::NoKeys(dir));
            }
            Err(source) => return Err(io_err(&manifest_path, source)),
        };
        let invalid = |reason: String| TrustError::InvalidKeyStore {
            path: manifest_path.clone(),
            reason,
        };
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        if manifest.version != MANIFEST_VERSION {
            return Err(invalid(format!(
                "unsupported manifest version {}",
                manifest.version
            )));
        }
        let mut keys: Vec<StoredKey> = Vec::with_capacity(manifest.keys.len());
        for info in manifest.keys {
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
            if keys.iter().any(|k| k.info.kid == info.kid) {
                return Err(invalid(format!("kid {} listed twice", info.kid)));
            }
            let signer = read_private_key(&dir, &info.kid)?;
            keys.push(StoredKey { info, signer });
        }
        let active = keys
            .iter()
            .filter(|k| k.info.status == KeyStatus::Active)
            .count();
        if active != 1 {
            return Err(invalid(format!(
                "{active} active keys, expected exactly one"
            )));
        }
        Self::from_keys(dir, keys)
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
    pub fn rotate(&mut self) -> Result<String, TrustError> {
        let new = new_key(&self.dir, KeyStatus::Active)?;
        let mut keys = self.keys.clone();
        for key in &mut keys {
            key.info.status = KeyStatus::Retired;
        }
        keys.push(new);
        let manifest = Manifest {
            version: MANIFEST_VERSION,
            keys: keys.iter().map(|k| k.info.clone()).collect(),
        };
        // The key file is durable before the manifest names it; a crash in between leaves an
        // unreferenced file, never a manifest pointing at nothing.
        write_manifest(&self.dir, &manifest, WriteMode::Replace)?;
        *self = Self::from_keys(self.dir.clone(), keys)?;
        Ok(self.active().info.kid.clone())
    }

    /// Every key, oldest first.
    pub fn list(&self) -> Vec<KeyInfo> {
        self.keys.iter().map(|k| k.info.clone()).collect()
    }

    /// The signer of the active key.
    pub fn signer(&self) -> PassportSigner {
        PassportSigner::new(self.active().signer.clone())
    }

    /// `{"keys":[…]}` with every public key: the active one first, then retired ones newest first.
    pub fn jwks(&self) -> Value {
        jwks_of(&self.keys)
    }

    /// A verifier that trusts exactly our keys (active and retired).
    pub fn verifier(&self) -> JwsVerifier {
        self.verifier.clone()
    }

    /// Our `did:web` document; unlike [`did_web::did_web_document`] it knows which key is active,
    /// so only that one is listed under `authentication` (all stay under `assertionMethod`).
    pub fn did_web_document(&self, public_base_url: &str) -> Result<Value, TrustError> {
        let active = [self.active().info.kid.as_str()];
        did_web::document(public_base_url, &self.jwks(), Some(&active))
    }

    /// The directory holding the key files and manifest.
    pub fn keys_dir(&self) -> &Path {
        &self.dir
    }

    fn from_keys(dir: PathBuf, keys: Vec<StoredKey>) -> Result<Self, TrustError> {
        let verifier = JwsVerifier::from_jwks(&jwks_of(&keys))?;
        Ok(Self {
            dir,
            keys,
            verifier,
        })
    }

    fn active(&self) -> &StoredKey {
        active_of(&self.keys)
    }
}

fn active_of(keys: &[StoredKey]) -> &StoredKey {
    // `open`, `generate` and `rotate` all guarantee exactly one active key.
    keys.iter()
        .find(|k| k.info.status == KeyStatus::Active)
        .unwrap_or_else(|| unreachable!("key store without an active key"))
}

/// The active key first, then retired ones newest first.
fn jwks_of(keys: &[StoredKey]) -> Value {
    let retired = keys
        .iter()
        .rev()
        .filter(|k| k.info.status == KeyStatus::Retired);
    let published: Vec<Value> = std::iter::once(active_of(keys))
        .chain(retired)
        .map(|k| k.signer.public_jwk())
        .collect();
    json!({ "keys": published })
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
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
    }
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // An existing (perhaps empty) directory: tighten it rather than trust its mode.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                    .map_err(|e| io_err(dir, e))?;
            }
            Ok(())
        }
        Err(e) => Err(io_err(dir, e)),
    }
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
        },
        signer,
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
        assert_eq!(store.verifier().verify(&token).unwrap().payload, claims);
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
}
