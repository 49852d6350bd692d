//! The bundled JSON Schemas (2020-12) and a registry of their validators, compiled once.
//!
//! The schema files live in `schemas/schemas/` and are embedded with `include_str!`; they refer to
//! each other by `$id` (`https://dpp-gateway.dev/schemas/…`), resolved from memory, never fetched.
//! [`SchemaRegistry::validate`] reports every violation, each with a JSON pointer into the
//! instance.
//!
//! ```
//! use dpp_schemas::{SchemaKind, SchemaRegistry, fixtures};
//!
//! let passport = serde_json::to_value(fixtures::pp_pellets())?;
//! assert!(SchemaRegistry::global().validate(SchemaKind::Passport, &passport).is_ok());
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::fmt;
use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, Registry, ValidationError, Validator};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{CollectionRecord, Passport, TraceEvent};
use crate::semantic;

/// Base of every bundled schema's `$id`.
pub const SCHEMA_BASE_URI: &str = "https://dpp-gateway.dev/schemas/";

/// The shared definitions every other schema refers to (served too, so partners can resolve
/// the `$ref`s).
pub const COMMON_SCHEMA: &str = include_str!("../schemas/common.schema.json");

/// File name of the shared definitions.
pub const COMMON_SCHEMA_FILE: &str = "common.schema.json";

/// A document type with a published schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchemaKind {
    /// A stored passport version ([`Passport`]).
    Passport,
    /// A material of a passport ([`crate::Material`]).
    Material,
    /// A carbon footprint ([`crate::CarbonFootprint`]).
    CarbonFootprint,
    /// Circularity information ([`crate::Circularity`]).
    Circularity,
    /// An EPCIS-shaped trace event ([`TraceEvent`]).
    TraceEvent,
    /// A collection record ([`CollectionRecord`]).
    CollectionRecord,
}

impl SchemaKind {
    const ALL: [SchemaKind; 6] = [
        Self::Passport,
        Self::Material,
        Self::CarbonFootprint,
        Self::Circularity,
        Self::TraceEvent,
        Self::CollectionRecord,
    ];

    /// Every kind, in a stable order.
    pub fn all() -> &'static [SchemaKind] {
        &Self::ALL
    }

    /// The kind's name, as used in URLs: `passport`, `trace-event`, …
    pub fn name(self) -> &'static str {
        match self {
            Self::Passport => "passport",
            Self::Material => "material",
            Self::CarbonFootprint => "carbon-footprint",
            Self::Circularity => "circularity",
            Self::TraceEvent => "trace-event",
            Self::CollectionRecord => "collection-record",
        }
    }

    /// The kind with this [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<SchemaKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// File name of the schema, `passport.schema.json`.
    pub fn file_name(self) -> String {
        format!("{}.schema.json", self.name())
    }

    /// The schema's `$id`.
    pub fn id(self) -> String {
        format!("{SCHEMA_BASE_URI}{}.schema.json", self.name())
    }

    /// The raw schema document.
    pub fn schema_text(self) -> &'static str {
        match self {
            Self::Passport => include_str!("../schemas/passport.schema.json"),
            Self::Material => include_str!("../schemas/material.schema.json"),
            Self::CarbonFootprint => include_str!("../schemas/carbon-footprint.schema.json"),
            Self::Circularity => include_str!("../schemas/circularity.schema.json"),
            Self::TraceEvent => include_str!("../schemas/trace-event.schema.json"),
            Self::CollectionRecord => include_str!("../schemas/collection-record.schema.json"),
        }
    }
}

impl fmt::Display for SchemaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The raw schema of `kind` (for `GET /api/v1/schemas/{name}`).
pub fn schema_text(kind: SchemaKind) -> &'static str {
    kind.schema_text()
}

/// A raw schema document by name: a [`SchemaKind::name`] or `common` (the shared `$defs`).
pub fn schema_document(name: &str) -> Option<&'static str> {
    let name = name.strip_suffix(".schema.json").unwrap_or(name);
    if name == "common" {
        return Some(COMMON_SCHEMA);
    }
    SchemaKind::from_name(name).map(SchemaKind::schema_text)
}

/// One reason a document is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    /// JSON pointer (RFC 6901) into the instance, `""` for the root. For a missing or an
    /// unknown property it points at that property.
    pub pointer: String,
    /// What is wrong, in words.
    pub message: String,
}

impl Violation {
    /// A violation at `pointer`.
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "(root): {}", self.message)
        } else {
            write!(f, "{}: {}", self.pointer, self.message)
        }
    }
}

/// Why the bundled schemas could not be compiled (a bug in this crate, caught by its tests).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A bundled schema is not JSON.
    #[error("bundled schema {name} is not valid json")]
    InvalidJson {
        /// The schema's file name.
        name: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The schemas could not be registered for `$ref` resolution.
    #[error("schema registry could not be prepared: {0}")]
    Registry(String),
    /// A schema did not compile.
    #[error("schema {name} does not compile: {message}")]
    Compile {
        /// The schema's file name.
        name: String,
        /// What the compiler said.
        message: String,
    },
}

/// Compiled validators for every [`SchemaKind`], built once.
pub struct SchemaRegistry {
    validators: Vec<(SchemaKind, Validator)>,
}

impl fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field(
                "kinds",
                &self.validators.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

static GLOBAL: LazyLock<SchemaRegistry> = LazyLock::new(|| {
    SchemaRegistry::new().unwrap_or_else(|e| panic!("bundled schemas must compile: {e}"))
});

fn parse(name: &str, text: &str) -> Result<Value, SchemaError> {
    serde_json::from_str(text).map_err(|source| SchemaError::InvalidJson {
        name: name.to_owned(),
        source,
    })
}

impl SchemaRegistry {
    /// Compiles every bundled schema (format assertions on, no network).
    pub fn new() -> Result<Self, SchemaError> {
        let mut documents = vec![(
            format!("{SCHEMA_BASE_URI}{COMMON_SCHEMA_FILE}"),
            parse(COMMON_SCHEMA_FILE, COMMON_SCHEMA)?,
        )];
        for kind in SchemaKind::all() {
            documents.push((kind.id(), parse(&kind.file_name(), kind.schema_text())?));
        }
        let registry = Registry::new()
            .extend(documents.iter().map(|(uri, doc)| (uri.as_str(), doc)))
            .and_then(|builder| builder.prepare())
            .map_err(|e| SchemaError::Registry(e.to_string()))?;
        let mut validators = Vec::with_capacity(SchemaKind::all().len());
        for (kind, (_, document)) in SchemaKind::all().iter().zip(&documents[1..]) {
            let validator = jsonschema::options()
                .with_draft(Draft::Draft202012)
                .should_validate_formats(true)
                .offline()
                .with_registry(&registry)
                .build(document)
                .map_err(|e| SchemaError::Compile {
                    name: kind.file_name(),
                    message: e.to_string(),
                })?;
            validators.push((*kind, validator));
        }
        Ok(Self { validators })
    }

    /// The process-wide registry, compiled on first use.
    ///
    /// # Panics
    ///
    /// If the bundled schemas do not compile, which the crate's tests rule out.
    pub fn global() -> &'static SchemaRegistry {
        &GLOBAL
    }

    fn validator(&self, kind: SchemaKind) -> &Validator {
        // Every kind is compiled in `new`, in `SchemaKind::all()` order.
        &self.validators[kind as usize].1
    }

    /// Whether `value` is valid against the schema of `kind` (fastest check, no details).
    pub fn is_valid(&self, kind: SchemaKind, value: &Value) -> bool {
        self.validator(kind).is_valid(value)
    }

    /// Validates `value` against the schema of `kind`, returning every violation.
    pub fn validate(&self, kind: SchemaKind, value: &Value) -> Result<(), Vec<Violation>> {
        let validator = self.validator(kind);
        if validator.is_valid(value) {
            return Ok(());
        }
        let mut violations = Vec::new();
        for error in validator.iter_errors(value) {
            push_violations(&error, &mut violations);
        }
        if violations.is_empty() {
            // `is_valid` and `iter_errors` disagreeing would be a jsonschema bug; never accept.
            violations.push(Violation::new("", "document does not match its schema"));
        }
        Err(violations)
    }

    /// Validates a passport document, reads it and runs [`semantic::check_passport`].
    pub fn parse_passport(&self, value: &Value) -> Result<Passport, Vec<Violation>> {
        self.parse(SchemaKind::Passport, value, semantic::check_passport)
    }

    /// Validates a trace event document, reads it and runs [`semantic::check_trace_event`].
    pub fn parse_trace_event(&self, value: &Value) -> Result<TraceEvent, Vec<Violation>> {
        self.parse(SchemaKind::TraceEvent, value, semantic::check_trace_event)
    }

    /// Validates a collection record, reads it and runs [`semantic::check_collection_record`].
    pub fn parse_collection_record(
        &self,
        value: &Value,
    ) -> Result<CollectionRecord, Vec<Violation>> {
        self.parse(
            SchemaKind::CollectionRecord,
            value,
            semantic::check_collection_record,
        )
    }

    fn parse<T: for<'de> Deserialize<'de>>(
        &self,
        kind: SchemaKind,
        value: &Value,
        check: fn(&T) -> Vec<Violation>,
    ) -> Result<T, Vec<Violation>> {
        self.validate(kind, value)?;
        let typed = T::deserialize(value).map_err(|e| vec![Violation::new("", e.to_string())])?;
        let violations = check(&typed);
        if violations.is_empty() {
            Ok(typed)
        } else {
            Err(violations)
        }
    }
}

/// Escapes a property name as one JSON-pointer reference token (RFC 6901 §3).
pub(crate) fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn push_violations(error: &ValidationError<'_>, out: &mut Vec<Violation>) {
    let at = error.instance_path().as_str();
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            out.push(Violation::new(
                format!("{at}/{}", escape_token(name)),
                format!("required property {name:?} is missing"),
            ));
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for name in unexpected {
                out.push(Violation::new(
                    format!("{at}/{}", escape_token(name)),
                    format!("unknown property {name:?}"),
                ));
            }
        }
        ValidationErrorKind::FalseSchema => {
            // Only used for the fields an event type may not carry.
            let name = at.rsplit('/').next().unwrap_or_default();
            out.push(Violation::new(
                at,
                format!("property {name:?} is not allowed here"),
            ));
        }
        ValidationErrorKind::PropertyNames { error } => {
            let pointer = match error.instance().as_ref() {
                Value::String(name) => format!("{at}/{}", escape_token(name)),
                _ => at.to_owned(),
            };
            out.push(Violation::new(
                pointer,
                format!("invalid property name: {error}"),
            ));
        }
        _ => out.push(Violation::new(at, error.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::fixtures;

    fn registry() -> &'static SchemaRegistry {
        SchemaRegistry::global()
    }

    #[test]
    fn every_kind_compiles_and_is_named_consistently() {
        let fresh = SchemaRegistry::new().expect("bundled schemas compile");
        assert_eq!(fresh.validators.len(), SchemaKind::all().len());
        for (i, kind) in SchemaKind::all().iter().enumerate() {
            assert_eq!(*kind as usize, i, "validator index of {kind}");
            assert_eq!(fresh.validators[i].0, *kind);
            assert_eq!(SchemaKind::from_name(kind.name()), Some(*kind));
            let doc: Value = serde_json::from_str(kind.schema_text()).expect("schema is json");
            assert_eq!(doc["$id"], json!(kind.id()));
            assert_eq!(
                doc["$schema"],
                json!("https://json-schema.org/draft/2020-12/schema")
            );
            assert_eq!(schema_document(kind.name()), Some(kind.schema_text()));
            assert_eq!(schema_document(&kind.file_name()), Some(schema_text(*kind)));
            assert_eq!(
                serde_json::to_value(kind).expect("kind serialises"),
                json!(kind.name())
            );
        }
        assert_eq!(SchemaKind::TraceEvent.name(), "trace-event");
        assert_eq!(SchemaKind::from_name("nope"), None);
        let common: Value =
            serde_json::from_str(schema_document("common").expect("common")).expect("json");
        assert_eq!(
            common["$id"],
            json!("https://dpp-gateway.dev/schemas/common.schema.json")
        );
    }

    #[test]
    fn fixtures_are_valid() {
        for (name, value) in fixtures::passport_json_examples() {
            assert_eq!(
                registry().validate(SchemaKind::Passport, &value),
                Ok(()),
                "{name}"
            );
            assert!(registry().is_valid(SchemaKind::Passport, &value));
            for (i, material) in value["materials"]
                .as_array()
                .expect("materials")
                .iter()
                .enumerate()
            {
                assert_eq!(
                    registry().validate(SchemaKind::Material, material),
                    Ok(()),
                    "{name} material {i}"
                );
            }
            for (field, kind) in [
                ("carbonFootprint", SchemaKind::CarbonFootprint),
                ("circularity", SchemaKind::Circularity),
            ] {
                if let Some(part) = value.get(field) {
                    assert_eq!(registry().validate(kind, part), Ok(()), "{name} {field}");
                }
            }
            let parsed = registry()
                .parse_passport(&value)
                .expect("parses and checks");
            assert_eq!(serde_json::to_value(&parsed).expect("serialises"), value);
        }
        for event in fixtures::trace_events() {
            let value = serde_json::to_value(&event).expect("serialises");
            assert_eq!(registry().validate(SchemaKind::TraceEvent, &value), Ok(()));
            assert_eq!(registry().parse_trace_event(&value), Ok(event));
        }
        for record in fixtures::collection_records() {
            let value = serde_json::to_value(&record).expect("serialises");
            assert_eq!(
                registry().validate(SchemaKind::CollectionRecord, &value),
                Ok(())
            );
            assert_eq!(registry().parse_collection_record(&value), Ok(record));
        }
    }

    /// How a fixture document is broken, and where the violation must point.
    enum Edit {
        Set(&'static str, Value),
        Remove(&'static str),
    }
    use Edit::{Remove, Set};

    fn apply(doc: &mut Value, edit: &Edit) {
        let (pointer, new) = match edit {
            Set(p, v) => (*p, Some(v.clone())),
            Remove(p) => (*p, None),
        };
        let (parent, last) = pointer.rsplit_once('/').expect("pointer has a parent");
        let target = doc
            .pointer_mut(parent)
            .unwrap_or_else(|| panic!("fixture has {parent}"));
        match (target, new) {
            (Value::Object(map), Some(v)) => {
                map.insert(last.replace("~1", "/").replace("~0", "~"), v);
            }
            (Value::Object(map), None) => {
                assert!(map.remove(last).is_some(), "fixture has {pointer}");
            }
            (Value::Array(items), Some(v)) => {
                let i: usize = last.parse().expect("index");
                items[i] = v;
            }
            _ => panic!("cannot edit {pointer}"),
        }
    }

    fn assert_refused(kind: SchemaKind, base: &Value, edit: Edit, expected_pointer: &str) {
        assert_eq!(
            registry().validate(kind, base),
            Ok(()),
            "base document is valid"
        );
        let mut doc = base.clone();
        apply(&mut doc, &edit);
        let violations = registry().validate(kind, &doc).expect_err(&format!(
            "{kind}: edit at {expected_pointer} must be refused"
        ));
        assert!(
            violations.iter().any(|v| v.pointer == expected_pointer),
            "{kind}: expected a violation at {expected_pointer}, got {violations:#?}"
        );
        assert!(!registry().is_valid(kind, &doc));
    }

    fn bumper() -> Value {
        serde_json::to_value(fixtures::pp_new_bumper()).expect("serialises")
    }

    #[test]
    fn passport_required_fields() {
        for field in [
            "id",
            "issuedAt",
            "issuer",
            "materials",
            "product",
            "updatedAt",
            "version",
            "issuer/operatorId",
            "product/country",
            "product/ids",
            "product/name",
            "product/ids/0/scheme",
            "product/ids/0/value",
            "product/facility/country",
            "product/facility/name",
            "materials/0/massFraction",
            "materials/0/name",
            "materials/0/polymer",
            "materials/0/recycledShare",
            "materials/0/recycledShare/postConsumer",
            "materials/0/recycledShare/preConsumer",
            "materials/0/chainOfCustody/model",
            "materials/0/mass/unit",
            "materials/0/mass/value",
            "materials/1/properties/0/name",
            "materials/1/properties/0/unit",
            "materials/1/properties/0/value",
            "carbonFootprint/declaredUnit",
            "carbonFootprint/referencePeriod",
            "carbonFootprint/referencePeriod/start",
            "carbonFootprint/referencePeriod/end",
            "carbonFootprint/stages",
            "carbonFootprint/stages/endOfLife",
            "carbonFootprint/total",
            "carbonFootprint/dataQuality/temporal",
            "circularity/recycledContent",
            "parts/0/passportId",
            "parts/0/quantity",
        ] {
            let pointer = format!("/{field}");
            let pointer: &'static str = Box::leak(pointer.into_boxed_str());
            assert_refused(SchemaKind::Passport, &bumper(), Remove(pointer), pointer);
        }
        let abs = serde_json::to_value(fixtures::abs_housing()).expect("serialises");
        for field in ["casNumber", "concentration", "name"] {
            let pointer: &'static str =
                Box::leak(format!("/materials/0/substancesOfConcern/0/{field}").into_boxed_str());
            assert_refused(SchemaKind::Passport, &abs, Remove(pointer), pointer);
        }
    }

    #[test]
    fn passport_rules() {
        let cases: Vec<(Edit, &str)> = vec![
            // ids and identifiers
            (Set("/id", json!("urn:uuid:not-a-uuid")), "/id"),
            (
                Set("/id", json!("0194ee9b-5c00-7000-8000-000000000104")),
                "/id",
            ),
            (
                Set(
                    "/id",
                    json!("urn:uuid:0194EE9B-5C00-7000-8000-000000000104"),
                ),
                "/id",
            ),
            (
                Set("/parts/0/passportId", json!("urn:isbn:0451450523")),
                "/parts/0/passportId",
            ),
            (Set("/traceEvents/0", json!("event-1")), "/traceEvents/0"),
            (
                Set(
                    "/traceEvents",
                    json!([
                        "urn:uuid:0194ee9b-5c00-7000-9000-000000001005",
                        "urn:uuid:0194ee9b-5c00-7000-9000-000000001005"
                    ]),
                ),
                "/traceEvents",
            ),
            (Set("/traceEvents", json!([])), "/traceEvents"),
            (Set("/issuer/did", json!("web:example.com")), "/issuer/did"),
            (Set("/issuer/operatorId", json!("")), "/issuer/operatorId"),
            (Set("/product/ids", json!([])), "/product/ids"),
            (
                Set("/product/ids/0/scheme", json!("GTIN 14")),
                "/product/ids/0/scheme",
            ),
            // countries
            (Set("/product/country", json!("Japan")), "/product/country"),
            (Set("/product/country", json!("jp")), "/product/country"),
            (
                Set("/product/facility/country", json!("JPN")),
                "/product/facility/country",
            ),
            (
                Set("/materials/0/originCountry", json!("J1")),
                "/materials/0/originCountry",
            ),
            // materials
            (Set("/materials", json!([])), "/materials"),
            (
                Set("/materials/0/massFraction", json!(1.5)),
                "/materials/0/massFraction",
            ),
            (
                Set("/materials/0/massFraction", json!(-0.1)),
                "/materials/0/massFraction",
            ),
            (
                Set("/materials/0/massFraction", json!("0.3")),
                "/materials/0/massFraction",
            ),
            (
                Set("/materials/0/recycledShare/postConsumer", json!(1.2)),
                "/materials/0/recycledShare/postConsumer",
            ),
            (
                Set("/materials/0/recycledShare/preConsumer", json!(-0.01)),
                "/materials/0/recycledShare/preConsumer",
            ),
            (
                Set("/materials/0/polymer", json!("polypropylene")),
                "/materials/0/polymer",
            ),
            (
                Set("/materials/0/polymer", json!("pp")),
                "/materials/0/polymer",
            ),
            (
                Set("/materials/0/polymer", json!("PP ")),
                "/materials/0/polymer",
            ),
            (
                Set("/materials/0/polymer", json!("PE_HD")),
                "/materials/0/polymer",
            ),
            (
                Set("/materials/0/polymer", json!("PC+")),
                "/materials/0/polymer",
            ),
            (
                Set("/materials/0/polymer", json!("")),
                "/materials/0/polymer",
            ),
            (
                Set("/materials/0/mass/value", json!(-1.26)),
                "/materials/0/mass/value",
            ),
            (
                Set("/materials/0/mass/unit", json!("lb")),
                "/materials/0/mass/unit",
            ),
            (
                Set("/materials/0/chainOfCustody/model", json!("mass_balance")),
                "/materials/0/chainOfCustody/model",
            ),
            (
                Set("/materials/0/chainOfCustody/validFrom", json!("2024-02-30")),
                "/materials/0/chainOfCustody/validFrom",
            ),
            (
                Set(
                    "/materials/0/chainOfCustody/validUntil",
                    json!("31/12/2027"),
                ),
                "/materials/0/chainOfCustody/validUntil",
            ),
            (
                Set("/materials/1/properties/0/name", json!("Melt flow rate")),
                "/materials/1/properties/0/name",
            ),
            (
                Set("/materials/1/properties/0/value", json!("22")),
                "/materials/1/properties/0/value",
            ),
            (
                Set("/materials/1/properties", json!([])),
                "/materials/1/properties",
            ),
            (Set("/materials/0/grade", json!("")), "/materials/0/grade"),
            // carbon footprint
            (
                Set("/carbonFootprint/dataQuality/temporal", json!(6)),
                "/carbonFootprint/dataQuality/temporal",
            ),
            (
                Set("/carbonFootprint/dataQuality/geographical", json!(0)),
                "/carbonFootprint/dataQuality/geographical",
            ),
            (
                Set("/carbonFootprint/dataQuality/technological", json!(2.5)),
                "/carbonFootprint/dataQuality/technological",
            ),
            (
                Set("/carbonFootprint/declaredUnit", json!("kg")),
                "/carbonFootprint/declaredUnit",
            ),
            (
                Set("/carbonFootprint/primaryDataShare", json!(62)),
                "/carbonFootprint/primaryDataShare",
            ),
            (
                Set("/carbonFootprint/stages/processing", json!(-2.3)),
                "/carbonFootprint/stages/processing",
            ),
            (
                Set("/carbonFootprint/total", json!(-13.3)),
                "/carbonFootprint/total",
            ),
            (
                Set("/carbonFootprint/referencePeriod/start", json!("2025")),
                "/carbonFootprint/referencePeriod/start",
            ),
            // circularity
            (
                Set("/circularity/recycledContent", json!(1.01)),
                "/circularity/recycledContent",
            ),
            (
                Set("/circularity/recyclableContent", json!(-0.5)),
                "/circularity/recyclableContent",
            ),
            (
                Set("/circularity/utilityFactor", json!(0)),
                "/circularity/utilityFactor",
            ),
            (
                Set("/circularity/expectedLifetimeYears", json!(-1)),
                "/circularity/expectedLifetimeYears",
            ),
            // parts, versions, times
            (Set("/parts/0/quantity", json!(0)), "/parts/0/quantity"),
            (Set("/parts", json!([])), "/parts"),
            (Set("/version", json!(0)), "/version"),
            (Set("/version", json!(1.5)), "/version"),
            (Set("/version", json!("1")), "/version"),
            (Set("/issuedAt", json!("2025-02-10 07:00:00")), "/issuedAt"),
            (
                Set("/updatedAt", json!("2025-13-10T07:00:00Z")),
                "/updatedAt",
            ),
            (
                Set("/product/productionDate", json!("2025-02-30")),
                "/product/productionDate",
            ),
            // unknown fields and extensions
            (Set("/colour", json!("black")), "/colour"),
            (Set("/product/colour", json!("black")), "/product/colour"),
            (
                Set("/materials/2/recycledShare/total", json!(0)),
                "/materials/2/recycledShare/total",
            ),
            (
                Set("/carbonFootprint/stages/use", json!(0)),
                "/carbonFootprint/stages/use",
            ),
            (
                Set("/extensions/colour", json!("black")),
                "/extensions/colour",
            ),
            (
                Set("/extensions/Acme:colour", json!("black")),
                "/extensions/Acme:colour",
            ),
            (Set("/extensions/acme:", json!(1)), "/extensions/acme:"),
            (Set("/extensions", json!([])), "/extensions"),
        ];
        for (edit, pointer) in cases {
            assert_refused(SchemaKind::Passport, &bumper(), edit, pointer);
        }
        let abs = serde_json::to_value(fixtures::abs_housing()).expect("serialises");
        for (cas, pointer) in [
            ("117817", "/materials/0/substancesOfConcern/0/casNumber"),
            ("117-81-77", "/materials/0/substancesOfConcern/0/casNumber"),
            ("0117-81-7", "/materials/0/substancesOfConcern/0/casNumber"),
        ] {
            assert_refused(
                SchemaKind::Passport,
                &abs,
                Set("/materials/0/substancesOfConcern/0/casNumber", json!(cas)),
                pointer,
            );
        }
        assert_refused(
            SchemaKind::Passport,
            &abs,
            Set(
                "/materials/0/substancesOfConcern/0/concentration",
                json!(1.2),
            ),
            "/materials/0/substancesOfConcern/0/concentration",
        );
        assert_refused(
            SchemaKind::Passport,
            &abs,
            Set("/materials/0/substancesOfConcern", json!([])),
            "/materials/0/substancesOfConcern",
        );
    }

    #[test]
    fn accepted_polymer_symbols() {
        let mut doc = bumper();
        for symbol in [
            "PP",
            "PE-HD",
            "PE-LLD",
            "PET",
            "ABS",
            "PA6",
            "PA66",
            "PA6/66",
            "PC+ABS",
            "PP-T20",
            "PA6-GF30",
            "PVC-U",
            "PS-HI",
            "PP+EPDM-T20",
            "POM",
            "PMMA",
            "PBT-GF30",
        ] {
            doc["materials"][0]["polymer"] = json!(symbol);
            assert_eq!(
                registry().validate(SchemaKind::Passport, &doc),
                Ok(()),
                "{symbol}"
            );
        }
    }

    #[test]
    fn every_violation_is_reported() {
        let mut doc = bumper();
        apply(&mut doc, &Remove("/version"));
        apply(&mut doc, &Set("/materials/1/massFraction", json!(7)));
        apply(&mut doc, &Set("/product/country", json!("Nippon")));
        apply(
            &mut doc,
            &Set("/carbonFootprint/dataQuality/temporal", json!(6)),
        );
        apply(&mut doc, &Set("/foo", json!(1)));
        let violations = registry()
            .validate(SchemaKind::Passport, &doc)
            .expect_err("broken");
        let mut pointers: Vec<&str> = violations.iter().map(|v| v.pointer.as_str()).collect();
        pointers.sort_unstable();
        assert_eq!(
            pointers,
            [
                "/carbonFootprint/dataQuality/temporal",
                "/foo",
                "/materials/1/massFraction",
                "/product/country",
                "/version"
            ]
        );
        assert!(violations.iter().all(|v| !v.message.is_empty()));
        let serialised = serde_json::to_value(&violations[0]).expect("serialises");
        assert!(serialised.get("pointer").is_some() && serialised.get("message").is_some());
    }

    #[test]
    fn a_non_object_is_refused_at_the_root() {
        for kind in SchemaKind::all() {
            let violations = registry()
                .validate(*kind, &json!([1, 2]))
                .expect_err("array is no document");
            assert_eq!(violations[0].pointer, "", "{kind}");
        }
    }

    fn event(i: usize) -> Value {
        serde_json::to_value(&fixtures::trace_events()[i]).expect("serialises")
    }

    #[test]
    fn trace_event_rules() {
        // 0 collection (ObjectEvent), 1 sorting (TransformationEvent), 3 shipment (Transaction)
        let cases: Vec<(usize, Edit, &str)> = vec![
            (0, Remove("/eventID"), "/eventID"),
            (0, Remove("/eventTime"), "/eventTime"),
            (0, Remove("/eventTimeZoneOffset"), "/eventTimeZoneOffset"),
            (0, Remove("/type"), "/type"),
            (0, Set("/type", json!("SensorEvent")), "/type"),
            (0, Set("/action", json!("add")), "/action"),
            (0, Set("/eventID", json!("urn:uuid:xyz")), "/eventID"),
            (0, Set("/eventTime", json!("yesterday")), "/eventTime"),
            (
                0,
                Set("/eventTimeZoneOffset", json!("+9:00")),
                "/eventTimeZoneOffset",
            ),
            (
                0,
                Set("/eventTimeZoneOffset", json!("+15:00")),
                "/eventTimeZoneOffset",
            ),
            (0, Set("/epcList/0", json!("not a uri")), "/epcList/0"),
            (0, Set("/epcList", json!([])), "/epcList"),
            (
                0,
                Set("/quantityList/0/quantity", json!(-1)),
                "/quantityList/0/quantity",
            ),
            (
                0,
                Set("/quantityList/0/uom", json!("kg")),
                "/quantityList/0/uom",
            ),
            (
                0,
                Remove("/quantityList/0/epcClass"),
                "/quantityList/0/epcClass",
            ),
            (0, Set("/readPoint/extra", json!(1)), "/readPoint/extra"),
            (
                0,
                Set("/sensorElementList", json!([])),
                "/sensorElementList",
            ),
            (0, Remove("/action"), "/action"),
            (
                0,
                Set(
                    "/inputEPCList",
                    json!(["urn:uuid:0193aa52-1000-7000-8000-000000000103"]),
                ),
                "/inputEPCList",
            ),
            (
                0,
                Set("/parentID", json!("urn:epc:id:sscc:4569951.0000000001")),
                "/parentID",
            ),
            (1, Set("/action", json!("ADD")), "/action"),
            (
                1,
                Set(
                    "/epcList",
                    json!(["urn:uuid:0193aa52-1000-7000-8000-000000000103"]),
                ),
                "/epcList",
            ),
            (
                1,
                Set("/previousEventHashes/0", json!("ABCDEF")),
                "/previousEventHashes/0",
            ),
            (
                1,
                Set("/previousEventHashes/0", json!("A".repeat(64))),
                "/previousEventHashes/0",
            ),
            (
                1,
                Set("/previousEventHashes", json!([])),
                "/previousEventHashes",
            ),
            (
                1,
                Set("/transformationID", json!("sorting run 7")),
                "/transformationID",
            ),
            (3, Remove("/bizTransactionList"), "/bizTransactionList"),
            (
                3,
                Remove("/bizTransactionList/0/bizTransaction"),
                "/bizTransactionList/0/bizTransaction",
            ),
            (
                3,
                Set("/childEPCs", json!(["urn:epc:id:sgtin:4569951.011617.1"])),
                "/childEPCs",
            ),
        ];
        for (i, edit, pointer) in cases {
            assert_refused(SchemaKind::TraceEvent, &event(i), edit, pointer);
        }
        // A transformation with neither inputs nor outputs.
        let mut bare = event(1);
        for field in [
            "inputEPCList",
            "inputQuantityList",
            "outputEPCList",
            "outputQuantityList",
        ] {
            bare.as_object_mut().expect("object").remove(field);
        }
        let violations = registry()
            .validate(SchemaKind::TraceEvent, &bare)
            .expect_err("no inputs or outputs");
        assert_eq!(violations[0].pointer, "");
        // An aggregation needs its parent.
        let mut aggregation = event(0);
        aggregation["type"] = json!("AggregationEvent");
        for field in ["epcList", "quantityList"] {
            aggregation.as_object_mut().expect("object").remove(field);
        }
        aggregation["childEPCs"] = json!(["urn:epc:id:sgtin:4569951.011617.1"]);
        assert_refused(
            SchemaKind::TraceEvent,
            &{
                let mut ok = aggregation.clone();
                ok["parentID"] = json!("urn:epc:id:sscc:4569951.0000000001");
                ok
            },
            Remove("/parentID"),
            "/parentID",
        );
    }

    #[test]
    fn collection_record_rules() {
        let record = serde_json::to_value(&fixtures::collection_records()[0]).expect("serialises");
        let cases: Vec<(Edit, &str)> = vec![
            (Remove("/id"), "/id"),
            (Remove("/collectedOn"), "/collectedOn"),
            (Remove("/entries"), "/entries"),
            (Set("/entries", json!([])), "/entries"),
            (Set("/collectedOn", json!("2024-10-32")), "/collectedOn"),
            (
                Set("/entries/0/collectedKg", json!(-5)),
                "/entries/0/collectedKg",
            ),
            (
                Set("/entries/0/disposalKg", json!(-0.5)),
                "/entries/0/disposalKg",
            ),
            (
                Set("/entries/1/category", json!("PET Bottles")),
                "/entries/1/category",
            ),
            (
                Remove("/entries/2/thermalRecyclingKg"),
                "/entries/2/thermalRecyclingKg",
            ),
            (
                Remove("/entries/2/reusedPartsKg"),
                "/entries/2/reusedPartsKg",
            ),
            (
                Set("/entries/0/landfillKg", json!(1)),
                "/entries/0/landfillKg",
            ),
            (Set("/facility/country", json!("XXX")), "/facility/country"),
            (Set("/id", json!(7)), "/id"),
        ];
        for (edit, pointer) in cases {
            assert_refused(SchemaKind::CollectionRecord, &record, edit, pointer);
        }
    }

    #[test]
    fn part_schemas_validate_alone() {
        let value = bumper();
        assert_refused(
            SchemaKind::Material,
            &value["materials"][0],
            Remove("/name"),
            "/name",
        );
        assert_refused(
            SchemaKind::CarbonFootprint,
            &value["carbonFootprint"],
            Set("/dataQuality/geographical", json!(6)),
            "/dataQuality/geographical",
        );
        assert_refused(
            SchemaKind::Circularity,
            &value["circularity"],
            Set("/recycledContent", json!(2)),
            "/recycledContent",
        );
    }

    #[test]
    fn parse_reports_semantic_violations_after_the_schema() {
        let mut doc = bumper();
        doc["carbonFootprint"]["total"] = json!(99.0);
        let violations = registry().parse_passport(&doc).expect_err("total is wrong");
        assert_eq!(violations[0].pointer, "/carbonFootprint/total");
        doc["version"] = json!(0);
        let violations = registry()
            .parse_passport(&doc)
            .expect_err("version is wrong");
        assert_eq!(violations[0].pointer, "/version", "schema first");
    }

    #[test]
    fn pointers_escape_tilde_and_slash() {
        assert_eq!(escape_token("a/b~c"), "a~1b~0c");
        let mut doc = bumper();
        doc["a/b~c"] = json!(1);
        let violations = registry()
            .validate(SchemaKind::Passport, &doc)
            .expect_err("unknown");
        assert_eq!(violations[0].pointer, "/a~1b~0c");
        assert_eq!(
            violations[0].to_string(),
            "/a~1b~0c: unknown property \"a/b~c\""
        );
    }
}
