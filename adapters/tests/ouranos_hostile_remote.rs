//! The Ouranos adapter against a hostile remote's `link` paging (the mock's `HostilePaging`): a
//! link naming another host must not send our requests (and credentials) there, and a list that
//! never ends must be refused after a bounded number of pages instead of looping forever.
#![cfg(feature = "ouranos")]

use std::sync::Arc;
use std::time::Duration;

use dpp_adapters::AdapterRegistry;
use dpp_adapters::contract::{
    AdapterContext, AdapterError, Connection, EgressPolicy, HttpClient, HttpSettings,
    PublishRequest, RecordingObserver,
};
use dpp_adapters::ouranos::MAX_PAGES;
use dpp_conformance::mock::ouranos::{HostilePaging, MockConfig, MockOuranos};
use dpp_schemas::fixtures::pp_pellets;
use dpp_schemas::{Passport, UrnUuid};
use serde_json::json;

const BUYER: &str = "buyer@toyohashi-moulding.example.jp";
const BUYER_PASSWORD: &str = "Passw0rd!";
/// Page size of the adapter: small, so a few parts make several pages.
const PAGE_SIZE: usize = 2;

async fn hostile_mock(mode: HostilePaging) -> MockOuranos {
    MockOuranos::start(
        MockConfig::default()
            .with_account(BUYER, BUYER_PASSWORD)
            .with_hostile_paging(mode),
    )
    .await
    .unwrap()
}

/// A connection to the mock whose HTTP client may reach 127.0.0.1 only (so a request to the
/// link's foreign host would be refused, not merely unanswered).
async fn connect(mock: &MockOuranos, recorder: Arc<RecordingObserver>) -> Arc<dyn Connection> {
    let raw = json!({
        "type": "ouranos",
        "endpoint": mock.base_url(),
        "api_key": { "value": mock.api_key() },
        "operator_id": mock.operator_id(BUYER).unwrap(),
        "plant_id": mock.plant_ids(BUYER)[0],
        "page_size": PAGE_SIZE,
        "auth": { "mode": "login", "account_id": BUYER, "password": { "value": BUYER_PASSWORD } },
    });
    let registry = AdapterRegistry::with_builtin_adapters();
    let checked = registry.validate(&raw).unwrap();
    let http = HttpClient::new(
        EgressPolicy::allowing(["127.0.0.1"]),
        &HttpSettings::default(),
    )
    .unwrap()
    .with_observer(recorder);
    let (connection, _health) = registry
        .build(checked, AdapterContext::new("hostile-ouranos", http))
        .await
        .unwrap();
    connection
}

/// The pellet lot under another batch: a parent part with the same `partsName` (the lot id) and
/// another `supportPartsName`, so `find_part` lists them all.
fn pellets_of_batch(batch: &str) -> Passport {
    let mut passport = pp_pellets();
    passport.id = UrnUuid::new_random();
    passport.product.batch = Some(batch.to_owned());
    passport
}

async fn publish(
    conn: &dyn Connection,
    passport: &Passport,
    key: &str,
) -> Result<String, AdapterError> {
    conn.publish(PublishRequest {
        passport,
        signed_jws: "a.b.c",
        idempotency_key: key,
    })
    .await
    .map(|receipt| receipt.remote_id)
}

fn parts_gets(mock: &MockOuranos) -> u64 {
    mock.stats().by_target.get("parts").map_or(0, |c| c.get)
}

#[tokio::test]
async fn a_link_naming_a_foreign_host_is_paged_through_our_own_endpoint() {
    let mock = hostile_mock(HostilePaging::ForeignHost).await;
    let recorder = Arc::new(RecordingObserver::new());
    let conn = connect(&mock, recorder.clone()).await;

    // Five parents named alike: find_part's list is three pages of two.
    let batches: Vec<Passport> = (0..5)
        .map(|i| pellets_of_batch(&format!("RPP-2412-09{i:02}")))
        .collect();
    let mut remote_ids = Vec::new();
    for (i, passport) in batches.iter().enumerate() {
        remote_ids.push(
            publish(conn.as_ref(), passport, &format!("seed-{i}"))
                .await
                .unwrap(),
        );
    }
    let mut distinct = remote_ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "five parents: {remote_ids:?}");

    // Republish the batch whose part the mock lists last (sorted by traceId): it is only found
    // on the last page, reached through two links that name 169.254.169.254.
    let last = remote_ids
        .iter()
        .enumerate()
        .max_by_key(|(_, id)| id.as_str())
        .map(|(i, _)| i)
        .unwrap();
    recorder.take();
    let gets_before = parts_gets(&mock);
    let again = publish(conn.as_ref(), &batches[last], "again")
        .await
        .unwrap();
    assert_eq!(
        again, remote_ids[last],
        "the existing part was found, no twin made"
    );

    let exchanges = recorder.take();
    let mock_host = mock.addr().ip().to_string();
    for exchange in &exchanges {
        assert_eq!(
            exchange.url.host_str(),
            Some(mock_host.as_str()),
            "every request went to the endpoint: {}",
            exchange.url
        );
        assert_eq!(exchange.url.port(), Some(mock.addr().port()));
    }
    let page_requests: Vec<_> = exchanges
        .iter()
        .filter(|e| {
            e.method == reqwest::Method::GET
                && e.url
                    .query_pairs()
                    .any(|(k, v)| k == "dataTarget" && v == "parts")
        })
        .collect();
    assert_eq!(page_requests.len(), 3, "{page_requests:#?}");
    let followed = page_requests
        .iter()
        .filter(|e| e.url.query_pairs().any(|(k, _)| k == "after"))
        .count();
    assert_eq!(followed, 2, "two pages reached through the link's cursor");
    // The mock itself answered every one of those page requests.
    assert_eq!(parts_gets(&mock) - gets_before, 3);
    assert_eq!(mock.stats().validation_failures, 0);
}

#[tokio::test]
async fn a_list_that_never_ends_is_refused_after_max_pages() {
    let mock = hostile_mock(HostilePaging::EndlessCursor).await;
    let recorder = Arc::new(RecordingObserver::new());
    let conn = connect(&mock, recorder).await;
    let passport = pellets_of_batch("RPP-2412-0999");

    let outcome = tokio::time::timeout(
        Duration::from_secs(60),
        publish(conn.as_ref(), &passport, "endless"),
    )
    .await
    .expect("the list walk gives up instead of looping forever");
    let err = outcome.expect_err("an endless list is refused");
    assert!(matches!(err, AdapterError::Mapping { .. }), "{err:?}");
    assert!(!err.is_retryable(), "walking it again would not help");
    let text = err.to_string();
    assert!(
        text.contains("parts") && text.contains(&MAX_PAGES.to_string()),
        "the error names the target and the cap: {text}"
    );

    let pages = parts_gets(&mock);
    assert!(
        (MAX_PAGES as u64..=MAX_PAGES as u64 + 2).contains(&pages),
        "bounded: {pages} list requests for a cap of {MAX_PAGES}"
    );
    assert_eq!(
        mock.stats().puts,
        0,
        "nothing written after a failed lookup"
    );
}

#[tokio::test]
async fn a_page_longer_than_its_limit_is_refused() {
    let mock = hostile_mock(HostilePaging::OversizedPages).await;
    let recorder = Arc::new(RecordingObserver::new());
    let conn = connect(&mock, recorder).await;
    // Up to two parents named alike fit a page of two; with three, the first page of two comes
    // back with all three.
    for i in 0..4 {
        let passport = pellets_of_batch(&format!("RPP-2412-08{i:02}"));
        let outcome = publish(conn.as_ref(), &passport, &format!("over-{i}")).await;
        if i < 3 {
            outcome.unwrap();
            continue;
        }
        let err = outcome.expect_err("a page over its limit is refused");
        assert!(matches!(err, AdapterError::Mapping { .. }), "{err:?}");
        assert!(!err.is_retryable());
        assert!(
            err.to_string()
                .contains(&format!("a page of 3 items answered limit={PAGE_SIZE}")),
            "{err}"
        );
    }
}
