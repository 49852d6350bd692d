//! Adapter configuration after [`super::AdapterFactory::validate`]: typed, checked, and opaque to
//! the gateway, plus credentials given by reference so secrets never sit in partner records.

use std::any::Any;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use serde_json::{Map, Value};

use super::{AdapterError, ConfigProblem};

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

/// Reads an adapter table member by member, collecting every problem instead of stopping at the
/// first (what serde's derive would do), so `validate` can name each broken member by its JSON
/// pointer. Members never asked for are reported as unknown by [`finish`](Self::finish).
///
/// ```
/// use dpp_adapters::contract::ConfigReader;
/// let raw = serde_json::json!({ "endpoint": 7, "extra": true });
/// let mut r = ConfigReader::new(&raw, "");
/// assert_eq!(r.string("endpoint"), None);
/// let problems = r.finish();
/// assert_eq!(problems.iter().map(|p| p.pointer.as_str()).collect::<Vec<_>>(), ["/endpoint", "/extra"]);
/// ```
pub struct ConfigReader<'a> {
    table: Option<&'a Map<String, Value>>,
    prefix: String,
    asked: Vec<String>,
    problems: Vec<ConfigProblem>,
}

impl<'a> ConfigReader<'a> {
    /// A reader over `raw`, whose pointers start with `prefix` (`""` for the adapter table).
    pub fn new(raw: &'a Value, prefix: &str) -> Self {
        let mut reader = Self {
            table: raw.as_object(),
            prefix: prefix.to_owned(),
            asked: Vec::new(),
            problems: Vec::new(),
        };
        if reader.table.is_none() {
            reader.problem_at(
                prefix.to_owned(),
                "must be a table (a JSON object)".to_owned(),
            );
        }
        reader
    }

    fn pointer(&self, key: &str) -> String {
        format!(
            "{}/{}",
            self.prefix,
            key.replace('~', "~0").replace('/', "~1")
        )
    }

    fn problem_at(&mut self, pointer: String, message: String) {
        self.problems.push(ConfigProblem { pointer, message });
    }

    /// Records a problem with member `key`.
    pub fn problem(&mut self, key: &str, message: impl Into<String>) {
        let pointer = self.pointer(key);
        self.problem_at(pointer, message.into());
    }

    /// Member `key`, marked as known; `None` when absent.
    pub fn get(&mut self, key: &str) -> Option<&'a Value> {
        self.asked.push(key.to_owned());
        self.table.and_then(|t| t.get(key))
    }

    /// A required string member; a problem when absent, not a string, or blank.
    pub fn string(&mut self, key: &str) -> Option<String> {
        match self.get(key) {
            None => {
                self.problem(key, "is required");
                None
            }
            Some(value) => self.string_value(key, value),
        }
    }

    /// An optional string member.
    pub fn optional_string(&mut self, key: &str) -> Option<String> {
        let value = self.get(key)?;
        self.string_value(key, value)
    }

    fn string_value(&mut self, key: &str, value: &Value) -> Option<String> {
        match value.as_str() {
            Some(text) if !text.trim().is_empty() => Some(text.to_owned()),
            Some(_) => {
                self.problem(key, "must not be empty");
                None
            }
            None => {
                self.problem(key, format!("must be a string, got {}", kind_of(value)));
                None
            }
        }
    }

    /// An optional whole number in `range`.
    pub fn optional_u64(&mut self, key: &str, range: std::ops::RangeInclusive<u64>) -> Option<u64> {
        let value = self.get(key)?;
        match value.as_u64() {
            Some(n) if range.contains(&n) => Some(n),
            _ => {
                self.problem(
                    key,
                    format!(
                        "must be a whole number from {} to {}, got {value}",
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
        }
    }

    /// A required credential reference: `{ "env": NAME }` or `{ "file": NAME }` (an inline
    /// `{ "value": … }` is read too, for tests; registrations refuse it before this runs).
    pub fn secret(&mut self, key: &str) -> Option<SecretRef> {
        const RULE: &str =
            "must be a credential reference, {\"env\": \"NAME\"} or {\"file\": \"NAME\"}";
        let Some(value) = self.get(key) else {
            self.problem(key, format!("is required: it {RULE}"));
            return None;
        };
        match serde_json::from_value::<SecretRef>(value.clone()) {
            Ok(reference) => match reference.check(key) {
                Ok(()) => Some(reference),
                Err(_) => {
                    self.problem(key, "is an empty credential reference");
                    None
                }
            },
            // Never quote the value: a plain string here is most likely the secret itself.
            Err(_) => {
                self.problem(key, format!("{RULE}, got {}", kind_of(value)));
                None
            }
        }
    }

    /// A nested table: its reader (pointers under this member), or `None` with a problem.
    pub fn table(&mut self, key: &str) -> Option<ConfigReader<'a>> {
        let pointer = self.pointer(key);
        match self.get(key) {
            None => {
                self.problem(key, "is required");
                None
            }
            Some(value) if value.is_object() => Some(ConfigReader::new(value, &pointer)),
            Some(value) => {
                self.problem(key, format!("must be a table, got {}", kind_of(value)));
                None
            }
        }
    }

    /// Takes over the problems of a nested reader.
    pub fn absorb(&mut self, nested: ConfigReader<'_>) {
        self.problems.extend(nested.finish());
    }

    /// Every problem found, members nobody asked for included (as unknown).
    pub fn finish(mut self) -> Vec<ConfigProblem> {
        if let Some(table) = self.table {
            let unknown: Vec<String> = table
                .keys()
                .filter(|k| !self.asked.contains(k))
                .cloned()
                .collect();
            for key in unknown {
                self.problem(&key, "is not a known setting");
            }
        }
        self.problems
    }
}

/// A JSON value's kind, for messages that must not quote it.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
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
