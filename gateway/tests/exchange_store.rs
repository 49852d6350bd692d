//! The store's partners, subscriptions and outbox, written once and run against both backends
//! (SQLite in a temp dir; PostgreSQL when `DPP_TEST_POSTGRES_URL` is set —
//! `scripts/with-postgres.sh cargo test -p dpp-gateway --test exchange_store`). The dual-backend
//! harness is the one of `tests/store.rs`.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use dpp_gateway::store::{
    AccessPolicy, AttemptFailure, NewPassportVersion, OutboxFilter, OutboxState, PartnerRecord,
    PartnerState, PassportSelector, PullSettings, Store, StoreError,
};
use sqlx::Connection;

#[macro_use]
mod store_support;

use store_support::{TestDb, postgres_db, sqlite_db};

on_both_backends!(
    partners_round_trip_and_duplicates_are_typed,
    an_item_goes_queued_in_flight_delivered,
    failures_wait_for_their_time_and_die_at_the_end,
    retry_requeues_dead_items_only,
    expired_leases_are_reclaimed_and_released_leases_requeued,
    concurrent_claimers_never_share_an_item,
    subscriptions_queue_in_the_version_transaction,
    removing_a_partner_dead_letters_its_pending_items,
    list_pages_filter_by_state_and_partner,
    the_inbound_receipts_table_exists,
    partner_tokens_resolve_list_revoke_and_go_with_the_partner,
    expired_receipts_are_pruned_in_batches_and_fresh_ones_kept,
);

// ---------------------------------------------------------------------------------------------
// Fixtures

fn partner(name: &str, state: PartnerState) -> PartnerRecord {
    PartnerRecord {
        name: name.into(),
        adapter_type: "ouranos".into(),
        endpoint: "https://api.ouranos.example/".into(),
        settings: serde_json::json!({ "api_key": { "env": "OURANOS_API_KEY" } })
            .as_object()
            .unwrap()
            .clone(),
        allowed_hosts: vec!["ouranos.internal".into()],
        policy: AccessPolicy::default(),
        pull: PullSettings::default(),
        limits: Default::default(),
        state,
        revision: 0,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

/// A recycled-PP pellet lot (`n` keeps ids apart).
fn pellets(n: usize) -> NewPassportVersion {
    passport(n, "lot", &format!("JP-RPP-{n:05}"), "PP", 0.97)
}

/// A PET bottle flake lot.
fn pet(n: usize) -> NewPassportVersion {
    passport(n, "lot", &format!("PET-FL-{n:05}"), "PET", 1.0)
}

fn passport(n: usize, scheme: &str, value: &str, polymer: &str, share: f64) -> NewPassportVersion {
    let id = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    NewPassportVersion {
        id: id.clone(),
        version: 1,
        canonical_json: format!("{{\"id\":\"{id}\",\"n\":{n}}}"),
        jws: format!("header.payload{n}.signature"),
        etag: format!("\"{n:032x}\""),
        updated_at: Utc::now(),
        product_ids: vec![(scheme.into(), value.into())],
        polymers: vec![(polymer.into(), share)],
        actor: "test".into(),
    }
}

async fn queue(store: &Store, partner: &str, n: usize) -> String {
    let p = pellets(n);
    store.insert_passport(&p).await.unwrap();
    store
        .enqueue_delivery(partner, &p.id, 1, "test")
        .await
        .unwrap()
        .id
}

const LEASE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Tests

async fn partners_round_trip_and_duplicates_are_typed(db: &TestDb) {
    let store = &db.store;
    let mut p = partner("ouranos-tokai", PartnerState::Registered);
    p.policy.passports.polymer = Some("PP".into());
    p.policy.fields.deny = vec!["/materials/*/substancesOfConcern".into()];
    p.pull.ttl_seconds = Some(60);
    p.pull.stale_if_error_seconds = Some(0);
    p.limits.burst = Some(7);
    let stored = store.insert_partner(&p, "test").await.unwrap();
    assert_eq!(stored.revision, 1);
    let read = store.partner("ouranos-tokai").await.unwrap().unwrap();
    assert_eq!(read.policy, p.policy);
    assert_eq!(read.pull, p.pull, "only the members given are stored");
    assert_eq!(read.limits, p.limits);
    assert_eq!(read.settings, p.settings);
    assert_eq!(read.state, PartnerState::Registered);
    assert!(matches!(
        store.insert_partner(&p, "test").await,
        Err(StoreError::Duplicate)
    ));
    store
        .set_partner_state("ouranos-tokai", PartnerState::Verified, "suite")
        .await
        .unwrap();
    let verified = store.partner("ouranos-tokai").await.unwrap().unwrap();
    assert_eq!(verified.state, PartnerState::Verified);
    assert_eq!(verified.revision, 2, "a change bumps the revision");
    assert!(matches!(
        store
            .set_partner_state("nobody", PartnerState::Failed, "suite")
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.partners().await.unwrap().len(), 1);
}

async fn an_item_goes_queued_in_flight_delivered(db: &TestDb) {
    let store = &db.store;
    store
        .insert_partner(&partner("p", PartnerState::TrustedUnchecked), "t")
        .await
        .unwrap();
    let id = queue(store, "p", 1).await;
    let queued = store.outbox_item(&id).await.unwrap().unwrap();
    assert_eq!(queued.state, OutboxState::Queued);
    assert_eq!(queued.attempts, 0);
    assert!(queued.idempotency_key.starts_with("dpp-gw-"));

    let claimed = store.claim_outbox("w1", LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].state, OutboxState::InFlight);
    assert_eq!(claimed[0].attempts, 1);
    assert_eq!(claimed[0].lease_owner.as_deref(), Some("w1"));
    assert!(
        store
            .claim_outbox("w2", LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );

    assert!(
        !store.complete_delivery(&id, "w2", "remote").await.unwrap(),
        "not the holder"
    );
    assert!(store.complete_delivery(&id, "w1", "trace-1").await.unwrap());
    let done = store.outbox_item(&id).await.unwrap().unwrap();
    assert_eq!(done.state, OutboxState::Delivered);
    assert_eq!(done.remote_id.as_deref(), Some("trace-1"));
    assert_eq!(done.idempotency_key, queued.idempotency_key);
    assert!(done.lease_owner.is_none() && done.delivered_at.is_some());
    assert!(!store.complete_delivery(&id, "w1", "again").await.unwrap());
    assert!(
        store
            .claim_outbox("w1", LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn failures_wait_for_their_time_and_die_at_the_end(db: &TestDb) {
    let store = &db.store;
    store
        .insert_partner(&partner("p", PartnerState::TrustedUnchecked), "t")
        .await
        .unwrap();
    let id = queue(store, "p", 2).await;
    store.claim_outbox("w", LEASE, 1).await.unwrap();
    let later = Utc::now() + chrono::Duration::milliseconds(300);
    assert!(
        store
            .fail_delivery(
                &id,
                "w",
                "remote answered 503",
                &AttemptFailure::RetryAt(later)
            )
            .await
            .unwrap()
    );
    let failed = store.outbox_item(&id).await.unwrap().unwrap();
    assert_eq!(failed.state, OutboxState::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("remote answered 503"));
    assert!(
        store.claim_outbox("w", LEASE, 1).await.unwrap().is_empty(),
        "not due yet"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let again = store.claim_outbox("w", LEASE, 1).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    assert!(
        store
            .fail_delivery(&id, "w", "gone for good", &AttemptFailure::Dead)
            .await
            .unwrap()
    );
    let dead = store.outbox_item(&id).await.unwrap().unwrap();
    assert_eq!(dead.state, OutboxState::Dead);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        store.claim_outbox("w", LEASE, 1).await.unwrap().is_empty(),
        "dead stays dead"
    );
}

async fn retry_requeues_dead_items_only(db: &TestDb) {
    let store = &db.store;
    store
        .insert_partner(&partner("p", PartnerState::TrustedUnchecked), "t")
        .await
        .unwrap();
    let id = queue(store, "p", 3).await;
    assert!(matches!(
        store.retry_delivery(&id, "t").await,
        Err(StoreError::StateConflict(m)) if m.contains("queued")
    ));
    store.claim_outbox("w", LEASE, 1).await.unwrap();
    store
        .fail_delivery(&id, "w", "x", &AttemptFailure::Dead)
        .await
        .unwrap();
    let key = store
        .outbox_item(&id)
        .await
        .unwrap()
        .unwrap()
        .idempotency_key;
    let revived = store.retry_delivery(&id, "admin").await.unwrap();
    assert_eq!(revived.state, OutboxState::Queued);
    assert_eq!(revived.attempts, 0);
    assert_eq!(revived.idempotency_key, key);
    assert_eq!(store.claim_outbox("w", LEASE, 1).await.unwrap().len(), 1);
    assert!(matches!(
        store.retry_delivery("no-such-id", "t").await,
        Err(StoreError::NotFound)
    ));
    let audit = store
        .audit_entries(&format!("exchange:{id}"))
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "exchange.retry" && a.actor == "admin")
    );
}

async fn expired_leases_are_reclaimed_and_released_leases_requeued(db: &TestDb) {
    let store = &db.store;
    store
        .insert_partner(&partner("p", PartnerState::TrustedUnchecked), "t")
        .await
        .unwrap();
    let id = queue(store, "p", 4).await;
    let short = Duration::from_millis(100);
    assert_eq!(
        store.claim_outbox("crashed", short, 1).await.unwrap().len(),
        1
    );
    assert!(store.claim_outbox("w", LEASE, 1).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(150)).await;
    let taken = store.claim_outbox("w", LEASE, 1).await.unwrap();
    assert_eq!(taken.len(), 1, "an expired lease is claimable");
    assert_eq!(taken[0].attempts, 2);
    assert!(
        !store
            .complete_delivery(&id, "crashed", "late")
            .await
            .unwrap(),
        "old holder lost it"
    );
    assert_eq!(store.release_leases("w").await.unwrap(), 1);
    let released = store.outbox_item(&id).await.unwrap().unwrap();
    assert_eq!(released.state, OutboxState::Queued);
    assert!(released.lease_owner.is_none());
    assert_eq!(released.attempts, 2);
    assert_eq!(store.claim_outbox("w2", LEASE, 1).await.unwrap().len(), 1);
}

async fn concurrent_claimers_never_share_an_item(db: &TestDb) {
    const N: usize = 120;
    let store = &db.store;
    store
        .insert_partner(&partner("p", PartnerState::TrustedUnchecked), "t")
        .await
        .unwrap();
    let mut all = BTreeSet::new();
    for n in 0..N {
        all.insert(queue(store, "p", 100 + n).await);
    }
    // Every claimer takes its first batch before any goes on, so all four really compete (a
    // scheduler that lets one task drain the queue alone would prove nothing).
    let started = std::sync::Arc::new(tokio::sync::Barrier::new(4));
    let claimers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            let started = started.clone();
            tokio::spawn(async move {
                let owner = format!("w{w}");
                let mut mine = Vec::new();
                let mut first = true;
                loop {
                    let batch = store.claim_outbox(&owner, LEASE, 7).await.unwrap();
                    if first {
                        started.wait().await;
                        first = false;
                    }
                    if batch.is_empty() {
                        break;
                    }
                    for item in batch {
                        assert_eq!(item.lease_owner.as_deref(), Some(owner.as_str()));
                        assert!(
                            store
                                .complete_delivery(&item.id, &owner, "r")
                                .await
                                .unwrap()
                        );
                        mine.push(item.id);
                    }
                }
                mine
            })
        })
        .collect();
    let mut seen = Vec::new();
    let mut busy_claimers = 0;
    for claimer in claimers {
        let mine = claimer.await.unwrap();
        busy_claimers += usize::from(!mine.is_empty());
        seen.extend(mine);
    }
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), N, "each item claimed exactly once");
    assert_eq!(unique, all);
    assert_eq!(busy_claimers, 4, "every claimer got work");
    let counts = store.outbox_counts(None).await.unwrap();
    assert_eq!(counts, vec![(OutboxState::Delivered, N as i64)]);
}

async fn subscriptions_queue_in_the_version_transaction(db: &TestDb) {
    let store = &db.store;
    store
        .insert_partner(&partner("buyer", PartnerState::TrustedUnchecked), "t")
        .await
        .unwrap();
    store
        .insert_partner(&partner("unverified", PartnerState::Registered), "t")
        .await
        .unwrap();
    let mut strict = partner("strict", PartnerState::Verified);
    strict.policy.passports.min_recycled_share = Some(0.99);
    store.insert_partner(&strict, "t").await.unwrap();
    let pp = PassportSelector {
        polymer: Some("PP".into()),
        ..Default::default()
    };
    let sub = store.insert_subscription("buyer", &pp, "t").await.unwrap();
    store
        .insert_subscription("unverified", &pp, "t")
        .await
        .unwrap();
    store.insert_subscription("strict", &pp, "t").await.unwrap();
    assert!(matches!(
        store.insert_subscription("nobody", &pp, "t").await,
        Err(StoreError::NotFound)
    ));

    let lot = pellets(10);
    store.insert_passport(&lot).await.unwrap();
    store.insert_passport(&pet(11)).await.unwrap();
    let page = store
        .list_outbox(&OutboxFilter::default(), None, 50)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1, "{:?}", page.items);
    assert_eq!(page.items[0].partner, "buyer");
    assert_eq!(page.items[0].passport_id, lot.id);
    assert_eq!(
        page.items[0].subscription_id.as_deref(),
        Some(sub.id.as_str())
    );

    // A new version is queued too; a refused version write queues nothing.
    let mut v2 = lot.clone();
    v2.version = 2;
    store.insert_next_version(&v2, 1).await.unwrap();
    assert!(store.insert_next_version(&v2, 1).await.is_err());
    let page = store
        .list_outbox(&OutboxFilter::default(), None, 50)
        .await
        .unwrap();
    let versions: Vec<i64> = page.items.iter().map(|i| i.version).collect();
    assert_eq!(versions, vec![1, 2]);
    assert_eq!(store.subscriptions(Some("buyer")).await.unwrap().len(), 1);
    store.delete_subscription(&sub.id, "t").await.unwrap();
    assert!(matches!(
        store.delete_subscription(&sub.id, "t").await,
        Err(StoreError::NotFound)
    ));
}

async fn removing_a_partner_dead_letters_its_pending_items(db: &TestDb) {
    let store = &db.store;
    store
        .insert_partner(&partner("leaving", PartnerState::TrustedUnchecked), "t")
        .await
        .unwrap();
    store
        .insert_subscription("leaving", &PassportSelector::default(), "t")
        .await
        .unwrap();
    let delivered = queue(store, "leaving", 20).await;
    let pending = store
        .list_outbox(&OutboxFilter::default(), None, 50)
        .await
        .unwrap();
    assert_eq!(pending.items.len(), 2, "push + subscription");
    let claimed = store.claim_outbox("w", LEASE, 1).await.unwrap();
    store
        .complete_delivery(&claimed[0].id, "w", "r")
        .await
        .unwrap();
    store.delete_partner("leaving", "admin").await.unwrap();
    assert!(store.partner("leaving").await.unwrap().is_none());
    assert!(store.subscriptions(None).await.unwrap().is_empty());
    let after = store
        .list_outbox(&OutboxFilter::default(), None, 50)
        .await
        .unwrap();
    let states: BTreeSet<_> = after.items.iter().map(|i| i.state).collect();
    assert_eq!(
        states,
        BTreeSet::from([OutboxState::Delivered, OutboxState::Dead])
    );
    let dead = after
        .items
        .iter()
        .find(|i| i.state == OutboxState::Dead)
        .unwrap();
    assert_eq!(dead.last_error.as_deref(), Some("partner removed"));
    let _ = delivered;
    assert!(matches!(
        store.delete_partner("leaving", "admin").await,
        Err(StoreError::NotFound)
    ));
}

async fn list_pages_filter_by_state_and_partner(db: &TestDb) {
    let store = &db.store;
    for name in ["a", "b"] {
        store
            .insert_partner(&partner(name, PartnerState::TrustedUnchecked), "t")
            .await
            .unwrap();
    }
    for n in 0..7 {
        queue(store, if n % 2 == 0 { "a" } else { "b" }, 30 + n).await;
    }
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_outbox(
                &OutboxFilter {
                    partner: Some("a".into()),
                    state: Some(OutboxState::Queued),
                },
                after.as_deref(),
                2,
            )
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        ids.extend(page.items.iter().map(|i| i.id.clone()));
        match page.next_cursor {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(ids.len(), 4);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "oldest first, no repeats");
    let delivered = store
        .list_outbox(
            &OutboxFilter {
                state: Some(OutboxState::Delivered),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert!(delivered.items.is_empty());
    assert!(matches!(
        store
            .list_outbox(&OutboxFilter::default(), Some("!!"), 10)
            .await,
        Err(StoreError::InvalidCursor(_))
    ));
}

async fn the_inbound_receipts_table_exists(db: &TestDb) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO inbound_receipts (partner, idempotency_key, request_sha256, status, \
         response_body, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind("p")
    .bind("key-1")
    .bind("abc")
    .bind(201_i64)
    .bind("{}")
    .bind(0_i64)
    .execute(&mut conn)
    .await
    .unwrap();
    let repeat = sqlx::query(
        "INSERT INTO inbound_receipts (partner, idempotency_key, request_sha256, status, \
         response_body, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind("p")
    .bind("key-1")
    .bind("def")
    .bind(201_i64)
    .bind("{}")
    .bind(0_i64)
    .execute(&mut conn)
    .await;
    assert!(repeat.is_err(), "one receipt per partner and key");
    conn.close().await.unwrap();
}

async fn partner_tokens_resolve_list_revoke_and_go_with_the_partner(db: &TestDb) {
    let store = &db.store;
    store
        .insert_partner(&partner("tokai", PartnerState::Verified), "test")
        .await
        .unwrap();
    let (token, listed) = store.issue_partner_token("tokai", "test").await.unwrap();
    let (second, _) = store.issue_partner_token("tokai", "test").await.unwrap();
    let found = store.partner_for_token(&token).await.unwrap().unwrap();
    assert_eq!(found.name, "tokai");
    assert!(
        store
            .partner_for_token("dppp_nope")
            .await
            .unwrap()
            .is_none()
    );
    let tokens = store.partner_tokens("tokai").await.unwrap();
    assert_eq!(tokens.len(), 2);
    assert!(tokens.contains(&listed), "{tokens:?}");
    assert!(matches!(
        store.issue_partner_token("nobody", "test").await,
        Err(StoreError::NotFound)
    ));
    store
        .revoke_partner_token("tokai", &listed.id, "test")
        .await
        .unwrap();
    assert!(store.partner_for_token(&token).await.unwrap().is_none());
    assert!(matches!(
        store
            .revoke_partner_token("tokai", &listed.id, "test")
            .await,
        Err(StoreError::NotFound)
    ));
    store.delete_partner("tokai", "test").await.unwrap();
    store
        .insert_partner(&partner("tokai", PartnerState::Verified), "test")
        .await
        .unwrap();
    assert!(
        store.partner_for_token(&second).await.unwrap().is_none(),
        "a token does not outlive its partner"
    );
    assert!(store.partner_tokens("tokai").await.unwrap().is_empty());
}

async fn expired_receipts_are_pruned_in_batches_and_fresh_ones_kept(db: &TestDb) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let now = Utc::now().timestamp_millis();
    let two_hours = 2 * 3600 * 1000;
    let mut tx = conn.begin().await.unwrap();
    // 2,500 receipts two hours old (more than two pruning batches) and 3 fresh ones.
    for (i, created) in (0..2_503).map(|i| (i, if i < 2_500 { now - two_hours } else { now })) {
        sqlx::query(
            "INSERT INTO inbound_receipts (partner, idempotency_key, request_sha256, status, \
             response_body, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind("admin:1234abcd")
        .bind(format!("key-{i}"))
        .bind("abc")
        .bind(201_i64)
        .bind("{}")
        .bind(created)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let hour = Duration::from_secs(3600);
    assert_eq!(db.store.prune_receipts(hour).await.unwrap(), 2_500);
    assert_eq!(db.store.prune_receipts(hour).await.unwrap(), 0);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbound_receipts")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 3);
    conn.close().await.unwrap();
}
