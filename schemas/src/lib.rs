//! The canonical digital-product-passport model, its JSON Schemas (2020-12, bundled in the binary)
//! and a registry of validators compiled once. No I/O.
//!
//! - [`model`]: the serde types every data-space format is mapped from and to.
//! - [`SchemaRegistry`]: every bundled schema compiled once; [`SchemaRegistry::validate`] reports
//!   every [`Violation`] with a JSON pointer.
//! - [`semantic`]: rules a schema cannot express ([`check_passport`], [`check_trace_event`],
//!   [`check_collection_record`]), [`check_country_codes`] for passports this gateway writes, and
//!   [`check_exact_numbers`] on the raw JSON.
//! - [`country`]: the assigned ISO 3166-1 alpha-2 codes.
//! - [`jcs`]: RFC 8785 canonical JSON, one pass for the model's types; [`event_hash`] builds on it.
//! - [`fixtures`]: realistic, deterministic plastics passports, trace events and collection records.
#![warn(missing_docs)]

pub mod country;
pub mod fixtures;
pub mod jcs;
pub mod model;
pub mod registry;
pub mod semantic;
pub mod trace;
pub mod wire;

pub use country::is_iso3166_alpha2;
pub use model::*;
pub use registry::{
    COMMON_SCHEMA, SCHEMA_BASE_URI, SchemaError, SchemaKind, SchemaRegistry, Violation,
    schema_document, schema_text,
};
pub use semantic::{
    check_collection_record, check_country_codes, check_exact_numbers, check_passport,
    check_trace_event,
};
pub use trace::{event_hash, try_event_hash};
