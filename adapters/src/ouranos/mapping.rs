//! Mapping between the canonical passport and the Ouranos models, both ways. Pure: no I/O.
//!
//! - the product is the **parent part** of a `partsStructure`; its materials and child passports
//!   are the **children** (more than 50 are split into group parts, see [`plan_structures`]);
//! - footprint stages become the four `cfp` elements sent together with one `cfpId`;
//! - data-quality ratings become `dqrValue` (`TeR`, `GeR`, `TiR`);
//! - a [`PassportReference`] to our signed passport rides in the parent's `partsAddInfo1..3`.
//!
//! What is rounded, truncated or lost is written down in `README.md` next to this file and
//! encoded once more, independently, in [`carried_subset`]; the tests prove both agree.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use dpp_schemas::wire::ouranos::{MAX_CHILDREN, MAX_DECIMALS, MAX_QUANTITY, dqr_type_for};
use dpp_schemas::{
    CarbonFootprint, DataQuality, DeclaredUnit, FootprintStages, Issuer, Mass, MassUnit, Material,
    PartRef, Passport, PassportId, Product, ProductIdentifier, RecycledShare, ReferencePeriod,
    UrnUuid,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::contract::{AdapterError, PassportReference};

/// Longest `partsName`, `supportPartsName`, `partsLabelName`, `partsAddInfo1..3`.
pub const MAX_TEXT: usize = 50;
/// `partsAddInfo1` of a group part made by [`plan_structures`].
pub const GROUP_MARKER: &str = "dpp:group";
/// Country used when a foreign record does not say (ISO 3166 user-assigned "unknown").
pub const UNKNOWN_COUNTRY: &str = "ZZ";
/// Scheme of a product id read from a foreign `partsName`.
pub const PARTS_NAME_SCHEME: &str = "ouranos-parts-name";
const DIGEST_PREFIX: &str = "sha256:";
const COMPACT_TIME: &str = "%Y%m%dT%H%M%SZ";
const COMPACT_DATE: &str = "%Y%m%d";

/// `traceability.PartsModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartsModel {
    /// Activity amount per unit of the parent (null on a parent).
    pub amount_required: Option<f64>,
    /// One of `AMOUNT_REQUIRED_UNITS`.
    pub amount_required_unit: Option<String>,
    /// Owner's operatorId.
    pub operator_id: String,
    /// Part item (1..=50).
    pub parts_name: String,
    /// Owner's plantId.
    pub plant_id: String,
    /// Auxiliary item distinguishing traceIds (0..=50).
    pub support_parts_name: Option<String>,
    /// Whether the trace ends here.
    pub terminated_flag: bool,
    /// Null to create.
    pub trace_id: Option<String>,
    /// Display name (0..=50).
    #[serde(default)]
    pub parts_label_name: Option<String>,
    /// Free supplementary information 1 (0..=50).
    #[serde(default)]
    pub parts_add_info1: Option<String>,
    /// Free supplementary information 2 (0..=50).
    #[serde(default)]
    pub parts_add_info2: Option<String>,
    /// Free supplementary information 3 (0..=50).
    #[serde(default)]
    pub parts_add_info3: Option<String>,
}

/// `traceability.PartsStructureModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartsStructureModel {
    /// The parent.
    pub parent_parts_model: PartsModel,
    /// 0..=50 children.
    pub children_parts_model: Vec<PartsModel>,
}

/// `dqrValue`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DqrValue {
    /// Technological representativeness.
    #[serde(rename = "TeR")]
    pub ter: Option<f64>,
    /// Geographical representativeness.
    #[serde(rename = "GeR")]
    pub ger: Option<f64>,
    /// Temporal representativeness.
    #[serde(rename = "TiR")]
    pub tir: Option<f64>,
}

impl DqrValue {
    const ZERO: DqrValue = DqrValue {
        ter: Some(0.0),
        ger: Some(0.0),
        tir: Some(0.0),
    };
}

/// `traceability.CfpModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CfpModel {
    /// Null to create.
    pub cfp_id: Option<String>,
    /// One of `CFP_TYPES`.
    pub cfp_type: String,
    /// One of `GHG_DECLARED_UNITS`.
    pub ghg_declared_unit: String,
    /// kg CO2e per declared unit, ≤ 5 decimals.
    pub ghg_emission: Option<f64>,
    /// The `dqrType` of the `cfpType`.
    pub dqr_type: String,
    /// The ratings.
    pub dqr_value: DqrValue,
    /// The part.
    pub trace_id: String,
}

/// `traceability.TradeModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TradeModel {
    /// The customer.
    pub downstream_operator_id: String,
    /// The customer's part.
    pub downstream_trace_id: String,
    /// Null to create.
    pub trade_id: Option<String>,
    /// The supplier.
    pub upstream_operator_id: String,
    /// The supplier's part, once it answered.
    pub upstream_trace_id: Option<String>,
}

/// `requestStatus` of a `StatusModel`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestStatus {
    /// `NOT_COMPLETED`, `COMPLETED`, `REJECT`, `CANCEL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cfp_response_status: Option<String>,
    /// `TERMINATED`, `UNTERMINATED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_tree_status: Option<String>,
    /// Answers completed upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_count: Option<f64>,
    /// Requests made upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trades_count: Option<f64>,
}

/// `traceability.StatusModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusModel {
    /// Request message (0..=1000).
    pub message: Option<String>,
    /// Rejection message (0..=1000).
    pub reply_message: Option<String>,
    /// Statuses.
    pub request_status: RequestStatus,
    /// Always `CFP`.
    pub request_type: String,
    /// Null to create.
    pub status_id: Option<String>,
    /// Null to create.
    pub trade_id: Option<String>,
    /// Wanted answer date (required on create although nullable).
    pub response_due_date: Option<NaiveDate>,
}

/// `traceability.TradeRequestModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TradeRequestModel {
    /// The status part.
    pub status_model: StatusModel,
    /// The trade part.
    pub trade_model: TradeModel,
}

/// `traceability.TradeResponseModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TradeResponseModel {
    /// The status part.
    pub status_model: StatusModel,
    /// The trade part.
    pub trade_model: TradeModel,
    /// The customer's part.
    pub parts_model: PartsModel,
}

/// Our identity in Ouranos, stamped on every part we write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OuranosIds {
    /// Our `operatorId`.
    pub operator_id: Uuid,
    /// Our `plantId`.
    pub plant_id: Uuid,
}

/// A passport in Ouranos terms, before traceIds are known.
#[derive(Debug, Clone, PartialEq)]
pub struct WirePassport {
    /// The product.
    pub parent: PartsModel,
    /// Materials, then child passports, in passport order (not yet split into groups).
    pub children: Vec<PartsModel>,
    /// The four CFP elements (`traceId` empty, `cfpId` null), if the passport has a footprint.
    pub cfp: Option<Vec<CfpModel>>,
}

/// The `partsStructure` bodies one passport needs.
#[derive(Debug, Clone, PartialEq)]
pub struct StructurePlan {
    /// The product and its children (or its group parts, when there are more than 50).
    pub top: PartsStructureModel,
    /// Each group part with its ≤ 50 children, PUT after `top` created the groups.
    pub groups: Vec<PartsStructureModel>,
}

/// Canonical → Ouranos.
pub fn to_wire(
    passport: &Passport,
    reference: &PassportReference,
    ids: &OuranosIds,
) -> Result<WirePassport, AdapterError> {
    let short = short_id(&passport.id);
    let declared_unit = passport.carbon_footprint.as_ref().map(|f| f.declared_unit);
    let parent = PartsModel {
        amount_required: None,
        amount_required_unit: Some(
            declared_unit
                .map(amount_unit_of_declared)
                .unwrap_or("unit")
                .to_owned(),
        ),
        operator_id: ids.operator_id.to_string(),
        parts_name: parent_parts_name(&passport.product),
        plant_id: ids.plant_id.to_string(),
        support_parts_name: passport
            .product
            .batch
            .as_deref()
            .map(|b| truncate(b, MAX_TEXT)),
        terminated_flag: false,
        trace_id: None,
        parts_label_name: Some(truncate(&passport.product.name, MAX_TEXT)),
        parts_add_info1: Some(passport.id.to_string()),
        parts_add_info2: Some(version_info(passport)),
        parts_add_info3: Some(format!("{DIGEST_PREFIX}{}", reference.jws_sha256)),
    };
    let mut children = Vec::with_capacity(passport.materials.len() + passport.parts.len());
    for (i, material) in passport.materials.iter().enumerate() {
        children.push(material_part(material, i, &short, ids)?);
    }
    for (i, part) in passport.parts.iter().enumerate() {
        children.push(part_ref_part(part, i, &short, ids)?);
    }
    let cfp = passport
        .carbon_footprint
        .as_ref()
        .map(cfp_elements)
        .transpose()?;
    Ok(WirePassport {
        parent,
        children,
        cfp,
    })
}

/// Splits the children into `partsStructure` bodies: up to 50 go straight under the product;
/// beyond that they go into group parts (`partsAddInfo1 = "dpp:group"`, 50 children each) that
/// sit under the product, because one structure holds at most 50 children and Ouranos trees
/// are built from two-level structures. At most 50 × 50 children.
pub fn plan_structures(wire: &WirePassport) -> Result<StructurePlan, AdapterError> {
    if wire.children.len() <= MAX_CHILDREN {
        return Ok(StructurePlan {
            top: PartsStructureModel {
                parent_parts_model: wire.parent.clone(),
                children_parts_model: wire.children.clone(),
            },
            groups: Vec::new(),
        });
    }
    let chunks: Vec<&[PartsModel]> = wire.children.chunks(MAX_CHILDREN).collect();
    if chunks.len() > MAX_CHILDREN {
        return Err(AdapterError::Mapping {
            field: "materials+parts".into(),
            reason: format!(
                "ouranos carries at most {} children, got {}",
                MAX_CHILDREN * MAX_CHILDREN,
                wire.children.len()
            ),
        });
    }
    let short = wire
        .parent
        .parts_add_info1
        .as_deref()
        .and_then(|u| u.parse::<UrnUuid>().ok())
        .map(|id| short_id(&id))
        .unwrap_or_default();
    let mut group_parts = Vec::new();
    let mut groups = Vec::new();
    for (g, chunk) in chunks.iter().enumerate() {
        let group = PartsModel {
            amount_required: Some(1.0),
            amount_required_unit: Some("unit".into()),
            operator_id: wire.parent.operator_id.clone(),
            parts_name: wire.parent.parts_name.clone(),
            plant_id: wire.parent.plant_id.clone(),
            support_parts_name: Some(format!("{short}.g{g:02}")),
            terminated_flag: false,
            trace_id: None,
            parts_label_name: Some(format!("group {} of {}", g + 1, chunks.len())),
            parts_add_info1: Some(GROUP_MARKER.into()),
            parts_add_info2: None,
            parts_add_info3: None,
        };
        let mut as_parent = group.clone();
        as_parent.amount_required = None;
        groups.push(PartsStructureModel {
            parent_parts_model: as_parent,
            children_parts_model: chunk.to_vec(),
        });
        group_parts.push(group);
    }
    Ok(StructurePlan {
        top: PartsStructureModel {
            parent_parts_model: wire.parent.clone(),
            children_parts_model: group_parts,
        },
        groups,
    })
}

/// Whether a part is a group made by [`plan_structures`].
pub fn is_group(part: &PartsModel) -> bool {
    part.parts_add_info1.as_deref() == Some(GROUP_MARKER)
}

/// Ouranos → canonical. `children` are the leaves (groups already expanded), `cfp` every CFP
/// element of the parent's traceId; `fallback_time` stands in for times a foreign record lacks.
pub fn from_wire(
    parent: &PartsModel,
    children: &[PartsModel],
    cfp: &[CfpModel],
    fallback_time: DateTime<Utc>,
) -> Result<(Passport, Option<PassportReference>), AdapterError> {
    let trace_id = parent.trace_id.clone().unwrap_or_default();
    check_cfp_set(parent.trace_id.as_deref(), cfp)?;
    let own_id = parent
        .parts_add_info1
        .as_deref()
        .and_then(|u| u.parse::<UrnUuid>().ok());
    let info = parent
        .parts_add_info2
        .as_deref()
        .and_then(parse_version_info);
    let digest = parent
        .parts_add_info3
        .as_deref()
        .and_then(|d| d.strip_prefix(DIGEST_PREFIX))
        .filter(|d| d.len() == 43);
    let id = own_id.unwrap_or_else(|| {
        UrnUuid(Uuid::new_v5(
            &Uuid::NAMESPACE_URL,
            format!("urn:ouranos:trace:{trace_id}").as_bytes(),
        ))
    });
    let reference = match (own_id, &info, digest) {
        (Some(passport_id), Some(info), Some(digest)) => Some(PassportReference {
            passport_id,
            version: info.version,
            jws_sha256: digest.to_owned(),
        }),
        _ => None,
    };
    let updated_at = info
        .as_ref()
        .map(|i| i.updated_at)
        .unwrap_or_else(|| truncate_to_seconds(fallback_time));
    let short = own_id.map(|i| short_id(&i));
    let mut materials: Vec<(usize, Material)> = Vec::new();
    let mut parts: Vec<(usize, PartRef)> = Vec::new();
    for (position, child) in children.iter().enumerate() {
        match classify(child, short.as_deref()) {
            ChildKind::Material(i) => materials.push((i.unwrap_or(position), material_of(child)?)),
            ChildKind::PartRef(i, passport_id) => parts.push((
                i.unwrap_or(position),
                PartRef {
                    passport_id,
                    quantity: child.amount_required.unwrap_or(0.0),
                    unit: canonical_unit(child.amount_required_unit.as_deref()),
                },
            )),
        }
    }
    materials.sort_by_key(|(i, _)| *i);
    parts.sort_by_key(|(i, _)| *i);
    let product = Product {
        batch: parent.support_parts_name.clone().filter(|s| !s.is_empty()),
        country: info
            .as_ref()
            .map(|i| i.country.clone())
            .unwrap_or_else(|| UNKNOWN_COUNTRY.to_owned()),
        facility: None,
        ids: product_ids_of(parent),
        name: parent
            .parts_label_name
            .clone()
            .unwrap_or_else(|| parent.parts_name.clone()),
        production_date: None,
        serial: None,
    };
    let period = info
        .as_ref()
        .and_then(|i| i.period.clone())
        .unwrap_or_else(|| {
            let day = fallback_time.date_naive();
            ReferencePeriod {
                end: day,
                start: day,
            }
        });
    let passport = Passport {
        carbon_footprint: footprint_of(cfp, period)?,
        circularity: None,
        extensions: Default::default(),
        id,
        issued_at: updated_at,
        issuer: Issuer {
            did: None,
            operator_id: parent.operator_id.clone(),
        },
        materials: materials.into_iter().map(|(_, m)| m).collect(),
        parts: parts.into_iter().map(|(_, p)| p).collect(),
        product,
        trace_events: Vec::new(),
        updated_at,
        version: info.as_ref().map(|i| i.version).unwrap_or(1),
    };
    Ok((passport, reference))
}

/// What [`to_wire`] then [`from_wire`] keeps of `passport`, written out field by field (an
/// independent statement of the README's table, checked against the real round trip in tests).
pub fn carried_subset(passport: &Passport, ids: &OuranosIds) -> Passport {
    let updated_at = truncate_to_seconds(passport.updated_at);
    let product = &passport.product;
    let name = truncate(&product.name, MAX_TEXT);
    let ids_carried = match carried_first_id(product) {
        Some(first) => vec![first.clone()],
        None => Vec::new(),
    };
    let carbon_footprint = passport.carbon_footprint.as_ref().map(|f| {
        let pre = ceil_decimals(f.stages.raw_material_extraction + f.stages.processing);
        let main = ceil_decimals(f.stages.main_production);
        CarbonFootprint {
            data_quality: f.data_quality.filter(|_| pre > 0.0 || main > 0.0),
            declared_unit: f.declared_unit,
            primary_data_share: None,
            reference_period: f.reference_period.clone(),
            stages: FootprintStages {
                distribution: 0.0,
                end_of_life: 0.0,
                main_production: main,
                processing: 0.0,
                raw_material_extraction: pre,
            },
            total: round_decimals(pre + main),
        }
    });
    Passport {
        carbon_footprint,
        circularity: None,
        extensions: Default::default(),
        id: passport.id,
        issued_at: updated_at,
        issuer: Issuer {
            did: None,
            operator_id: ids.operator_id.to_string(),
        },
        materials: passport
            .materials
            .iter()
            .map(|m| Material {
                chain_of_custody: None,
                grade: m.grade.as_deref().map(|g| truncate(g, MAX_TEXT)),
                mass: m.mass.as_ref().map(|mass| Mass {
                    unit: MassUnit::Kilogram,
                    value: round_decimals(kilograms(mass)),
                }),
                mass_fraction: round_decimals(m.mass_fraction),
                name: truncate(&m.name, MAX_TEXT),
                origin_country: m.origin_country.clone(),
                polymer: truncate(&m.polymer, MAX_TEXT),
                properties: Vec::new(),
                recycled_share: RecycledShare {
                    post_consumer: round_decimals(m.recycled_share.post_consumer),
                    pre_consumer: round_decimals(m.recycled_share.pre_consumer),
                },
                substances_of_concern: Vec::new(),
            })
            .collect(),
        parts: passport
            .parts
            .iter()
            .map(|p| PartRef {
                passport_id: p.passport_id,
                quantity: round_decimals(p.quantity),
                unit: canonical_unit(amount_unit_of_part(p.unit.as_deref())),
            })
            .collect(),
        product: Product {
            batch: product
                .batch
                .as_deref()
                .map(|b| truncate(b, MAX_TEXT))
                .filter(|b| !b.is_empty()),
            country: product.country.clone(),
            facility: None,
            ids: ids_carried,
            name,
            production_date: None,
            serial: None,
        },
        trace_events: Vec::new(),
        updated_at,
        version: passport.version,
    }
}

/// The four CFP elements of a footprint: own pre-production = raw-material extraction +
/// processing, own main production = main production, both component-derived elements 0
/// (the canonical model does not split own and purchased emissions). Distribution and end of
/// life have no element. Values are rounded **up** at the 6th decimal, as the spec demands.
pub fn cfp_elements(footprint: &CarbonFootprint) -> Result<Vec<CfpModel>, AdapterError> {
    let unit = ghg_declared_unit(footprint.declared_unit);
    let pre = quantity(
        "carbonFootprint.stages.rawMaterialExtraction+processing",
        footprint.stages.raw_material_extraction + footprint.stages.processing,
        ceil_decimals,
    )?;
    let main = quantity(
        "carbonFootprint.stages.mainProduction",
        footprint.stages.main_production,
        ceil_decimals,
    )?;
    let dqr = |emission: f64| match footprint.data_quality {
        // A DQR above 0 needs an emission above 0 in one of its cfpTypes (spec, 400 otherwise).
        Some(dq) if emission > 0.0 => DqrValue {
            ter: Some(f64::from(dq.technological)),
            ger: Some(f64::from(dq.geographical)),
            tir: Some(f64::from(dq.temporal)),
        },
        _ => DqrValue::ZERO,
    };
    let element = |cfp_type: &str, emission: f64, dqr_value: DqrValue| CfpModel {
        cfp_id: None,
        cfp_type: cfp_type.to_owned(),
        ghg_declared_unit: unit.to_owned(),
        ghg_emission: Some(emission),
        dqr_type: dqr_type_for(cfp_type).unwrap_or_default().to_owned(),
        dqr_value,
        trace_id: String::new(),
    };
    Ok(vec![
        element("preProduction", pre, dqr(pre)),
        element("mainProduction", main, dqr(main)),
        element("preComponent", 0.0, dqr(pre)),
        element("mainComponent", 0.0, dqr(main)),
    ])
}

/// The canonical footprint of a part's own CFP elements (`None` without any of the four
/// registrable ones); `reference_period` comes from elsewhere (Ouranos has none).
pub fn footprint_of(
    cfp: &[CfpModel],
    reference_period: ReferencePeriod,
) -> Result<Option<CarbonFootprint>, AdapterError> {
    footprint_from(
        cfp,
        &["preProduction", "preComponent"],
        &["mainProduction", "mainComponent"],
        reference_period,
    )
}

/// The supplier's footprint as Ouranos shows it on *our* part once a trade request is answered:
/// the `preProductionResponse` and `mainProductionResponse` elements.
pub fn response_footprint_of(
    cfp: &[CfpModel],
    reference_period: ReferencePeriod,
) -> Result<Option<CarbonFootprint>, AdapterError> {
    footprint_from(
        cfp,
        &["preProductionResponse"],
        &["mainProductionResponse"],
        reference_period,
    )
}

/// The CFP elements of one part: each names that part's traceId, and each `cfpType` comes once.
/// An element of another part would be mapped as this one's, and a repeated type would be summed
/// twice (a doubled footprint), so either is refused rather than guessed at.
fn check_cfp_set(trace_id: Option<&str>, cfp: &[CfpModel]) -> Result<(), AdapterError> {
    let mut seen = std::collections::HashSet::new();
    for element in cfp {
        if let Some(trace_id) = trace_id
            && element.trace_id != trace_id
        {
            return Err(AdapterError::Mapping {
                field: "cfp.traceId".into(),
                reason: format!(
                    "the CFP of part {trace_id} holds an element of part {:?}",
                    element.trace_id
                ),
            });
        }
        if !seen.insert(element.cfp_type.as_str()) {
            return Err(AdapterError::Mapping {
                field: "cfp.cfpType".into(),
                reason: format!(
                    "cfpType {:?} appears more than once in one part's CFP",
                    element.cfp_type
                ),
            });
        }
    }
    Ok(())
}

fn footprint_from(
    cfp: &[CfpModel],
    pre_types: &[&str],
    main_types: &[&str],
    reference_period: ReferencePeriod,
) -> Result<Option<CarbonFootprint>, AdapterError> {
    let of = |types: &[&str]| -> Vec<&CfpModel> {
        cfp.iter()
            .filter(|c| types.contains(&c.cfp_type.as_str()))
            .collect()
    };
    let (pre_elements, main_elements) = (of(pre_types), of(main_types));
    let Some(first) = pre_elements.first().or(main_elements.first()).copied() else {
        return Ok(None);
    };
    let sum = |elements: &[&CfpModel]| {
        round_decimals(elements.iter().filter_map(|c| c.ghg_emission).sum::<f64>())
    };
    let (pre, main) = (sum(&pre_elements), sum(&main_elements));
    let declared_unit =
        declared_unit_of(&first.ghg_declared_unit).ok_or_else(|| AdapterError::Mapping {
            field: "ghgDeclaredUnit".into(),
            reason: format!("unknown unit {:?}", first.ghg_declared_unit),
        })?;
    let rating =
        |elements: &[&CfpModel]| elements.first().and_then(|c| data_quality_of(c.dqr_value));
    let data_quality = if main > 0.0 {
        rating(&main_elements).or_else(|| rating(&pre_elements))
    } else {
        rating(&pre_elements).or_else(|| rating(&main_elements))
    };
    Ok(Some(CarbonFootprint {
        data_quality,
        declared_unit,
        primary_data_share: None,
        reference_period,
        stages: FootprintStages {
            distribution: 0.0,
            end_of_life: 0.0,
            main_production: main,
            processing: 0.0,
            raw_material_extraction: pre,
        },
        total: round_decimals(pre + main),
    }))
}

/// PEF ratings are integers 1..=5; Ouranos allows any number ≥ 0, so round and clamp. All zero
/// (or null) means "no rating".
fn data_quality_of(v: DqrValue) -> Option<DataQuality> {
    let values = [v.ter, v.ger, v.tir].map(|x| x.unwrap_or(0.0));
    if values.iter().all(|x| *x <= 0.0) {
        return None;
    }
    let rating = |x: f64| x.round().clamp(1.0, 5.0) as u8;
    Some(DataQuality {
        geographical: rating(values[1]),
        technological: rating(values[0]),
        temporal: rating(values[2]),
    })
}

fn material_part(
    material: &Material,
    index: usize,
    short: &str,
    ids: &OuranosIds,
) -> Result<PartsModel, AdapterError> {
    if material.polymer.trim().is_empty() {
        return Err(AdapterError::Mapping {
            field: format!("materials[{index}].polymer"),
            reason: "empty, but partsName needs 1..=50 characters".into(),
        });
    }
    let amount = material
        .mass
        .as_ref()
        .map(|m| {
            quantity(
                &format!("materials[{index}].mass"),
                kilograms(m),
                round_decimals,
            )
        })
        .transpose()?;
    Ok(PartsModel {
        amount_required: amount,
        amount_required_unit: amount.map(|_| "kilogram".to_owned()),
        operator_id: ids.operator_id.to_string(),
        parts_name: truncate(&material.polymer, MAX_TEXT),
        plant_id: ids.plant_id.to_string(),
        support_parts_name: Some(format!("{short}.m{index:02}")),
        terminated_flag: true,
        trace_id: None,
        parts_label_name: Some(truncate(&material.name, MAX_TEXT)),
        parts_add_info1: material.grade.as_deref().map(|g| truncate(g, MAX_TEXT)),
        parts_add_info2: Some(format!(
            "mf={};pre={};post={}",
            round_decimals(material.mass_fraction),
            round_decimals(material.recycled_share.pre_consumer),
            round_decimals(material.recycled_share.post_consumer)
        )),
        parts_add_info3: material
            .origin_country
            .as_ref()
            .map(|c| format!("origin={c}")),
    })
}

fn part_ref_part(
    part: &PartRef,
    index: usize,
    short: &str,
    ids: &OuranosIds,
) -> Result<PartsModel, AdapterError> {
    let unit = amount_unit_of_part(part.unit.as_deref()).ok_or_else(|| AdapterError::Mapping {
        field: format!("parts[{index}].unit"),
        reason: format!(
            "{:?} has no ouranos amountRequiredUnit (kg, l, m2, m3, kWh, MJ, tkm or pieces)",
            part.unit.as_deref().unwrap_or_default()
        ),
    })?;
    Ok(PartsModel {
        amount_required: Some(quantity(
            &format!("parts[{index}].quantity"),
            part.quantity,
            round_decimals,
        )?),
        amount_required_unit: Some(unit.to_owned()),
        operator_id: ids.operator_id.to_string(),
        parts_name: part.passport_id.to_string(),
        plant_id: ids.plant_id.to_string(),
        support_parts_name: Some(format!("{short}.p{index:02}")),
        terminated_flag: false,
        trace_id: None,
        parts_label_name: None,
        parts_add_info1: None,
        parts_add_info2: None,
        parts_add_info3: None,
    })
}

enum ChildKind {
    Material(Option<usize>),
    PartRef(Option<usize>, PassportId),
}

fn classify(child: &PartsModel, short: Option<&str>) -> ChildKind {
    let index = |kind: char| {
        let support = child.support_parts_name.as_deref()?;
        let rest = support.strip_prefix(short?)?.strip_prefix('.')?;
        rest.strip_prefix(kind)?.parse::<usize>().ok()
    };
    match child.parts_name.parse::<UrnUuid>() {
        Ok(id) => ChildKind::PartRef(index('p'), id),
        Err(_) => ChildKind::Material(index('m')),
    }
}

fn material_of(child: &PartsModel) -> Result<Material, AdapterError> {
    let mut mass_fraction = 0.0;
    let mut share = RecycledShare {
        post_consumer: 0.0,
        pre_consumer: 0.0,
    };
    if let Some(info) = &child.parts_add_info2 {
        for pair in info.split(';') {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            match key {
                "mf" => mass_fraction = value,
                "pre" => share.pre_consumer = value,
                "post" => share.post_consumer = value,
                _ => {}
            }
        }
    }
    let mass = match (child.amount_required, child.amount_required_unit.as_deref()) {
        (Some(value), Some("kilogram")) => Some(Mass {
            unit: MassUnit::Kilogram,
            value,
        }),
        _ => None,
    };
    Ok(Material {
        chain_of_custody: None,
        grade: child.parts_add_info1.clone(),
        mass,
        mass_fraction,
        name: child
            .parts_label_name
            .clone()
            .unwrap_or_else(|| child.parts_name.clone()),
        origin_country: child
            .parts_add_info3
            .as_deref()
            .and_then(|o| o.strip_prefix("origin="))
            .map(str::to_owned),
        polymer: child.parts_name.clone(),
        properties: Vec::new(),
        recycled_share: share,
        substances_of_concern: Vec::new(),
    })
}

/// The first product id, if it fits `partsName` as `scheme:value`.
fn carried_first_id(product: &Product) -> Option<&ProductIdentifier> {
    let first = product.ids.first()?;
    let text = format!("{}:{}", first.scheme, first.value);
    let fits = !first.scheme.is_empty()
        && !first.scheme.contains(':')
        && !first.value.is_empty()
        && text.chars().count() <= MAX_TEXT
        && text != truncate(&product.name, MAX_TEXT);
    fits.then_some(first)
}

fn parent_parts_name(product: &Product) -> String {
    match carried_first_id(product) {
        Some(id) => format!("{}:{}", id.scheme, id.value),
        None if product.name.trim().is_empty() => "unnamed product".to_owned(),
        None => truncate(&product.name, MAX_TEXT),
    }
}

fn product_ids_of(parent: &PartsModel) -> Vec<ProductIdentifier> {
    if parent.parts_label_name.as_deref() == Some(parent.parts_name.as_str()) {
        return Vec::new();
    }
    match parent.parts_name.split_once(':') {
        Some((scheme, value)) if !scheme.is_empty() && !value.is_empty() => {
            vec![ProductIdentifier {
                scheme: scheme.to_owned(),
                value: value.to_owned(),
            }]
        }
        _ => vec![ProductIdentifier {
            scheme: PARTS_NAME_SCHEME.to_owned(),
            value: parent.parts_name.clone(),
        }],
    }
}

struct VersionInfo {
    version: u32,
    country: String,
    updated_at: DateTime<Utc>,
    period: Option<ReferencePeriod>,
}

/// `v{version};{country};{updatedAt compact};{period start}-{period end}` (≤ 44 characters).
fn version_info(passport: &Passport) -> String {
    let mut info = format!(
        "v{};{};{}",
        passport.version,
        passport.product.country,
        passport.updated_at.format(COMPACT_TIME)
    );
    if let Some(f) = &passport.carbon_footprint {
        info.push_str(&format!(
            ";{}-{}",
            f.reference_period.start.format(COMPACT_DATE),
            f.reference_period.end.format(COMPACT_DATE)
        ));
    }
    info
}

fn parse_version_info(text: &str) -> Option<VersionInfo> {
    let mut fields = text.split(';');
    let version = fields.next()?.strip_prefix('v')?.parse().ok()?;
    let country = fields.next()?.to_owned();
    let updated_at = NaiveDateTime::parse_from_str(fields.next()?, COMPACT_TIME)
        .ok()?
        .and_utc();
    let period = match fields.next() {
        Some(p) => {
            let (start, end) = p.split_once('-')?;
            Some(ReferencePeriod {
                end: NaiveDate::parse_from_str(end, COMPACT_DATE).ok()?,
                start: NaiveDate::parse_from_str(start, COMPACT_DATE).ok()?,
            })
        }
        None => None,
    };
    Some(VersionInfo {
        version,
        country,
        updated_at,
        period,
    })
}

fn ghg_declared_unit(unit: DeclaredUnit) -> &'static str {
    match unit {
        DeclaredUnit::Kilogram => "kgCO2e/kilogram",
        DeclaredUnit::Liter => "kgCO2e/liter",
        DeclaredUnit::CubicMeter => "kgCO2e/cubic-meter",
        DeclaredUnit::SquareMeter => "kgCO2e/square-meter",
        DeclaredUnit::KilowattHour => "kgCO2e/kilowatt-hour",
        DeclaredUnit::Megajoule => "kgCO2e/megajoule",
        DeclaredUnit::TonKilometer => "kgCO2e/ton-kilometer",
        DeclaredUnit::Piece => "kgCO2e/unit",
    }
}

fn declared_unit_of(unit: &str) -> Option<DeclaredUnit> {
    Some(match unit {
        "kgCO2e/kilogram" => DeclaredUnit::Kilogram,
        "kgCO2e/liter" => DeclaredUnit::Liter,
        "kgCO2e/cubic-meter" => DeclaredUnit::CubicMeter,
        "kgCO2e/square-meter" => DeclaredUnit::SquareMeter,
        "kgCO2e/kilowatt-hour" => DeclaredUnit::KilowattHour,
        "kgCO2e/megajoule" => DeclaredUnit::Megajoule,
        "kgCO2e/ton-kilometer" => DeclaredUnit::TonKilometer,
        "kgCO2e/unit" => DeclaredUnit::Piece,
        _ => return None,
    })
}

fn amount_unit_of_declared(unit: DeclaredUnit) -> &'static str {
    ghg_declared_unit(unit).trim_start_matches("kgCO2e/")
}

/// `amountRequiredUnit` of a part reference's unit (absent = pieces).
fn amount_unit_of_part(unit: Option<&str>) -> Option<&'static str> {
    Some(match unit.map(str::trim) {
        None | Some("pcs" | "piece" | "pieces" | "unit" | "C62" | "H87") => "unit",
        Some("kg" | "kilogram" | "KGM") => "kilogram",
        Some("l" | "L" | "liter" | "litre" | "LTR") => "liter",
        Some("m3" | "MTQ") => "cubic-meter",
        Some("m2" | "MTK") => "square-meter",
        Some("kWh" | "KWH") => "kilowatt-hour",
        Some("MJ" | "3B") => "megajoule",
        Some("tkm" | "t.km") => "ton-kilometer",
        Some(_) => return None,
    })
}

/// The canonical spelling of an `amountRequiredUnit` (pieces = no unit).
fn canonical_unit(unit: Option<&str>) -> Option<String> {
    Some(
        match unit? {
            "kilogram" => "kg",
            "liter" => "l",
            "cubic-meter" => "m3",
            "square-meter" => "m2",
            "kilowatt-hour" => "kWh",
            "megajoule" => "MJ",
            "ton-kilometer" => "tkm",
            _ => return None,
        }
        .to_owned(),
    )
}

fn kilograms(mass: &Mass) -> f64 {
    match mass.unit {
        MassUnit::Gram => mass.value / 1000.0,
        MassUnit::Kilogram => mass.value,
        MassUnit::Tonne => mass.value * 1000.0,
    }
}

/// Rounds with `round`, then checks the spec's range 0..=99999.99999.
fn quantity(field: &str, value: f64, round: fn(f64) -> f64) -> Result<f64, AdapterError> {
    if !value.is_finite() || value < 0.0 {
        return Err(AdapterError::Mapping {
            field: field.to_owned(),
            reason: format!("ouranos needs a number ≥ 0, got {value}"),
        });
    }
    let rounded = round(value);
    if rounded > MAX_QUANTITY {
        return Err(AdapterError::Mapping {
            field: field.to_owned(),
            reason: format!("ouranos carries at most {MAX_QUANTITY}, got {value}"),
        });
    }
    Ok(rounded)
}

/// Rounds a non-negative number **up** at the 6th decimal (the spec: "第6位を切り上げ"),
/// in decimal so that 0.1 stays 0.1.
pub fn ceil_decimals(value: f64) -> f64 {
    // Nine decimals first: float noise (8.400000000000001) must not round up a whole step.
    let text = format!("{value:.9}");
    let text = text.trim_end_matches('0');
    let Some((int, frac)) = text.split_once('.') else {
        return value;
    };
    let places = MAX_DECIMALS as usize;
    if frac.len() <= places || value < 0.0 {
        return round_decimals(value);
    }
    let (Ok(int), Ok(kept)) = (int.parse::<u128>(), frac[..places].parse::<u128>()) else {
        return value;
    };
    let scale = 10u128.pow(MAX_DECIMALS);
    let scaled = int * scale + kept + 1;
    format!(
        "{}.{:0width$}",
        scaled / scale,
        scaled % scale,
        width = places
    )
    .parse()
    .unwrap_or(value)
}

/// Rounds to 5 decimals, to the nearest (quantities whose rounding the spec leaves open).
pub fn round_decimals(value: f64) -> f64 {
    format!("{value:.5}").parse().unwrap_or(value)
}

/// `text` cut to `max` characters.
pub fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn truncate_to_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// First 8 hex digits of a passport id: makes child parts of different passports distinct.
fn short_id(id: &PassportId) -> String {
    id.0.simple().to_string()[..8].to_owned()
}
