//! Seed data (`--seed-data`): a recycler and a car-parts maker, one plant each, a recycled-PP
//! pellet lot with its CFP and certificate, a bumper whose structure holds the pellets, and a
//! CFP request from the maker that the recycler has answered. Fixed ids, so docs and tests can
//! name them.

use serde_json::{Number, json};

use super::model::{
    Cfp, Dqr, Operator, OperatorAttribute, Part, Plant, PlantAttribute, RequestStatus, Status,
    Trade,
};
use super::store::Store;

/// Recycler (supplier): Kanto Polymer Recycling.
pub const RECYCLER_OPERATOR_ID: &str = "5e1f0c1a-7d3b-4c2e-9a10-000000000001";
/// Login of the recycler: `recycler@seed.example`.
pub const RECYCLER_ACCOUNT: (&str, &str) = ("recycler@seed.example", "Recycle2025");
/// Car-parts maker (customer): Tokai Auto Parts.
pub const MAKER_OPERATOR_ID: &str = "5e1f0c1a-7d3b-4c2e-9a10-000000000002";
/// Login of the maker: `maker@seed.example`.
pub const MAKER_ACCOUNT: (&str, &str) = ("maker@seed.example", "Bumper2025");
/// The recycler's pellet plant.
pub const RECYCLER_PLANT_ID: &str = "5e1f0c1a-7d3b-4c2e-9a10-0000000000a1";
/// The maker's moulding plant.
pub const MAKER_PLANT_ID: &str = "5e1f0c1a-7d3b-4c2e-9a10-0000000000a2";
/// Recycled PP pellet lot (recycler's part, terminated: no further upstream).
pub const PELLET_TRACE_ID: &str = "5e1f0c1a-7d3b-4c2e-9a10-0000000000b1";
/// Front bumper (maker's parent part).
pub const BUMPER_TRACE_ID: &str = "5e1f0c1a-7d3b-4c2e-9a10-0000000000b2";
/// The pellets as the maker's child part of the bumper.
pub const BUMPER_PELLET_TRACE_ID: &str = "5e1f0c1a-7d3b-4c2e-9a10-0000000000b3";
/// CFP of the pellet lot.
pub const PELLET_CFP_ID: &str = "5e1f0c1a-7d3b-4c2e-9a10-0000000000c1";
/// The maker's CFP request to the recycler (answered).
pub const SEED_TRADE_ID: &str = "5e1f0c1a-7d3b-4c2e-9a10-0000000000d1";
/// Status of that request.
pub const SEED_STATUS_ID: &str = "5e1f0c1a-7d3b-4c2e-9a10-0000000000d2";

fn num(x: f64) -> Option<Number> {
    Number::from_f64(x)
}

fn part(
    (operator, plant): (&str, &str),
    trace: &str,
    name: &str,
    support: &str,
    label: &str,
    amount: Option<f64>,
    terminated: bool,
) -> Part {
    Part {
        amount_required: amount.and_then(num),
        amount_required_unit: Some("kilogram".into()),
        operator_id: operator.into(),
        parts_name: name.into(),
        plant_id: plant.into(),
        support_parts_name: Some(support.into()),
        terminated_flag: terminated,
        trace_id: Some(trace.into()),
        parts_label_name: Some(label.into()),
        parts_add_info1: Some("recycled content 100 % post-consumer".into()),
        parts_add_info2: Some("2025-03-01-2025-03-31".into()),
        parts_add_info3: None,
    }
}

fn cfp(cfp_type: &str, dqr_type: &str, ghg: f64, dqr: f64) -> Cfp {
    Cfp {
        cfp_id: Some(PELLET_CFP_ID.into()),
        trace_id: PELLET_TRACE_ID.into(),
        ghg_emission: num(ghg),
        ghg_declared_unit: "kgCO2e/kilogram".into(),
        cfp_type: cfp_type.into(),
        dqr_type: dqr_type.into(),
        dqr_value: Dqr {
            te_r: num(dqr),
            ge_r: num(dqr),
            ti_r: num(dqr),
        },
    }
}

/// Adds the seed data to `store`.
pub(crate) fn seed(store: &mut Store) {
    store.seed_operator(
        Operator {
            operator_id: RECYCLER_OPERATOR_ID.into(),
            open_operator_id: "1010001000001".into(),
            operator_name: "Kanto Polymer Recycling K.K.".into(),
            operator_address: "2-8 Minato, Chiba-shi, Chiba".into(),
            operator_attribute: OperatorAttribute {
                global_operator_id: Some("4569951116179".into()),
            },
        },
        RECYCLER_ACCOUNT,
    );
    store.seed_operator(
        Operator {
            operator_id: MAKER_OPERATOR_ID.into(),
            open_operator_id: "1180001000002".into(),
            operator_name: "Tokai Auto Parts K.K.".into(),
            operator_address: "5-1 Atsuta, Nagoya-shi, Aichi".into(),
            operator_attribute: OperatorAttribute::default(),
        },
        MAKER_ACCOUNT,
    );
    store.seed_plant(Plant {
        plant_id: Some(RECYCLER_PLANT_ID.into()),
        operator_id: RECYCLER_OPERATOR_ID.into(),
        open_plant_id: "CHIBA-PELLET-000101".into(),
        plant_name: "Chiba pellet plant".into(),
        plant_address: "2-8 Minato, Chiba-shi, Chiba".into(),
        plant_attribute: PlantAttribute::default(),
    });
    store.seed_plant(Plant {
        plant_id: Some(MAKER_PLANT_ID.into()),
        operator_id: MAKER_OPERATOR_ID.into(),
        open_plant_id: "NAGOYA-MOULD-000201".into(),
        plant_name: "Nagoya moulding plant".into(),
        plant_address: "5-1 Atsuta, Nagoya-shi, Aichi".into(),
        plant_attribute: PlantAttribute::default(),
    });
    store.seed_part(
        part(
            (RECYCLER_OPERATOR_ID, RECYCLER_PLANT_ID),
            PELLET_TRACE_ID,
            "PP-R100-PELLET",
            "lot-2025-03",
            "Recycled PP pellets, black",
            None,
            true,
        ),
        false,
    );
    store.seed_part(
        part(
            (MAKER_OPERATOR_ID, MAKER_PLANT_ID),
            BUMPER_TRACE_ID,
            "BUMPER-FR-01",
            "recycled-pp-30",
            "Front bumper, 30 % recycled PP",
            None,
            false,
        ),
        false,
    );
    store.seed_part(
        part(
            (MAKER_OPERATOR_ID, MAKER_PLANT_ID),
            BUMPER_PELLET_TRACE_ID,
            "PP-R100-PELLET-IN",
            "kanto-lot-2025-03",
            "Recycled PP pellets (bought)",
            Some(1.2),
            false,
        ),
        true,
    );
    store.seed_structure(
        BUMPER_TRACE_ID,
        vec![(BUMPER_PELLET_TRACE_ID.into(), num(1.2))],
    );
    store.seed_cfp(
        PELLET_TRACE_ID,
        vec![
            cfp("preProduction", "preProcessing", 0.35, 1.5),
            cfp("mainProduction", "mainProcessing", 0.42, 1.8),
            cfp("preComponent", "preProcessing", 0.0, 1.5),
            cfp("mainComponent", "mainProcessing", 0.0, 1.8),
        ],
    );
    store.seed_certification(
        PELLET_TRACE_ID,
        json!({
            "cfpCertificationId": "5e1f0c1a-7d3b-4c2e-9a10-0000000000e1",
            "traceId": PELLET_TRACE_ID,
            "cfpCertificationDescription": "Third-party verified per ISO 14067",
            "cfpCertificationFileInfo": [{
                "operatorId": RECYCLER_OPERATOR_ID,
                "fileId": "5e1f0c1a-7d3b-4c2e-9a10-0000000000f1",
                "fileName": "PP-R100-lot-2025-03-CFP.pdf"
            }]
        }),
    );
    let stamp = "2025-04-01T09:00:00Z".to_owned();
    store.seed_trade(
        Trade {
            downstream_operator_id: MAKER_OPERATOR_ID.into(),
            downstream_trace_id: BUMPER_PELLET_TRACE_ID.into(),
            trade_id: Some(SEED_TRADE_ID.into()),
            upstream_operator_id: RECYCLER_OPERATOR_ID.into(),
            upstream_trace_id: Some(PELLET_TRACE_ID.into()),
        },
        Status {
            message: Some("Please send the CFP of lot 2025-03.".into()),
            reply_message: None,
            request_status: RequestStatus {
                cfp_response_status: Some("COMPLETED".into()),
                trade_tree_status: Some("TERMINATED".into()),
                completed_count: Some(1.into()),
                completed_count_modified_at: Some(stamp.clone()),
                trades_count: Some(1.into()),
                trades_count_modified_at: Some(stamp),
            },
            request_type: "CFP".into(),
            status_id: Some(SEED_STATUS_ID.into()),
            trade_id: Some(SEED_TRADE_ID.into()),
            response_due_date: Some("2025-04-30".into()),
        },
    );
}

#[cfg(test)]
mod tests {
    use dpp_schemas::wire::ouranos::{Method, Target, ouranos};

    use super::*;

    #[test]
    fn seed_records_are_valid_wire_bodies() {
        let s = ouranos();
        let pellet = part(
            (RECYCLER_OPERATOR_ID, RECYCLER_PLANT_ID),
            PELLET_TRACE_ID,
            "PP-R100-PELLET",
            "lot",
            "x",
            None,
            true,
        );
        s.validate_request(
            Target::Parts,
            Method::Put,
            &serde_json::to_value(&pellet).unwrap(),
        )
        .unwrap();
        let set = vec![
            cfp("preProduction", "preProcessing", 0.35, 1.5),
            cfp("mainProduction", "mainProcessing", 0.42, 1.8),
            cfp("preComponent", "preProcessing", 0.0, 1.5),
            cfp("mainComponent", "mainProcessing", 0.0, 1.8),
        ];
        s.validate_request(
            Target::Cfp,
            Method::Put,
            &serde_json::to_value(&set).unwrap(),
        )
        .unwrap();
    }
}
