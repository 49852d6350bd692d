//! The write path shared by the HTTP API, the importer and the demo: `record → validate → canonicalise
//! → sign → store`, one transaction per document, so nothing is ever half-written.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use dpp_schemas::{
    CollectionRecord, EventAction, EventType, Passport, PassportId, QuantityElement, SchemaKind,
    SchemaRegistry, TraceEvent,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::problem::{Problem, ViolationDetail};
use crate::store::{
    CollectionEntryRow, MAX_EVENT_INPUTS, MAX_EVENT_OUTPUTS, NewCollectionRecord,
    NewPassportVersion, NewTraceEvent, Store, StoreError, StoredPassport,
};
use crate::telemetry::{DocumentRejected, PassportWritten, TraceEventRecorded};
use crate::trust::PassportSigner;

/// JWS `typ` of a signed passport: the payload is the passport's RFC 8785 (JCS) bytes.
pub const PASSPORT_JWS_TYP: &str = "dpp+jws";

/// Why a write was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The document breaks its schema or a semantic rule.
    #[error("{kind} breaks {} rule(s)", violations.len())]
    Invalid {
        /// Which document kind.
        kind: &'static str,
        /// Every violation.
        violations: Vec<ViolationDetail>,
    },
    /// The resource already exists, or the request contradicts its state.
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` does not name the current version.
    #[error("{0}")]
    PreconditionFailed(String),
    /// No such resource.
    #[error("{0}")]
    NotFound(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<ServiceError> for Problem {
    fn from(err: ServiceError) -> Problem {
        match err {
            ServiceError::Invalid { kind, violations } => {
                Problem::schema_violation(kind, violations)
            }
            ServiceError::Conflict(detail) => Problem::conflict(detail),
            ServiceError::PreconditionFailed(detail) => Problem::precondition_failed(detail),
            ServiceError::NotFound(detail) => Problem::not_found(detail),
            ServiceError::Signing(detail) => {
                tracing::error!(error = %detail, "signing failed");
                Problem::internal()
            }
            ServiceError::Store(err) => crate::api::store_problem(err),
        }
    }
}

fn invalid(kind: &'static str, violations: Vec<ViolationDetail>) -> ServiceError {
    DocumentRejected {
        kind,
        reason: "schema-violation",
        violations: violations.len(),
    }
    .emit();
    ServiceError::Invalid { kind, violations }
}

fn one_violation(kind: &'static str, pointer: &str, message: impl Into<String>) -> ServiceError {
    invalid(
        kind,
        vec![ViolationDetail {
            pointer: pointer.into(),
            message: message.into(),
        }],
    )
}

/// Refuses a document holding a number that would be stored as another one (beyond 2^53 − 1),
/// naming each with its pointer: typing the document would round it silently.
fn refuse_inexact_numbers(kind: &'static str, value: &Value) -> Result<(), ServiceError> {
    let inexact = dpp_schemas::check_exact_numbers(value);
    if inexact.is_empty() {
        Ok(())
    } else {
        Err(invalid(kind, details(inexact)))
    }
}

fn details(violations: Vec<dpp_schemas::Violation>) -> Vec<ViolationDetail> {
    violations
        .into_iter()
        .map(|v| ViolationDetail {
            pointer: v.pointer,
            message: v.message,
        })
        .collect()
}

/// A passport version after validation, canonicalisation and signing, ready to store.
#[derive(Debug, Clone)]
pub struct SealedPassport {
    /// The typed passport.
    pub passport: Passport,
    /// RFC 8785 bytes (the JWS payload and the stored form).
    pub canonical: Vec<u8>,
    /// Compact JWS over `canonical`.
    pub jws: String,
    /// Strong entity tag of this version (quoted).
    pub etag: String,
}

/// Strong ETag over canonical bytes: the first 128 bits of their SHA-256, quoted.
pub fn etag_of(canonical: &[u8]) -> String {
    let digest = Sha256::digest(canonical);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// The write path, shared by every entry point.
#[derive(Clone)]
pub struct PassportService {
    store: Store,
    schemas: Arc<SchemaRegistry>,
    signer: PassportSigner,
}

impl PassportService {
    /// A service over `store`, validating with `schemas` and signing with `signer`.
    pub fn new(store: Store, schemas: Arc<SchemaRegistry>, signer: PassportSigner) -> Self {
        Self {
            store,
            schemas,
            signer,
        }
    }

    /// The store behind the service.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The compiled schemas.
    pub fn schemas(&self) -> &SchemaRegistry {
        &self.schemas
    }

    /// The kid of the key this service signs with (fixed for the life of the process).
    pub fn signer_kid(&self) -> &str {
        self.signer.kid()
    }

    /// Validates a passport document (already carrying version and times), canonicalises and signs it.
    pub fn seal(&self, value: &Value) -> Result<SealedPassport, ServiceError> {
        let passport = self.checked_passport(value)?;
        self.sign(passport)
    }

    /// Schema, model and semantic checks of a passport document: the typed passport, or every
    /// violation.
    fn checked_passport(&self, value: &Value) -> Result<Passport, ServiceError> {
        refuse_inexact_numbers("passport", value)?;
        self.schemas
            .validate(SchemaKind::Passport, value)
            .map_err(|v| invalid("passport", details(v)))?;
        // Deserialising from the borrowed Value avoids cloning the document on the hot path.
        let passport = Passport::deserialize(value).map_err(|e| {
            one_violation(
                "passport",
                "",
                format!("does not match the passport model: {e}"),
            )
        })?;
        let mut rule_violations = dpp_schemas::check_passport(&passport);
        // Passports this gateway writes name real countries; received ones keep what they say.
        rule_violations.extend(dpp_schemas::check_country_codes(&passport));
        if !rule_violations.is_empty() {
            return Err(invalid("passport", details(rule_violations)));
        }
        Ok(passport)
    }

    /// Canonicalises and signs a checked passport.
    fn sign(&self, passport: Passport) -> Result<SealedPassport, ServiceError> {
        let canonical = canonical_passport(&passport)?;
        let jws = self
            .signer
            .sign_compact(&canonical, PASSPORT_JWS_TYP)
            .map_err(|e| ServiceError::Signing(e.to_string()))?;
        let etag = etag_of(&canonical);
        Ok(SealedPassport {
            passport,
            canonical,
            jws,
            etag,
        })
    }

    /// Creates version 1 of a new passport. The gateway assigns `version`, `updatedAt` and (when
    /// absent) `issuedAt`.
    pub async fn create(
        &self,
        mut body: Value,
        actor: &str,
    ) -> Result<StoredPassport, ServiceError> {
        let now = now();
        refuse_inexact_numbers("passport", &body)?;
        let object = body
            .as_object_mut()
            .ok_or_else(|| one_violation("passport", "", "a passport must be a JSON object"))?;
        match object.get("version") {
            None => {}
            Some(v) if v.as_u64() == Some(1) => {}
            Some(v) => {
                return Err(ServiceError::Conflict(format!(
                    "version is assigned by the gateway and a new passport starts at 1, got {v}"
                )));
            }
        }
        object.insert("version".into(), json!(1));
        object.entry("issuedAt").or_insert_with(|| json!(now));
        object.insert("updatedAt".into(), json!(now));
        lowercase_ids(&mut body, PASSPORT_ID_FIELDS);
        let sealed = self.seal(&body)?;
        let record = new_version_record(sealed, actor);
        match self.store.insert_passport(&record).await {
            Ok(()) => {}
            Err(StoreError::Duplicate) => {
                return Err(ServiceError::Conflict(format!(
                    "passport {} exists already; PUT a new version to change it",
                    record.id
                )));
            }
            Err(e) => return Err(ServiceError::Store(e)),
        }
        PassportWritten {
            id: &record.id,
            version: 1,
            bytes: record.canonical_json.len(),
            actor,
        }
        .emit();
        Ok(stored_from(record))
    }

    /// Writes the next version of `id`, if `if_match` is the current version's ETag.
    ///
    /// The gateway numbers versions: the body's `version` may be absent or the version it edits
    /// (the one `if_match` names, so a passport read with GET can be edited and sent back); any
    /// other number is refused. A body whose content equals the current version's (apart from the
    /// `version` and `updatedAt` the gateway sets) stores nothing and answers that version as
    /// [`VersionWrite::Unchanged`].
    pub async fn new_version(
        &self,
        id: &PassportId,
        if_match: &str,
        mut body: Value,
        actor: &str,
    ) -> Result<VersionWrite, ServiceError> {
        let id_text = id.to_string();
        let current = self
            .store
            .passport(&id_text, None)
            .await
            .map_err(ServiceError::Store)?
            .ok_or_else(|| ServiceError::NotFound(format!("passport {id_text} does not exist")))?;
        if !if_match_matches(if_match, &current.etag) {
            return Err(ServiceError::PreconditionFailed(format!(
                "If-Match {if_match} does not match the current version {} (ETag {})",
                current.version, current.etag
            )));
        }
        let current_doc: Value = serde_json::from_str(&current.canonical_json).map_err(|e| {
            ServiceError::Signing(format!("stored passport {id_text} is unreadable: {e}"))
        })?;
        let next = current.version + 1;
        // Before the version is compared: `version: 9007199254740993` is named as the number it
        // is, not read as some other one.
        refuse_inexact_numbers("passport", &body)?;
        let object = body
            .as_object_mut()
            .ok_or_else(|| one_violation("passport", "", "a passport must be a JSON object"))?;
        match object.get("id") {
            None => {
                object.insert("id".into(), json!(id_text));
            }
            // Ids compare as ids: `URN:UUID:…` names the same passport as its lowercase form.
            Some(v)
                if v.as_str()
                    .and_then(|s| s.parse::<PassportId>().ok())
                    .as_ref()
                    == Some(id) => {}
            Some(v) => {
                return Err(one_violation(
                    "passport",
                    "/id",
                    format!("{v} differs from the id in the URL {id_text}"),
                ));
            }
        }
        match object.get("version") {
            None => {}
            Some(v) if v.as_i64() == Some(current.version) => {}
            Some(v) => {
                return Err(ServiceError::Conflict(format!(
                    "version is assigned by the gateway: send the version you edit ({}, the one \
                     If-Match names) or none, got {v}; this write becomes version {next}",
                    current.version
                )));
            }
        }
        let issued_at = current_doc.get("issuedAt").cloned().unwrap_or(Value::Null);
        match object.get("issuedAt") {
            Some(v) if *v != issued_at => {
                return Err(one_violation(
                    "passport",
                    "/issuedAt",
                    format!("issuedAt is fixed by the first version ({issued_at}), got {v}"),
                ));
            }
            _ => {}
        }
        object.insert("issuedAt".into(), issued_at);
        object.insert("version".into(), json!(next));
        object.insert("updatedAt".into(), json!(now()));
        lowercase_ids(&mut body, PASSPORT_ID_FIELDS);
        let mut passport = self.checked_passport(&body)?;
        // The same content as the current version, once the gateway's own fields are its, is no
        // new version: answering the current one keeps a client's GET → PUT loop idempotent.
        let (next_version, updated_at) = (passport.version, passport.updated_at);
        let current_passport = Passport::deserialize(&current_doc).map_err(|e| {
            ServiceError::Signing(format!("stored passport {id_text} is unreadable: {e}"))
        })?;
        passport.version = current_passport.version;
        passport.updated_at = current_passport.updated_at;
        if canonical_passport(&passport)? == current.canonical_json.as_bytes() {
            return Ok(VersionWrite::Unchanged(current));
        }
        passport.version = next_version;
        passport.updated_at = updated_at;
        let sealed = self.sign(passport)?;
        let record = new_version_record(sealed, actor);
        match self
            .store
            .insert_next_version(&record, current.version)
            .await
        {
            Ok(()) => {}
            Err(StoreError::VersionConflict { current }) => {
                return Err(ServiceError::PreconditionFailed(format!(
                    "passport {id_text} changed while this request ran; the current version is {current}"
                )));
            }
            Err(StoreError::NotFound) => {
                return Err(ServiceError::NotFound(format!(
                    "passport {id_text} does not exist"
                )));
            }
            Err(e) => return Err(ServiceError::Store(e)),
        }
        PassportWritten {
            id: &record.id,
            version: next,
            bytes: record.canonical_json.len(),
            actor,
        }
        .emit();
        Ok(VersionWrite::Written(stored_from(record)))
    }

    /// Validates and appends a trace event to the hash-linked chain; returns its id and hash.
    pub async fn record_trace_event(
        &self,
        mut body: Value,
        actor: &str,
    ) -> Result<RecordedEvent, ServiceError> {
        lowercase_ids(&mut body, EVENT_ID_FIELDS);
        refuse_inexact_numbers("trace event", &body)?;
        self.schemas
            .validate(SchemaKind::TraceEvent, &body)
            .map_err(|v| invalid("trace event", details(v)))?;
        let event: TraceEvent = serde_json::from_value(body).map_err(|e| {
            one_violation(
                "trace event",
                "",
                format!("does not match the event model: {e}"),
            )
        })?;
        let mut rule_violations = details(dpp_schemas::check_trace_event(&event));
        rule_violations.extend(flow_over_bounds(&event));
        if !rule_violations.is_empty() {
            return Err(invalid("trace event", rule_violations));
        }
        let canonical = dpp_schemas::jcs::to_vec(&event).map_err(|e| {
            one_violation("trace event", "", format!("cannot be canonicalised: {e}"))
        })?;
        let hash = dpp_schemas::event_hash(&event);
        let flow = material_flow(&event);
        let edges = flow.edges();
        let event_id = event.event_id.to_string();
        let record = NewTraceEvent {
            event_id: event_id.clone(),
            hash: hash.clone(),
            event_type: format!("{:?}", event.event_type),
            event_time: event.event_time.with_timezone(&Utc),
            canonical_json: String::from_utf8(canonical).expect("JCS output is UTF-8"),
            previous_hashes: event.previous_event_hashes.clone(),
            inputs: flow.inputs,
            outputs: flow.outputs,
            actor: actor.to_owned(),
        };
        match self.store.insert_trace_event(&record).await {
            Ok(()) => {}
            Err(StoreError::Duplicate) => {
                return Err(ServiceError::Conflict(format!(
                    "trace event {event_id} exists already"
                )));
            }
            Err(StoreError::UnknownPredecessor(hash)) => {
                let index = event
                    .previous_event_hashes
                    .iter()
                    .position(|h| *h == hash)
                    .unwrap_or(0);
                return Err(one_violation(
                    "trace event",
                    &format!("/previousEventHashes/{index}"),
                    format!("no recorded event has hash {hash}"),
                ));
            }
            Err(e) => return Err(ServiceError::Store(e)),
        }
        TraceEventRecorded {
            event_id: &event_id,
            hash: &hash,
            inputs: record.inputs.len(),
            outputs: record.outputs.len(),
        }
        .emit();
        Ok(RecordedEvent {
            event_id,
            hash,
            edges,
        })
    }

    /// Validates and stores a collection record (the input of the circularity KPIs).
    pub async fn record_collection(
        &self,
        mut body: Value,
        actor: &str,
    ) -> Result<String, ServiceError> {
        lowercase_ids(&mut body, RECORD_ID_FIELDS);
        refuse_inexact_numbers("collection record", &body)?;
        self.schemas
            .validate(SchemaKind::CollectionRecord, &body)
            .map_err(|v| invalid("collection record", details(v)))?;
        let record: CollectionRecord = serde_json::from_value(body).map_err(|e| {
            one_violation(
                "collection record",
                "",
                format!("does not match the collection-record model: {e}"),
            )
        })?;
        let rule_violations = dpp_schemas::check_collection_record(&record);
        if !rule_violations.is_empty() {
            return Err(invalid("collection record", details(rule_violations)));
        }
        let canonical = dpp_schemas::jcs::to_vec(&record).map_err(|e| {
            one_violation(
                "collection record",
                "",
                format!("cannot be canonicalised: {e}"),
            )
        })?;
        let id = record.id.to_string();
        let row = NewCollectionRecord {
            id: id.clone(),
            collected_on: record.collected_on,
            canonical_json: String::from_utf8(canonical).expect("JCS output is UTF-8"),
            entries: record
                .entries
                .iter()
                .map(|e| CollectionEntryRow {
                    category: e.category.clone(),
                    collected_kg: e.collected_kg,
                    reused_parts_kg: e.reused_parts_kg,
                    material_recycling_kg: e.material_recycling_kg,
                    thermal_recycling_kg: e.thermal_recycling_kg,
                    disposal_kg: e.disposal_kg,
                })
                .collect(),
            actor: actor.to_owned(),
        };
        match self.store.insert_collection_record(&row).await {
            Ok(()) => Ok(id),
            Err(StoreError::Duplicate) => Err(ServiceError::Conflict(format!(
                "collection record {id} exists already"
            ))),
            Err(e) => Err(ServiceError::Store(e)),
        }
    }
}

/// What a `PUT` of a passport did.
#[derive(Debug, Clone)]
pub enum VersionWrite {
    /// A new version was stored.
    Written(StoredPassport),
    /// The content equals the current version's: nothing was stored; this is the current version.
    Unchanged(StoredPassport),
}

/// RFC 8785 bytes of a passport, the signed and stored form.
fn canonical_passport(passport: &Passport) -> Result<Vec<u8>, ServiceError> {
    dpp_schemas::jcs::to_vec(passport)
        .map_err(|e| one_violation("passport", "", format!("cannot be canonicalised: {e}")))
}

/// What `record_trace_event` wrote.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedEvent {
    /// Event id.
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// SHA-256 over its JCS bytes; later events name it in `previousEventHashes`.
    pub hash: String,
    /// Lineage edges (input → output pairs) it added: its inputs times its outputs. They are
    /// stored as the two sets, inputs plus outputs rows.
    pub edges: usize,
}

/// What an event adds to the lineage graph: every input went into every output. Both sets are
/// sorted and free of repeats; both are empty when the event records no material flow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaterialFlow {
    /// A transformation's inputs, or the children an aggregation adds.
    pub inputs: Vec<String>,
    /// A transformation's outputs, or the parent an aggregation adds children to.
    pub outputs: Vec<String>,
}

impl MaterialFlow {
    /// How many input → output edges the flow stands for (stored as inputs + outputs rows).
    pub fn edges(&self) -> usize {
        self.inputs.len() * self.outputs.len()
    }
}

/// The material flow an event records: a transformation takes its inputs to its outputs; an
/// aggregation that adds children takes each child into the parent. Object and transaction events
/// observe objects and record none, and so does a transformation without inputs or outputs.
pub fn material_flow(event: &TraceEvent) -> MaterialFlow {
    let (inputs, outputs): (Vec<String>, Vec<String>) = match event.event_type {
        EventType::TransformationEvent => (
            flow_ids(&event.input_epc_list, &event.input_quantity_list),
            flow_ids(&event.output_epc_list, &event.output_quantity_list),
        ),
        EventType::AggregationEvent if event.action == Some(EventAction::Add) => (
            flow_ids(&event.child_epcs, &event.child_quantity_list),
            event.parent_id.iter().cloned().collect(),
        ),
        _ => (Vec::new(), Vec::new()),
    };
    if inputs.is_empty() || outputs.is_empty() {
        return MaterialFlow::default();
    }
    MaterialFlow { inputs, outputs }
}

/// The ids of an EPC list and a quantity list together, sorted, each once.
fn flow_ids(epcs: &[String], quantities: &[QuantityElement]) -> Vec<String> {
    let ids: BTreeSet<&String> = epcs
        .iter()
        .chain(quantities.iter().map(|q| &q.epc_class))
        .collect();
    ids.into_iter().cloned().collect()
}

/// The [`MAX_EVENT_INPUTS`] / [`MAX_EVENT_OUTPUTS`] bounds, counted over list entries as sent (an
/// EPC list and its quantity list together). A violation points at the first entry past the bound.
fn flow_over_bounds(event: &TraceEvent) -> Vec<ViolationDetail> {
    let sides = [
        (
            "inputs",
            MAX_EVENT_INPUTS,
            ("inputEPCList", event.input_epc_list.len()),
            ("inputQuantityList", event.input_quantity_list.len()),
        ),
        (
            "outputs",
            MAX_EVENT_OUTPUTS,
            ("outputEPCList", event.output_epc_list.len()),
            ("outputQuantityList", event.output_quantity_list.len()),
        ),
        (
            "children",
            MAX_EVENT_INPUTS,
            ("childEPCs", event.child_epcs.len()),
            ("childQuantityList", event.child_quantity_list.len()),
        ),
    ];
    let mut out = Vec::new();
    for (what, max, (epc_field, epcs), (quantity_field, quantities)) in sides {
        let total = epcs + quantities;
        if total <= max {
            continue;
        }
        let pointer = if epcs > max {
            format!("/{epc_field}/{max}")
        } else {
            format!("/{quantity_field}/{}", max - epcs)
        };
        out.push(ViolationDetail {
            pointer,
            message: format!(
                "an event may name at most {max} {what} ({epc_field} and {quantity_field} \
                 together), this one names {total}"
            ),
        });
    }
    out
}

/// The `urn:uuid:` id fields of a passport: `*` stands for every item of an array.
const PASSPORT_ID_FIELDS: &[&[&str]] = &[
    &["id"],
    &["traceEvents", "*"],
    &["parts", "*", "passportId"],
];
/// The `urn:uuid:` id field of a trace event.
const EVENT_ID_FIELDS: &[&[&str]] = &[&["eventID"]];
/// The `urn:uuid:` id field of a collection record.
const RECORD_ID_FIELDS: &[&[&str]] = &[&["id"]];

/// Writes the `urn:uuid:` ids at `fields` in lowercase when they are one in another letter case
/// (RFC 8141: the scheme and NID are case-insensitive; RFC 9562: so is the hex). The schema and
/// the store hold the lowercase form only, so `URN:UUID:0A…` and `urn:uuid:0a…` are one id, never
/// two, and a set of ids (`traceEvents`) is checked for repeats after this. Anything that is not
/// such an id is left for the schema to name.
fn lowercase_ids(value: &mut Value, fields: &[&[&str]]) {
    fn walk(value: &mut Value, path: &[&str]) {
        match path.split_first() {
            None => {
                if let Some(text) = value.as_str()
                    && let Ok(id) = text.parse::<dpp_schemas::UrnUuid>()
                {
                    *value = Value::String(id.to_string());
                }
            }
            Some((&"*", rest)) => {
                if let Some(items) = value.as_array_mut() {
                    for item in items {
                        walk(item, rest);
                    }
                }
            }
            Some((key, rest)) => {
                if let Some(member) = value.get_mut(*key) {
                    walk(member, rest);
                }
            }
        }
    }
    for path in fields {
        walk(value, path);
    }
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// `If-Match` semantics for strong tags: `*` or a list containing the current tag.
pub fn if_match_matches(if_match: &str, current: &str) -> bool {
    if_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == current)
}

/// The store row of a sealed version; takes the sealed bytes rather than copying them.
fn new_version_record(sealed: SealedPassport, actor: &str) -> NewPassportVersion {
    let (product_ids, polymers) = crate::exchange::selector_inputs(&sealed.passport);
    let p = sealed.passport;
    NewPassportVersion {
        id: p.id.to_string(),
        version: i64::from(p.version),
        canonical_json: String::from_utf8(sealed.canonical).expect("JCS output is UTF-8"),
        jws: sealed.jws,
        etag: sealed.etag,
        updated_at: p.updated_at,
        product_ids,
        polymers,
        actor: actor.to_owned(),
    }
}

fn stored_from(record: NewPassportVersion) -> StoredPassport {
    StoredPassport {
        id: record.id,
        version: record.version,
        canonical_json: record.canonical_json,
        jws: record.jws,
        etag: record.etag,
        updated_at: record.updated_at,
    }
}
