//! The canonical passport model: the one internal shape every data-space format is mapped from and to.
//!
//! Field order matters: every struct declares its fields in RFC 8785 (JCS) key order of their JSON
//! names, so that `crate::jcs::to_vec` can canonicalise a typed value in one pass without sorting.
//! The test `jcs::tests::typed_serialisation_equals_reference_jcs` proves it byte for byte.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// A UUID written as a `urn:uuid:` URN on the wire (passport, event and record ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UrnUuid(pub Uuid);

/// A passport id.
pub type PassportId = UrnUuid;

impl UrnUuid {
    /// A new random (v4) id.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl fmt::Display for UrnUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.urn())
    }
}

/// Why a string is not a `urn:uuid:` id.
#[derive(Debug, thiserror::Error)]
#[error("not a urn:uuid identifier: {0:?}")]
pub struct InvalidUrnUuid(pub String);

impl FromStr for UrnUuid {
    type Err = InvalidUrnUuid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_urn_uuid(s).map(Self)
    }
}

/// Parses `urn:uuid:<uuid>` in its hyphenated form. Letter case does not matter: RFC 8141 makes
/// the `urn` scheme and the NID case-insensitive and RFC 9562 the hex digits, so `URN:UUID:0A…`
/// names the same id as `urn:uuid:0a…`. The id is kept (and written back) in lowercase, so one
/// id has one stored spelling.
pub fn parse_urn_uuid(s: &str) -> Result<Uuid, InvalidUrnUuid> {
    const PREFIX: &str = "urn:uuid:";
    s.get(..PREFIX.len())
        .filter(|prefix| prefix.eq_ignore_ascii_case(PREFIX))
        .and_then(|_| s.get(PREFIX.len()..))
        .and_then(|rest| {
            // Only the hyphenated form: `Uuid::parse_str` also takes braces, no hyphens and a
            // nested `urn:uuid:`, which are other spellings of an id, not the URN.
            Uuid::parse_str(rest)
                .ok()
                .filter(|u| u.hyphenated().to_string().eq_ignore_ascii_case(rest))
        })
        .ok_or_else(|| InvalidUrnUuid(s.to_owned()))
}

impl Serialize for UrnUuid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; uuid::fmt::Urn::LENGTH];
        s.serialize_str(self.0.urn().encode_lower(&mut buf))
    }
}

impl<'de> Deserialize<'de> for UrnUuid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A digital product passport, one immutable version of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Passport {
    /// Product carbon footprint per declared unit, by life-cycle stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carbon_footprint: Option<CarbonFootprint>,
    /// Recycled and recyclable content, durability, repair and recycling information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circularity: Option<Circularity>,
    /// Free extensions under namespaced keys (`prefix:name`), carried untouched.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, serde_json::Value>,
    /// `urn:uuid:` identifier, the same for every version.
    pub id: PassportId,
    /// When the first version was issued.
    pub issued_at: DateTime<Utc>,
    /// Who issued the passport.
    pub issuer: Issuer,
    /// What the product is made of.
    pub materials: Vec<Material>,
    /// Child passports this product is assembled from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartRef>,
    /// The product this passport describes.
    pub product: Product,
    /// Trace events (`urn:uuid:` event ids) that concern this product.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trace_events: Vec<UrnUuid>,
    /// When this version was written.
    pub updated_at: DateTime<Utc>,
    /// Version number, 1 for the first; a change is a new version.
    pub version: u32,
}

/// The issuer of a passport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Issuer {
    /// Decentralised identifier of the issuer, e.g. `did:web:example.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did: Option<String>,
    /// The operator id the issuer is known by in its data spaces.
    pub operator_id: String,
}

/// The product a passport describes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Product {
    /// Batch or lot number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    /// Country of production, ISO 3166-1 alpha-2.
    pub country: String,
    /// The facility that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility: Option<Facility>,
    /// Identifiers with their scheme (GTIN, SKU, …).
    pub ids: Vec<ProductIdentifier>,
    /// Human-readable product name.
    pub name: String,
    /// Date of production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_date: Option<NaiveDate>,
    /// Serial number of a single item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
}

/// A product identifier in a named scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductIdentifier {
    /// The scheme, e.g. `gtin`, `sku`, `gs1-digital-link`.
    pub scheme: String,
    /// The identifier within the scheme.
    pub value: String,
}

/// A production or processing site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Facility {
    /// Country, ISO 3166-1 alpha-2.
    pub country: String,
    /// Facility identifier, e.g. a GLN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Facility name.
    pub name: String,
}

/// A material the product contains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Material {
    /// Chain-of-custody model and certificate behind the recycled share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_of_custody: Option<ChainOfCustody>,
    /// Commercial grade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grade: Option<String>,
    /// Mass of this material in one product (or per declared unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mass: Option<Mass>,
    /// Share of this material in the product mass, 0–1.
    pub mass_fraction: f64,
    /// Material name.
    pub name: String,
    /// Country where the raw material originates, ISO 3166-1 alpha-2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_country: Option<String>,
    /// ISO 1043-1 polymer symbol, e.g. `PP`, `PE-HD`, `PET`, `ABS`.
    pub polymer: String,
    /// Measured properties (MFR, density, tensile strength, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<MaterialProperty>,
    /// Recycled share of this material, split pre-/post-consumer.
    pub recycled_share: RecycledShare,
    /// Substances of concern above reporting thresholds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub substances_of_concern: Vec<SubstanceOfConcern>,
}

/// A mass with its unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mass {
    /// Unit: `g`, `kg` or `t`.
    pub unit: MassUnit,
    /// Amount, non-negative.
    pub value: f64,
}

/// Units a mass may be given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MassUnit {
    /// Gram.
    #[serde(rename = "g")]
    Gram,
    /// Kilogram.
    #[serde(rename = "kg")]
    Kilogram,
    /// Metric tonne.
    #[serde(rename = "t")]
    Tonne,
}

/// Recycled share of a material, each a fraction 0–1 of the material's mass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecycledShare {
    /// Post-consumer recycled fraction.
    pub post_consumer: f64,
    /// Pre-consumer (post-industrial) recycled fraction.
    pub pre_consumer: f64,
}

impl RecycledShare {
    /// Total recycled fraction.
    pub fn total(&self) -> f64 {
        self.post_consumer + self.pre_consumer
    }
}

/// Chain-of-custody claim (ISO 22095 models).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChainOfCustody {
    /// Certificate id in the scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
    /// The chain-of-custody model.
    pub model: CustodyModel,
    /// Certification scheme, e.g. `ISCC PLUS`, `RecyClass`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// First day the certificate is valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<NaiveDate>,
    /// Last day the certificate is valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<NaiveDate>,
}

/// ISO 22095 chain-of-custody models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CustodyModel {
    /// Identity preserved.
    IdentityPreserved,
    /// Segregated.
    Segregated,
    /// Controlled blending.
    ControlledBlending,
    /// Mass balance.
    MassBalance,
    /// Book and claim.
    BookAndClaim,
}

/// A substance of concern in a material.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubstanceOfConcern {
    /// CAS registry number, e.g. `1163-19-5`.
    pub cas_number: String,
    /// Concentration as a mass fraction of the material, 0–1.
    pub concentration: f64,
    /// Substance name.
    pub name: String,
}

/// A named numeric material property with its unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MaterialProperty {
    /// Test method, e.g. `ISO 1133-1 (230 °C/2.16 kg)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Property name, e.g. `meltFlowRate`, `density`, `tensileStrength`.
    pub name: String,
    /// Unit, e.g. `g/10min`, `g/cm3`, `MPa`.
    pub unit: String,
    /// Value.
    pub value: f64,
}

/// Product carbon footprint, kg CO2e per declared unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CarbonFootprint {
    /// Data-quality ratings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_quality: Option<DataQuality>,
    /// The unit the footprint is declared per.
    pub declared_unit: DeclaredUnit,
    /// Share of primary data, 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_data_share: Option<f64>,
    /// Period the data refers to.
    pub reference_period: ReferencePeriod,
    /// kg CO2e per declared unit for each life-cycle stage.
    pub stages: FootprintStages,
    /// Total kg CO2e per declared unit (the sum of the stages).
    pub total: f64,
}

/// Units a carbon footprint can be declared per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeclaredUnit {
    /// Per kilogram.
    Kilogram,
    /// Per litre.
    Liter,
    /// Per cubic metre.
    CubicMeter,
    /// Per square metre.
    SquareMeter,
    /// Per kilowatt hour.
    KilowattHour,
    /// Per megajoule.
    Megajoule,
    /// Per tonne kilometre.
    TonKilometer,
    /// Per piece (one product unit).
    Piece,
}

/// kg CO2e per declared unit by life-cycle stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FootprintStages {
    /// Distribution to the customer.
    pub distribution: f64,
    /// End of life.
    pub end_of_life: f64,
    /// Main production (manufacturing of the product).
    pub main_production: f64,
    /// Processing of materials.
    pub processing: f64,
    /// Raw-material extraction.
    pub raw_material_extraction: f64,
}

impl FootprintStages {
    /// Sum over the stages.
    pub fn sum(&self) -> f64 {
        self.raw_material_extraction
            + self.processing
            + self.main_production
            + self.distribution
            + self.end_of_life
    }
}

/// Data-quality ratings, 1 (best) to 5 (worst), as in the PEF data-quality rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataQuality {
    /// Geographical representativeness (GeR).
    pub geographical: u8,
    /// Technological representativeness (TeR).
    pub technological: u8,
    /// Temporal representativeness (TiR).
    pub temporal: u8,
}

/// The period footprint data refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReferencePeriod {
    /// Last day, inclusive.
    pub end: NaiveDate,
    /// First day.
    pub start: NaiveDate,
}

/// Circularity information.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Circularity {
    /// Expected lifetime in years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_lifetime_years: Option<f64>,
    /// Recyclable share of the product mass, 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recyclable_content: Option<f64>,
    /// Recycled share of the product mass, 0–1.
    pub recycled_content: f64,
    /// Recycling / dismantling information (text or URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recycling_information: Option<String>,
    /// Repair information (text or URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_information: Option<String>,
    /// Durability / utility factor (lifetime relative to the industry average), > 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utility_factor: Option<f64>,
}

/// A reference to a child passport with the quantity used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartRef {
    /// The child passport.
    pub passport_id: PassportId,
    /// How many / how much of it.
    pub quantity: f64,
    /// Unit of the quantity; absent means pieces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// EPCIS 2.0 event types the model carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// Observation of objects.
    ObjectEvent,
    /// Inputs consumed, outputs produced.
    TransformationEvent,
    /// Children packed into / unpacked from a parent.
    AggregationEvent,
    /// Objects tied to a business transaction.
    TransactionEvent,
}

/// EPCIS action of object, aggregation and transaction events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventAction {
    /// Objects enter the scope.
    Add,
    /// Objects are observed.
    Observe,
    /// Objects leave the scope.
    Delete,
}

/// A lifecycle trace event, EPCIS 2.0-shaped, hash-linked to the events it follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceEvent {
    /// EPCIS action (not on transformation events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<EventAction>,
    /// Where the objects are after the event.
    #[serde(
        rename = "bizLocation",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub biz_location: Option<Location>,
    /// CBV business step, e.g. `commissioning`, `sorting`, `transforming`.
    #[serde(rename = "bizStep", default, skip_serializing_if = "Option::is_none")]
    pub biz_step: Option<String>,
    /// Business transactions (purchase orders, despatch advices).
    #[serde(
        rename = "bizTransactionList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub biz_transaction_list: Vec<BizTransaction>,
    /// Children of an aggregation.
    #[serde(rename = "childEPCs", default, skip_serializing_if = "Vec::is_empty")]
    pub child_epcs: Vec<String>,
    /// Child quantities of an aggregation.
    #[serde(
        rename = "childQuantityList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub child_quantity_list: Vec<QuantityElement>,
    /// CBV disposition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    /// Objects of an object or transaction event.
    #[serde(rename = "epcList", default, skip_serializing_if = "Vec::is_empty")]
    pub epc_list: Vec<String>,
    /// `urn:uuid:` event id.
    #[serde(rename = "eventID")]
    pub event_id: UrnUuid,
    /// When it happened, with the local offset.
    #[serde(rename = "eventTime")]
    pub event_time: DateTime<FixedOffset>,
    /// The local offset, `+09:00`.
    #[serde(rename = "eventTimeZoneOffset")]
    pub event_time_zone_offset: String,
    /// Inputs of a transformation.
    #[serde(
        rename = "inputEPCList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub input_epc_list: Vec<String>,
    /// Input quantities of a transformation.
    #[serde(
        rename = "inputQuantityList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub input_quantity_list: Vec<QuantityElement>,
    /// Outputs of a transformation.
    #[serde(
        rename = "outputEPCList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub output_epc_list: Vec<String>,
    /// Output quantities of a transformation.
    #[serde(
        rename = "outputQuantityList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub output_quantity_list: Vec<QuantityElement>,
    /// Parent of an aggregation.
    #[serde(rename = "parentID", default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// SHA-256 (lowercase hex, over RFC 8785 JCS bytes) of each event this one follows.
    #[serde(
        rename = "previousEventHashes",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub previous_event_hashes: Vec<String>,
    /// Quantities of an object or transaction event.
    #[serde(
        rename = "quantityList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub quantity_list: Vec<QuantityElement>,
    /// Where the event was captured.
    #[serde(rename = "readPoint", default, skip_serializing_if = "Option::is_none")]
    pub read_point: Option<Location>,
    /// Transformation id linking several transformation events.
    #[serde(
        rename = "transformationID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transformation_id: Option<String>,
    /// The EPCIS event type.
    #[serde(rename = "type")]
    pub event_type: EventType,
}

/// An EPCIS read point or business location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Location URI (SGLN URN, GS1 digital link, …).
    pub id: String,
}

/// An EPCIS business transaction reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BizTransaction {
    /// Transaction id URI.
    #[serde(rename = "bizTransaction")]
    pub biz_transaction: String,
    /// CBV transaction type, e.g. `po`, `desadv`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub transaction_type: Option<String>,
}

/// An EPCIS quantity element: a class of objects and an amount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantityElement {
    /// Class identifier (a passport id, EPC class URN or GS1 digital link).
    #[serde(rename = "epcClass")]
    pub epc_class: String,
    /// Amount.
    pub quantity: f64,
    /// UN/CEFACT unit code, e.g. `KGM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
}

/// Collected weight of one product category at a collection point, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CollectionRecord {
    /// Day of collection.
    pub collected_on: NaiveDate,
    /// One entry per product category.
    pub entries: Vec<CollectionEntry>,
    /// Where it was collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility: Option<Facility>,
    /// `urn:uuid:` record id.
    pub id: UrnUuid,
}

/// Weights in kilograms for one category of a collection record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CollectionEntry {
    /// Product category, e.g. `automotive-bumpers`.
    pub category: String,
    /// Collected weight.
    pub collected_kg: f64,
    /// Sent to disposal (landfill, incineration without energy recovery).
    pub disposal_kg: f64,
    /// Recycled as material.
    pub material_recycling_kg: f64,
    /// Reused as parts.
    pub reused_parts_kg: f64,
    /// Recovered thermally (energy recovery).
    pub thermal_recycling_kg: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urn_uuids_are_read_in_any_letter_case_and_written_in_lowercase() {
        let lower = "urn:uuid:0194ee9b-5c00-7000-8000-000000000104";
        for spelling in [
            lower,
            "URN:UUID:0194EE9B-5C00-7000-8000-000000000104",
            "Urn:Uuid:0194ee9B-5c00-7000-8000-000000000104",
        ] {
            let id: UrnUuid = spelling.parse().expect(spelling);
            assert_eq!(id.to_string(), lower, "{spelling}");
        }
        // Other spellings of a UUID are not the URN.
        for not_urn in [
            "0194ee9b-5c00-7000-8000-000000000104",
            "urn:uuid:0194ee9b5c0070008000000000000104",
            "urn:uuid:{0194ee9b-5c00-7000-8000-000000000104}",
            "urn:uuid:urn:uuid:0194ee9b-5c00-7000-8000-000000000104",
            "urn:uuid:0194ee9b-5c00-7000-8000-00000000010",
            "urn:uuid:",
            "urn:uui",
            "ürn:uuid:0194ee9b-5c00-7000-8000-000000000104",
        ] {
            assert!(not_urn.parse::<UrnUuid>().is_err(), "{not_urn}");
        }
    }
}
