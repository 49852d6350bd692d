//! Adapter configuration after [`super::AdapterFactory::validate`]: typed, checked, and opaque to
//! the gateway, plus credentials given by reference so secrets never sit in partner records.

use std::any::Any;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::AdapterError;

/// A config that passed its adapter's `validate`. The gateway only reads its [`kind`](Self::kind)
/// and hands it back to the same adapter's `build`, which downcasts it to its own settings type.
#[derive(Clone)]
pub struct CheckedConfig {
    kind: &'static str,
    settings: Arc<dyn Any + Send + Sync>,
}

impl CheckedConfig {
    /// Wraps an adapter's checked settings.
    pub fn new<T: Any + Send + Sync>(kind: &'static str, settings: T) -> Self {
        Self {
            kind,
            settings: Arc::new(settings),
        }
    }

    /// The adapter type (`"ouranos"`).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The adapter's own settings, if they are a `T`.
    pub fn settings<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.settings.downcast_ref()
    }
}

impl fmt::Debug for CheckedConfig {
    // Settings hold secret references and endpoints; print only the kind.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckedConfig")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A secret string: never printed by `Debug`, never serialised back.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one header or body that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where a credential comes from: `{ env = "VAR" }`, `{ file = "name" }` (in the secrets
/// directory), or — for tests only; registrations refuse it — `{ value = "…" }`. Read through
/// [`super::SecretSources`], which decides where a reference may point.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum SecretRef {
    /// An environment variable on the operator's allow-list, read at build time.
    Env(String),
    /// A file in the operator's secrets directory whose content (trailing newline removed) is the
    /// secret, read at build time.
    File(PathBuf),
    /// The secret inline.
    Value(Secret),
}

impl SecretRef {
    /// Checks the reference's shape without reading anything (for `validate`).
    pub fn check(&self, field: &str) -> Result<(), AdapterError> {
        let empty = match self {
            SecretRef::Env(name) => name.trim().is_empty(),
            SecretRef::File(path) => path.as_os_str().is_empty(),
            SecretRef::Value(secret) => secret.expose().is_empty(),
        };
        if empty {
            return Err(AdapterError::Config(format!(
                "{field}: empty secret reference"
            )));
        }
        Ok(())
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env:{name}"),
            SecretRef::File(path) => write!(f, "file:{}", path.display()),
            SecretRef::Value(_) => f.write_str("value:***"),
        }
    }
}

impl Serialize for SecretRef {
    // Inline values are never written back out.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        match self {
            SecretRef::Env(name) => map.serialize_entry("env", name)?,
            SecretRef::File(path) => map.serialize_entry("file", path)?,
            SecretRef::Value(_) => map.serialize_entry("value", "***")?,
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_never_show_in_debug_or_serialisation() {
        let r: SecretRef = serde_json::from_value(json!({ "value": "hunter2" })).unwrap();
        assert_eq!(format!("{r:?}"), "value:***");
        assert!(!serde_json::to_string(&r).unwrap().contains("hunter2"));
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }

    #[test]
    fn references_parse_and_empty_ones_are_refused() {
        let r: SecretRef = serde_json::from_value(json!({ "env": "OURANOS_KEY" })).unwrap();
        assert_eq!(r, SecretRef::Env("OURANOS_KEY".into()));
        assert!(r.check("api_key").is_ok());
        let empty: SecretRef = serde_json::from_value(json!({ "env": " " })).unwrap();
        assert!(
            matches!(empty.check("api_key"), Err(AdapterError::Config(m)) if m.contains("api_key"))
        );
        assert!(serde_json::from_value::<SecretRef>(json!({ "vault": "x" })).is_err());
    }

    #[test]
    fn checked_config_downcasts_to_its_own_type_only() {
        let c = CheckedConfig::new("demo", 42u32);
        assert_eq!(c.settings::<u32>(), Some(&42));
        assert_eq!(c.settings::<String>(), None);
        assert_eq!(format!("{c:?}"), "CheckedConfig { kind: \"demo\", .. }");
    }
}
