//! Partners: checking a registration (name, adapter table through the adapter's pure
//! `validate`, credentials by reference only, SSRF allow-list, access policy, pull policy), showing
//! a partner without its secrets, and the lazily built, cached connection per partner, which is
//! also where pulls from a partner go ([`PullTargets`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dpp_adapters::AdapterRegistry;
use dpp_adapters::contract::{
    AdapterContext, AdapterError, Connection, EgressPolicy, HttpClient, HttpObserver, HttpSettings,
    PayloadSigner, SecretRef, SecretSources, SigningError,
};
use dpp_schemas::SchemaRegistry;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::events::AdapterMetrics;
use super::policy::field_policy_problems;
use super::pull::{PartnerLookupError, PullPolicy, PullTarget, PullTargets};
use crate::problem::ViolationDetail;
use crate::store::{
    AccessPolicy, InboundLimits, PartnerRecord, PartnerState, PullSettings, Store, StoreError,
};
use crate::trust::PassportSigner;

/// Longest partner name.
pub const MAX_NAME_LEN: usize = 63;

impl PayloadSigner for PassportSigner {
    fn kid(&self) -> &str {
        PassportSigner::kid(self)
    }

    fn sign_compact(&self, payload: &[u8], typ: &str) -> Result<String, SigningError> {
        PassportSigner::sign_compact(self, payload, typ).map_err(|e| SigningError(e.to_string()))
    }
}

/// A partner as the API and the CLI register it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartnerRegistration {
    /// Unique slug: lowercase letters, digits and `-`, starting with a letter or digit.
    pub name: String,
    /// Adapter type, e.g. `ouranos`.
    #[serde(rename = "type")]
    pub adapter_type: String,
    /// The remote's base URL.
    pub endpoint: String,
    /// The rest of the adapter table; credentials as `{ "env": NAME }` or `{ "file": NAME }`,
    /// where the gateway's `[secrets]` configuration allows.
    #[serde(default)]
    pub settings: Map<String, Value>,
    /// Hosts this partner's client may reach although they are not public (SSRF allow-list).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Which passports and fields the partner may receive (all, when absent).
    #[serde(default)]
    pub policy: AccessPolicy,
    /// How long its passports are cached when pulled, and how long to wait for them (gateway
    /// defaults for members left out).
    #[serde(default)]
    pub pull: PullSettings,
    /// How hard it may call the partner-facing API (gateway `[inbound]` defaults for members left
    /// out).
    #[serde(default)]
    pub limits: InboundLimits,
    /// `registered` (default) or `trusted-unchecked`; `verified` / `failed` are set by the
    /// conformance suite only.
    #[serde(default)]
    pub state: Option<PartnerState>,
}

impl PartnerRegistration {
    /// Checks everything without I/O; the record to store, or every violation found (pointers
    /// into the registration document). Credential references must point where `secrets`
    /// allows. Secrets are never part of a message.
    pub fn check(
        self,
        adapters: &AdapterRegistry,
        schemas: &SchemaRegistry,
        secrets: &SecretSources,
    ) -> Result<PartnerRecord, Vec<ViolationDetail>> {
        let mut problems = Vec::new();
        let mut problem = |pointer: &str, message: String| {
            problems.push(ViolationDetail {
                pointer: pointer.to_owned(),
                message,
            })
        };
        if let Err(message) = check_name(&self.name) {
            problem("/name", message);
        }
        for reserved in ["type", "endpoint"] {
            if self.settings.contains_key(reserved) {
                problem(
                    &format!("/settings/{reserved}"),
                    format!(
                        "give {reserved} at the top level of the registration, not in settings"
                    ),
                );
            }
        }
        let inline = inline_secrets(&Value::Object(self.settings.clone()), "/settings");
        for pointer in &inline {
            problem(
                pointer,
                "credentials are given by reference ({\"env\": NAME} or {\"file\": NAME}), never inline"
                    .into(),
            );
        }
        for (pointer, reference) in
            secret_references(&Value::Object(self.settings.clone()), "/settings")
        {
            if let Err(message) = secrets.admits(&reference) {
                problem(&pointer, message);
            }
        }
        for (i, host) in self.allowed_hosts.iter().enumerate() {
            if let Err(message) = check_host(host) {
                problem(&format!("/allowedHosts/{i}"), message);
            }
        }
        for (member, message) in self.policy.passports.problems() {
            problem(&format!("/policy/passports/{member}"), message);
        }
        for (member, message) in self.pull.problems() {
            problem(&format!("/pull/{member}"), message);
        }
        for (member, message) in self.limits.problems() {
            problem(&format!("/limits/{member}"), message);
        }
        problems.extend(field_policy_problems(
            &self.policy.fields,
            schemas,
            "/policy/fields",
        ));
        let state = self.state.unwrap_or(PartnerState::Registered);
        if !matches!(
            state,
            PartnerState::Registered | PartnerState::TrustedUnchecked
        ) {
            problems.push(ViolationDetail {
                pointer: "/state".into(),
                message: format!(
                    "a partner is registered as registered or trusted-unchecked; {state} is set by the conformance suite"
                ),
            });
        }
        let record = PartnerRecord {
            name: self.name,
            adapter_type: self.adapter_type,
            endpoint: self.endpoint,
            settings: self.settings,
            allowed_hosts: self
                .allowed_hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect(),
            policy: self.policy,
            pull: self.pull,
            limits: self.limits,
            state,
            revision: 0,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        };
        // An inline secret never reaches the adapter's validate, whose messages may quote values.
        if inline.is_empty()
            && let Err(e) = adapters.validate(&record.adapter_config())
        {
            problems.extend(adapter_config_violations(&e));
        }
        if problems.is_empty() {
            Ok(record)
        } else {
            Err(problems)
        }
    }
}

/// A stored partner as the registration document it was made from (credential references
/// only), the base an update is merged onto. `state` is left out: [`updated_record`] decides it.
pub fn registration_document(record: &PartnerRecord) -> Value {
    serde_json::json!({
        "name": record.name,
        "type": record.adapter_type,
        "endpoint": record.endpoint,
        "settings": record.settings,
        "allowedHosts": record.allowed_hosts,
        "policy": record.policy,
        "pull": record.pull,
        "limits": record.limits,
    })
}

/// RFC 7396 JSON merge patch: members of `patch` replace those of `target`, `null` removes,
/// objects merge recursively.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(target), Some(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (_, Some(patch)) => {
            *target = Value::Object(Map::new());
            merge_patch(target, &Value::Object(patch.clone()));
        }
        _ => *target = patch.clone(),
    }
}

/// The record after `patch` (a JSON merge patch over [`registration_document`]), checked like a
/// registration, or every violation. The name cannot change. A change to what the partner *is*
/// (`type`, `endpoint`, `settings`, `allowedHosts`) sends it back to `registered` — it must pass
/// the conformance suite again — unless the patch sets `state` to `trusted-unchecked`; other
/// changes (policy, pull, limits) keep its state.
pub fn updated_record(
    current: &PartnerRecord,
    patch: &Value,
    adapters: &AdapterRegistry,
    schemas: &SchemaRegistry,
    secrets: &SecretSources,
) -> Result<PartnerRecord, Vec<ViolationDetail>> {
    let one = |pointer: &str, message: String| {
        vec![ViolationDetail {
            pointer: pointer.to_owned(),
            message,
        }]
    };
    if !patch.is_object() {
        return Err(one(
            "",
            "a partner update is a JSON merge patch object".into(),
        ));
    }
    if let Some(name) = patch.get("name")
        && name.as_str() != Some(current.name.as_str())
    {
        return Err(one(
            "/name",
            "a partner's name cannot change; register a new partner instead".into(),
        ));
    }
    let mut doc = registration_document(current);
    merge_patch(&mut doc, patch);
    let registration: PartnerRegistration = serde_json::from_value(doc)
        .map_err(|e| one("", format!("the updated registration is not valid: {e}")))?;
    let mut record = registration.check(adapters, schemas, secrets)?;
    let identity_changed = record.adapter_type != current.adapter_type
        || record.endpoint != current.endpoint
        || record.settings != current.settings
        || record.allowed_hosts != current.allowed_hosts;
    record.state = match patch.get("state") {
        Some(_) => record.state,
        None if identity_changed => PartnerState::Registered,
        None => current.state,
    };
    Ok(record)
}

fn adapter_config_message(e: &AdapterError) -> String {
    match e {
        AdapterError::Config(m) => m.clone(),
        other => other.to_string(),
    }
}

/// An adapter's `validate` error as violations of the registration document: the adapter table
/// is the registration's `settings` plus its top-level `type` and `endpoint`.
fn adapter_config_violations(e: &AdapterError) -> Vec<ViolationDetail> {
    match e {
        AdapterError::InvalidConfig(problems) => problems
            .iter()
            .map(|p| {
                let top_level = ["/type", "/endpoint"]
                    .iter()
                    .any(|t| p.pointer == *t || p.pointer.starts_with(&format!("{t}/")));
                ViolationDetail {
                    pointer: if top_level {
                        p.pointer.clone()
                    } else {
                        format!("/settings{}", p.pointer)
                    },
                    message: p.message.clone(),
                }
            })
            .collect(),
        other => vec![ViolationDetail {
            pointer: "/settings".into(),
            message: adapter_config_message(other),
        }],
    }
}

/// Checks a stored partner's adapter table with the adapter's pure `validate` (no I/O): what
/// `dpp-gateway config validate` reports per partner.
pub fn check_stored_partner(
    record: &PartnerRecord,
    adapters: &AdapterRegistry,
    secrets: &SecretSources,
) -> Result<(), String> {
    let settings = Value::Object(record.settings.clone());
    let inline = inline_secrets(&settings, "/settings");
    if !inline.is_empty() {
        return Err(format!(
            "inline credentials at {} (give them by reference)",
            inline.join(", ")
        ));
    }
    let refused: Vec<String> = secret_references(&settings, "/settings")
        .into_iter()
        .filter_map(|(pointer, reference)| {
            secrets
                .admits(&reference)
                .err()
                .map(|m| format!("{pointer}: {m}"))
        })
        .collect();
    if !refused.is_empty() {
        return Err(refused.join("; "));
    }
    adapters
        .validate(&record.adapter_config())
        .map(|_| ())
        .map_err(|e| adapter_config_message(&e))
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a slug: 1–{MAX_NAME_LEN} lowercase letters, digits and '-', not starting or ending with '-'"
        ))
    }
}

fn check_host(host: &str) -> Result<(), String> {
    let h = host.trim();
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{host:?} is not a host name or IP address (no scheme, port or path)"
        ))
    }
}

/// Every `{ "env": NAME }` / `{ "file": NAME }` credential reference under `value`, with its JSON
/// pointer (recognised by shape, whatever the adapter, so no reference escapes the check).
pub fn secret_references(value: &Value, pointer: &str) -> Vec<(String, SecretRef)> {
    fn walk(value: &Value, pointer: String, found: &mut Vec<(String, SecretRef)>) {
        match value {
            Value::Object(map)
                if map.len() == 1
                    && (map.contains_key("env") || map.contains_key("file"))
                    && map.values().all(Value::is_string) =>
            {
                if let Ok(reference) = serde_json::from_value::<SecretRef>(value.clone()) {
                    found.push((pointer, reference));
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    let token = k.replace('~', "~0").replace('/', "~1");
                    walk(v, format!("{pointer}/{token}"), found);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, format!("{pointer}/{i}"), found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(value, pointer.to_owned(), &mut found);
    found
}

/// JSON pointers of every `{ "value": … }` credential (an inline secret) under `value`.
pub fn inline_secrets(value: &Value, pointer: &str) -> Vec<String> {
    let mut found = Vec::new();
    collect_inline(value, pointer.to_owned(), &mut found);
    found
}

fn collect_inline(value: &Value, pointer: String, found: &mut Vec<String>) {
    match value {
        Value::Object(map) if map.len() == 1 && map.contains_key("value") => found.push(pointer),
        Value::Object(map) => {
            for (k, v) in map {
                let token = k.replace('~', "~0").replace('/', "~1");
                collect_inline(v, format!("{pointer}/{token}"), found);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_inline(v, format!("{pointer}/{i}"), found);
            }
        }
        _ => {}
    }
}

fn mask_inline(value: &mut Value) {
    match value {
        Value::Object(map) if map.len() == 1 && map.contains_key("value") => {
            map.insert("value".into(), Value::String("***".into()));
        }
        Value::Object(map) => map.values_mut().for_each(mask_inline),
        Value::Array(items) => items.iter_mut().for_each(mask_inline),
        _ => {}
    }
}

/// A partner as shown by the API and the CLI: credential references only, never secrets.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerView {
    /// Name.
    pub name: String,
    /// Adapter type.
    #[serde(rename = "type")]
    pub adapter_type: String,
    /// Base URL.
    pub endpoint: String,
    /// Adapter settings (credential references; an inline value, were one stored, shows `***`).
    pub settings: Value,
    /// SSRF allow-list.
    pub allowed_hosts: Vec<String>,
    /// Access policy.
    pub policy: AccessPolicy,
    /// The pull policy in effect (defaults filled in).
    pub pull: PullSettings,
    /// Limits on its calls to the partner-facing API, as registered (the gateway's `[inbound]`
    /// defaults apply to members left out).
    pub limits: InboundLimits,
    /// State.
    pub state: PartnerState,
    /// What its adapter can do (empty for an adapter compiled out of this binary).
    pub capabilities: Vec<&'static str>,
    /// Grows with every change.
    pub revision: i64,
    /// Registered at.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Last change.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl PartnerView {
    /// The view of `record`.
    pub fn of(record: &PartnerRecord, adapters: &AdapterRegistry) -> Self {
        let mut settings = Value::Object(record.settings.clone());
        mask_inline(&mut settings);
        let capabilities = adapters
            .factory(&record.adapter_type)
            .map(|f| f.capabilities().iter().map(|c| c.as_str()).collect())
            .unwrap_or_default();
        Self {
            name: record.name.clone(),
            adapter_type: record.adapter_type.clone(),
            endpoint: record.endpoint.clone(),
            settings,
            allowed_hosts: record.allowed_hosts.clone(),
            policy: record.policy.clone(),
            pull: PullPolicy::from_settings(&record.pull).to_settings(),
            limits: record.limits,
            state: record.state,
            capabilities,
            revision: record.revision,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// Why a partner connection could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PartnerError {
    /// No partner has this name.
    #[error("no partner named {0:?}")]
    NotFound(String),
    /// The adapter refused the stored config, a credential could not be read, or the client
    /// could not be built.
    #[error("cannot connect partner {partner}: {source}")]
    Connect {
        /// The partner.
        partner: String,
        /// What the adapter said.
        source: Arc<AdapterError>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

type ConnectionKey = (String, i64, i64);

/// One live connection per partner, built on first use and rebuilt when the partner's row
/// changes (its revision or update time), so edits by another replica or the CLI are picked up.
pub struct PartnerConnections {
    store: Store,
    adapters: Arc<AdapterRegistry>,
    signer: PassportSigner,
    http: HttpSettings,
    secrets: Arc<SecretSources>,
    observer: Option<Arc<dyn HttpObserver>>,
    cache: moka::future::Cache<ConnectionKey, Arc<dyn Connection>>,
}

impl PartnerConnections {
    /// Connections over `store`'s partners, built by `adapters`, signing with `signer`.
    pub fn new(store: Store, adapters: Arc<AdapterRegistry>, signer: PassportSigner) -> Self {
        Self {
            store,
            adapters,
            signer,
            http: HttpSettings::default(),
            secrets: Arc::new(SecretSources::none()),
            observer: None,
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(Duration::from_secs(3600))
                .build(),
        }
    }

    /// Uses these timeouts for every partner's HTTP client.
    pub fn with_http_settings(mut self, http: HttpSettings) -> Self {
        self.http = http;
        self
    }

    /// Resolves partners' credential references through `secrets` (the `[secrets]` table);
    /// without it no reference resolves.
    pub fn with_secrets(mut self, secrets: SecretSources) -> Self {
        self.secrets = Arc::new(secrets);
        self
    }

    /// Where credential references may point.
    pub fn secrets(&self) -> &SecretSources {
        &self.secrets
    }

    /// Shows every exchange of every partner's client to `observer` (tests).
    pub fn with_observer(mut self, observer: Arc<dyn HttpObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The adapter list.
    pub fn adapters(&self) -> &AdapterRegistry {
        &self.adapters
    }

    /// The store the partners live in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The signer handed to adapters (and used for redacted forms).
    pub fn signer(&self) -> &PassportSigner {
        &self.signer
    }

    /// The live connection of partner `name` with its current record. Concurrent first calls
    /// build the connection once.
    pub async fn connection(
        &self,
        name: &str,
    ) -> Result<(Arc<dyn Connection>, PartnerRecord), PartnerError> {
        let record = self
            .store
            .partner(name)
            .await?
            .ok_or_else(|| PartnerError::NotFound(name.to_owned()))?;
        let connection = self.connection_of(&record).await?;
        Ok((connection, record))
    }

    /// The live connection of a partner already read from the store.
    pub async fn connection_of(
        &self,
        record: &PartnerRecord,
    ) -> Result<Arc<dyn Connection>, PartnerError> {
        let key = (
            record.name.clone(),
            record.revision,
            record.updated_at.timestamp_millis(),
        );
        self.cache
            .try_get_with(key, self.build(record))
            .await
            .map_err(|source| PartnerError::Connect {
                partner: record.name.clone(),
                source,
            })
    }

    async fn build(&self, record: &PartnerRecord) -> Result<Arc<dyn Connection>, AdapterError> {
        let checked = self.adapters.validate(&record.adapter_config())?;
        let mut http = HttpClient::new(EgressPolicy::allowing(&record.allowed_hosts), &self.http)?;
        if let Some(observer) = &self.observer {
            http = http.with_observer(observer.clone());
        }
        let ctx = AdapterContext::new(record.name.clone(), http)
            .with_secrets(self.secrets.clone())
            .with_signer(Arc::new(self.signer.clone()))
            .with_metrics(Arc::new(AdapterMetrics));
        let (connection, _health) = self.adapters.build(checked, ctx).await?;
        tracing::info!(
            partner = %record.name,
            adapter = %record.adapter_type,
            revision = record.revision,
            "partner connection built"
        );
        Ok(connection)
    }
}

/// Pulls go to a partner's live connection, under the pull policy of its registration. Any
/// partner state may be pulled from (state gates what we send, not what we read: pulled data is
/// validated either way); its adapter must declare `fetch`.
#[async_trait]
impl PullTargets for PartnerConnections {
    async fn target(&self, partner: &str) -> Result<PullTarget, PartnerLookupError> {
        let unavailable = |reason: String| PartnerLookupError::Unavailable {
            partner: partner.to_owned(),
            reason,
        };
        let record = match self.store.partner(partner).await {
            Ok(Some(record)) => record,
            Ok(None) => return Err(PartnerLookupError::Unknown(partner.to_owned())),
            Err(e) => {
                tracing::error!(partner, error = %e, "cannot read a partner for a pull");
                return Err(unavailable("the partner registry cannot be read".into()));
            }
        };
        // The declared capability decides before anything is built.
        match self.adapters.factory(&record.adapter_type) {
            Ok(factory) if factory.capabilities().fetch => {}
            Ok(_) => {
                return Err(PartnerLookupError::CannotFetch {
                    partner: record.name,
                    adapter: record.adapter_type,
                });
            }
            Err(e) => return Err(unavailable(e.to_string())),
        }
        let connection = self.connection_of(&record).await.map_err(|e| {
            // The full reason (which reference, which file rule) is for the operator's log; the
            // caller, a reader token, learns the kind of failure only.
            tracing::warn!(partner, error = %e, "partner connection cannot be built");
            match e {
                PartnerError::Connect { source, .. } => unavailable(source.summary()),
                other => unavailable(other.to_string()),
            }
        })?;
        Ok(PullTarget {
            connection,
            policy: PullPolicy::from_settings(&record.pull),
            registered_at: record.created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn registration(settings: Value) -> PartnerRegistration {
        serde_json::from_value(json!({
            "name": "ouranos-tokai",
            "type": "ouranos",
            "endpoint": "https://api.ouranos.example/",
            "settings": settings,
        }))
        .unwrap()
    }

    fn good_settings() -> Value {
        json!({
            "api_key": { "env": "OURANOS_API_KEY" },
            "operator_id": "d9a38406-cae2-4679-b052-15a75f5531e8",
            "plant_id": "d9a38406-cae2-4679-b052-15a75f5531e7",
            "auth": { "mode": "client", "client_id": "gw", "client_secret": { "file": "ouranos-tokai.secret" } }
        })
    }

    /// A secrets directory and the `OURANOS_*` variables (the guard keeps the directory alive).
    fn sources() -> (tempfile::TempDir, SecretSources) {
        let dir = tempfile::tempdir().unwrap();
        let sources = SecretSources::new(Some(dir.path()), &["OURANOS_*".to_owned()], &[]).unwrap();
        (dir, sources)
    }

    #[test]
    fn a_good_registration_checks_and_inline_secrets_do_not() {
        let adapters = AdapterRegistry::with_builtin_adapters();
        let schemas = SchemaRegistry::new().unwrap();
        let (_dir, secrets) = sources();
        let record = registration(good_settings())
            .check(&adapters, &schemas, &secrets)
            .unwrap();
        assert_eq!(record.state, PartnerState::Registered);
        assert_eq!(record.adapter_config()["type"], "ouranos");

        let mut settings = good_settings();
        settings["auth"]["client_secret"] = json!({ "value": "hunter2" });
        let problems = registration(settings)
            .check(&adapters, &schemas, &secrets)
            .unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].pointer, "/settings/auth/client_secret");
        assert!(!format!("{problems:?}").contains("hunter2"));
    }

    #[test]
    fn references_the_gateway_does_not_allow_are_refused_at_registration() {
        let adapters = AdapterRegistry::with_builtin_adapters();
        let schemas = SchemaRegistry::new().unwrap();
        let (_dir, secrets) = sources();
        let mut settings = good_settings();
        settings["api_key"] = json!({ "env": "DPP_GATEWAY_ADMIN_TOKEN" });
        settings["auth"]["client_secret"] = json!({ "file": "../keys/k.pem" });
        let problems = registration(settings)
            .check(&adapters, &schemas, &secrets)
            .unwrap_err();
        let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["/settings/api_key", "/settings/auth/client_secret"],
            "{problems:?}"
        );
        // Without a [secrets] table nothing may be referenced at all.
        let problems = registration(good_settings())
            .check(&adapters, &schemas, &SecretSources::none())
            .unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn every_problem_is_listed() {
        let adapters = AdapterRegistry::with_builtin_adapters();
        let schemas = SchemaRegistry::new().unwrap();
        let (_dir, secrets) = sources();
        let mut r = registration(json!({ "page_size": 500, "type": "x" }));
        r.name = "Bad Name".into();
        r.allowed_hosts = vec!["http://x/".into()];
        r.state = Some(PartnerState::Verified);
        let pointers: Vec<String> = r
            .check(&adapters, &schemas, &secrets)
            .unwrap_err()
            .into_iter()
            .map(|v| v.pointer)
            .collect();
        for expected in [
            "/name",
            "/settings/type",
            "/allowedHosts/0",
            "/state",
            // Every broken adapter setting, each by its own pointer.
            "/settings/api_key",
            "/settings/page_size",
            "/settings/auth",
        ] {
            assert!(
                pointers.iter().any(|p| p == expected),
                "{expected} missing from {pointers:?}"
            );
        }
    }

    #[test]
    fn views_mask_inline_values() {
        let adapters = AdapterRegistry::with_builtin_adapters();
        let schemas = SchemaRegistry::new().unwrap();
        let (_dir, secrets) = sources();
        let mut record = registration(good_settings())
            .check(&adapters, &schemas, &secrets)
            .unwrap();
        record
            .settings
            .insert("api_key".into(), json!({ "value": "hunter2" }));
        let view = serde_json::to_string(&PartnerView::of(&record, &adapters)).unwrap();
        assert!(!view.contains("hunter2") && view.contains("***"));
        assert!(check_stored_partner(&record, &adapters, &secrets).is_err());
    }

    /// The Ouranos factory declaring `publish` only: an adapter that cannot fetch.
    struct PublishOnly(Arc<dyn dpp_adapters::contract::AdapterFactory>);

    #[async_trait]
    impl dpp_adapters::contract::AdapterFactory for PublishOnly {
        fn kind(&self) -> &'static str {
            self.0.kind()
        }
        fn capabilities(&self) -> dpp_adapters::contract::Capabilities {
            dpp_adapters::contract::Capabilities {
                publish: true,
                ..dpp_adapters::contract::Capabilities::NONE
            }
        }
        fn validate(
            &self,
            raw: &Value,
        ) -> Result<dpp_adapters::contract::CheckedConfig, AdapterError> {
            self.0.validate(raw)
        }
        async fn build(
            &self,
            checked: dpp_adapters::contract::CheckedConfig,
            ctx: AdapterContext,
        ) -> Result<(Arc<dyn Connection>, dpp_adapters::contract::HealthCheck), AdapterError>
        {
            self.0.build(checked, ctx).await
        }
    }

    #[tokio::test]
    async fn pulls_need_a_known_partner_a_fetching_adapter_and_a_connection() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).await.unwrap();
        let signer = crate::trust::KeyStore::open_or_generate(dir.path())
            .unwrap()
            .signer();
        let adapters = AdapterRegistry::with_builtin_adapters();
        let schemas = SchemaRegistry::new().unwrap();
        let (_dir, secrets) = sources();
        let mut settings = good_settings();
        settings["api_key"] = json!({ "env": "OURANOS_TEST_SURELY_UNSET_API_KEY" });
        let mut registration = registration(settings);
        registration.pull.ttl_seconds = Some(60);
        let record = registration.check(&adapters, &schemas, &secrets).unwrap();
        store.insert_partner(&record, "test").await.unwrap();
        let ouranos = adapters.factory("ouranos").unwrap().clone();
        let partners = PartnerConnections::new(store.clone(), Arc::new(adapters), signer.clone())
            .with_secrets(secrets.clone());

        let unknown = partners.target("nobody").await.unwrap_err();
        assert!(matches!(unknown, PartnerLookupError::Unknown(ref n) if n == "nobody"));
        // The credential cannot be resolved: the connection is not built, and the caller learns
        // the kind of failure, not which reference or variable (that is in the operator's log).
        match partners.target("ouranos-tokai").await.unwrap_err() {
            PartnerLookupError::Unavailable { partner, reason } => {
                assert_eq!(partner, "ouranos-tokai");
                assert_eq!(reason, "the partner's configuration cannot be used");
            }
            other => panic!("expected unavailable, got {other:?}"),
        }

        let publish_only = PartnerConnections::new(
            store,
            Arc::new(
                AdapterRegistry::builder()
                    .register(Arc::new(PublishOnly(ouranos)))
                    .build(),
            ),
            signer,
        );
        let refused = publish_only.target("ouranos-tokai").await.unwrap_err();
        assert!(
            matches!(&refused, PartnerLookupError::CannotFetch { adapter, .. } if adapter == "ouranos"),
            "{refused:?}"
        );
        assert_eq!(
            refused.to_string(),
            "partner ouranos-tokai's adapter (ouranos) cannot fetch"
        );
    }

    #[test]
    fn pull_settings_are_checked_and_shown_with_the_defaults() {
        let adapters = AdapterRegistry::with_builtin_adapters();
        let schemas = SchemaRegistry::new().unwrap();
        let (_dir, secrets) = sources();
        let mut bad = registration(good_settings());
        bad.pull = PullSettings {
            ttl_seconds: Some(0),
            timeout_seconds: Some(-1),
            ..PullSettings::default()
        };
        let pointers: Vec<String> = bad
            .check(&adapters, &schemas, &secrets)
            .unwrap_err()
            .into_iter()
            .map(|v| v.pointer)
            .collect();
        assert_eq!(pointers, vec!["/pull/ttlSeconds", "/pull/timeoutSeconds"]);

        let mut good = registration(good_settings());
        good.pull.ttl_seconds = Some(1);
        let record = good.check(&adapters, &schemas, &secrets).unwrap();
        let view = serde_json::to_value(PartnerView::of(&record, &adapters)).unwrap();
        assert_eq!(
            view["pull"],
            json!({
                "ttlSeconds": 1,
                "negativeTtlSeconds": 30,
                "staleIfErrorSeconds": 86400,
                "timeoutSeconds": 10
            })
        );
    }
}
