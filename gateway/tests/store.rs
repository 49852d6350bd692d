//! Black-box tests of the store, written once and run against both backends: SQLite in a temp dir,
//! and PostgreSQL in a fresh database per test on the server `DPP_TEST_POSTGRES_URL` points at
//! (`scripts/with-postgres.sh cargo test -p dpp-gateway --test store` starts a throwaway one).

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use dpp_gateway::store::{
    CategoryTotals, CollectionEntryRow, CollectionRecordFilter, LineageDirection, LineageEdge,
    LineageNode, NewCollectionRecord, NewPassportVersion, NewTraceEvent, PassportFilter,
    PassportSelector, Store, StoreError,
};
use sqlx::Connection;

#[macro_use]
mod store_support;

use store_support::{TestDb, postgres_db, sqlite_db, with_database};

on_both_backends!(
    passport_versions_round_trip,
    duplicates_and_conflicts_are_typed,
    racing_next_versions_exactly_one_wins,
    stored_versions_are_immutable,
    filters_match_latest_versions,
    cursor_paging_has_no_gaps_or_repeats,
    trace_events_link_and_failed_ones_store_nothing,
    lineage_walks_up_down_both_with_depth_and_cycle,
    collection_totals_per_month_and_category,
    duplicate_collection_record_stores_nothing,
    audit_rows_are_written,
    latest_passports_come_in_one_batch_past_the_in_list_chunk,
    a_wide_event_is_stored_as_its_inputs_plus_outputs,
    an_event_over_the_bounds_stores_nothing,
    lineage_answers_are_bounded_and_say_truncated,
    selector_in_the_listing_matches_the_selector_rule,
    polymer_filter_matches_the_polymer_family_literally,
    collection_records_read_back_and_page_within_dates,
    trace_events_list_in_pages_and_by_the_ids_they_name,
);

// ---------------------------------------------------------------------------------------------
// Fixtures: real-looking passports, events and collection records, local to this suite.

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("fixture timestamp")
        .with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("fixture date")
}

struct PassportFixture {
    id: &'static str,
    name: &'static str,
    product_ids: &'static [(&'static str, &'static str)],
    polymers: &'static [(&'static str, f64)],
    updated_at: &'static str,
}

const PP_BUMPER: PassportFixture = PassportFixture {
    id: "urn:uuid:0b6c1f52-7f1e-4d7c-9a51-2f0f4f9c1a01",
    name: "Front bumper, 30 % post-consumer recycled PP",
    product_ids: &[("gtin", "04012345000016"), ("serial", "BMP-2025-000117")],
    polymers: &[("PP", 0.30), ("EPDM", 0.0)],
    updated_at: "2025-02-03T09:15:00.250Z",
};

const PET_FLAKES: PassportFixture = PassportFixture {
    id: "urn:uuid:5d2a9e70-1c44-4b2b-8c3e-6a1b0c7d2e02",
    name: "Washed PET bottle flake lot, food-contact grade",
    product_ids: &[("lot", "PET-FL-2025-0042")],
    polymers: &[("PET", 1.0)],
    updated_at: "2025-02-10T14:00:00Z",
};

const ABS_HOUSING: PassportFixture = PassportFixture {
    id: "urn:uuid:9f3e1b24-6a0d-4e58-b7c1-3d2f8e4a5b03",
    name: "Vacuum cleaner housing, ABS with PP clips",
    product_ids: &[
        ("gtin", "04012345000023"),
        ("lot", "https://id.example.com/lot:7"),
    ],
    polymers: &[("ABS", 0.0), ("PP", 0.55)],
    updated_at: "2025-03-01T08:00:00Z",
};

fn version_of(f: &PassportFixture, version: i64) -> NewPassportVersion {
    let canonical_json = serde_json::json!({
        "id": f.id,
        "name": f.name,
        "version": version,
        "materials": f.polymers.iter().map(|(p, s)| serde_json::json!({"polymer": p, "recycledShare": s})).collect::<Vec<_>>(),
    })
    .to_string();
    NewPassportVersion {
        id: f.id.to_owned(),
        version,
        jws: format!("eyJhbGciOiJFUzI1NiJ9..sig-{version}"),
        etag: format!("\"{}-v{version}\"", &f.id[9..17]),
        updated_at: at(f.updated_at) + chrono::Duration::days(version - 1),
        product_ids: f
            .product_ids
            .iter()
            .map(|(s, v)| ((*s).to_owned(), (*v).to_owned()))
            .collect(),
        polymers: f
            .polymers
            .iter()
            .map(|(p, s)| ((*p).to_owned(), *s))
            .collect(),
        canonical_json,
        actor: "alice@recycler.example".to_owned(),
    }
}

fn plain_passport(id: String, polymer: &str, share: f64) -> NewPassportVersion {
    NewPassportVersion {
        canonical_json: format!(r#"{{"id":"{id}"}}"#),
        jws: "eyJhbGciOiJFUzI1NiJ9..sig".to_owned(),
        etag: format!("\"{id}-1\""),
        updated_at: at("2025-01-01T00:00:00Z"),
        product_ids: vec![("serial".to_owned(), format!("S-{id}"))],
        polymers: vec![(polymer.to_owned(), share)],
        actor: "loader".to_owned(),
        version: 1,
        id,
    }
}

/// A transformation event `id` following `previous`: every one of `inputs` went into every one of
/// `outputs`.
fn event(id: &str, previous: &[&str], inputs: &[&str], outputs: &[&str]) -> NewTraceEvent {
    NewTraceEvent {
        event_id: id.to_owned(),
        hash: hash_of(id),
        event_type: "transformation".to_owned(),
        event_time: at("2025-02-01T06:30:00.5Z"),
        canonical_json: format!(r#"{{"eventId":"{id}","type":"transformation"}}"#),
        previous_hashes: previous.iter().map(|p| hash_of(p)).collect(),
        inputs: inputs.iter().map(|i| (*i).to_owned()).collect(),
        outputs: outputs.iter().map(|o| (*o).to_owned()).collect(),
        actor: "line-3@compounder.example".to_owned(),
    }
}

fn hash_of(event_id: &str) -> String {
    format!("sha256:{event_id}")
}

fn entry(category: &str, kg: [f64; 5]) -> CollectionEntryRow {
    CollectionEntryRow {
        category: category.to_owned(),
        collected_kg: kg[0],
        reused_parts_kg: kg[1],
        material_recycling_kg: kg[2],
        thermal_recycling_kg: kg[3],
        disposal_kg: kg[4],
    }
}

fn record(id: &str, on: &str, entries: Vec<CollectionEntryRow>) -> NewCollectionRecord {
    NewCollectionRecord {
        id: id.to_owned(),
        collected_on: day(on),
        canonical_json: format!(r#"{{"id":"{id}","collectedOn":"{on}"}}"#),
        entries,
        actor: "collector@municipality.example".to_owned(),
    }
}

async fn ids(store: &Store, f: &PassportFilter) -> Vec<String> {
    let page = store.list_passports(f, None, 100).await.expect("list");
    assert_eq!(page.next_cursor, None);
    page.items.into_iter().map(|p| p.id).collect()
}

// ---------------------------------------------------------------------------------------------
// Tests

async fn passport_versions_round_trip(db: &TestDb) {
    let store = &db.store;
    store.ping().await.expect("ping");
    let v1 = version_of(&PP_BUMPER, 1);
    store.insert_passport(&v1).await.expect("insert v1");

    let latest = store.passport(PP_BUMPER.id, None).await.unwrap().unwrap();
    assert_eq!(latest.version, 1);
    assert_eq!(latest.canonical_json, v1.canonical_json);
    assert_eq!(latest.jws, v1.jws);
    assert_eq!(latest.etag, v1.etag);
    assert_eq!(
        latest.updated_at, v1.updated_at,
        "millisecond timestamps round-trip"
    );

    let v2 = version_of(&PP_BUMPER, 2);
    store.insert_next_version(&v2, 1).await.expect("insert v2");
    let latest = store.passport(PP_BUMPER.id, None).await.unwrap().unwrap();
    assert_eq!(
        (latest.version, latest.etag.as_str()),
        (2, v2.etag.as_str())
    );
    let first = store
        .passport(PP_BUMPER.id, Some(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.canonical_json, v1.canonical_json);
    assert_eq!(store.passport(PP_BUMPER.id, Some(3)).await.unwrap(), None);
    assert_eq!(store.passport("urn:uuid:nope", None).await.unwrap(), None);

    let versions = store.passport_versions(PP_BUMPER.id).await.unwrap();
    let summary: Vec<_> = versions
        .iter()
        .map(|v| (v.version, v.etag.clone(), v.updated_at))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, v1.etag.clone(), v1.updated_at),
            (2, v2.etag.clone(), v2.updated_at)
        ]
    );
    assert!(
        store
            .passport_versions("urn:uuid:nope")
            .await
            .unwrap()
            .is_empty()
    );

    // Non-ASCII JSON comes back byte for byte.
    let mut pet = version_of(&PET_FLAKES, 1);
    pet.canonical_json = r#"{"name":"PET-Flakes, lebensmitteltauglich — 100 % rPET ♻"}"#.to_owned();
    store.insert_passport(&pet).await.unwrap();
    let stored = store.passport(PET_FLAKES.id, None).await.unwrap().unwrap();
    assert_eq!(stored.canonical_json, pet.canonical_json);
    assert_eq!(store.passport_count().await.unwrap(), 2);
}

async fn duplicates_and_conflicts_are_typed(db: &TestDb) {
    let store = &db.store;
    let v1 = version_of(&ABS_HOUSING, 1);
    store.insert_passport(&v1).await.unwrap();
    assert!(matches!(
        store.insert_passport(&v1).await,
        Err(StoreError::Duplicate)
    ));
    assert!(matches!(
        store.insert_passport(&version_of(&PET_FLAKES, 2)).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        store
            .insert_next_version(&version_of(&PET_FLAKES, 2), 1)
            .await,
        Err(StoreError::NotFound)
    ));
    store
        .insert_next_version(&version_of(&ABS_HOUSING, 2), 1)
        .await
        .unwrap();
    assert!(matches!(
        store
            .insert_next_version(&version_of(&ABS_HOUSING, 2), 1)
            .await,
        Err(StoreError::VersionConflict { current: 2 })
    ));
    assert!(matches!(
        store
            .insert_next_version(&version_of(&ABS_HOUSING, 5), 2)
            .await,
        Err(StoreError::InvalidInput(_))
    ));
    // Nothing of the failed attempts was stored.
    assert_eq!(store.passport_count().await.unwrap(), 1);
    let versions = store.passport_versions(ABS_HOUSING.id).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(store.passport(PET_FLAKES.id, None).await.unwrap(), None);
}

async fn racing_next_versions_exactly_one_wins(db: &TestDb) {
    for round in 0..8 {
        let id = format!("urn:uuid:race-{round}");
        db.store
            .insert_passport(&plain_passport(id.clone(), "PP", 0.2))
            .await
            .unwrap();
        let mut contenders = Vec::new();
        for writer in 0..2 {
            let store = db.store.clone();
            let mut v2 = plain_passport(id.clone(), "PP", 0.3);
            v2.version = 2;
            v2.etag = format!("\"writer-{writer}\"");
            contenders.push(tokio::spawn(async move {
                (writer, store.insert_next_version(&v2, 1).await)
            }));
        }
        let mut winners = Vec::new();
        for contender in contenders {
            match contender.await.unwrap() {
                (writer, Ok(())) => winners.push(writer),
                (_, Err(StoreError::VersionConflict { current: 2 })) => {}
                (_, Err(e)) => panic!("unexpected error in race: {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one writer wins");
        let latest = db.store.passport(&id, None).await.unwrap().unwrap();
        assert_eq!(latest.version, 2);
        assert_eq!(latest.etag, format!("\"writer-{}\"", winners[0]));
        assert_eq!(db.store.passport_versions(&id).await.unwrap().len(), 2);
    }
}

async fn stored_versions_are_immutable(db: &TestDb) {
    db.store
        .insert_passport(&version_of(&PP_BUMPER, 1))
        .await
        .unwrap();
    db.store
        .insert_trace_event(&event("ev-1", &[], &[], &[]))
        .await
        .unwrap();
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    for update in [
        "UPDATE passports SET etag = 'tampered'",
        "UPDATE trace_events SET canonical_json = '{}'",
        "UPDATE audit_log SET actor = 'mallory'",
    ] {
        let err = sqlx::query(update).execute(&mut conn).await.unwrap_err();
        assert!(
            err.to_string().contains("immutable"),
            "{update} must be rejected, got {err}"
        );
    }
    conn.close().await.unwrap();
    let stored = db
        .store
        .passport(PP_BUMPER.id, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.etag, version_of(&PP_BUMPER, 1).etag);
}

async fn filters_match_latest_versions(db: &TestDb) {
    let store = &db.store;
    for f in [&PP_BUMPER, &PET_FLAKES, &ABS_HOUSING] {
        store.insert_passport(&version_of(f, 1)).await.unwrap();
    }
    let mut sorted = vec![PP_BUMPER.id, PET_FLAKES.id, ABS_HOUSING.id];
    sorted.sort();
    assert_eq!(ids(store, &PassportFilter::default()).await, sorted);

    let pp = PassportFilter {
        polymer: Some("PP".into()),
        ..Default::default()
    };
    let mut recycled_pp = vec![PP_BUMPER.id, ABS_HOUSING.id];
    recycled_pp.sort();
    assert_eq!(ids(store, &pp).await, recycled_pp);

    let pp_half = PassportFilter {
        polymer: Some("PP".into()),
        min_recycled_share: Some(0.5),
        ..Default::default()
    };
    assert_eq!(ids(store, &pp_half).await, [ABS_HOUSING.id]);

    // Without a polymer the share applies to any indexed (main) material: only the PET lot.
    let high = PassportFilter {
        min_recycled_share: Some(0.9),
        ..Default::default()
    };
    assert_eq!(ids(store, &high).await, [PET_FLAKES.id]);
    // The ABS of the housing has share 0, the PP clips 0.55: same material must satisfy both.
    let abs_recycled = PassportFilter {
        polymer: Some("ABS".into()),
        min_recycled_share: Some(0.1),
        ..Default::default()
    };
    assert!(ids(store, &abs_recycled).await.is_empty());

    let by_value = |v: &str| PassportFilter {
        product_id: Some(v.into()),
        ..Default::default()
    };
    assert_eq!(
        ids(store, &by_value("04012345000016")).await,
        [PP_BUMPER.id]
    );
    assert_eq!(
        ids(store, &by_value("gtin:04012345000016")).await,
        [PP_BUMPER.id]
    );
    assert!(
        ids(store, &by_value("serial:04012345000016"))
            .await
            .is_empty()
    );
    assert_eq!(
        ids(store, &by_value("lot:PET-FL-2025-0042")).await,
        [PET_FLAKES.id]
    );
    // A value containing colons matches as a whole and with its scheme.
    assert_eq!(
        ids(store, &by_value("https://id.example.com/lot:7")).await,
        [ABS_HOUSING.id]
    );
    assert_eq!(
        ids(store, &by_value("lot:https://id.example.com/lot:7")).await,
        [ABS_HOUSING.id]
    );

    let since = |t: &str| PassportFilter {
        updated_since: Some(at(t)),
        ..Default::default()
    };
    assert_eq!(
        ids(store, &since("2025-02-10T14:00:00Z")).await.len(),
        2,
        "inclusive bound"
    );
    assert_eq!(
        ids(store, &since("2025-02-10T14:00:00.001Z")).await,
        [ABS_HOUSING.id]
    );

    // Version 2 of the bumper switches to PE under a new GTIN: filters see only the latest version.
    let mut v2 = version_of(&PP_BUMPER, 2);
    v2.polymers = vec![("PE-HD".into(), 0.6)];
    v2.product_ids = vec![("gtin".into(), "04012345000030".into())];
    v2.updated_at = at("2025-04-01T00:00:00Z");
    store.insert_next_version(&v2, 1).await.unwrap();
    assert_eq!(ids(store, &pp).await, [ABS_HOUSING.id]);
    assert!(ids(store, &by_value("04012345000016")).await.is_empty());
    assert_eq!(
        ids(store, &by_value("04012345000030")).await,
        [PP_BUMPER.id]
    );
    let combined = PassportFilter {
        polymer: Some("PE-HD".into()),
        min_recycled_share: Some(0.6),
        product_id: Some("gtin:04012345000030".into()),
        updated_since: Some(at("2025-03-15T00:00:00Z")),
    };
    let page = store.list_passports(&combined, None, 10).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        (page.items[0].id.as_str(), page.items[0].version),
        (PP_BUMPER.id, 2)
    );

    assert!(matches!(
        store
            .list_passports(&PassportFilter::default(), Some("%%not-a-cursor"), 10)
            .await,
        Err(StoreError::InvalidCursor(_))
    ));
}

async fn cursor_paging_has_no_gaps_or_repeats(db: &TestDb) {
    let store = &db.store;
    // Ids inserted out of order; every third one recycled PP above 0.5.
    let mut expected = BTreeSet::new();
    let mut expected_recycled = BTreeSet::new();
    for n in [
        17, 3, 22, 8, 0, 11, 19, 5, 14, 1, 20, 9, 6, 13, 2, 21, 16, 10, 4, 18, 7, 15, 12,
    ] {
        let id = format!("urn:uuid:lot-{n:04}");
        let share = if n % 3 == 0 { 0.75 } else { 0.25 };
        store
            .insert_passport(&plain_passport(id.clone(), "PP", share))
            .await
            .unwrap();
        if share > 0.5 {
            expected_recycled.insert(id.clone());
        }
        expected.insert(id);
    }

    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .list_passports(&PassportFilter::default(), cursor.as_deref(), 5)
            .await
            .unwrap();
        pages += 1;
        assert!(page.items.len() <= 5);
        if pages == 2 {
            // A new version of an already listed and a not yet listed passport, mid-listing:
            // neither moves, so nothing is listed twice or skipped.
            for id in [&seen[0], expected.iter().last().unwrap()] {
                let mut v2 = plain_passport(id.clone(), "PP", 0.1);
                v2.version = 2;
                v2.updated_at = at("2025-06-01T00:00:00Z");
                store.insert_next_version(&v2, 1).await.unwrap();
            }
        }
        seen.extend(page.items.iter().map(|p| p.id.clone()));
        if let Some(last) = page.items.last()
            && last.id == *expected.iter().last().unwrap()
        {
            assert_eq!(last.version, 2, "pages show the latest version");
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 5, "23 items in pages of 5");
    assert_eq!(
        seen,
        expected.iter().cloned().collect::<Vec<_>>(),
        "ordered, no gaps, no repeats"
    );

    // Exactly a page's worth left: the last full page carries no cursor to an empty page.
    let all = store
        .list_passports(&PassportFilter::default(), None, 23)
        .await
        .unwrap();
    assert_eq!((all.items.len(), all.next_cursor), (23, None));

    // Paging a filtered listing: the 8 recycled ones (minus seen[0]'s and the last's new versions).
    let filter = PassportFilter {
        polymer: Some("PP".into()),
        min_recycled_share: Some(0.5),
        ..Default::default()
    };
    let mut filtered = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_passports(&filter, cursor.as_deref(), 3)
            .await
            .unwrap();
        filtered.extend(page.items.into_iter().map(|p| p.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    expected_recycled.remove(&seen[0]);
    expected_recycled.remove(expected.iter().last().unwrap());
    assert_eq!(filtered, expected_recycled.into_iter().collect::<Vec<_>>());
}

async fn trace_events_link_and_failed_ones_store_nothing(db: &TestDb) {
    let store = &db.store;
    let e1 = event("ev-shred", &[], &["bumpers-lot-1"], &["flakes-lot-1"]);
    store.insert_trace_event(&e1).await.unwrap();
    let stored = store.trace_event("ev-shred").await.unwrap().unwrap();
    assert_eq!(stored.hash, e1.hash);
    assert_eq!(stored.canonical_json, e1.canonical_json);
    assert_eq!(stored.event_time, e1.event_time);
    assert!(stored.previous_hashes.is_empty());
    assert!(stored.recorded_at > at("2025-01-01T00:00:00Z"));

    assert!(matches!(
        store.insert_trace_event(&e1).await,
        Err(StoreError::Duplicate)
    ));

    // Unknown predecessor: nothing of the event stays, not its row, edges or audit row.
    let orphan = event(
        "ev-extrude",
        &["ev-shred", "ev-never-recorded"],
        &["flakes-lot-1"],
        &["pellets-lot-1"],
    );
    match store.insert_trace_event(&orphan).await {
        Err(StoreError::UnknownPredecessor(h)) => assert_eq!(h, hash_of("ev-never-recorded")),
        other => panic!("expected UnknownPredecessor, got {other:?}"),
    }
    assert_eq!(store.trace_event("ev-extrude").await.unwrap(), None);
    assert_eq!(store.trace_event_by_hash(&orphan.hash).await.unwrap(), None);
    let down = store
        .lineage("flakes-lot-1", LineageDirection::Downstream, 5)
        .await
        .unwrap();
    assert!(down.nodes.is_empty() && down.edges.is_empty(), "{down:?}");
    assert!(
        store
            .audit_entries("trace_event:ev-extrude")
            .await
            .unwrap()
            .is_empty()
    );

    // The same event with known predecessors goes in, links kept in order.
    let e2 = event(
        "ev-extrude",
        &["ev-shred"],
        &["flakes-lot-1"],
        &["pellets-lot-1"],
    );
    store.insert_trace_event(&e2).await.unwrap();
    let e3 = event("ev-mould", &["ev-extrude", "ev-shred"], &[], &[]);
    store.insert_trace_event(&e3).await.unwrap();
    let stored = store.trace_event_by_hash(&e3.hash).await.unwrap().unwrap();
    assert_eq!(stored.event_id, "ev-mould");
    assert_eq!(
        stored.previous_hashes,
        [hash_of("ev-extrude"), hash_of("ev-shred")]
    );

    // An event cannot name itself as predecessor.
    let selfish = event("ev-self", &["ev-self"], &[], &[]);
    assert!(matches!(
        store.insert_trace_event(&selfish).await,
        Err(StoreError::UnknownPredecessor(_))
    ));
    assert_eq!(store.trace_event("ev-self").await.unwrap(), None);
}

async fn lineage_walks_up_down_both_with_depth_and_cycle(db: &TestDb) {
    let store = &db.store;
    // pellets ─┐
    //          ├─> compound ─> bumper ─> regrind ─┐
    // masterbatch┘     ^─────────────────────────┘  (regrind goes back into the compound: cycle)
    // One event per arrow group: ev-compound, ev-mould, ev-regrind, ev-recompound.
    store
        .insert_trace_event(&event(
            "ev-compound",
            &[],
            &["pellets", "masterbatch"],
            &["compound"],
        ))
        .await
        .unwrap();
    store
        .insert_trace_event(&event(
            "ev-mould",
            &["ev-compound"],
            &["compound"],
            &["bumper"],
        ))
        .await
        .unwrap();
    store
        .insert_trace_event(&event(
            "ev-regrind",
            &["ev-mould"],
            &["bumper"],
            &["regrind"],
        ))
        .await
        .unwrap();
    store
        .insert_trace_event(&event(
            "ev-recompound",
            &["ev-regrind"],
            &["regrind"],
            &["compound"],
        ))
        .await
        .unwrap();

    let node = |id: &str, depth, direction| LineageNode {
        id: id.to_owned(),
        depth,
        direction,
    };
    let edge = |from: &str, to: &str, event_id: &str| LineageEdge {
        from: from.to_owned(),
        to: to.to_owned(),
        event_id: event_id.to_owned(),
    };
    use LineageDirection::{Both, Downstream, Upstream};

    let up = store.lineage("bumper", Upstream, 10).await.unwrap();
    assert_eq!(up.root, "bumper");
    assert_eq!(
        up.nodes,
        [
            node("compound", 1, Upstream),
            node("masterbatch", 2, Upstream),
            node("pellets", 2, Upstream),
            node("regrind", 2, Upstream),
        ]
    );
    // The walk ends at the cycle (regrind's input is the root) but shows the edge that closes it.
    assert!(up.edges.contains(&edge("bumper", "regrind", "ev-regrind")));
    assert_eq!(up.edges.len(), 5);
    assert!(!up.truncated);

    let up1 = store.lineage("bumper", Upstream, 1).await.unwrap();
    assert_eq!(up1.nodes, [node("compound", 1, Upstream)]);
    assert_eq!(up1.edges, [edge("compound", "bumper", "ev-mould")]);

    let down = store.lineage("pellets", Downstream, 10).await.unwrap();
    assert_eq!(
        down.nodes,
        [
            node("compound", 1, Downstream),
            node("bumper", 2, Downstream),
            node("regrind", 3, Downstream),
        ]
    );
    assert!(
        down.edges
            .contains(&edge("regrind", "compound", "ev-recompound"))
    );

    let both = store.lineage("compound", Both, 1).await.unwrap();
    assert_eq!(
        both.nodes,
        [
            node("masterbatch", 1, Upstream),
            node("pellets", 1, Upstream),
            node("regrind", 1, Upstream),
            node("bumper", 1, Downstream),
        ]
    );
    assert_eq!(both.edges.len(), 4);
    let both = store.lineage("compound", Both, 10).await.unwrap();
    assert!(both.nodes.contains(&node("bumper", 2, Upstream)));
    assert!(both.nodes.contains(&node("regrind", 2, Downstream)));
    let distinct: BTreeSet<_> = both.edges.iter().collect();
    assert_eq!(distinct.len(), both.edges.len(), "edges reported once");
    assert_eq!(both.edges.len(), 5);

    assert!(
        store
            .lineage("bumper", Both, 0)
            .await
            .unwrap()
            .nodes
            .is_empty()
    );
    let unknown = store.lineage("nothing-here", Both, 3).await.unwrap();
    assert!(unknown.nodes.is_empty() && unknown.edges.is_empty());

    let json = serde_json::to_value(&up1).unwrap();
    assert_eq!(json["nodes"][0]["direction"], "upstream");
    assert_eq!(json["edges"][0]["eventId"], "ev-mould");
}

async fn collection_totals_per_month_and_category(db: &TestDb) {
    let store = &db.store;
    let records = [
        record(
            "col-2025-01-a",
            "2025-01-01",
            vec![
                entry("automotive", [100.0, 10.0, 60.0, 20.0, 10.0]),
                entry("packaging", [40.0, 0.0, 30.0, 8.0, 2.0]),
            ],
        ),
        record(
            "col-2025-01-b",
            "2025-01-31",
            vec![entry("automotive", [50.5, 0.5, 40.0, 5.0, 5.0])],
        ),
        record(
            "col-2025-02-a",
            "2025-02-14",
            vec![entry("packaging", [12.25, 0.0, 12.25, 0.0, 0.0])],
        ),
        record(
            "col-2024-12",
            "2024-12-31",
            vec![entry("automotive", [999.0, 0.0, 0.0, 0.0, 999.0])],
        ),
        record(
            "col-2025-03",
            "2025-03-01",
            vec![entry("automotive", [999.0, 0.0, 0.0, 0.0, 999.0])],
        ),
    ];
    for r in &records {
        store.insert_collection_record(r).await.unwrap();
    }
    let totals = store
        .collection_totals(day("2025-01-01"), day("2025-02-28"))
        .await
        .unwrap();
    let t = |period: &str, category: &str, kg: [f64; 5]| CategoryTotals {
        period: period.to_owned(),
        category: category.to_owned(),
        collected_kg: kg[0],
        reused_parts_kg: kg[1],
        material_recycling_kg: kg[2],
        thermal_recycling_kg: kg[3],
        disposal_kg: kg[4],
    };
    assert_eq!(
        totals,
        [
            t("2025-01", "automotive", [150.5, 10.5, 100.0, 25.0, 15.0]),
            t("2025-01", "packaging", [40.0, 0.0, 30.0, 8.0, 2.0]),
            t("2025-02", "packaging", [12.25, 0.0, 12.25, 0.0, 0.0]),
        ]
    );
    let one_day = store
        .collection_totals(day("2025-01-31"), day("2025-01-31"))
        .await
        .unwrap();
    assert_eq!(
        one_day,
        [t("2025-01", "automotive", [50.5, 0.5, 40.0, 5.0, 5.0])]
    );
    assert!(
        store
            .collection_totals(day("2023-01-01"), day("2023-12-31"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn duplicate_collection_record_stores_nothing(db: &TestDb) {
    let store = &db.store;
    let first = record(
        "col-dup",
        "2025-05-05",
        vec![entry("electronics", [10.0, 1.0, 6.0, 2.0, 1.0])],
    );
    store.insert_collection_record(&first).await.unwrap();
    let again = record(
        "col-dup",
        "2025-05-06",
        vec![
            entry("electronics", [500.0, 0.0, 0.0, 0.0, 500.0]),
            entry("packaging", [7.0, 0.0, 7.0, 0.0, 0.0]),
        ],
    );
    assert!(matches!(
        store.insert_collection_record(&again).await,
        Err(StoreError::Duplicate)
    ));
    let totals = store
        .collection_totals(day("2025-05-01"), day("2025-05-31"))
        .await
        .unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!(totals[0].category, "electronics");
    assert_eq!(totals[0].collected_kg, 10.0);
    assert_eq!(
        store
            .audit_entries("collection_record:col-dup")
            .await
            .unwrap()
            .len(),
        1
    );
    let mut bad = record(
        "col-nan",
        "2025-05-07",
        vec![entry("x", [f64::NAN, 0.0, 0.0, 0.0, 0.0])],
    );
    assert!(matches!(
        store.insert_collection_record(&bad).await,
        Err(StoreError::InvalidInput(_))
    ));
    bad.entries.clear();
    store.insert_collection_record(&bad).await.unwrap();
}

async fn audit_rows_are_written(db: &TestDb) {
    let store = &db.store;
    let v1 = version_of(&PET_FLAKES, 1);
    store.insert_passport(&v1).await.unwrap();
    let mut v2 = version_of(&PET_FLAKES, 2);
    v2.actor = "bob@brand.example".into();
    store.insert_next_version(&v2, 1).await.unwrap();
    store
        .audit(
            "carol@auditor.example",
            "passport.export",
            "passport:export-1",
        )
        .await
        .unwrap();

    let created = store
        .audit_entries(&format!("passport:{}@1", PET_FLAKES.id))
        .await
        .unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(
        (created[0].actor.as_str(), created[0].action.as_str()),
        ("alice@recycler.example", "passport.create")
    );
    let updated = store
        .audit_entries(&format!("passport:{}@2", PET_FLAKES.id))
        .await
        .unwrap();
    assert_eq!(
        (updated[0].actor.as_str(), updated[0].action.as_str()),
        ("bob@brand.example", "passport.update")
    );
    assert!(updated[0].seq > created[0].seq);
    let exported = store.audit_entries("passport:export-1").await.unwrap();
    assert_eq!(exported[0].actor, "carol@auditor.example");
    assert!(exported[0].at >= created[0].at);
}

// ---------------------------------------------------------------------------------------------
// Backend-specific behaviour

#[tokio::test]
async fn sqlite_file_persists_and_uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in_dir(&dir.path().join("nested data"))
        .await
        .unwrap();
    store
        .insert_passport(&version_of(&PP_BUMPER, 1))
        .await
        .unwrap();
    store.close().await;

    let reopened = Store::open_in_dir(&dir.path().join("nested data"))
        .await
        .unwrap();
    assert_eq!(reopened.passport_count().await.unwrap(), 1);
    let path = dir.path().join("nested data").join("dpp-gateway.db");
    assert!(path.exists());
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    conn.close().await.unwrap();
    reopened.close().await;
}

#[tokio::test]
async fn unsupported_url_is_rejected() {
    assert!(matches!(
        Store::connect("mysql://root:hunter2@localhost/dpp").await,
        Err(StoreError::UnsupportedUrl(u)) if !u.contains("hunter2")
    ));
}

#[test]
fn with_database_replaces_only_the_path() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5433/postgres", "t1"),
        "postgres://postgres@127.0.0.1:5433/t1"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "t1"),
        "postgres://u:p@h/t1?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h:1", "t1"), "postgres://h:1/t1");
}

async fn latest_passports_come_in_one_batch_past_the_in_list_chunk(db: &TestDb) {
    let store = &db.store;
    // 600 passports (more than one IN-list chunk of 500), the first one at version 2.
    let mut ids = Vec::new();
    for n in 0..600 {
        let id = format!("urn:uuid:batch-{n:04}");
        store
            .insert_passport(&plain_passport(id.clone(), "PP", 0.5))
            .await
            .unwrap();
        ids.push(id);
    }
    let mut next = plain_passport(ids[0].clone(), "PE", 0.1);
    next.version = 2;
    next.canonical_json = format!(r#"{{"id":"{}","v":2}}"#, ids[0]);
    store.insert_next_version(&next, 1).await.unwrap();
    let mut asked = ids.clone();
    asked.push("urn:uuid:absent".to_owned());
    let found = store.latest_passports(&asked).await.unwrap();
    assert_eq!(found.len(), 600, "the absent id is simply not there");
    let got: BTreeSet<&str> = found.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect());
    let first = found.iter().find(|p| p.id == ids[0]).unwrap();
    assert_eq!(first.version, 2, "the latest version");
    assert!(store.latest_passports(&[]).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Wide events: stored as an event hub (inputs + outputs rows), bounded, and a bounded lineage.

/// `count` lot ids `urn:lot:<prefix>-0000`, …, in sort order.
fn lots(prefix: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|n| format!("urn:lot:{prefix}-{n:04}"))
        .collect()
}

fn wide_event(id: &str, inputs: &[String], outputs: &[String]) -> NewTraceEvent {
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
    event(id, &[], &inputs, &outputs)
}

/// Row count of every table but sqlx's own, read on a connection of its own.
async fn row_counts(db: &TestDb) -> std::collections::BTreeMap<String, i64> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let list = match db.store.backend() {
        dpp_gateway::store::Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        dpp_gateway::store::Backend::Postgres => {
            "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = 'public'"
        }
    };
    let tables: Vec<String> = sqlx::query_scalar(list).fetch_all(&mut conn).await.unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for table in tables.into_iter().filter(|t| t != "_sqlx_migrations") {
        // Table names come from the catalogue, quoted; no test input reaches them.
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM \"{table}\""
        )))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        counts.insert(table, n);
    }
    conn.close().await.unwrap();
    counts
}

fn total(counts: &std::collections::BTreeMap<String, i64>) -> i64 {
    counts.values().sum()
}

async fn a_wide_event_is_stored_as_its_inputs_plus_outputs(db: &TestDb) {
    let store = &db.store;
    let inputs = lots("bale", dpp_gateway::store::MAX_EVENT_INPUTS);
    let outputs = lots("flake-bag", dpp_gateway::store::MAX_EVENT_OUTPUTS);
    let before = row_counts(db).await;
    // Repeats count once.
    let mut sent = wide_event("ev-wide", &inputs, &outputs);
    sent.inputs.push(inputs[7].clone());
    store.insert_trace_event(&sent).await.unwrap();
    let after = row_counts(db).await;

    // 1,000 + 1,000 rows, not 1,000 × 1,000: the event, its audit row and its two sets.
    assert_eq!(after["lineage_inputs"] - before["lineage_inputs"], 1_000);
    assert_eq!(after["lineage_outputs"] - before["lineage_outputs"], 1_000);
    assert_eq!(
        total(&after) - total(&before),
        1_000 + 1_000 + 2,
        "{after:?}"
    );

    // Upstream of one output: every input, once, at depth 1, with its edge into that output.
    let root = &outputs[500];
    let up = store
        .lineage(root, LineageDirection::Upstream, 3)
        .await
        .unwrap();
    assert!(!up.truncated);
    let reached: Vec<&str> = up.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        reached,
        inputs.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(up.nodes.iter().all(|n| n.depth == 1));
    assert_eq!(up.edges.len(), 1_000);
    assert!(
        up.edges
            .iter()
            .zip(&inputs)
            .all(|(e, i)| e.from == *i && e.to == *root && e.event_id == "ev-wide"),
        "edges in input order, all into the root"
    );

    // Downstream of one input: every output. Both ways from an input: its outputs downstream,
    // and upstream of it nothing.
    let down = store
        .lineage(&inputs[0], LineageDirection::Both, 3)
        .await
        .unwrap();
    assert!(!down.truncated);
    assert_eq!(down.nodes.len(), 1_000);
    assert!(
        down.nodes.iter().zip(&outputs).all(|(n, o)| n.id == *o
            && n.depth == 1
            && n.direction == LineageDirection::Downstream)
    );
    assert_eq!(down.edges.len(), 1_000);
    assert_eq!(down.edges[999].from, inputs[0]);
    assert_eq!(down.edges[999].to, outputs[999]);
}

async fn an_event_over_the_bounds_stores_nothing(db: &TestDb) {
    let store = &db.store;
    let before = row_counts(db).await;
    let too_many_inputs = wide_event(
        "ev-too-wide",
        &lots("bale", dpp_gateway::store::MAX_EVENT_INPUTS + 1),
        &lots("flake-bag", 1),
    );
    let too_many_outputs = wide_event(
        "ev-too-many-bags",
        &lots("bale", 1),
        &lots("flake-bag", dpp_gateway::store::MAX_EVENT_OUTPUTS + 1),
    );
    for (e, side) in [
        (too_many_inputs, "1001 distinct inputs"),
        (too_many_outputs, "1001 distinct outputs"),
    ] {
        match store.insert_trace_event(&e).await {
            Err(StoreError::InvalidInput(message)) => {
                assert!(message.contains(side), "{message}");
                assert!(message.contains(&e.event_id), "{message}");
            }
            other => panic!("{}: expected InvalidInput, got {other:?}", e.event_id),
        }
        assert_eq!(store.trace_event(&e.event_id).await.unwrap(), None);
    }
    assert_eq!(row_counts(db).await, before, "nothing stored");
}

async fn lineage_answers_are_bounded_and_say_truncated(db: &TestDb) {
    use dpp_gateway::store::{MAX_LINEAGE_EDGES, MAX_LINEAGE_NODES};
    let store = &db.store;
    // 1,000 bales → 1,000 flake bags (one event), all 1,000 bags → one pellet lot: upstream of
    // the pellets at depth 2 crosses 1,000 × 1,000 edges of the first event.
    let bales = lots("bale", 1_000);
    let bags = lots("flake-bag", 1_000);
    let pellets = "urn:lot:pellets".to_owned();
    store
        .insert_trace_event(&wide_event("ev-shred", &bales, &bags))
        .await
        .unwrap();
    store
        .insert_trace_event(&wide_event(
            "ev-extrude",
            &bags,
            std::slice::from_ref(&pellets),
        ))
        .await
        .unwrap();

    let shallow = store
        .lineage(&pellets, LineageDirection::Upstream, 1)
        .await
        .unwrap();
    assert!(!shallow.truncated);
    assert_eq!((shallow.nodes.len(), shallow.edges.len()), (1_000, 1_000));

    let deep = store
        .lineage(&pellets, LineageDirection::Both, 2)
        .await
        .unwrap();
    assert!(deep.truncated, "a million edges do not fit");
    assert_eq!(deep.nodes.len(), 2_000, "every node still fits");
    assert_eq!(deep.edges.len(), MAX_LINEAGE_EDGES);
    // The first edges in walk order: step 1 (bags → pellets), then step 2 by bale, then bag.
    let edge = |from: &str, to: &str, event_id: &str| LineageEdge {
        from: from.to_owned(),
        to: to.to_owned(),
        event_id: event_id.to_owned(),
    };
    assert_eq!(deep.edges[999], edge(&bags[999], &pellets, "ev-extrude"));
    assert_eq!(deep.edges[1_000], edge(&bales[0], &bags[0], "ev-shred"));
    let last = MAX_LINEAGE_EDGES - 1_000 - 1;
    assert_eq!(
        deep.edges[MAX_LINEAGE_EDGES - 1],
        edge(&bales[last / 1_000], &bags[last % 1_000], "ev-shred")
    );
    assert_eq!(
        serde_json::to_value(&deep).unwrap()["truncated"],
        serde_json::Value::Bool(true)
    );

    // More reachable ids than one answer holds: 11 events of 1,000 lots each into one compound.
    let compound = "urn:lot:compound".to_owned();
    for batch in 0..11 {
        let inputs = lots(&format!("regrind-{batch:02}"), 1_000);
        store
            .insert_trace_event(&wide_event(
                &format!("ev-compound-{batch:02}"),
                &inputs,
                std::slice::from_ref(&compound),
            ))
            .await
            .unwrap();
    }
    let wide = store
        .lineage(&compound, LineageDirection::Upstream, 1)
        .await
        .unwrap();
    assert!(wide.truncated);
    assert_eq!(wide.nodes.len(), MAX_LINEAGE_NODES);
    assert_eq!(wide.nodes.last().unwrap().id, "urn:lot:regrind-09-0999");
    assert_eq!(wide.edges.len(), MAX_LINEAGE_EDGES);
}

// ---------------------------------------------------------------------------------------------
// Migration 0006: the old edge table (one row per input → output pair) becomes event hubs.

/// Old-format lineage: (event id, inputs, outputs), written the way the gateway wrote it before
/// migration 0006, one `lineage_edges` row per pair.
fn old_events() -> Vec<(&'static str, Vec<String>, Vec<String>)> {
    let owned = |ids: &[&str]| ids.iter().map(|i| (*i).to_owned()).collect::<Vec<_>>();
    vec![
        (
            "ev-compound",
            owned(&["pellets", "masterbatch"]),
            owned(&["compound"]),
        ),
        ("ev-mould", owned(&["compound"]), owned(&["bumper", "trim"])),
        (
            "ev-regrind",
            owned(&["bumper", "trim"]),
            owned(&["regrind"]),
        ),
        ("ev-recompound", owned(&["regrind"]), owned(&["compound"])),
        ("ev-sort", lots("bale", 30), lots("flake-bag", 40)),
    ]
}

async fn old_edge_rows_become_event_hubs(blank: store_support::BlankDb) {
    use dpp_gateway::store::Backend;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&blank.url).await.unwrap();
    let migrations = match Backend::from_url(&blank.url).unwrap() {
        Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("migrations/postgres"),
    };
    migrations.run_to(5, &pool).await.unwrap();
    let mut old_edges = BTreeSet::new();
    for (event_id, inputs, outputs) in old_events() {
        sqlx::query(
            "INSERT INTO trace_events \
             (event_id, hash, event_type, event_time, canonical_json, recorded_at) \
             VALUES ($1, $2, 'TransformationEvent', 0, '{}', 0)",
        )
        .bind(event_id)
        .bind(hash_of(event_id))
        .execute(&pool)
        .await
        .unwrap();
        for from in &inputs {
            for to in &outputs {
                sqlx::query(
                    "INSERT INTO lineage_edges (from_id, to_id, event_id) VALUES ($1, $2, $3)",
                )
                .bind(from)
                .bind(to)
                .bind(event_id)
                .execute(&pool)
                .await
                .unwrap();
                old_edges.insert(LineageEdge {
                    from: from.clone(),
                    to: to.clone(),
                    event_id: event_id.to_owned(),
                });
            }
        }
    }
    pool.close().await;
    assert_eq!(old_edges.len(), 2 + 2 + 2 + 1 + 30 * 40);

    // Opening the store applies 0006.
    let db = blank.open().await;
    let counts = row_counts(&db).await;
    assert!(!counts.contains_key("lineage_edges"), "{counts:?}");
    assert_eq!(counts["lineage_inputs"], 2 + 1 + 2 + 1 + 30);
    assert_eq!(counts["lineage_outputs"], 1 + 2 + 1 + 1 + 40);

    // Every id sees exactly the edges it had: one hop both ways gives back the old rows.
    let ids: BTreeSet<String> = old_edges
        .iter()
        .flat_map(|e| [e.from.clone(), e.to.clone()])
        .collect();
    for id in &ids {
        let around = db
            .store
            .lineage(id, LineageDirection::Both, 1)
            .await
            .unwrap();
        let got: BTreeSet<LineageEdge> = around.edges.into_iter().collect();
        let expected: BTreeSet<LineageEdge> = old_edges
            .iter()
            .filter(|e| e.from == *id || e.to == *id)
            .cloned()
            .collect();
        assert_eq!(got, expected, "edges around {id}");
    }
    let up = db
        .store
        .lineage("regrind", LineageDirection::Upstream, 10)
        .await
        .unwrap();
    let reached: Vec<(&str, u32)> = up.nodes.iter().map(|n| (n.id.as_str(), n.depth)).collect();
    assert_eq!(
        reached,
        [
            ("bumper", 1),
            ("trim", 1),
            ("compound", 2),
            ("masterbatch", 3),
            ("pellets", 3)
        ]
    );
    db.finish().await;
}

/// Migration 0007: rows written before it indexed every material; afterwards only a passport's
/// main materials by mass are searched (the PET lot's 0.5 % PP caps and the bumper's paint drop out).
async fn old_material_rows_keep_only_the_main_materials(blank: store_support::BlankDb) {
    use dpp_gateway::store::Backend;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&blank.url).await.unwrap();
    let migrations = match Backend::from_url(&blank.url).unwrap() {
        Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("migrations/postgres"),
    };
    migrations.run_to(6, &pool).await.unwrap();
    let pet = dpp_schemas::fixtures::pet_bottle_flakes();
    let bumper = dpp_schemas::fixtures::pp_new_bumper();
    for passport in [&pet, &bumper] {
        let id = passport.id.to_string();
        sqlx::query(
            "INSERT INTO passport_heads (id, latest_version, updated_at) VALUES ($1, 1, 0)",
        )
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO passports (id, version, canonical_json, jws, etag, updated_at, recorded_at) \
             VALUES ($1, 1, $2, 'jws', 'etag', 0, 0)",
        )
        .bind(&id)
        .bind(serde_json::to_string(passport).unwrap())
        .execute(&pool)
        .await
        .unwrap();
        for (position, m) in (0_i64..).zip(&passport.materials) {
            sqlx::query(
                "INSERT INTO passport_materials \
                 (passport_id, version, position, polymer, recycled_share) \
                 VALUES ($1, 1, $2, $3, $4)",
            )
            .bind(&id)
            .bind(position)
            .bind(&m.polymer)
            .bind(m.recycled_share.total())
            .execute(&pool)
            .await
            .unwrap();
        }
    }
    pool.close().await;

    // Opening the store applies 0007.
    let db = blank.open().await;
    assert_eq!(row_counts(&db).await["passport_materials"], 2);
    let search = |polymer: &str| PassportFilter {
        polymer: Some(polymer.to_owned()),
        ..Default::default()
    };
    assert_eq!(ids(&db.store, &search("PET")).await, [pet.id.to_string()]);
    // The bumper's main material is the virgin PP+EPDM-T20 compound (62 %).
    assert_eq!(ids(&db.store, &search("PP")).await, [bumper.id.to_string()]);
    assert!(ids(&db.store, &search("PUR")).await.is_empty());
    db.finish().await;
}

mod migration {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_old_material_rows_keep_only_the_main_materials() {
        super::old_material_rows_keep_only_the_main_materials(
            super::store_support::blank_sqlite_db(),
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_old_material_rows_keep_only_the_main_materials() {
        let Some(blank) = super::store_support::blank_postgres_db().await else {
            return;
        };
        super::old_material_rows_keep_only_the_main_materials(blank).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_old_edge_rows_become_event_hubs() {
        super::old_edge_rows_become_event_hubs(super::store_support::blank_sqlite_db()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_old_edge_rows_become_event_hubs() {
        let Some(blank) = super::store_support::blank_postgres_db().await else {
            return;
        };
        super::old_edge_rows_become_event_hubs(blank).await;
    }
}

/// The partner's passport selector inside the listing query selects exactly what
/// `PassportSelector::matches` selects, over the latest versions: polymer and share on one
/// material, product-id prefixes taken literally (no LIKE patterns, case-sensitive, non-ASCII),
/// id lists, and all of them with a caller's filter on another material.
async fn selector_in_the_listing_matches_the_selector_rule(db: &TestDb) {
    let store = &db.store;
    for f in [&PP_BUMPER, &PET_FLAKES, &ABS_HOUSING] {
        store.insert_passport(&version_of(f, 1)).await.unwrap();
    }
    let odd_id = "urn:uuid:7c1d0e55-2b6a-4f0e-9d3c-1a2b3c4d5e04";
    let mut odd = plain_passport(odd_id.to_owned(), "PE-HD", 0.25);
    odd.product_ids = vec![("lot".to_owned(), "Lot_ä%1".to_owned())];
    store.insert_passport(&odd).await.unwrap();
    // Version 2 of the bumper is PE-HD under a new GTIN: only the latest version counts.
    let mut v2 = version_of(&PP_BUMPER, 2);
    v2.polymers = vec![("PE-HD".into(), 0.6)];
    v2.product_ids = vec![("gtin".into(), "04012345000030".into())];
    store.insert_next_version(&v2, 1).await.unwrap();

    let latest = [
        v2.clone(),
        version_of(&PET_FLAKES, 1),
        version_of(&ABS_HOUSING, 1),
        odd.clone(),
    ];

    let prefix = |p: &str| PassportSelector {
        product_id_prefix: Some(p.to_owned()),
        ..Default::default()
    };
    let material = |polymer: Option<&str>, share: Option<f64>| PassportSelector {
        polymer: polymer.map(str::to_owned),
        min_recycled_share: share,
        ..Default::default()
    };
    let selectors = vec![
        PassportSelector::default(),
        material(Some("PP"), None),
        material(Some("PP"), Some(0.5)),
        material(Some("PE-HD"), Some(0.5)),
        material(None, Some(0.9)),
        material(Some("ABS"), Some(0.1)),
        // Polymer families (`PE` is `PE-HD`, not `PET`) and symbols taken literally.
        material(Some("PE"), None),
        material(Some("PE"), Some(0.5)),
        material(Some("P%"), None),
        material(Some("PE_HD"), None),
        material(Some("pe-hd"), None),
        prefix(""),
        prefix("0401234500003"),
        prefix("gtin:0401"),
        prefix("lot:"),
        prefix("https://id.example.com/lot"),
        prefix("lot:https://id.example.com/"),
        prefix("Lot_ä"),
        prefix("Lot_ä%"),
        prefix("Lot%"),
        prefix("Lot__"),
        prefix("LOT"),
        prefix("lot:Lot_ä%1"),
        PassportSelector {
            ids: vec![PET_FLAKES.id.to_owned(), odd_id.to_owned()],
            ..Default::default()
        },
        PassportSelector {
            ids: vec![
                PET_FLAKES.id.to_owned(),
                "urn:uuid:00000000-0000-4000-8000-000000000000".to_owned(),
            ],
            polymer: Some("PET".to_owned()),
            ..Default::default()
        },
        PassportSelector {
            ids: vec![
                ABS_HOUSING.id.to_owned(),
                odd_id.to_owned(),
                PP_BUMPER.id.to_owned(),
            ],
            product_id_prefix: Some("lot:".to_owned()),
            polymer: Some("PP".to_owned()),
            min_recycled_share: Some(0.5),
        },
    ];
    let mut selected_some = 0;
    for selector in &selectors {
        let mut expected: Vec<String> = latest
            .iter()
            .filter(|v| selector.matches(&v.id, &v.product_ids, &v.polymers))
            .map(|v| v.id.clone())
            .collect();
        expected.sort();
        let page = store
            .list_passports_within(&PassportFilter::default(), selector, None, 100)
            .await
            .unwrap();
        let got: Vec<String> = page.items.into_iter().map(|p| p.id).collect();
        assert_eq!(got, expected, "{selector:?}");
        if !expected.is_empty() && expected.len() < latest.len() {
            selected_some += 1;
        }
    }
    assert!(selected_some >= 12, "the selectors must discriminate");

    // The caller's filter and the selector each need a material, not the same one: the housing's
    // PP clips satisfy the selector, its ABS the filter.
    let abs = PassportFilter {
        polymer: Some("ABS".into()),
        ..Default::default()
    };
    let page = store
        .list_passports_within(&abs, &material(Some("PP"), Some(0.5)), None, 100)
        .await
        .unwrap();
    let got: Vec<&str> = page.items.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(got, [ABS_HOUSING.id]);

    // Paging within a selector neither repeats nor skips, and ends without a cursor.
    let lots = prefix("lot:");
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_passports_within(&PassportFilter::default(), &lots, after.as_deref(), 1)
            .await
            .unwrap();
        all.extend(page.items.into_iter().map(|p| p.id));
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    let mut expected: Vec<String> = vec![
        PET_FLAKES.id.to_owned(),
        ABS_HOUSING.id.to_owned(),
        odd_id.to_owned(),
    ];
    expected.sort();
    assert_eq!(all, expected);
}

/// `polymer=X` finds the symbol `X`, blends whose matrix is `X` (`X+…`) and `X` with a qualifier
/// or filler (`X-…`), nothing else: `PE` is not `PET`, `EPDM` is not the matrix of `PP+EPDM-T15`,
/// and `%`/`_` are characters, not patterns.
async fn polymer_filter_matches_the_polymer_family_literally(db: &TestDb) {
    let store = &db.store;
    let lots = [
        (
            "urn:uuid:3a000000-0000-4000-8000-000000000001",
            "PP+EPDM-T15",
            1.0,
        ),
        (
            "urn:uuid:3a000000-0000-4000-8000-000000000002",
            "PE-HD",
            0.6,
        ),
        ("urn:uuid:3a000000-0000-4000-8000-000000000003", "PET", 1.0),
        ("urn:uuid:3a000000-0000-4000-8000-000000000004", "PP", 0.2),
        (
            "urn:uuid:3a000000-0000-4000-8000-000000000005",
            "PA6-GF30",
            0.0,
        ),
        ("urn:uuid:3a000000-0000-4000-8000-000000000006", "PA66", 0.0),
    ];
    for (id, polymer, share) in lots {
        store
            .insert_passport(&plain_passport(id.to_owned(), polymer, share))
            .await
            .unwrap();
    }
    let search = |polymer: &str, share: Option<f64>| PassportFilter {
        polymer: Some(polymer.to_owned()),
        min_recycled_share: share,
        ..Default::default()
    };
    let id = |n: usize| lots[n - 1].0;
    assert_eq!(ids(store, &search("PP", None)).await, [id(1), id(4)]);
    assert_eq!(ids(store, &search("PP", Some(0.5))).await, [id(1)]);
    assert_eq!(ids(store, &search("PE", None)).await, [id(2)]);
    assert_eq!(ids(store, &search("PET", None)).await, [id(3)]);
    assert_eq!(ids(store, &search("PA6", None)).await, [id(5)]);
    assert_eq!(ids(store, &search("PP+EPDM", None)).await, [id(1)]);
    for nothing in ["EPDM", "P", "P%", "PE_HD", "pp", "PA", ""] {
        assert!(
            ids(store, &search(nothing, None)).await.is_empty(),
            "polymer={nothing:?}"
        );
    }
}

async fn collection_records_read_back_and_page_within_dates(db: &TestDb) {
    let store = &db.store;
    let days = [
        ("col-a", "2025-03-31"),
        ("col-b", "2025-04-01"),
        ("col-c", "2025-04-15"),
        ("col-d", "2025-04-30"),
        ("col-e", "2025-05-01"),
    ];
    // Stored out of id order: the listing orders them.
    for (id, on) in days.iter().rev() {
        let r = record(id, on, vec![entry("automotive-bumpers", [10.0; 5])]);
        store.insert_collection_record(&r).await.unwrap();
    }
    let one = store.collection_record("col-c").await.unwrap().unwrap();
    assert_eq!(one.id, "col-c");
    assert_eq!(one.collected_on, day("2025-04-15"));
    assert_eq!(
        one.canonical_json,
        record("col-c", "2025-04-15", vec![]).canonical_json
    );
    assert!(one.recorded_at > at("2025-01-01T00:00:00Z"));
    assert_eq!(store.collection_record("col-zzz").await.unwrap(), None);

    // April, both ends inclusive, two per page: b, c | d, and no cursor after the last page.
    let april = CollectionRecordFilter {
        from: Some(day("2025-04-01")),
        to: Some(day("2025-04-30")),
    };
    let first = store
        .list_collection_records(&april, None, 2)
        .await
        .unwrap();
    let ids: Vec<&str> = first.items.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["col-b", "col-c"]);
    let cursor = first.next_cursor.expect("a second page");
    let second = store
        .list_collection_records(&april, Some(&cursor), 2)
        .await
        .unwrap();
    let ids: Vec<&str> = second.items.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["col-d"]);
    assert_eq!(second.next_cursor, None);

    // Open ends, and only one of them.
    let all = store
        .list_collection_records(&CollectionRecordFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(all.items.len(), 5);
    assert_eq!(all.next_cursor, None);
    let from_may = CollectionRecordFilter {
        from: Some(day("2025-05-01")),
        to: None,
    };
    let may = store
        .list_collection_records(&from_may, None, 100)
        .await
        .unwrap();
    let ids: Vec<&str> = may.items.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["col-e"]);
    let until_march = CollectionRecordFilter {
        from: None,
        to: Some(day("2025-03-31")),
    };
    let march = store
        .list_collection_records(&until_march, None, 100)
        .await
        .unwrap();
    let ids: Vec<&str> = march.items.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["col-a"]);
    assert!(matches!(
        store
            .list_collection_records(&april, Some("not base64!"), 2)
            .await,
        Err(StoreError::InvalidCursor(_))
    ));
}

async fn trace_events_list_in_pages_and_by_the_ids_they_name(db: &TestDb) {
    let store = &db.store;
    for e in [
        event("ev-1-shred", &[], &["bumpers-lot-1"], &["flakes-lot-1"]),
        event(
            "ev-2-extrude",
            &["ev-1-shred"],
            &["flakes-lot-1"],
            &["pellets-lot-1"],
        ),
        event("ev-3-observe", &[], &[], &[]),
        event(
            "ev-4-mould",
            &["ev-2-extrude"],
            &["pellets-lot-1"],
            &["bumper-9"],
        ),
    ] {
        store.insert_trace_event(&e).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_trace_events(None, after.as_deref(), 3)
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|e| e.event_id.clone()));
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["ev-1-shred", "ev-2-extrude", "ev-3-observe", "ev-4-mould"]
    );

    // By an id the event names as an input or an output; predecessors come along.
    let flakes = store
        .list_trace_events(Some("flakes-lot-1"), None, 10)
        .await
        .unwrap();
    let ids: Vec<&str> = flakes.items.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["ev-1-shred", "ev-2-extrude"]);
    assert_eq!(flakes.items[1].previous_hashes, [hash_of("ev-1-shred")]);
    assert_eq!(flakes.items[1].hash, hash_of("ev-2-extrude"));
    let pellets = store
        .list_trace_events(Some("pellets-lot-1"), None, 1)
        .await
        .unwrap();
    assert_eq!(pellets.items.len(), 1);
    assert_eq!(pellets.items[0].event_id, "ev-2-extrude");
    let cursor = pellets.next_cursor.expect("a second page");
    let rest = store
        .list_trace_events(Some("pellets-lot-1"), Some(&cursor), 1)
        .await
        .unwrap();
    assert_eq!(rest.items[0].event_id, "ev-4-mould");
    assert_eq!(rest.next_cursor, None);
    let none = store
        .list_trace_events(Some("nothing-named-this"), None, 10)
        .await
        .unwrap();
    assert!(none.items.is_empty() && none.next_cursor.is_none());
}
