//! Trace-event import: strict parse, schema, typed event, rules, hash. Never panics; a valid event
//! hashes to 64 lowercase hex characters, the same for its canonical bytes parsed back.
#![no_main]

use std::sync::LazyLock;

use dpp_schemas::{SchemaKind, SchemaRegistry, TraceEvent};
use libfuzzer_sys::fuzz_target;

static SCHEMAS: LazyLock<SchemaRegistry> = LazyLock::new(|| SchemaRegistry::new().expect("schemas compile"));

fuzz_target!(|data: &[u8]| {
    let Ok(value) = dpp_gateway::api::parse_json(data) else { return };
    if SCHEMAS.validate(SchemaKind::TraceEvent, &value).is_err() {
        return;
    }
    let Ok(event) = serde_json::from_value::<TraceEvent>(value) else { return };
    let _ = dpp_schemas::check_trace_event(&event);
    let Ok(hash) = dpp_schemas::try_event_hash(&event) else { return };
    assert_eq!(hash.len(), 64);
    let canonical = dpp_schemas::jcs::to_vec(&event).unwrap();
    let back: TraceEvent = serde_json::from_slice(&canonical).expect("canonical bytes parse");
    assert_eq!(dpp_schemas::try_event_hash(&back).unwrap(), hash);
});
