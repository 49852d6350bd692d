//! The hand-written schemas and the serde types describe the same documents: every property a
//! type can write is in its schema and nothing else, a property is `required` in the schema
//! exactly when serde cannot do without it, and the schema enums list exactly the serde variants.

use dpp_schemas::{
    CollectionRecord, CustodyModel, DeclaredUnit, EventAction, EventType, MassUnit, Passport,
    SchemaKind, SchemaRegistry, TraceEvent, fixtures, schema_document,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn schema(file: &str) -> Value {
    serde_json::from_str(schema_document(file).expect("bundled schema")).expect("json")
}

/// A passport carrying every optional field somewhere.
fn maximal_passport() -> Value {
    let mut p = fixtures::pp_new_bumper();
    let abs = fixtures::abs_housing();
    p.materials[0].properties = abs.materials[0].properties.clone();
    p.materials[0].substances_of_concern = abs.materials[0].substances_of_concern.clone();
    serde_json::to_value(p).expect("serialises")
}

/// A trace event carrying every field (not a valid event for any one type, but serde does not
/// care, and this is about field names).
fn maximal_trace_event() -> Value {
    let mut e = serde_json::to_value(&fixtures::trace_events()[1]).expect("serialises");
    let shipment = serde_json::to_value(&fixtures::trace_events()[3]).expect("serialises");
    let extra = json!({
        "action": "ADD",
        "bizTransactionList": shipment["bizTransactionList"],
        "childEPCs": ["urn:epc:id:sgtin:4569951.011617.1"],
        "childQuantityList": shipment["quantityList"],
        "epcList": shipment["epcList"],
        "parentID": "urn:epc:id:sscc:4569951.0000000001",
        "quantityList": shipment["quantityList"],
        "transformationID": "urn:uuid:01933a6e-4800-7000-b000-000000003001"
    });
    for (k, v) in extra.as_object().expect("object") {
        e[k] = v.clone();
    }
    e
}

/// (object in the example, schema file, pointer to its schema inside the file)
const PASSPORT_OBJECTS: &[(&str, &str, &str)] = &[
    ("", "passport", ""),
    ("/issuer", "passport", "/$defs/issuer"),
    ("/product", "passport", "/$defs/product"),
    ("/product/facility", "common", "/$defs/facility"),
    ("/product/ids/0", "passport", "/$defs/productIdentifier"),
    ("/parts/0", "passport", "/$defs/partRef"),
    ("/materials/0", "material", ""),
    (
        "/materials/0/recycledShare",
        "material",
        "/$defs/recycledShare",
    ),
    (
        "/materials/0/chainOfCustody",
        "material",
        "/$defs/chainOfCustody",
    ),
    (
        "/materials/0/substancesOfConcern/0",
        "material",
        "/$defs/substanceOfConcern",
    ),
    (
        "/materials/0/properties/0",
        "material",
        "/$defs/materialProperty",
    ),
    ("/materials/0/mass", "common", "/$defs/mass"),
    ("/carbonFootprint", "carbon-footprint", ""),
    (
        "/carbonFootprint/dataQuality",
        "carbon-footprint",
        "/properties/dataQuality",
    ),
    (
        "/carbonFootprint/referencePeriod",
        "carbon-footprint",
        "/properties/referencePeriod",
    ),
    (
        "/carbonFootprint/stages",
        "carbon-footprint",
        "/properties/stages",
    ),
    ("/circularity", "circularity", ""),
];

const TRACE_EVENT_OBJECTS: &[(&str, &str, &str)] = &[
    ("", "trace-event", ""),
    ("/readPoint", "trace-event", "/$defs/location"),
    ("/quantityList/0", "trace-event", "/$defs/quantityElement"),
    (
        "/bizTransactionList/0",
        "trace-event",
        "/$defs/bizTransaction",
    ),
];

const COLLECTION_RECORD_OBJECTS: &[(&str, &str, &str)] = &[
    ("", "collection-record", ""),
    ("/entries/0", "collection-record", "/$defs/entry"),
    ("/facility", "common", "/$defs/facility"),
];

fn check_objects<T: DeserializeOwned>(example: &Value, objects: &[(&str, &str, &str)]) {
    assert!(
        serde_json::from_value::<T>(example.clone()).is_ok(),
        "example parses"
    );
    for (at, file, schema_pointer) in objects {
        let doc = schema(file);
        let object_schema = doc.pointer(schema_pointer).expect("schema location");
        let mut declared: Vec<&String> = object_schema["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{file}{schema_pointer} lists properties"))
            .keys()
            .collect();
        declared.sort();
        let instance = example
            .pointer(at)
            .unwrap_or_else(|| panic!("example has {at}"));
        let mut written: Vec<&String> = instance.as_object().expect("object").keys().collect();
        written.sort();
        assert_eq!(
            declared, written,
            "{file}{schema_pointer} vs serde at {at:?}"
        );
        assert_eq!(
            object_schema["additionalProperties"],
            json!(false),
            "{file}{schema_pointer} is closed"
        );

        let required: Vec<&str> = object_schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for name in declared {
            let mut broken = example.clone();
            broken
                .pointer_mut(at)
                .and_then(Value::as_object_mut)
                .expect("object")
                .remove(name.as_str());
            let serde_requires = serde_json::from_value::<T>(broken).is_err();
            assert_eq!(
                serde_requires,
                required.contains(&name.as_str()),
                "{at}/{name}: serde requires it = {serde_requires}, schema requires it = {}",
                !serde_requires
            );
        }
    }
}

#[test]
fn passport_schemas_match_the_serde_types() {
    let example = maximal_passport();
    check_objects::<Passport>(&example, PASSPORT_OBJECTS);
}

#[test]
fn trace_event_schema_matches_the_serde_type() {
    check_objects::<TraceEvent>(&maximal_trace_event(), TRACE_EVENT_OBJECTS);
}

#[test]
fn collection_record_schema_matches_the_serde_type() {
    let example = serde_json::to_value(&fixtures::collection_records()[0]).expect("serialises");
    check_objects::<CollectionRecord>(&example, COLLECTION_RECORD_OBJECTS);
}

fn names<T: serde::Serialize>(variants: &[T]) -> Vec<Value> {
    let mut v: Vec<Value> = variants
        .iter()
        .map(|x| serde_json::to_value(x).expect("variant"))
        .collect();
    v.sort_by_key(|x| x.to_string());
    v
}

fn schema_enum(file: &str, pointer: &str) -> Vec<Value> {
    let mut v = schema(file)
        .pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{file}{pointer} is an enum"))
        .clone();
    v.sort_by_key(|x| x.to_string());
    v
}

#[test]
fn schema_enums_list_exactly_the_serde_variants() {
    use DeclaredUnit::*;
    assert_eq!(
        schema_enum("carbon-footprint", "/properties/declaredUnit/enum"),
        names(&[
            Kilogram,
            Liter,
            CubicMeter,
            SquareMeter,
            KilowattHour,
            Megajoule,
            TonKilometer,
            Piece
        ])
    );
    use CustodyModel::*;
    assert_eq!(
        schema_enum("material", "/$defs/chainOfCustody/properties/model/enum"),
        names(&[
            IdentityPreserved,
            Segregated,
            ControlledBlending,
            MassBalance,
            BookAndClaim
        ])
    );
    assert_eq!(
        schema_enum("common", "/$defs/mass/properties/unit/enum"),
        names(&[MassUnit::Gram, MassUnit::Kilogram, MassUnit::Tonne])
    );
    assert_eq!(
        schema_enum("trace-event", "/properties/action/enum"),
        names(&[EventAction::Add, EventAction::Observe, EventAction::Delete])
    );
    assert_eq!(
        schema_enum("trace-event", "/properties/type/enum"),
        names(&[
            EventType::ObjectEvent,
            EventType::TransformationEvent,
            EventType::AggregationEvent,
            EventType::TransactionEvent
        ])
    );
}

#[test]
fn every_schema_is_served_and_every_fixture_validates_through_the_public_api() {
    let registry = SchemaRegistry::global();
    for kind in SchemaKind::all() {
        let doc: Value = serde_json::from_str(kind.schema_text()).expect("json");
        assert_eq!(doc["$id"].as_str(), Some(kind.id().as_str()));
    }
    for passport in fixtures::all_passports() {
        let value = serde_json::to_value(&passport).expect("serialises");
        assert_eq!(registry.parse_passport(&value), Ok(passport));
    }
    for event in fixtures::trace_events() {
        let value = serde_json::to_value(&event).expect("serialises");
        assert_eq!(registry.parse_trace_event(&value), Ok(event));
    }
}
