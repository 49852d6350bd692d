//! Rules a JSON Schema cannot express: sums, orderings, cross-field consistency, check digits.
//!
//! Run on typed values, after schema validation (see [`crate::SchemaRegistry::parse_passport`]).
//! Each violation carries a JSON pointer into the document the value serialises to.

use std::collections::HashSet;

use chrono::Offset;

use crate::model::{
    CollectionRecord, EventAction, EventType, Passport, QuantityElement, TraceEvent,
};
use crate::registry::Violation;

/// Slack for sums of declared fractions and weights (rounding of declared values).
const SUM_TOLERANCE: f64 = 1e-9;
/// Relative slack between a carbon-footprint total and the sum of its stages.
const TOTAL_RELATIVE_TOLERANCE: f64 = 1e-6;
/// Slack between the declared recycled content and what the materials hold.
const RECYCLED_CONTENT_TOLERANCE: f64 = 1e-6;

/// Whether a CAS Registry Number's check digit is right (`117-81-7`: 7 = (1·1 + 8·2 + 7·3 +
/// 1·4 + 1·5) mod 10). The shape is the schema's business; a malformed one is refused here too.
pub fn cas_check_digit_ok(cas: &str) -> bool {
    let mut parts = cas.split('-');
    let (Some(a), Some(b), Some(c), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let body: Vec<u32> = a
        .chars()
        .chain(b.chars())
        .filter_map(|c| c.to_digit(10))
        .collect();
    if body.len() != a.len() + b.len() || c.len() != 1 {
        return false;
    }
    let Some(check) = c.chars().next().and_then(|c| c.to_digit(10)) else {
        return false;
    };
    let sum: u32 = body
        .iter()
        .rev()
        .zip(1..)
        .map(|(digit, weight)| digit * weight)
        .sum();
    sum % 10 == check
}

/// Largest integer magnitude a JSON number keeps exactly once read as an IEEE 754 double:
/// 2^53 − 1 (RFC 7493 section 2.2). Passports, events and records are canonicalised (RFC 8785)
/// and stored as doubles, so a larger number would be stored and signed as some other number.
pub const MAX_EXACT_INTEGER: u64 = (1 << 53) - 1;

/// Numbers in a raw JSON document that would not survive canonicalisation unchanged: any number
/// whose magnitude is above [`MAX_EXACT_INTEGER`] (`9007199254740993` would be stored as
/// `9007199254740992`), each with its JSON pointer. Run before the document is typed, which is
/// where the rounding would happen silently.
pub fn check_exact_numbers(value: &serde_json::Value) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut pointer = String::new();
    exact_numbers(value, &mut pointer, &mut out);
    out
}

fn exact_numbers(value: &serde_json::Value, pointer: &mut String, out: &mut Vec<Violation>) {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            let exact = if let Some(u) = n.as_u64() {
                u <= MAX_EXACT_INTEGER
            } else if let Some(i) = n.as_i64() {
                i.unsigned_abs() <= MAX_EXACT_INTEGER
            } else {
                n.as_f64()
                    .is_some_and(|f| f.abs() <= MAX_EXACT_INTEGER as f64)
            };
            if !exact {
                out.push(Violation::new(
                    pointer.clone(),
                    format!(
                        "{n} is beyond ±{MAX_EXACT_INTEGER} (2^53 − 1), the largest magnitude \
                         stored exactly; it would be rounded"
                    ),
                ));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{i}"));
                exact_numbers(item, pointer, out);
                pointer.truncate(len);
            }
        }
        Value::Object(members) => {
            for (key, member) in members {
                let len = pointer.len();
                pointer.push('/');
                // RFC 6901: `~` is written `~0` and `/` is written `~1`.
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                exact_numbers(member, pointer, out);
                pointer.truncate(len);
            }
        }
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// A violation at `pointer` if `code` is not an assigned ISO 3166-1 alpha-2 code.
fn check_country(code: &str, pointer: &str, out: &mut Vec<Violation>) {
    if !crate::country::is_iso3166_alpha2(code) {
        out.push(Violation::new(
            pointer,
            format!("{code:?} is not an assigned ISO 3166-1 alpha-2 country code"),
        ));
    }
}

/// The country codes of a passport this gateway writes must be assigned ISO 3166-1 alpha-2 codes
/// (`XX`, `AA` and `ZZ` fit the schema's pattern but name no country).
///
/// Not part of [`check_passport`]: a passport received from a partner keeps what it says, and an
/// adapter writes the user-assigned `ZZ` where a foreign record names no country.
pub fn check_country_codes(passport: &Passport) -> Vec<Violation> {
    let mut out = Vec::new();
    check_country(&passport.product.country, "/product/country", &mut out);
    if let Some(facility) = &passport.product.facility {
        check_country(&facility.country, "/product/facility/country", &mut out);
    }
    for (i, material) in passport.materials.iter().enumerate() {
        if let Some(origin) = &material.origin_country {
            check_country(origin, &format!("/materials/{i}/originCountry"), &mut out);
        }
    }
    out
}

/// Semantic checks of a passport version.
pub fn check_passport(passport: &Passport) -> Vec<Violation> {
    let mut out = Vec::new();

    if passport.updated_at < passport.issued_at {
        out.push(Violation::new(
            "/updatedAt",
            format!(
                "updatedAt {} is before issuedAt {}",
                passport.updated_at.to_rfc3339(),
                passport.issued_at.to_rfc3339()
            ),
        ));
    }

    let mut mass_fraction_sum = 0.0;
    let mut recycled_held = 0.0;
    for (i, material) in passport.materials.iter().enumerate() {
        mass_fraction_sum += material.mass_fraction;
        let share = &material.recycled_share;
        recycled_held += material.mass_fraction * share.total();
        if share.total() > 1.0 + SUM_TOLERANCE {
            out.push(Violation::new(
                format!("/materials/{i}/recycledShare"),
                format!(
                    "preConsumer + postConsumer is {} which exceeds 1",
                    share.total()
                ),
            ));
        }
        if let Some(custody) = &material.chain_of_custody
            && let (Some(from), Some(until)) = (custody.valid_from, custody.valid_until)
            && from > until
        {
            out.push(Violation::new(
                format!("/materials/{i}/chainOfCustody/validUntil"),
                format!("validUntil {until} is before validFrom {from}"),
            ));
        }
        for (j, substance) in material.substances_of_concern.iter().enumerate() {
            if !cas_check_digit_ok(&substance.cas_number) {
                out.push(Violation::new(
                    format!("/materials/{i}/substancesOfConcern/{j}/casNumber"),
                    format!(
                        "CAS number {:?} has a wrong check digit",
                        substance.cas_number
                    ),
                ));
            }
        }
    }
    if mass_fraction_sum > 1.0 + SUM_TOLERANCE {
        out.push(Violation::new(
            "/materials",
            format!("massFraction of the materials sums to {mass_fraction_sum} which exceeds 1"),
        ));
    }

    if let Some(footprint) = &passport.carbon_footprint {
        let sum = footprint.stages.sum();
        let scale = footprint.total.abs().max(sum.abs()).max(f64::MIN_POSITIVE);
        if (footprint.total - sum).abs() > TOTAL_RELATIVE_TOLERANCE * scale {
            out.push(Violation::new(
                "/carbonFootprint/total",
                format!(
                    "total {} differs from the sum of the stages {sum}",
                    footprint.total
                ),
            ));
        }
        let period = &footprint.reference_period;
        if period.start > period.end {
            out.push(Violation::new(
                "/carbonFootprint/referencePeriod/end",
                format!("end {} is before start {}", period.end, period.start),
            ));
        }
    }

    if let Some(circularity) = &passport.circularity {
        let recycled = circularity.recycled_content;
        if recycled > 1.0 {
            out.push(Violation::new(
                "/circularity/recycledContent",
                format!("recycledContent {recycled} exceeds 1"),
            ));
        } else if recycled > recycled_held + RECYCLED_CONTENT_TOLERANCE {
            out.push(Violation::new(
                "/circularity/recycledContent",
                format!(
                    "recycledContent {recycled} exceeds the recycled share the materials hold \
                     ({recycled_held})"
                ),
            ));
        }
    }

    for (i, part) in passport.parts.iter().enumerate() {
        if part.passport_id == passport.id {
            out.push(Violation::new(
                format!("/parts/{i}/passportId"),
                "a passport cannot be a part of itself",
            ));
        }
    }

    out
}

/// Semantic checks of a trace event: the fields its type allows, and the time-zone offset.
pub fn check_trace_event(event: &TraceEvent) -> Vec<Violation> {
    let mut out = Vec::new();
    let kind = event.event_type;
    let kind_name = match kind {
        EventType::ObjectEvent => "ObjectEvent",
        EventType::TransformationEvent => "TransformationEvent",
        EventType::AggregationEvent => "AggregationEvent",
        EventType::TransactionEvent => "TransactionEvent",
    };
    let mut forbid = |present: bool, field: &str| {
        if present {
            out.push(Violation::new(
                format!("/{field}"),
                format!("{kind_name} does not allow {field}"),
            ));
        }
    };
    let transformation_fields = [
        (!event.input_epc_list.is_empty(), "inputEPCList"),
        (!event.input_quantity_list.is_empty(), "inputQuantityList"),
        (!event.output_epc_list.is_empty(), "outputEPCList"),
        (!event.output_quantity_list.is_empty(), "outputQuantityList"),
        (event.transformation_id.is_some(), "transformationID"),
    ];
    let child_fields = [
        (!event.child_epcs.is_empty(), "childEPCs"),
        (!event.child_quantity_list.is_empty(), "childQuantityList"),
    ];
    let object_fields = [
        (!event.epc_list.is_empty(), "epcList"),
        (!event.quantity_list.is_empty(), "quantityList"),
    ];
    match kind {
        EventType::TransformationEvent => {
            forbid(event.action.is_some(), "action");
            forbid(event.parent_id.is_some(), "parentID");
            for (present, field) in child_fields.into_iter().chain(object_fields) {
                forbid(present, field);
            }
        }
        EventType::ObjectEvent => {
            forbid(event.parent_id.is_some(), "parentID");
            for (present, field) in transformation_fields.into_iter().chain(child_fields) {
                forbid(present, field);
            }
        }
        EventType::AggregationEvent => {
            for (present, field) in transformation_fields.into_iter().chain(object_fields) {
                forbid(present, field);
            }
        }
        EventType::TransactionEvent => {
            for (present, field) in transformation_fields.into_iter().chain(child_fields) {
                forbid(present, field);
            }
        }
    }

    let mut require = |missing: bool, field: &str, what: &str| {
        if missing {
            out.push(Violation::new(
                format!("/{field}"),
                format!("{kind_name} requires {what}"),
            ));
        }
    };
    match kind {
        EventType::TransformationEvent => require(
            event.input_epc_list.is_empty()
                && event.input_quantity_list.is_empty()
                && event.output_epc_list.is_empty()
                && event.output_quantity_list.is_empty(),
            "inputEPCList",
            "inputs or outputs",
        ),
        EventType::ObjectEvent | EventType::TransactionEvent => {
            require(event.action.is_none(), "action", "an action");
            require(
                event.epc_list.is_empty() && event.quantity_list.is_empty(),
                "epcList",
                "epcList or quantityList",
            );
            if kind == EventType::TransactionEvent {
                require(
                    event.biz_transaction_list.is_empty(),
                    "bizTransactionList",
                    "bizTransactionList",
                );
            }
        }
        EventType::AggregationEvent => {
            require(event.action.is_none(), "action", "an action");
            require(event.parent_id.is_none(), "parentID", "parentID");
            if event.action != Some(EventAction::Observe) {
                require(
                    event.child_epcs.is_empty() && event.child_quantity_list.is_empty(),
                    "childEPCs",
                    "childEPCs or childQuantityList when adding or deleting",
                );
            }
        }
    }

    let offset = format_offset(event.event_time.offset().fix().local_minus_utc());
    if event.event_time_zone_offset != offset {
        out.push(Violation::new(
            "/eventTimeZoneOffset",
            format!(
                "eventTimeZoneOffset {:?} differs from the offset of eventTime ({offset})",
                event.event_time_zone_offset
            ),
        ));
    }

    for (i, hash) in event.previous_event_hashes.iter().enumerate() {
        if hash.len() != 64 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            out.push(Violation::new(
                format!("/previousEventHashes/{i}"),
                "not a lowercase hex SHA-256 digest",
            ));
        }
    }

    let lists: [(&str, &[QuantityElement]); 4] = [
        ("quantityList", &event.quantity_list),
        ("inputQuantityList", &event.input_quantity_list),
        ("outputQuantityList", &event.output_quantity_list),
        ("childQuantityList", &event.child_quantity_list),
    ];
    for (field, list) in lists {
        for (i, element) in list.iter().enumerate() {
            if element.quantity < 0.0 || element.quantity.is_nan() {
                out.push(Violation::new(
                    format!("/{field}/{i}/quantity"),
                    format!("quantity {} is negative", element.quantity),
                ));
            }
        }
    }

    out
}

/// `+09:00` for 32400 seconds east of UTC.
fn format_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Semantic checks of a collection record: outcomes within the collected weight, unique
/// categories.
pub fn check_collection_record(record: &CollectionRecord) -> Vec<Violation> {
    let mut out = Vec::new();
    if let Some(facility) = &record.facility {
        check_country(&facility.country, "/facility/country", &mut out);
    }
    let mut seen = HashSet::with_capacity(record.entries.len());
    for (i, entry) in record.entries.iter().enumerate() {
        let outcomes = entry.reused_parts_kg
            + entry.material_recycling_kg
            + entry.thermal_recycling_kg
            + entry.disposal_kg;
        if outcomes > entry.collected_kg * (1.0 + SUM_TOLERANCE) + SUM_TOLERANCE {
            out.push(Violation::new(
                format!("/entries/{i}"),
                format!(
                    "reused + material + thermal + disposal is {outcomes} kg, more than the {} kg \
                     collected",
                    entry.collected_kg
                ),
            ));
        }
        if !seen.insert(entry.category.as_str()) {
            out.push(Violation::new(
                format!("/entries/{i}/category"),
                format!("category {:?} appears twice", entry.category),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, FixedOffset, NaiveDate};

    use super::*;
    use crate::fixtures;
    use crate::model::*;

    fn pointers(violations: &[Violation]) -> Vec<&str> {
        violations.iter().map(|v| v.pointer.as_str()).collect()
    }

    #[test]
    fn fixtures_pass() {
        for (name, p) in fixtures::named_passports() {
            assert_eq!(check_passport(&p), Vec::new(), "{name}");
            assert_eq!(check_country_codes(&p), Vec::new(), "{name}");
        }
        for e in fixtures::trace_events() {
            assert_eq!(check_trace_event(&e), Vec::new(), "{}", e.event_id);
        }
        for r in fixtures::collection_records() {
            assert_eq!(check_collection_record(&r), Vec::new(), "{}", r.id);
        }
    }

    #[test]
    fn cas_check_digits() {
        for good in ["117-81-7", "1163-19-5", "7732-18-5", "50-00-0", "9003-07-0"] {
            assert!(cas_check_digit_ok(good), "{good}");
        }
        for bad in [
            "117-81-8",
            "1163-19-4",
            "117817",
            "117-81",
            "117-81-7-1",
            "11a-81-7",
            "117-81-",
        ] {
            assert!(!cas_check_digit_ok(bad), "{bad}");
        }
    }

    #[test]
    fn unassigned_country_codes_are_refused_with_their_pointer() {
        let mut p = fixtures::pp_pellets();
        p.product.country = "XX".into();
        p.materials[0].origin_country = Some("ZZ".into());
        let violations = check_country_codes(&p);
        assert_eq!(
            pointers(&violations),
            vec!["/product/country", "/materials/0/originCountry"]
        );
        assert!(
            violations[0]
                .message
                .contains("\"XX\" is not an assigned ISO 3166-1")
        );
        p.product.country = "DE".into();
        p.materials[0].origin_country = Some("US".into());
        assert_eq!(check_country_codes(&p), Vec::new());

        let mut r = fixtures::collection_records().remove(0);
        r.facility = Some(Facility {
            country: "AA".into(),
            id: None,
            name: "collection point".into(),
        });
        assert_eq!(
            pointers(&check_collection_record(&r)),
            vec!["/facility/country"]
        );
    }

    #[test]
    fn numbers_beyond_two_to_the_53_are_named_with_their_pointer() {
        let doc = serde_json::json!({
            "fine": [9007199254740991_u64, -9007199254740991_i64, 1.5, 0],
            "a/b": { "big": 9007199254740993_u64 },
            "list": [1, -9007199254740993_i64, 1e300],
            "u64max": 18446744073709551615_u64,
        });
        let violations = check_exact_numbers(&doc);
        assert_eq!(
            pointers(&violations),
            vec!["/a~1b/big", "/list/1", "/list/2", "/u64max"]
        );
        assert!(violations[0].message.contains("9007199254740993"));
        assert!(check_exact_numbers(&serde_json::json!({"x": [9007199254740991_u64]})).is_empty());
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn passport_rules() {
        type Break = fn(&mut Passport);
        let cases: Vec<(&str, Break, &str)> = vec![
            (
                "recycled share above 1",
                |p| {
                    p.materials[0].recycled_share = RecycledShare {
                        post_consumer: 0.7,
                        pre_consumer: 0.4,
                    };
                },
                "/materials/0/recycledShare",
            ),
            (
                "mass fractions above 1",
                |p| p.materials[1].mass_fraction = 0.75,
                "/materials",
            ),
            (
                "total is not the sum",
                |p| {
                    if let Some(cf) = &mut p.carbon_footprint {
                        cf.total += 0.01
                    }
                },
                "/carbonFootprint/total",
            ),
            (
                "reference period reversed",
                |p| {
                    if let Some(cf) = &mut p.carbon_footprint {
                        cf.reference_period.start = date(2026, 1, 1);
                    }
                },
                "/carbonFootprint/referencePeriod/end",
            ),
            (
                "certificate validity reversed",
                |p| {
                    if let Some(c) = &mut p.materials[1].chain_of_custody {
                        c.valid_until = Some(date(2024, 5, 31));
                    }
                },
                "/materials/1/chainOfCustody/validUntil",
            ),
            (
                "recycled content above 1",
                |p| {
                    if let Some(c) = &mut p.circularity {
                        c.recycled_content = 1.2
                    }
                },
                "/circularity/recycledContent",
            ),
            (
                "recycled content above what materials hold",
                |p| {
                    if let Some(c) = &mut p.circularity {
                        c.recycled_content = 0.35
                    }
                },
                "/circularity/recycledContent",
            ),
            (
                "part is the passport itself",
                |p| p.parts[0].passport_id = p.id,
                "/parts/0/passportId",
            ),
            (
                "updated before issued",
                |p| p.updated_at = p.issued_at - Duration::seconds(1),
                "/updatedAt",
            ),
            (
                "CAS check digit",
                |p| {
                    p.materials[2].substances_of_concern = vec![SubstanceOfConcern {
                        cas_number: "117-81-8".into(),
                        concentration: 0.001,
                        name: "DEHP, mistyped".into(),
                    }];
                },
                "/materials/2/substancesOfConcern/0/casNumber",
            ),
        ];
        for (what, break_it, pointer) in cases {
            let mut p = fixtures::pp_new_bumper();
            break_it(&mut p);
            let violations = check_passport(&p);
            assert_eq!(pointers(&violations), [pointer], "{what}: {violations:?}");
        }
    }

    #[test]
    fn tolerances_accept_rounding() {
        let mut p = fixtures::pp_new_bumper();
        // 0.1 + 0.2 + 0.3 + 0.4 is 1.0000000000000002 in doubles: still 1.
        for (m, f) in p.materials.iter_mut().zip([0.1, 0.2, 0.3, 0.4]) {
            m.mass_fraction = f;
        }
        p.materials[0].recycled_share = RecycledShare {
            post_consumer: 0.1,
            pre_consumer: 0.9,
        };
        if let Some(c) = &mut p.circularity {
            c.recycled_content = 0.1;
        }
        if let Some(cf) = &mut p.carbon_footprint {
            cf.total = cf.stages.sum() * (1.0 + 5e-7);
        }
        assert_eq!(check_passport(&p), Vec::new());
        if let Some(cf) = &mut p.carbon_footprint {
            cf.total = cf.stages.sum() * (1.0 + 5e-6);
        }
        assert_eq!(pointers(&check_passport(&p)), ["/carbonFootprint/total"]);
    }

    #[test]
    fn several_violations_are_all_reported() {
        let mut p = fixtures::abs_housing();
        p.materials[0].mass_fraction = 0.95;
        p.materials[0].substances_of_concern[0].cas_number = "117-81-6".into();
        p.parts = vec![PartRef {
            passport_id: p.id,
            quantity: 1.0,
            unit: None,
        }];
        let violations = check_passport(&p);
        assert_eq!(
            pointers(&violations),
            [
                "/materials/0/substancesOfConcern/0/casNumber",
                "/materials",
                "/parts/0/passportId"
            ]
        );
    }

    fn event(i: usize) -> TraceEvent {
        fixtures::trace_events().remove(i)
    }

    #[test]
    fn trace_event_rules() {
        type Break = fn(&mut TraceEvent);
        // 0 collection (Object), 1 sorting (Transformation), 3 shipment (Transaction)
        let cases: Vec<(usize, &str, Break, Vec<&str>)> = vec![
            (
                1,
                "transformation with an action",
                |e| e.action = Some(EventAction::Add),
                vec!["/action"],
            ),
            (
                1,
                "transformation with an epcList",
                |e| e.epc_list = vec!["urn:x:1".into()],
                vec!["/epcList"],
            ),
            (
                1,
                "transformation with a parent",
                |e| e.parent_id = Some("urn:x:p".into()),
                vec!["/parentID"],
            ),
            (
                1,
                "transformation without inputs or outputs",
                |e| {
                    e.input_epc_list.clear();
                    e.input_quantity_list.clear();
                    e.output_epc_list.clear();
                    e.output_quantity_list.clear();
                },
                vec!["/inputEPCList"],
            ),
            (
                0,
                "object event without action",
                |e| e.action = None,
                vec!["/action"],
            ),
            (
                0,
                "object event without objects",
                |e| {
                    e.epc_list.clear();
                    e.quantity_list.clear();
                },
                vec!["/epcList"],
            ),
            (
                0,
                "object event with inputs",
                |e| e.input_epc_list = vec!["urn:x:1".into()],
                vec!["/inputEPCList"],
            ),
            (
                0,
                "object event with children",
                |e| e.child_epcs = vec!["urn:x:1".into()],
                vec!["/childEPCs"],
            ),
            (
                0,
                "object event with a transformation id",
                |e| e.transformation_id = Some("urn:x:t".into()),
                vec!["/transformationID"],
            ),
            (
                3,
                "transaction without business transactions",
                |e| e.biz_transaction_list.clear(),
                vec!["/bizTransactionList"],
            ),
            (
                3,
                "transaction with outputs",
                |e| e.output_epc_list = vec!["urn:x:1".into()],
                vec!["/outputEPCList"],
            ),
            (
                0,
                "aggregation without parent or children",
                |e| {
                    e.event_type = EventType::AggregationEvent;
                    e.epc_list.clear();
                    e.quantity_list.clear();
                },
                vec!["/parentID", "/childEPCs"],
            ),
            (
                0,
                "aggregation with an epcList",
                |e| {
                    e.event_type = EventType::AggregationEvent;
                    e.parent_id = Some("urn:epc:id:sscc:4569951.0000000001".into());
                    e.quantity_list.clear();
                },
                vec!["/epcList", "/childEPCs"],
            ),
            (
                0,
                "offset differs from eventTime",
                |e| e.event_time_zone_offset = "+01:00".into(),
                vec!["/eventTimeZoneOffset"],
            ),
            (
                0,
                "offset written differently",
                |e| e.event_time_zone_offset = "+0900".into(),
                vec!["/eventTimeZoneOffset"],
            ),
            (
                1,
                "hash not hex",
                |e| e.previous_event_hashes = vec!["Z".repeat(64)],
                vec!["/previousEventHashes/0"],
            ),
            (
                1,
                "negative quantity",
                |e| e.output_quantity_list[0].quantity = -1.0,
                vec!["/outputQuantityList/0/quantity"],
            ),
        ];
        for (i, what, break_it, expected) in cases {
            let mut e = event(i);
            break_it(&mut e);
            let violations = check_trace_event(&e);
            assert_eq!(pointers(&violations), expected, "{what}: {violations:?}");
        }
    }

    #[test]
    fn offsets_are_compared_by_value() {
        let mut e = event(0);
        let west = FixedOffset::west_opt(5 * 3600 + 30 * 60).expect("offset");
        e.event_time = e.event_time.with_timezone(&west);
        e.event_time_zone_offset = "-05:30".into();
        assert_eq!(check_trace_event(&e), Vec::new());
        e.event_time = e
            .event_time
            .with_timezone(&FixedOffset::east_opt(0).expect("utc"));
        e.event_time_zone_offset = "+00:00".into();
        assert_eq!(check_trace_event(&e), Vec::new());
        e.event_time_zone_offset = "-00:00".into();
        assert_eq!(pointers(&check_trace_event(&e)), ["/eventTimeZoneOffset"]);
    }

    #[test]
    fn aggregation_that_is_valid_passes() {
        let mut e = event(0);
        e.event_type = EventType::AggregationEvent;
        e.epc_list.clear();
        e.quantity_list.clear();
        e.parent_id = Some("urn:epc:id:sscc:4569951.0000000001".into());
        e.child_epcs = vec![fixtures::ids::PP_PELLETS.to_string()];
        assert_eq!(check_trace_event(&e), Vec::new());
    }

    #[test]
    fn collection_record_rules() {
        let mut r = fixtures::collection_records().remove(0);
        // Exactly the collected weight is fine.
        r.entries[0].disposal_kg += r.entries[0].collected_kg
            - (r.entries[0].reused_parts_kg
                + r.entries[0].material_recycling_kg
                + r.entries[0].thermal_recycling_kg
                + r.entries[0].disposal_kg);
        assert_eq!(check_collection_record(&r), Vec::new());
        r.entries[0].disposal_kg += 0.5;
        assert_eq!(pointers(&check_collection_record(&r)), ["/entries/0"]);
        r.entries[0].disposal_kg -= 0.5;
        r.entries[2].category = "pet-bottles".into();
        let violations = check_collection_record(&r);
        assert_eq!(pointers(&violations), ["/entries/2/category"]);
        assert!(violations[0].message.contains("pet-bottles"));
    }
}
