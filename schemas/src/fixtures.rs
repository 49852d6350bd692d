//! Realistic, deterministic plastics data: the one place tests, benches and the CLI demo take
//! their passports, trace events and collection records from.
//!
//! The main story is a recycled-polypropylene bumper: PP/EPDM bumpers collected from end-of-life
//! vehicles in Japan are sorted into flakes, extruded into recycled pellets, shipped to a
//! moulder and moulded into a new bumper. Beside it: a post-consumer PET bottle-flake lot and an
//! ABS printer housing declaring an SVHC (DEHP). Every id and time is fixed, so the JCS bytes and
//! event hashes are the same on every run.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::model::*;
use crate::trace::event_hash;

/// Fixed ids of the fixture documents (UUIDv7-shaped, so they sort by their creation time).
pub mod ids {
    use super::{UrnUuid, Uuid};

    const fn id(v: u128) -> UrnUuid {
        UrnUuid(Uuid::from_u128(v))
    }

    /// Passport of the collected bumper lot.
    pub const PP_COLLECTED_BUMPERS: UrnUuid = id(0x0192_f7a1_2c00_7000_8000_0000_0000_0101);
    /// Passport of the sorted PP flakes.
    pub const PP_FLAKES: UrnUuid = id(0x0193_3a6e_4800_7000_8000_0000_0000_0102);
    /// Passport of the recycled PP pellets.
    pub const PP_PELLETS: UrnUuid = id(0x0193_aa52_1000_7000_8000_0000_0000_0103);
    /// Passport of the new bumper.
    pub const PP_NEW_BUMPER: UrnUuid = id(0x0194_ee9b_5c00_7000_8000_0000_0000_0104);
    /// Passport of the PET bottle-flake lot.
    pub const PET_BOTTLE_FLAKES: UrnUuid = id(0x0194_2f33_8800_7000_8000_0000_0000_0201);
    /// Passport of the ABS housing.
    pub const ABS_HOUSING: UrnUuid = id(0x0194_8c10_0400_7000_8000_0000_0000_0301);

    /// Collection of the bumpers (ObjectEvent).
    pub const EVENT_COLLECTION: UrnUuid = id(0x0192_f7a1_2c00_7000_9000_0000_0000_1001);
    /// Sorting bumpers into flakes (TransformationEvent).
    pub const EVENT_SORTING: UrnUuid = id(0x0193_3a6e_4800_7000_9000_0000_0000_1002);
    /// Extruding flakes into pellets (TransformationEvent).
    pub const EVENT_EXTRUSION: UrnUuid = id(0x0193_aa52_1000_7000_9000_0000_0000_1003);
    /// Shipping the pellets to the moulder (TransactionEvent).
    pub const EVENT_SHIPMENT: UrnUuid = id(0x0194_8a3f_ac00_7000_9000_0000_0000_1004);
    /// Moulding pellets into the new bumper (TransformationEvent).
    pub const EVENT_MOULDING: UrnUuid = id(0x0194_ee9b_5c00_7000_9000_0000_0000_1005);

    /// First collection record.
    pub const COLLECTION_2024_10: UrnUuid = id(0x0192_e4c0_1c00_7000_a000_0000_0000_2001);
    /// Second collection record.
    pub const COLLECTION_2024_11: UrnUuid = id(0x0193_2c8a_3000_7000_a000_0000_0000_2002);
    /// Third collection record.
    pub const COLLECTION_2024_12: UrnUuid = id(0x0193_d0e4_6800_7000_a000_0000_0000_2003);
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_else(|| panic!("fixture date {y}-{m}-{d}"))
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .unwrap_or_else(|| panic!("fixture time {y}-{mo}-{d} {h}:{mi}"))
}

/// Japan Standard Time, where the bumper chain happens.
fn jst(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(9 * 3600).unwrap_or_else(|| panic!("fixture offset"));
    offset
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .unwrap_or_else(|| panic!("fixture time {y}-{mo}-{d} {h}:{mi}"))
}

fn id(scheme: &str, value: &str) -> ProductIdentifier {
    ProductIdentifier {
        scheme: scheme.into(),
        value: value.into(),
    }
}

fn facility(country: &str, id: &str, name: &str) -> Facility {
    Facility {
        country: country.into(),
        id: Some(id.into()),
        name: name.into(),
    }
}

fn property(name: &str, value: f64, unit: &str, method: &str) -> MaterialProperty {
    MaterialProperty {
        method: Some(method.into()),
        name: name.into(),
        unit: unit.into(),
        value,
    }
}

fn kg(value: f64) -> Option<Mass> {
    Some(Mass {
        unit: MassUnit::Kilogram,
        value,
    })
}

fn recycled(post_consumer: f64, pre_consumer: f64) -> RecycledShare {
    RecycledShare {
        post_consumer,
        pre_consumer,
    }
}

fn material(name: &str, polymer: &str, mass_fraction: f64, share: RecycledShare) -> Material {
    Material {
        chain_of_custody: None,
        grade: None,
        mass: None,
        mass_fraction,
        name: name.into(),
        origin_country: None,
        polymer: polymer.into(),
        properties: Vec::new(),
        recycled_share: share,
        substances_of_concern: Vec::new(),
    }
}

fn stages(raw: f64, processing: f64, main: f64, distribution: f64, eol: f64) -> FootprintStages {
    FootprintStages {
        distribution,
        end_of_life: eol,
        main_production: main,
        processing,
        raw_material_extraction: raw,
    }
}

fn footprint(
    unit: DeclaredUnit,
    stages: FootprintStages,
    dqr: (u8, u8, u8),
    primary: f64,
    year: i32,
) -> CarbonFootprint {
    CarbonFootprint {
        data_quality: Some(DataQuality {
            geographical: dqr.0,
            technological: dqr.1,
            temporal: dqr.2,
        }),
        declared_unit: unit,
        primary_data_share: Some(primary),
        reference_period: ReferencePeriod {
            end: date(year, 12, 31),
            start: date(year, 1, 1),
        },
        // Declared totals are rounded as a report would print them, not the raw float sum.
        total: (stages.sum() * 1e6).round() / 1e6,
        stages,
    }
}

const RECYCLER_FACILITY: (&str, &str) = ("4569951000108", "Chubu Plastics Recycling, Toyota plant");

fn recycler() -> Issuer {
    Issuer {
        did: Some("did:web:chubu-recycling.example.jp".into()),
        operator_id: "jp-op-4569951000008".into(),
    }
}

fn recycler_facility() -> Facility {
    facility("JP", RECYCLER_FACILITY.0, RECYCLER_FACILITY.1)
}

fn pp_recyclass_custody() -> ChainOfCustody {
    ChainOfCustody {
        certificate_id: Some("RC-RCS-2024-0183".into()),
        model: CustodyModel::Segregated,
        scheme: Some("RecyClass".into()),
        valid_from: Some(date(2024, 3, 1)),
        valid_until: Some(date(2027, 2, 28)),
    }
}

/// A lot of painted PP/EPDM bumpers dismantled from end-of-life vehicles in Aichi, Japan.
pub fn pp_collected_bumpers() -> Passport {
    let mut compound = material(
        "PP/EPDM bumper compound, talc-filled (dismantled bumpers)",
        "PP+EPDM-T15",
        0.965,
        recycled(1.0, 0.0),
    );
    compound.mass = Some(Mass {
        unit: MassUnit::Tonne,
        value: 11.966,
    });
    compound.origin_country = Some("JP".into());
    let mut paint = material(
        "Paint layers (2K polyurethane clear coat, waterborne base coat)",
        "PUR",
        0.035,
        recycled(0.0, 0.0),
    );
    paint.mass = Some(Mass {
        unit: MassUnit::Tonne,
        value: 0.434,
    });
    Passport {
        carbon_footprint: None,
        circularity: Some(Circularity {
            expected_lifetime_years: None,
            recyclable_content: Some(0.965),
            recycled_content: 0.965,
            recycling_information: Some(
                "Mechanical recycling: shred, wash, float-sink, paint-strip, extrude".into(),
            ),
            repair_information: None,
            utility_factor: None,
        }),
        extensions: [(
            "jp-elv:dismantler".to_owned(),
            json!({"permit": "Aichi 23-0417", "vehicles": 2480, "arrivedFrom": "ASR pre-sort"}),
        )]
        .into_iter()
        .collect(),
        id: ids::PP_COLLECTED_BUMPERS,
        issued_at: utc(2024, 11, 5, 1, 0),
        issuer: recycler(),
        materials: vec![compound, paint],
        parts: Vec::new(),
        product: Product {
            batch: Some("ELV-BMP-2411-017".into()),
            country: "JP".into(),
            facility: Some(facility(
                "JP",
                "4569951000207",
                "Chubu ELV dismantling centre, Okazaki",
            )),
            ids: vec![id("lot", "JP-ELV-BMP-2411-017")],
            name: "Collected PP bumpers from end-of-life vehicles, lot 2024-11".into(),
            production_date: Some(date(2024, 11, 5)),
            serial: None,
        },
        trace_events: vec![ids::EVENT_COLLECTION, ids::EVENT_SORTING],
        updated_at: utc(2024, 11, 5, 1, 0),
        version: 1,
    }
}

/// Washed and sorted PP/EPDM flakes from the collected bumpers.
pub fn pp_flakes() -> Passport {
    let mut flakes = material(
        "PP/EPDM flakes, washed and paint-stripped, 8-12 mm",
        "PP+EPDM-T15",
        0.985,
        recycled(1.0, 0.0),
    );
    flakes.properties = vec![
        property("bulkDensity", 0.41, "g/cm3", "ISO 60"),
        property("moistureContent", 0.2, "%", "ISO 15512"),
    ];
    flakes.chain_of_custody = Some(pp_recyclass_custody());
    let contamination = material(
        "Residual polyolefin contamination (PE-HD)",
        "PE-HD",
        0.015,
        recycled(1.0, 0.0),
    );
    Passport {
        carbon_footprint: Some(footprint(
            DeclaredUnit::Kilogram,
            stages(0.0, 0.21, 0.0, 0.02, 0.0),
            (1, 2, 1),
            0.85,
            2024,
        )),
        circularity: Some(Circularity {
            expected_lifetime_years: None,
            recyclable_content: Some(1.0),
            recycled_content: 1.0,
            recycling_information: None,
            repair_information: None,
            utility_factor: None,
        }),
        extensions: Default::default(),
        id: ids::PP_FLAKES,
        issued_at: utc(2024, 11, 18, 6, 30),
        issuer: recycler(),
        materials: vec![flakes, contamination],
        parts: Vec::new(),
        product: Product {
            batch: Some("FLK-PP-2411-042".into()),
            country: "JP".into(),
            facility: Some(recycler_facility()),
            ids: vec![id("lot", "JP-FLK-PP-2411-042")],
            name: "Sorted PP/EPDM bumper flakes, post-consumer".into(),
            production_date: Some(date(2024, 11, 18)),
            serial: None,
        },
        trace_events: vec![ids::EVENT_SORTING, ids::EVENT_EXTRUSION],
        updated_at: utc(2024, 11, 18, 6, 30),
        version: 1,
    }
}

/// Recycled PP/EPDM compound pellets extruded from the flakes (RecyClass-certified, segregated).
pub fn pp_pellets() -> Passport {
    let mut rpp = material(
        "Recycled PP/EPDM compound, black",
        "PP+EPDM-T15",
        0.97,
        recycled(1.0, 0.0),
    );
    rpp.grade = Some("RPP-BK 2318".into());
    rpp.chain_of_custody = Some(pp_recyclass_custody());
    rpp.origin_country = Some("JP".into());
    rpp.properties = vec![
        property(
            "meltFlowRate",
            18.0,
            "g/10min",
            "ISO 1133-1 (230 °C/2.16 kg)",
        ),
        property("density", 0.99, "g/cm3", "ISO 1183-1"),
        property("tensileStrength", 19.5, "MPa", "ISO 527-2/1A/50"),
        property("charpyNotched", 22.0, "kJ/m2", "ISO 179-1/1eA, 23 °C"),
        property("ashContent", 14.6, "%", "ISO 3451-1"),
    ];
    let mut additives = material(
        "Stabiliser and carbon-black masterbatch (PP carrier)",
        "PP",
        0.03,
        recycled(0.0, 0.0),
    );
    additives.grade = Some("MB-BK 40 UV".into());
    Passport {
        carbon_footprint: Some(footprint(
            DeclaredUnit::Kilogram,
            stages(0.0, 0.23, 0.41, 0.05, 0.0),
            (1, 2, 2),
            0.78,
            2024,
        )),
        circularity: Some(Circularity {
            expected_lifetime_years: None,
            recyclable_content: Some(1.0),
            recycled_content: 0.97,
            recycling_information: Some("Mechanically recyclable with PP/EPDM streams".into()),
            repair_information: None,
            utility_factor: None,
        }),
        extensions: Default::default(),
        id: ids::PP_PELLETS,
        issued_at: utc(2024, 12, 9, 8, 0),
        issuer: recycler(),
        materials: vec![rpp, additives],
        parts: Vec::new(),
        product: Product {
            batch: Some("RPP-2412-0907".into()),
            country: "JP".into(),
            facility: Some(recycler_facility()),
            ids: vec![
                id("lot", "JP-RPP-2412-0907"),
                id("sku", "RPP-BK-2318-BB1000"),
            ],
            name: "Recycled PP/EPDM compound pellets RPP-BK 2318, 1 t big bags".into(),
            production_date: Some(date(2024, 12, 9)),
            serial: None,
        },
        trace_events: vec![
            ids::EVENT_EXTRUSION,
            ids::EVENT_SHIPMENT,
            ids::EVENT_MOULDING,
        ],
        updated_at: utc(2025, 1, 20, 2, 15),
        version: 1,
    }
}

/// A front bumper fascia moulded with 30 % recycled PP/EPDM pellets.
pub fn pp_new_bumper() -> Passport {
    let mut rpp = material(
        "Recycled PP/EPDM compound RPP-BK 2318",
        "PP+EPDM-T15",
        0.30,
        recycled(0.97, 0.0),
    );
    rpp.grade = Some("RPP-BK 2318".into());
    rpp.mass = kg(1.26);
    rpp.chain_of_custody = Some(pp_recyclass_custody());
    rpp.origin_country = Some("JP".into());
    let mut virgin = material(
        "PP/EPDM bumper compound, 20 % talc",
        "PP+EPDM-T20",
        0.62,
        recycled(0.0, 0.0),
    );
    virgin.grade = Some("TRC 352N".into());
    virgin.mass = kg(2.604);
    virgin.origin_country = Some("JP".into());
    virgin.chain_of_custody = Some(ChainOfCustody {
        certificate_id: Some("EU-ISCC-Cert-DE119-81234567".into()),
        model: CustodyModel::MassBalance,
        scheme: Some("ISCC PLUS".into()),
        valid_from: Some(date(2024, 6, 1)),
        valid_until: Some(date(2025, 5, 31)),
    });
    virgin.properties = vec![
        property(
            "meltFlowRate",
            22.0,
            "g/10min",
            "ISO 1133-1 (230 °C/2.16 kg)",
        ),
        property("density", 1.04, "g/cm3", "ISO 1183-1"),
        property("flexuralModulus", 2100.0, "MPa", "ISO 178"),
    ];
    let mut paint = material(
        "Paint system (waterborne base coat, 2K PUR clear coat)",
        "PUR",
        0.03,
        recycled(0.0, 0.0),
    );
    paint.mass = kg(0.126);
    let mut brackets = material(
        "Mounting brackets, glass-fibre reinforced",
        "PA6-GF30",
        0.05,
        recycled(0.0, 0.0),
    );
    brackets.mass = kg(0.21);
    Passport {
        carbon_footprint: Some(footprint(
            DeclaredUnit::Piece,
            stages(6.1, 2.3, 3.4, 0.4, 1.1),
            (2, 2, 1),
            0.62,
            2025,
        )),
        circularity: Some(Circularity {
            expected_lifetime_years: Some(13.0),
            recyclable_content: Some(0.92),
            recycled_content: 0.291,
            recycling_information: Some(
                "https://dpp.toyohashi-moulding.example.jp/dismantling/FB-XJ5.pdf".into(),
            ),
            repair_information: Some(
                "https://dpp.toyohashi-moulding.example.jp/repair/FB-XJ5".into(),
            ),
            utility_factor: Some(1.0),
        }),
        extensions: [
            (
                "ouranos:partsStructure".to_owned(),
                json!({
                    "traceId": "c2a7e1b4-3f0d-4a55-9d1e-7b2c8f6a0e13",
                    "amountRequiredUnit": "kilogram",
                    "amountRequired": 1.26,
                    "partsName": "FB-XJ5 front bumper fascia"
                }),
            ),
            (
                "acme:qualityGate".to_owned(),
                json!({"passed": true, "inspector": "QA-07", "checkedAt": "2025-02-10T15:40:00+09:00"}),
            ),
        ]
        .into_iter()
        .collect(),
        id: ids::PP_NEW_BUMPER,
        issued_at: utc(2025, 2, 10, 7, 0),
        issuer: Issuer {
            did: Some("did:web:toyohashi-moulding.example.jp".into()),
            operator_id: "jp-op-4569951100004".into(),
        },
        materials: vec![rpp, virgin, paint, brackets],
        parts: vec![PartRef {
            passport_id: ids::PP_PELLETS,
            quantity: 1.26,
            unit: Some("kg".into()),
        }],
        product: Product {
            batch: Some("FB-XJ5-250210-A".into()),
            country: "JP".into(),
            facility: Some(facility(
                "JP",
                "4569951100103",
                "Toyohashi Moulding, plant 2",
            )),
            ids: vec![
                id("gtin", "04569951116175"),
                id("sku", "FB-XJ5-PRIMED"),
            ],
            name: "Front bumper fascia FB-XJ5, primed, 30 % recycled PP".into(),
            production_date: Some(date(2025, 2, 10)),
            serial: Some("FB25-000184".into()),
        },
        trace_events: vec![ids::EVENT_MOULDING],
        updated_at: utc(2025, 2, 10, 7, 0),
        version: 1,
    }
}

/// A lot of hot-washed, post-consumer PET bottle flakes from municipal collection.
pub fn pet_bottle_flakes() -> Passport {
    let mut pet = material(
        "PET bottle flakes, clear, hot-washed",
        "PET",
        0.995,
        recycled(1.0, 0.0),
    );
    pet.origin_country = Some("JP".into());
    pet.mass = Some(Mass {
        unit: MassUnit::Tonne,
        value: 23.88,
    });
    pet.properties = vec![
        property("intrinsicViscosity", 0.78, "dl/g", "ISO 1628-5"),
        property("bulkDensity", 0.33, "g/cm3", "ISO 60"),
        property("pvcContent", 30.0, "mg/kg", "NIR sorting audit"),
        property("moistureContent", 0.6, "%", "ISO 15512"),
    ];
    pet.chain_of_custody = Some(ChainOfCustody {
        certificate_id: Some("RC-RCS-2024-0219".into()),
        model: CustodyModel::Segregated,
        scheme: Some("RecyClass".into()),
        valid_from: Some(date(2024, 5, 1)),
        valid_until: Some(date(2027, 4, 30)),
    });
    let mut caps = material(
        "Residual caps and labels (PP/PE-HD)",
        "PP",
        0.005,
        recycled(1.0, 0.0),
    );
    caps.mass = Some(Mass {
        unit: MassUnit::Tonne,
        value: 0.12,
    });
    Passport {
        carbon_footprint: Some(footprint(
            DeclaredUnit::Kilogram,
            stages(0.0, 0.29, 0.0, 0.03, 0.0),
            (1, 1, 2),
            0.9,
            2024,
        )),
        circularity: Some(Circularity {
            expected_lifetime_years: None,
            recyclable_content: Some(1.0),
            recycled_content: 1.0,
            recycling_information: Some("Suitable for bottle-to-bottle SSP recycling".into()),
            repair_information: None,
            utility_factor: None,
        }),
        extensions: Default::default(),
        id: ids::PET_BOTTLE_FLAKES,
        issued_at: utc(2024, 12, 20, 3, 0),
        issuer: Issuer {
            did: Some("did:web:kanto-pet.example.jp".into()),
            operator_id: "jp-op-4569951200001".into(),
        },
        materials: vec![pet, caps],
        parts: Vec::new(),
        product: Product {
            batch: Some("PETF-2412-118".into()),
            country: "JP".into(),
            facility: Some(facility(
                "JP",
                "4569951200109",
                "Kanto PET Recycling, Chiba",
            )),
            ids: vec![id("lot", "JP-PETF-2412-118")],
            name: "Post-consumer PET bottle flakes, clear, lot 2412-118".into(),
            production_date: Some(date(2024, 12, 20)),
            serial: None,
        },
        trace_events: Vec::new(),
        updated_at: utc(2024, 12, 20, 3, 0),
        version: 1,
    }
}

/// An ABS printer housing with recycled content and a declared SVHC (DEHP).
pub fn abs_housing() -> Passport {
    let mut abs = material(
        "ABS, flame-retardant-free, with recycled content",
        "ABS",
        0.90,
        recycled(0.25, 0.10),
    );
    abs.grade = Some("RABS-GY 740".into());
    abs.mass = kg(1.62);
    abs.chain_of_custody = Some(ChainOfCustody {
        certificate_id: Some("GRS-CU-1120455".into()),
        model: CustodyModel::ControlledBlending,
        scheme: Some("Global Recycled Standard".into()),
        valid_from: Some(date(2024, 9, 1)),
        valid_until: Some(date(2025, 8, 31)),
    });
    abs.substances_of_concern = vec![SubstanceOfConcern {
        cas_number: "117-81-7".into(),
        concentration: 0.0012,
        name: "Bis(2-ethylhexyl) phthalate (DEHP)".into(),
    }];
    abs.properties = vec![
        property("meltFlowRate", 21.0, "g/10min", "ISO 1133-1 (220 °C/10 kg)"),
        property("density", 1.05, "g/cm3", "ISO 1183-1"),
        property("tensileStrength", 42.0, "MPa", "ISO 527-2/1A/50"),
    ];
    let mut window = material("Display window", "PMMA", 0.06, recycled(0.0, 0.0));
    window.mass = kg(0.108);
    let mut feet = material("Anti-slip feet", "TPS", 0.04, recycled(0.0, 0.0));
    feet.mass = kg(0.072);
    Passport {
        carbon_footprint: Some(footprint(
            DeclaredUnit::Piece,
            stages(4.2, 0.9, 1.7, 0.6, 0.5),
            (3, 2, 2),
            0.41,
            2024,
        )),
        circularity: Some(Circularity {
            expected_lifetime_years: Some(6.0),
            recyclable_content: Some(0.9),
            recycled_content: 0.315,
            recycling_information: Some(
                "Snap-fit housing, no metal inserts; ABS marked >ABS<".into(),
            ),
            repair_information: Some("Replacement housing kit PN 41-7790".into()),
            utility_factor: Some(1.2),
        }),
        extensions: Default::default(),
        id: ids::ABS_HOUSING,
        issued_at: utc(2025, 1, 14, 2, 30),
        issuer: Issuer {
            did: None,
            operator_id: "th-op-8850999000017".into(),
        },
        materials: vec![abs, window, feet],
        parts: Vec::new(),
        product: Product {
            batch: Some("HSG-740-2501".into()),
            country: "TH".into(),
            facility: None,
            ids: vec![id("gtin", "08850999114403")],
            name: "Printer top housing HSG-740, light grey".into(),
            production_date: Some(date(2025, 1, 14)),
            serial: None,
        },
        trace_events: Vec::new(),
        updated_at: utc(2025, 1, 14, 2, 30),
        version: 1,
    }
}

/// Every fixture passport with a short name (`pp-collected-bumpers`, `pp-flakes`, …).
pub fn named_passports() -> Vec<(&'static str, Passport)> {
    vec![
        ("pp-collected-bumpers", pp_collected_bumpers()),
        ("pp-flakes", pp_flakes()),
        ("pp-pellets", pp_pellets()),
        ("pp-new-bumper", pp_new_bumper()),
        ("pet-bottle-flakes", pet_bottle_flakes()),
        ("abs-housing", abs_housing()),
    ]
}

/// Every fixture passport.
pub fn all_passports() -> Vec<Passport> {
    named_passports().into_iter().map(|(_, p)| p).collect()
}

/// Every fixture passport as the JSON document the API would receive or serve.
pub fn passport_json_examples() -> Vec<(&'static str, serde_json::Value)> {
    named_passports()
        .into_iter()
        .map(|(name, p)| {
            let value = serde_json::to_value(&p)
                .unwrap_or_else(|e| panic!("fixture passport {name} serialises: {e}"));
            (name, value)
        })
        .collect()
}

fn quantity(class: UrnUuid, kilograms: f64) -> QuantityElement {
    QuantityElement {
        epc_class: class.to_string(),
        quantity: kilograms,
        uom: Some("KGM".into()),
    }
}

fn location(sgln: &str) -> Option<Location> {
    Some(Location { id: sgln.into() })
}

fn base_event(event_id: UrnUuid, event_type: EventType, at: DateTime<FixedOffset>) -> TraceEvent {
    TraceEvent {
        action: None,
        biz_location: None,
        biz_step: None,
        biz_transaction_list: Vec::new(),
        child_epcs: Vec::new(),
        child_quantity_list: Vec::new(),
        disposition: None,
        epc_list: Vec::new(),
        event_id,
        event_time: at,
        event_time_zone_offset: "+09:00".into(),
        input_epc_list: Vec::new(),
        input_quantity_list: Vec::new(),
        output_epc_list: Vec::new(),
        output_quantity_list: Vec::new(),
        parent_id: None,
        previous_event_hashes: Vec::new(),
        quantity_list: Vec::new(),
        read_point: None,
        transformation_id: None,
        event_type,
    }
}

fn transformation(
    event_id: UrnUuid,
    at: DateTime<FixedOffset>,
    step: &str,
    input: (UrnUuid, f64),
    output: (UrnUuid, f64),
    site: &str,
) -> TraceEvent {
    let mut e = base_event(event_id, EventType::TransformationEvent, at);
    e.biz_step = Some(step.into());
    e.disposition = Some("active".into());
    e.input_epc_list = vec![input.0.to_string()];
    e.input_quantity_list = vec![quantity(input.0, input.1)];
    e.output_epc_list = vec![output.0.to_string()];
    e.output_quantity_list = vec![quantity(output.0, output.1)];
    e.read_point = location(site);
    e.biz_location = location(site);
    e
}

/// The hash-linked trace of the bumper chain: collection, sorting, extrusion, shipment of the
/// pellets, moulding. Each event's `previousEventHashes` holds the hash of the one before.
pub fn trace_events() -> Vec<TraceEvent> {
    let recycler_site = "urn:epc:id:sgln:4569951.00010.0";
    let moulder_site = "urn:epc:id:sgln:4569951.10010.0";

    let mut collection = base_event(
        ids::EVENT_COLLECTION,
        EventType::ObjectEvent,
        jst(2024, 11, 5, 10, 0),
    );
    collection.action = Some(EventAction::Add);
    collection.biz_step = Some("collecting".into());
    collection.disposition = Some("in_progress".into());
    collection.epc_list = vec![ids::PP_COLLECTED_BUMPERS.to_string()];
    collection.quantity_list = vec![quantity(ids::PP_COLLECTED_BUMPERS, 12_400.0)];
    collection.read_point = location("urn:epc:id:sgln:4569951.00020.0");
    collection.biz_location = location(recycler_site);

    let mut sorting = transformation(
        ids::EVENT_SORTING,
        jst(2024, 11, 18, 15, 30),
        "sorting",
        (ids::PP_COLLECTED_BUMPERS, 12_400.0),
        (ids::PP_FLAKES, 11_780.0),
        recycler_site,
    );
    sorting.transformation_id = Some("urn:uuid:01933a6e-4800-7000-b000-000000003001".into());
    sorting.previous_event_hashes = vec![event_hash(&collection)];

    let mut extrusion = transformation(
        ids::EVENT_EXTRUSION,
        jst(2024, 12, 9, 17, 0),
        "transforming",
        (ids::PP_FLAKES, 11_780.0),
        (ids::PP_PELLETS, 11_950.0),
        recycler_site,
    );
    extrusion.previous_event_hashes = vec![event_hash(&sorting)];

    let mut shipment = base_event(
        ids::EVENT_SHIPMENT,
        EventType::TransactionEvent,
        jst(2025, 1, 20, 11, 15),
    );
    shipment.action = Some(EventAction::Observe);
    shipment.biz_step = Some("shipping".into());
    shipment.disposition = Some("in_transit".into());
    shipment.biz_transaction_list = vec![
        BizTransaction {
            biz_transaction: "urn:epcglobal:cbv:bt:4569951100004:PO-2025-0112".into(),
            transaction_type: Some("po".into()),
        },
        BizTransaction {
            biz_transaction: "urn:epcglobal:cbv:bt:4569951000008:DA-250120-07".into(),
            transaction_type: Some("desadv".into()),
        },
    ];
    shipment.epc_list = vec![ids::PP_PELLETS.to_string()];
    shipment.quantity_list = vec![quantity(ids::PP_PELLETS, 6_000.0)];
    shipment.read_point = location(recycler_site);
    shipment.previous_event_hashes = vec![event_hash(&extrusion)];

    let mut moulding = transformation(
        ids::EVENT_MOULDING,
        jst(2025, 2, 10, 16, 0),
        "commissioning",
        (ids::PP_PELLETS, 1.26),
        (ids::PP_NEW_BUMPER, 4.2),
        moulder_site,
    );
    moulding.previous_event_hashes = vec![event_hash(&shipment)];

    vec![collection, sorting, extrusion, shipment, moulding]
}

fn entry(
    category: &str,
    collected: f64,
    reused: f64,
    material: f64,
    thermal: f64,
    disposal: f64,
) -> CollectionEntry {
    CollectionEntry {
        category: category.into(),
        collected_kg: collected,
        disposal_kg: disposal,
        material_recycling_kg: material,
        reused_parts_kg: reused,
        thermal_recycling_kg: thermal,
    }
}

/// Monthly collection records of one collection point (Oct–Dec 2024), in kilograms.
pub fn collection_records() -> Vec<CollectionRecord> {
    let point = || {
        Some(facility(
            "JP",
            "4569951000306",
            "Okazaki resource collection point",
        ))
    };
    vec![
        CollectionRecord {
            collected_on: date(2024, 10, 31),
            entries: vec![
                entry(
                    "automotive-bumpers",
                    18_420.0,
                    1_210.0,
                    14_350.0,
                    2_200.0,
                    660.0,
                ),
                entry("pet-bottles", 42_650.0, 0.0, 38_900.0, 3_100.0, 650.0),
                entry("e-housings", 9_370.0, 0.0, 5_200.0, 3_600.0, 570.0),
            ],
            facility: point(),
            id: ids::COLLECTION_2024_10,
        },
        CollectionRecord {
            collected_on: date(2024, 11, 30),
            entries: vec![
                entry(
                    "automotive-bumpers",
                    19_860.0,
                    1_340.0,
                    15_720.0,
                    2_050.0,
                    750.0,
                ),
                entry("pet-bottles", 39_980.0, 0.0, 36_750.0, 2_640.0, 590.0),
                entry("e-housings", 8_915.5, 120.0, 5_030.5, 3_280.0, 485.0),
            ],
            facility: point(),
            id: ids::COLLECTION_2024_11,
        },
        CollectionRecord {
            collected_on: date(2024, 12, 28),
            entries: vec![
                entry(
                    "automotive-bumpers",
                    16_240.0,
                    980.0,
                    12_900.0,
                    1_760.0,
                    600.0,
                ),
                entry("pet-bottles", 47_310.0, 0.0, 43_420.0, 3_250.0, 640.0),
                entry("e-housings", 10_480.0, 95.0, 6_010.0, 3_800.0, 560.0),
            ],
            facility: point(),
            id: ids::COLLECTION_2024_12,
        },
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::jcs;

    #[test]
    fn fixtures_are_deterministic() {
        assert_eq!(all_passports(), all_passports());
        assert_eq!(trace_events(), trace_events());
        assert_eq!(collection_records(), collection_records());
        assert_eq!(
            jcs::to_vec(&all_passports()).expect("jcs"),
            jcs::to_vec(&all_passports()).expect("jcs")
        );
    }

    #[test]
    fn documents_round_trip_through_json() {
        for p in all_passports() {
            let text = serde_json::to_string(&p).expect("serialises");
            assert_eq!(serde_json::from_str::<Passport>(&text).expect("parses"), p);
        }
        for e in trace_events() {
            let text = serde_json::to_string(&e).expect("serialises");
            assert_eq!(
                serde_json::from_str::<TraceEvent>(&text).expect("parses"),
                e
            );
        }
        for r in collection_records() {
            let text = serde_json::to_string(&r).expect("serialises");
            assert_eq!(
                serde_json::from_str::<CollectionRecord>(&text).expect("parses"),
                r
            );
        }
        for (name, value) in passport_json_examples() {
            let parsed: Passport = serde_json::from_value(value.clone()).expect("parses");
            assert_eq!(
                serde_json::to_value(parsed).expect("serialises"),
                value,
                "{name}"
            );
        }
    }

    #[test]
    fn ids_are_unique_and_references_resolve() {
        let passports = all_passports();
        let events = trace_events();
        let records = collection_records();
        let mut all_ids = HashSet::new();
        for id in passports
            .iter()
            .map(|p| p.id)
            .chain(events.iter().map(|e| e.event_id))
            .chain(records.iter().map(|r| r.id))
        {
            assert!(all_ids.insert(id), "duplicate id {id}");
        }
        let passport_ids: HashSet<String> = passports.iter().map(|p| p.id.to_string()).collect();
        let event_ids: HashSet<UrnUuid> = events.iter().map(|e| e.event_id).collect();
        for p in &passports {
            for part in &p.parts {
                assert!(passport_ids.contains(&part.passport_id.to_string()));
            }
            for e in &p.trace_events {
                assert!(event_ids.contains(e), "{} lists unknown event {e}", p.id);
            }
        }
        for e in &events {
            for epc in e
                .epc_list
                .iter()
                .chain(&e.input_epc_list)
                .chain(&e.output_epc_list)
            {
                assert!(
                    passport_ids.contains(epc),
                    "{} names unknown {epc}",
                    e.event_id
                );
            }
            // Each event concerns passports that list it.
            for epc in e
                .input_epc_list
                .iter()
                .chain(&e.output_epc_list)
                .chain(&e.epc_list)
            {
                let p = passports
                    .iter()
                    .find(|p| &p.id.to_string() == epc)
                    .expect("passport");
                assert!(
                    p.trace_events.contains(&e.event_id),
                    "{} does not list {}",
                    p.id,
                    e.event_id
                );
            }
        }
    }

    #[test]
    fn the_bumper_chain_is_told_in_order() {
        let events = trace_events();
        let kinds: Vec<EventType> = events.iter().map(|e| e.event_type).collect();
        assert_eq!(
            kinds,
            [
                EventType::ObjectEvent,
                EventType::TransformationEvent,
                EventType::TransformationEvent,
                EventType::TransactionEvent,
                EventType::TransformationEvent
            ]
        );
        assert!(events.windows(2).all(|w| w[0].event_time < w[1].event_time));
        assert_eq!(
            events[1].input_epc_list,
            [ids::PP_COLLECTED_BUMPERS.to_string()]
        );
        assert_eq!(events[1].output_epc_list, [ids::PP_FLAKES.to_string()]);
        assert_eq!(events[2].output_epc_list, [ids::PP_PELLETS.to_string()]);
        assert_eq!(events[4].output_epc_list, [ids::PP_NEW_BUMPER.to_string()]);
        assert_eq!(pp_new_bumper().parts[0].passport_id, ids::PP_PELLETS);
    }

    #[test]
    fn fixtures_carry_the_data_the_demo_shows() {
        let pellets = pp_pellets();
        let names: Vec<&str> = pellets.materials[0]
            .properties
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        for wanted in ["meltFlowRate", "density", "tensileStrength"] {
            assert!(names.contains(&wanted), "pellets lack {wanted}");
        }
        assert!(pellets.materials[0].chain_of_custody.is_some());
        let abs = abs_housing();
        let dehp = &abs.materials[0].substances_of_concern[0];
        assert_eq!(
            (dehp.cas_number.as_str(), dehp.concentration),
            ("117-81-7", 0.0012)
        );
        let records = collection_records();
        let categories: HashSet<&str> = records
            .iter()
            .flat_map(|r| r.entries.iter().map(|e| e.category.as_str()))
            .collect();
        assert_eq!(categories.len(), 3);
        for record in collection_records() {
            for e in &record.entries {
                let rate = (e.reused_parts_kg + e.material_recycling_kg + e.thermal_recycling_kg)
                    / e.collected_kg;
                assert!(
                    rate > 0.8 && rate < 1.0,
                    "{} recycling rate {rate}",
                    e.category
                );
            }
        }
        // A footprint total as a report prints it, not a float sum artefact.
        assert_eq!(
            pp_new_bumper().carbon_footprint.map(|c| c.total),
            Some(13.3)
        );
    }
}
