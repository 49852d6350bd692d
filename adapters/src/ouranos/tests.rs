//! Mapping tests: every fixture round-trips to exactly its carried subset, every body we would
//! send validates against the published schema, and the spec's limits are handled as documented.

use chrono::{DateTime, Utc};
use dpp_schemas::fixtures::{all_passports, pp_new_bumper, pp_pellets};
use dpp_schemas::wire::ouranos::{MAX_CHILDREN, Method, Target, ouranos};
use dpp_schemas::{DataQuality, Material, PartRef, Passport, UrnUuid};
use serde_json::Value;
use uuid::Uuid;

use super::mapping::*;
use crate::contract::{AdapterError, PassportReference};

const JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJ4IjoxfQ.c2ln";

fn ids() -> OuranosIds {
    OuranosIds {
        operator_id: Uuid::parse_str("d9a38406-cae2-4679-b052-15a75f5531e8").unwrap(),
        plant_id: Uuid::parse_str("d9a38406-cae2-4679-b052-15a75f5531e7").unwrap(),
    }
}

fn fallback() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z")
        .unwrap()
        .to_utc()
}

fn fake_trace(seed: &str) -> String {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, seed.as_bytes()).to_string()
}

fn validate(target: Target, body: &Value) {
    if let Err(v) = ouranos().validate_request(target, Method::Put, body) {
        panic!("{target} body breaks the schema: {v:#?}\n{body:#}");
    }
}

/// What the remote would store: traceIds numbered, every body validated on the way.
fn through_the_wire(passport: &Passport) -> (Passport, Option<PassportReference>) {
    let reference = PassportReference::of(passport, JWS);
    let wire = to_wire(passport, &reference, &ids()).unwrap();
    let plan = plan_structures(&wire).unwrap();
    let mut top = plan.top.clone();
    top.parent_parts_model.trace_id = Some(fake_trace("parent"));
    validate(Target::PartsStructure, &serde_json::to_value(&top).unwrap());
    let mut leaves = Vec::new();
    if plan.groups.is_empty() {
        leaves = top.children_parts_model.clone();
    }
    for mut group in plan.groups {
        group.parent_parts_model.trace_id = Some(fake_trace("group"));
        validate(
            Target::PartsStructure,
            &serde_json::to_value(&group).unwrap(),
        );
        leaves.extend(group.children_parts_model);
    }
    for (i, leaf) in leaves.iter_mut().enumerate() {
        leaf.trace_id = Some(fake_trace(&i.to_string()));
    }
    let mut cfp = wire.cfp.clone().unwrap_or_default();
    for e in &mut cfp {
        e.trace_id = top.parent_parts_model.trace_id.clone().unwrap();
    }
    if wire.cfp.is_some() {
        validate(Target::Cfp, &serde_json::to_value(&cfp).unwrap());
    }
    from_wire(&top.parent_parts_model, &leaves, &cfp, fallback()).unwrap()
}

#[test]
fn every_fixture_round_trips_to_its_carried_subset() {
    let passports = all_passports();
    assert!(passports.len() >= 5);
    for passport in passports {
        let (back, reference) = through_the_wire(&passport);
        assert_eq!(
            back,
            carried_subset(&passport, &ids()),
            "{}",
            passport.product.name
        );
        let reference = reference.expect("our records carry the reference");
        assert!(reference.verifies(JWS));
        assert_eq!(
            (reference.passport_id, reference.version),
            (passport.id, passport.version)
        );
    }
}

#[test]
fn the_bumper_maps_as_the_readme_says() {
    let bumper = pp_new_bumper();
    let wire = to_wire(&bumper, &PassportReference::of(&bumper, JWS), &ids()).unwrap();
    assert_eq!(wire.parent.parts_name, "gtin:04569951116175");
    assert_eq!(
        wire.parent.support_parts_name.as_deref(),
        Some("FB-XJ5-250210-A")
    );
    assert_eq!(
        wire.parent
            .parts_label_name
            .as_ref()
            .unwrap()
            .chars()
            .count(),
        50
    );
    assert_eq!(
        wire.parent.parts_add_info1.as_deref(),
        Some(bumper.id.to_string().as_str())
    );
    let period = &bumper.carbon_footprint.as_ref().unwrap().reference_period;
    assert_eq!(
        wire.parent.parts_add_info2.as_deref(),
        Some(
            format!(
                "v1;JP;20250210T070000Z;{}-{}",
                period.start.format("%Y%m%d"),
                period.end.format("%Y%m%d")
            )
            .as_str()
        )
    );
    let info3 = wire.parent.parts_add_info3.as_deref().unwrap();
    assert!(info3.starts_with("sha256:") && info3.len() == 50, "{info3}");
    // 4 materials then 1 child passport.
    assert_eq!(wire.children.len(), 5);
    assert_eq!(wire.children[0].parts_name, "PP+EPDM-T15");
    assert_eq!(wire.children[0].amount_required, Some(1.26));
    assert_eq!(
        wire.children[0].amount_required_unit.as_deref(),
        Some("kilogram")
    );
    assert_eq!(
        wire.children[0].parts_add_info2.as_deref(),
        Some("mf=0.3;pre=0;post=0.97")
    );
    assert_eq!(
        wire.children[4].parts_name,
        bumper.parts[0].passport_id.to_string()
    );
    // Stages 6.1 + 2.3 → preProduction, 3.4 → mainProduction, distribution/end of life dropped.
    let cfp = wire.cfp.unwrap();
    let by_type = |t: &str| cfp.iter().find(|c| c.cfp_type == t).unwrap();
    assert_eq!(by_type("preProduction").ghg_emission, Some(8.4));
    assert_eq!(by_type("mainProduction").ghg_emission, Some(3.4));
    assert_eq!(by_type("preComponent").ghg_emission, Some(0.0));
    assert_eq!(by_type("mainComponent").ghg_emission, Some(0.0));
    assert!(cfp.iter().all(|c| c.ghg_declared_unit == "kgCO2e/unit"));
    let dq = bumper
        .carbon_footprint
        .as_ref()
        .unwrap()
        .data_quality
        .unwrap();
    assert_eq!(
        by_type("mainProduction").dqr_value.ter,
        Some(f64::from(dq.technological))
    );
    assert_eq!(by_type("preComponent").dqr_type, "preProcessing");
    let carried = carried_subset(&bumper, &ids());
    let stages = &carried.carbon_footprint.as_ref().unwrap().stages;
    assert_eq!(
        (stages.distribution, stages.end_of_life, stages.processing),
        (0.0, 0.0, 0.0)
    );
    assert_eq!(carried.carbon_footprint.unwrap().total, 11.8);
}

#[test]
fn ghg_values_are_rounded_up_at_the_sixth_decimal() {
    assert_eq!(ceil_decimals(1.123451), 1.12346);
    assert_eq!(ceil_decimals(1.12345), 1.12345);
    assert_eq!(ceil_decimals(0.1), 0.1);
    assert_eq!(ceil_decimals(6.1 + 2.3), 8.4);
    assert_eq!(ceil_decimals(f64::from_bits(8.4f64.to_bits() + 1)), 8.4);
    assert_eq!(ceil_decimals(0.0000001), 0.00001);
    assert_eq!(ceil_decimals(99999.999991), 100000.0);
    let mut pellets = pp_pellets();
    let f = pellets.carbon_footprint.as_mut().unwrap();
    f.stages.main_production = 0.1234561;
    let wire = to_wire(&pellets, &PassportReference::of(&pellets, JWS), &ids()).unwrap();
    let mut cfp = wire.cfp.unwrap();
    for e in &mut cfp {
        e.trace_id = fake_trace("p");
    }
    assert_eq!(cfp[1].ghg_emission, Some(0.12346));
    validate(Target::Cfp, &serde_json::to_value(&cfp).unwrap());
}

#[test]
fn values_ouranos_cannot_hold_are_mapping_errors() {
    let mut big = pp_pellets();
    big.carbon_footprint
        .as_mut()
        .unwrap()
        .stages
        .main_production = 100_000.0;
    let err = to_wire(&big, &PassportReference::of(&big, JWS), &ids()).unwrap_err();
    assert!(
        matches!(&err, AdapterError::Mapping { field, .. } if field.contains("mainProduction")),
        "{err}"
    );
    let mut odd = pp_new_bumper();
    odd.parts[0].unit = Some("barrel".into());
    let err = to_wire(&odd, &PassportReference::of(&odd, JWS), &ids()).unwrap_err();
    assert!(
        matches!(&err, AdapterError::Mapping { field, .. } if field == "parts[0].unit"),
        "{err}"
    );
}

#[test]
fn a_rating_without_emission_in_its_stage_is_zeroed_as_the_spec_demands() {
    let mut p = pp_pellets();
    let f = p.carbon_footprint.as_mut().unwrap();
    f.stages.raw_material_extraction = 0.0;
    f.stages.processing = 0.0;
    f.data_quality = Some(DataQuality {
        geographical: 2,
        technological: 3,
        temporal: 1,
    });
    let wire = to_wire(&p, &PassportReference::of(&p, JWS), &ids()).unwrap();
    let cfp = wire.cfp.unwrap();
    assert_eq!(cfp[0].dqr_value.ter, Some(0.0));
    assert_eq!(cfp[1].dqr_value.ter, Some(3.0));
    let (back, _) = through_the_wire(&p);
    assert_eq!(back.carbon_footprint.unwrap().data_quality, f_dq(&p));
}

fn f_dq(p: &Passport) -> Option<DataQuality> {
    p.carbon_footprint.as_ref().unwrap().data_quality
}

fn many_children(materials: usize, parts: usize) -> Passport {
    let mut p = pp_new_bumper();
    let template = p.materials[0].clone();
    p.materials = (0..materials)
        .map(|i| Material {
            name: format!("additive {i}"),
            mass_fraction: 1.0 / materials as f64,
            ..template.clone()
        })
        .collect();
    p.parts = (0..parts)
        .map(|i| PartRef {
            passport_id: UrnUuid(Uuid::new_v5(&Uuid::NAMESPACE_OID, &[i as u8])),
            quantity: i as f64 + 0.5,
            unit: None,
        })
        .collect();
    p
}

#[test]
fn more_than_fifty_children_are_split_into_groups_and_come_back_in_order() {
    let p = many_children(110, 7);
    let wire = to_wire(&p, &PassportReference::of(&p, JWS), &ids()).unwrap();
    let plan = plan_structures(&wire).unwrap();
    assert_eq!(plan.groups.len(), 3);
    assert_eq!(plan.top.children_parts_model.len(), 3);
    assert!(plan.top.children_parts_model.iter().all(is_group));
    assert!(
        plan.groups
            .iter()
            .all(|g| g.children_parts_model.len() <= MAX_CHILDREN)
    );
    assert!(
        plan.groups
            .iter()
            .all(|g| g.parent_parts_model.amount_required.is_none())
    );
    let (back, _) = through_the_wire(&p);
    assert_eq!(back, carried_subset(&p, &ids()));
    assert_eq!(back.materials.len(), 110);
    assert_eq!(back.parts.len(), 7);
    // Exactly 50 stay flat.
    let flat = many_children(50, 0);
    let wire = to_wire(&flat, &PassportReference::of(&flat, JWS), &ids()).unwrap();
    assert!(plan_structures(&wire).unwrap().groups.is_empty());
    // Beyond 50 × 50 Ouranos cannot hold the tree.
    let huge = many_children(2501, 0);
    let wire = to_wire(&huge, &PassportReference::of(&huge, JWS), &ids()).unwrap();
    assert!(matches!(
        plan_structures(&wire),
        Err(AdapterError::Mapping { .. })
    ));
}

#[test]
fn a_foreign_record_maps_with_documented_defaults() {
    let parent = PartsModel {
        amount_required: None,
        amount_required_unit: Some("kilogram".into()),
        operator_id: "b39e6248-c888-56ca-d9d0-89de1b1adc8e".into(),
        parts_name: "B01".into(),
        plant_id: "eedf264e-cace-4414-8bd3-e10ce1c9b8ab".into(),
        support_parts_name: Some("modelA".into()),
        terminated_flag: false,
        trace_id: Some("2680ed32-19a3-435b-a094-23ff43aaa611".into()),
        parts_label_name: Some("PartsB".into()),
        parts_add_info1: Some("Ver3.0".into()),
        parts_add_info2: Some("2024-12-01-2024-12-31".into()),
        parts_add_info3: None,
    };
    let mut child = parent.clone();
    child.parts_name = "B01001".into();
    child.amount_required = Some(2.5);
    child.support_parts_name = None;
    let (p, reference) = from_wire(&parent, &[child], &[], fallback()).unwrap();
    assert_eq!(reference, None);
    assert_eq!(p.product.country, UNKNOWN_COUNTRY);
    assert_eq!(p.product.ids[0].scheme, PARTS_NAME_SCHEME);
    assert_eq!(p.product.batch.as_deref(), Some("modelA"));
    assert_eq!(p.issuer.operator_id, parent.operator_id);
    assert_eq!(p.updated_at, fallback());
    assert_eq!(p.materials[0].polymer, "B01001");
    assert_eq!(p.materials[0].mass.as_ref().unwrap().value, 2.5);
    assert_eq!(p.carbon_footprint, None);
    // The id is derived from the traceId, so every fetch of it gives the same passport id.
    let (again, _) = from_wire(&parent, &[], &[], fallback()).unwrap();
    assert_eq!(again.id, p.id);
}

#[test]
fn a_cfp_of_another_part_or_with_a_repeated_type_is_refused() {
    let passport = pp_pellets();
    let reference = PassportReference::of(&passport, JWS);
    let wire = to_wire(&passport, &reference, &ids()).unwrap();
    let plan = plan_structures(&wire).unwrap();
    let mut top = plan.top.clone();
    let parent = fake_trace("parent");
    top.parent_parts_model.trace_id = Some(parent.clone());
    let mut cfp = wire.cfp.clone().unwrap();
    for e in &mut cfp {
        e.trace_id = parent.clone();
    }
    let leaves = top.children_parts_model.clone();
    assert!(from_wire(&top.parent_parts_model, &leaves, &cfp, fallback()).is_ok());

    // Every element twice would sum to a doubled footprint.
    let doubled: Vec<CfpModel> = cfp.iter().chain(cfp.iter()).cloned().collect();
    let err = from_wire(&top.parent_parts_model, &leaves, &doubled, fallback()).unwrap_err();
    assert!(err.to_string().contains("more than once"), "{err}");

    // An element naming another part is not this part's footprint.
    let mut foreign = cfp.clone();
    foreign[0].trace_id = fake_trace("someone-else");
    let err = from_wire(&top.parent_parts_model, &leaves, &foreign, fallback()).unwrap_err();
    assert!(err.to_string().contains("element of part"), "{err}");
    assert!(!err.is_retryable());
}
