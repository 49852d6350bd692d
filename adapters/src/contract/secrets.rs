//! Where credential references may be read from: the operator's choice, never the caller's.
//!
//! A partner registration names its credentials by reference (`{ "file": "ouranos-tokai" }`,
//! `{ "env": "OURANOS_API_KEY" }`); whoever registers partners (an admin API token) decides
//! *which* reference, but only the operator's configuration decides *where* a reference may
//! point. [`SecretSources`] holds that decision:
//!
//! - **files** come from one secrets directory (e.g. `/run/secrets`, a Kubernetes secret mount).
//!   A reference is a name inside it, or an absolute path lexically inside it; `..` is refused.
//!   At read time the path is canonicalised (so symlinks are followed, as Kubernetes mounts need)
//!   and must still lie inside the canonical directory and outside every protected path (the key
//!   store, the database), be a regular file and at most [`MAX_SECRET_BYTES`] long.
//! - **environment variables** only by an allow-list of exact names or `PREFIX*` patterns;
//!   the gateway's own variables (`DPP_GATEWAY_*`, which carry its API tokens) never.
//! - with no directory and no allow-list configured, no reference resolves at all.
//!
//! Whatever goes wrong while reading a file — missing, unreadable, a symlink out of the
//! directory, too large — the caller gets one message that says none of it (so an API caller
//! cannot probe the file system); the operator's log line carries the reason.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use super::{AdapterError, Secret, SecretRef};

/// Longest secret file read, bytes: credentials are short, and a device or a log file named by
/// mistake must not be read into memory.
pub const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Prefix of the gateway's own environment variables (API tokens among them): never a secret
/// reference, whatever the allow-list says.
pub const RESERVED_ENV_PREFIX: &str = "DPP_GATEWAY_";

/// Why a [`SecretSources`] could not be set up from the operator's configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretSourcesError {
    /// The secrets directory is missing or not a directory.
    #[error("secrets dir {0}: not an existing directory")]
    NotADirectory(PathBuf),
    /// The secrets directory would expose a protected path (key store, database) or a system tree.
    #[error(
        "secrets dir {dir} must not be or contain {protected} (the key store, the database or a system directory)"
    )]
    Overlaps {
        /// The configured directory (canonical).
        dir: PathBuf,
        /// What it would expose.
        protected: PathBuf,
    },
    /// An allow-list entry is not a variable name or `PREFIX*`.
    #[error("secrets env entry {0:?} is not an environment variable name or a PREFIX* pattern")]
    BadEnvPattern(String),
    /// An allow-list entry would admit the gateway's own variables.
    #[error("secrets env entry {0:?} would admit the gateway's own DPP_GATEWAY_* variables")]
    ReservedEnvPattern(String),
}

/// One allow-list entry for environment variables.
#[derive(Debug, Clone, PartialEq, Eq)]
enum EnvRule {
    Exact(String),
    Prefix(String),
}

impl EnvRule {
    fn parse(raw: &str) -> Result<Self, SecretSourcesError> {
        let valid_name = |s: &str| {
            !s.is_empty()
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !s.as_bytes()[0].is_ascii_digit()
        };
        let rule = match raw.strip_suffix('*') {
            Some(prefix) if valid_name(prefix) => EnvRule::Prefix(prefix.to_owned()),
            None if valid_name(raw) => EnvRule::Exact(raw.to_owned()),
            _ => return Err(SecretSourcesError::BadEnvPattern(raw.to_owned())),
        };
        // A prefix admitting any DPP_GATEWAY_ name (`DPP_*`, `DPP_GATEWAY_*`) is refused outright.
        let reserved = match &rule {
            EnvRule::Exact(name) => name.starts_with(RESERVED_ENV_PREFIX),
            EnvRule::Prefix(prefix) => {
                RESERVED_ENV_PREFIX.starts_with(prefix.as_str())
                    || prefix.starts_with(RESERVED_ENV_PREFIX)
            }
        };
        if reserved {
            return Err(SecretSourcesError::ReservedEnvPattern(raw.to_owned()));
        }
        Ok(rule)
    }

    fn admits(&self, name: &str) -> bool {
        match self {
            EnvRule::Exact(exact) => name == exact,
            EnvRule::Prefix(prefix) => name.starts_with(prefix.as_str()),
        }
    }
}

/// The places credential references may be read from, set by the operator (`[secrets]`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretSources {
    /// Canonical secrets directory.
    dir: Option<PathBuf>,
    env: Vec<EnvRule>,
    /// Canonical paths no secret may be read from or under.
    protected: Vec<PathBuf>,
}

impl fmt::Debug for SecretSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretSources")
            .field("dir", &self.dir)
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

/// System trees a secrets directory may never be, or sit inside.
const SYSTEM_TREES: [&str; 3] = ["/proc", "/sys", "/dev"];

impl SecretSources {
    /// Nothing resolves (no directory, no variables): the default, and what tests of other
    /// concerns use with inline `{ "value": … }` credentials.
    pub fn none() -> Self {
        Self::default()
    }

    /// Secrets from `dir` (if any) and the variables `env` admits (`NAME` or `PREFIX*`), never
    /// from `protected` paths (the key store, the database file or directory) or system trees.
    pub fn new(
        dir: Option<&Path>,
        env: &[String],
        protected: &[PathBuf],
    ) -> Result<Self, SecretSourcesError> {
        let protected: Vec<PathBuf> = protected
            .iter()
            .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
            .collect();
        let dir = match dir {
            None => None,
            Some(dir) => {
                let canonical = dir
                    .canonicalize()
                    .ok()
                    .filter(|d| d.is_dir())
                    .ok_or_else(|| SecretSourcesError::NotADirectory(dir.to_owned()))?;
                // The directory must not hold (or be) a protected path, and must not be the root
                // or inside a system tree, where every file of the process is reachable.
                let system = SYSTEM_TREES
                    .iter()
                    .map(PathBuf::from)
                    .find(|tree| canonical.starts_with(tree));
                let exposed = protected.iter().find(|p| p.starts_with(&canonical));
                if let Some(protected) = system.or_else(|| exposed.cloned()) {
                    return Err(SecretSourcesError::Overlaps {
                        dir: canonical,
                        protected,
                    });
                }
                if canonical.parent().is_none() {
                    return Err(SecretSourcesError::Overlaps {
                        dir: canonical.clone(),
                        protected: canonical,
                    });
                }
                Some(canonical)
            }
        };
        let env = env
            .iter()
            .map(|raw| EnvRule::parse(raw.trim()))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            dir,
            env,
            protected,
        })
    }

    /// The canonical secrets directory, if one is configured.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Whether `reference` may be resolved here, judged on its text alone (no I/O): what a
    /// registration is checked against. The message names the rule, never a file's existence.
    pub fn admits(&self, reference: &SecretRef) -> Result<(), String> {
        match reference {
            SecretRef::Value(_) => Ok(()),
            SecretRef::Env(name) => {
                if name.starts_with(RESERVED_ENV_PREFIX) {
                    return Err(format!(
                        "environment variable {name} is one of the gateway's own and is never a credential"
                    ));
                }
                if self.env.is_empty() {
                    return Err(format!(
                        "environment variable {name} cannot be used: the gateway's [secrets] env allow-list is empty"
                    ));
                }
                if self.env.iter().any(|rule| rule.admits(name)) {
                    Ok(())
                } else {
                    Err(format!(
                        "environment variable {name} is not on the gateway's [secrets] env allow-list"
                    ))
                }
            }
            SecretRef::File(path) => self.relative_in_dir(path).map(|_| ()),
        }
    }

    /// The reference's path relative to the secrets directory, checked lexically.
    fn relative_in_dir(&self, path: &Path) -> Result<PathBuf, String> {
        let Some(dir) = &self.dir else {
            return Err(format!(
                "secret file {} cannot be used: the gateway has no [secrets] dir",
                path.display()
            ));
        };
        let outside = || {
            format!(
                "secret file {} is not a name inside the gateway's secrets directory",
                path.display()
            )
        };
        let relative = if path.is_absolute() {
            path.strip_prefix(dir).map_err(|_| outside())?.to_owned()
        } else {
            path.to_owned()
        };
        let plain = !relative.as_os_str().is_empty()
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if plain { Ok(relative) } else { Err(outside()) }
    }

    /// Reads the secret `reference` names. `field` names the setting in the error.
    pub async fn resolve(
        &self,
        reference: &SecretRef,
        field: &str,
    ) -> Result<Secret, AdapterError> {
        self.admits(reference)
            .map_err(|message| AdapterError::Config(format!("{field}: {message}")))?;
        match reference {
            SecretRef::Value(secret) => Ok(secret.clone()),
            SecretRef::Env(name) => std::env::var(name).map(Secret::new).map_err(|_| {
                AdapterError::Config(format!("{field}: environment variable {name} is not set"))
            }),
            SecretRef::File(path) => {
                let relative = self
                    .relative_in_dir(path)
                    .map_err(|message| AdapterError::Config(format!("{field}: {message}")))?;
                let dir = self.dir.clone().unwrap_or_default();
                match read_inside(&dir, &relative, &self.protected).await {
                    Ok(text) => Ok(Secret::new(text.trim_end_matches(['\r', '\n']))),
                    Err(reason) => {
                        // The reason stays in the operator's log; the caller learns nothing
                        // about the file system.
                        tracing::warn!(
                            field,
                            file = %relative.display(),
                            reason,
                            "secret file reference refused"
                        );
                        Err(AdapterError::Config(format!(
                            "{field}: secret file {} cannot be read from the secrets directory",
                            path.display()
                        )))
                    }
                }
            }
        }
    }
}

/// Reads `dir/relative` if, after following every symlink, it is a regular file inside `dir`,
/// outside `protected`, and short enough.
async fn read_inside(dir: &Path, relative: &Path, protected: &[PathBuf]) -> Result<String, String> {
    let canonical = tokio::fs::canonicalize(dir.join(relative))
        .await
        .map_err(|e| format!("cannot resolve: {e}"))?;
    if !canonical.starts_with(dir) {
        return Err(format!(
            "resolves outside the directory, to {}",
            canonical.display()
        ));
    }
    if let Some(p) = protected.iter().find(|p| canonical.starts_with(p)) {
        return Err(format!("resolves into the protected path {}", p.display()));
    }
    let meta = tokio::fs::metadata(&canonical)
        .await
        .map_err(|e| format!("cannot stat: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    if meta.len() > MAX_SECRET_BYTES {
        return Err(format!(
            "{} bytes, more than {MAX_SECRET_BYTES}",
            meta.len()
        ));
    }
    tokio::fs::read_to_string(&canonical)
        .await
        .map_err(|e| format!("cannot read: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(p: &str) -> SecretRef {
        SecretRef::File(PathBuf::from(p))
    }

    fn env(n: &str) -> SecretRef {
        SecretRef::Env(n.to_owned())
    }

    struct Layout {
        _root: tempfile::TempDir,
        secrets: PathBuf,
        keys: PathBuf,
    }

    fn layout() -> Layout {
        let root = tempfile::tempdir().unwrap();
        let secrets = root.path().join("secrets");
        let keys = root.path().join("keys");
        std::fs::create_dir_all(&secrets).unwrap();
        std::fs::create_dir_all(&keys).unwrap();
        std::fs::write(secrets.join("ouranos"), "s3cret\n").unwrap();
        std::fs::write(keys.join("k1.pem"), "-----BEGIN PRIVATE KEY-----\n").unwrap();
        Layout {
            _root: root,
            secrets,
            keys,
        }
    }

    #[tokio::test]
    async fn a_name_in_the_secrets_dir_resolves_and_loses_its_newline() {
        let l = layout();
        let sources =
            SecretSources::new(Some(&l.secrets), &[], std::slice::from_ref(&l.keys)).unwrap();
        let got = sources.resolve(&file("ouranos"), "f").await.unwrap();
        assert_eq!(got.expose(), "s3cret");
        let absolute = l.secrets.canonicalize().unwrap().join("ouranos");
        let got = sources
            .resolve(&SecretRef::File(absolute), "f")
            .await
            .unwrap();
        assert_eq!(got.expose(), "s3cret");
    }

    #[tokio::test]
    async fn paths_out_of_the_dir_are_refused_with_one_message_whatever_exists() {
        let l = layout();
        let sources =
            SecretSources::new(Some(&l.secrets), &[], std::slice::from_ref(&l.keys)).unwrap();
        // A symlink inside the dir that points at the key store, and one at /proc.
        std::os::unix::fs::symlink(l.keys.join("k1.pem"), l.secrets.join("key-link")).unwrap();
        std::os::unix::fs::symlink("/proc/self/environ", l.secrets.join("environ")).unwrap();
        let keys_file = l.keys.join("k1.pem");
        for reference in [
            file("../keys/k1.pem"),
            file("/proc/self/environ"),
            SecretRef::File(keys_file.clone()),
            file(""),
            file("."),
        ] {
            let err = sources.resolve(&reference, "f").await.unwrap_err();
            assert!(
                err.to_string()
                    .contains("not a name inside the gateway's secrets directory"),
                "{reference:?}: {err}"
            );
        }
        // Read-time refusals: a link out, a missing file and a directory get the same words.
        std::fs::create_dir(l.secrets.join("subdir")).unwrap();
        let mut messages = Vec::new();
        for name in ["key-link", "environ", "missing", "subdir"] {
            let err = sources.resolve(&file(name), "f").await.unwrap_err();
            messages.push(err.to_string().replace(name, "NAME"));
        }
        assert!(
            messages.iter().all(|m| m == &messages[0]),
            "messages differ: {messages:?}"
        );
        assert!(messages[0].contains("cannot be read from the secrets directory"));
    }

    #[tokio::test]
    async fn an_oversized_file_is_not_read() {
        let l = layout();
        let sources = SecretSources::new(Some(&l.secrets), &[], &[]).unwrap();
        std::fs::write(
            l.secrets.join("big"),
            vec![b'x'; MAX_SECRET_BYTES as usize + 1],
        )
        .unwrap();
        assert!(sources.resolve(&file("big"), "f").await.is_err());
    }

    #[test]
    fn a_secrets_dir_holding_the_key_store_or_a_system_tree_is_refused() {
        let l = layout();
        let parent = l.secrets.parent().unwrap().to_owned();
        assert!(matches!(
            SecretSources::new(Some(&parent), &[], std::slice::from_ref(&l.keys)),
            Err(SecretSourcesError::Overlaps { .. })
        ));
        assert!(matches!(
            SecretSources::new(Some(&l.keys), &[], std::slice::from_ref(&l.keys)),
            Err(SecretSourcesError::Overlaps { .. })
        ));
        for system in ["/", "/proc", "/proc/self", "/dev"] {
            assert!(
                SecretSources::new(Some(Path::new(system)), &[], &[]).is_err(),
                "{system} accepted"
            );
        }
        assert!(matches!(
            SecretSources::new(Some(&parent.join("nope")), &[], &[]),
            Err(SecretSourcesError::NotADirectory(_))
        ));
    }

    #[test]
    fn no_sources_admit_nothing_but_inline_values() {
        let none = SecretSources::none();
        assert!(none.admits(&file("x")).is_err());
        assert!(none.admits(&env("OURANOS_API_KEY")).is_err());
        assert!(none.admits(&SecretRef::Value(Secret::new("v"))).is_ok());
    }

    #[tokio::test]
    async fn env_names_resolve_only_by_the_allow_list_and_never_the_gateways_own() {
        let sources = SecretSources::new(
            None,
            &["OURANOS_*".to_owned(), "PARTNER_SECRET".to_owned()],
            &[],
        )
        .unwrap();
        assert!(sources.admits(&env("OURANOS_API_KEY")).is_ok());
        assert!(sources.admits(&env("PARTNER_SECRET")).is_ok());
        assert!(sources.admits(&env("PARTNER_SECRET_2")).is_err());
        assert!(sources.admits(&env("HOME")).is_err());
        assert!(sources.admits(&env("DPP_GATEWAY_ADMIN_TOKEN")).is_err());
        let unset = sources
            .resolve(&env("OURANOS_SURELY_UNSET_VAR"), "k")
            .await
            .unwrap_err();
        assert!(unset.to_string().contains("is not set"), "{unset}");
        for reserved in [
            "DPP_GATEWAY_*",
            "DPP_*",
            "D*",
            "*",
            "DPP_GATEWAY_ADMIN_TOKEN",
        ] {
            assert!(
                SecretSources::new(None, &[reserved.to_owned()], &[]).is_err(),
                "{reserved} accepted"
            );
        }
        assert!(SecretSources::new(None, &["A-B".to_owned()], &[]).is_err());
    }
}
