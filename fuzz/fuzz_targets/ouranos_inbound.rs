//! The Ouranos adapter's inbound mapping (wire records → canonical passport) over arbitrary
//! records: never panics; whatever it maps must pass the canonical schema or be refused cleanly.
#![no_main]

use dpp_adapters::ouranos::mapping::{CfpModel, PartsModel, from_wire};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

#[derive(Deserialize)]
struct Records {
    parent: PartsModel,
    #[serde(default)]
    children: Vec<PartsModel>,
    #[serde(default)]
    cfp: Vec<CfpModel>,
}

fuzz_target!(|data: &[u8]| {
    let Ok(records) = serde_json::from_slice::<Records>(data) else { return };
    let at = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap();
    let _ = from_wire(&records.parent, &records.children, &records.cfp, at);
});
