//! The management API's passport write path without the store: strict JSON parse, schema
//! validation, typed deserialisation, semantic rules, JCS. Must never panic; whatever the schema
//! and rules accept must canonicalise and parse back to the same passport.
#![no_main]

use std::sync::LazyLock;

use dpp_schemas::{Passport, SchemaKind, SchemaRegistry};
use libfuzzer_sys::fuzz_target;

static SCHEMAS: LazyLock<SchemaRegistry> = LazyLock::new(|| SchemaRegistry::new().expect("schemas compile"));

fuzz_target!(|data: &[u8]| {
    let Ok(value) = dpp_gateway::api::parse_json(data) else { return };
    if SCHEMAS.validate(SchemaKind::Passport, &value).is_err() {
        return;
    }
    let Ok(passport) = serde_json::from_value::<Passport>(value) else { return };
    if !dpp_schemas::check_passport(&passport).is_empty() {
        return;
    }
    let canonical = dpp_schemas::jcs::to_vec(&passport).expect("a valid passport canonicalises");
    let back: Passport = serde_json::from_slice(&canonical).expect("canonical bytes parse");
    assert_eq!(dpp_schemas::jcs::to_vec(&back).unwrap(), canonical, "JCS is not idempotent");
});
