//! The Ouranos adapter against the independent Ouranos mock: the shared compliance harness, both
//! auth modes with token renewal, the CFP trade flow from both sides, and the SSRF guard.
#![cfg(feature = "ouranos")]

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use chrono::NaiveDate;
use dpp_adapters::AdapterRegistry;
use dpp_adapters::contract::compliance::{
    ComplianceSubject, FaultInjector, SignedPassport, run_and_assert_adapter_compliance,
};
use dpp_adapters::contract::{
    AdapterContext, AdapterError, Connection, EgressPolicy, FootprintRequest, HttpClient,
    HttpSettings, NegotiationState, PublishRequest, RecordingObserver,
};
use dpp_conformance::mock::ouranos::{Faults, MockConfig, MockOuranos};
use dpp_schemas::Passport;
use dpp_schemas::fixtures::{all_passports, pp_new_bumper, pp_pellets};
use serde_json::{Value, json};

const BUYER: &str = "buyer@toyohashi-moulding.example.jp";
const BUYER_PASSWORD: &str = "Passw0rd!";
const SUPPLIER: &str = "recycler-gateway";
const SUPPLIER_SECRET: &str = "s3cret-recycler";

async fn mock() -> MockOuranos {
    MockOuranos::start(
        MockConfig::default()
            .with_account(BUYER, BUYER_PASSWORD)
            .with_client(SUPPLIER, SUPPLIER_SECRET),
    )
    .await
    .unwrap()
}

fn config(mock: &MockOuranos, login: &str, auth: Value) -> Value {
    json!({
        "type": "ouranos",
        "endpoint": mock.base_url(),
        "api_key": { "value": mock.api_key() },
        "operator_id": mock.operator_id(login).unwrap(),
        "plant_id": mock.plant_ids(login)[0],
        "page_size": 3,
        "auth": auth,
    })
}

fn buyer_auth(password: &str) -> Value {
    json!({ "mode": "login", "account_id": BUYER, "password": { "value": password } })
}

fn supplier_auth(secret: &str) -> Value {
    json!({ "mode": "client", "client_id": SUPPLIER, "client_secret": { "value": secret } })
}

async fn connect(raw: Value, recorder: Option<Arc<RecordingObserver>>) -> Arc<dyn Connection> {
    let registry = AdapterRegistry::with_builtin_adapters();
    let checked = registry.validate(&raw).unwrap();
    let mut http = HttpClient::new(
        EgressPolicy::allowing(["127.0.0.1"]),
        &HttpSettings::default(),
    )
    .unwrap();
    if let Some(recorder) = recorder {
        http = http.with_observer(recorder);
    }
    let (connection, health) = registry
        .build(checked, AdapterContext::new("mock-ouranos", http))
        .await
        .unwrap();
    let _ = health;
    connection
}

/// A stand-in for the JWS the gateway stores (the harness only hashes it).
fn fake_jws(passport: &Passport) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    format!(
        "{}.{}.{}",
        b64(br#"{"alg":"ES256","typ":"dpp+jwt"}"#),
        b64(&dpp_schemas::jcs::to_vec(passport).unwrap()),
        b64(passport.id.to_string().as_bytes())
    )
}

struct MockFaults(Arc<MockOuranos>);

#[async_trait]
impl FaultInjector for MockFaults {
    async fn fail_next(&self, status: u16) {
        self.0
            .set_faults(Faults {
                error_next: 1,
                error_status: status,
                ..Faults::default()
            })
            .unwrap();
    }
    async fn rate_limit_next(&self, retry_after_secs: u64) {
        self.0
            .set_faults(Faults {
                rate_limit_next: 1,
                retry_after_secs,
                ..Faults::default()
            })
            .unwrap();
    }
    async fn clear(&self) {
        self.0.set_faults(Faults::default()).unwrap();
    }
}

#[tokio::test]
async fn ouranos_passes_the_adapter_compliance_harness() {
    let mock = Arc::new(mock().await);
    let recorder = Arc::new(RecordingObserver::new());
    let connection = connect(
        config(&mock, SUPPLIER, supplier_auth(SUPPLIER_SECRET)),
        Some(recorder.clone()),
    )
    .await;
    let wrong = connect(config(&mock, SUPPLIER, supplier_auth("wrong-secret")), None).await;
    let passports: Vec<SignedPassport> = all_passports()
        .into_iter()
        .map(|passport| SignedPassport {
            signed_jws: fake_jws(&passport),
            passport,
        })
        .collect();
    let subject = ComplianceSubject {
        connection,
        recorder,
        wrong_credentials: wrong,
        faults: Arc::new(MockFaults(mock.clone())),
        unknown_remote_id: "00000000-0000-4000-8000-000000000000".into(),
    };
    let report = run_and_assert_adapter_compliance(&subject, &passports).await;
    assert_eq!(report.round_trips, passports.len());
    assert!(report.pages >= 2, "{report:?}");
    assert!(report.bodies_validated >= passports.len(), "{report:?}");
    assert_eq!(report.error_checks, 4);
    assert_eq!(mock.stats().validation_failures, 0);
    assert_eq!(mock.stats().self_check_failures, 0);
}

#[tokio::test]
async fn republishing_a_new_version_updates_the_same_parts() {
    let mock = mock().await;
    let conn = connect(config(&mock, BUYER, buyer_auth(BUYER_PASSWORD)), None).await;
    let mut bumper = pp_new_bumper();
    let jws = fake_jws(&bumper);
    let first = conn
        .publish(PublishRequest {
            passport: &bumper,
            signed_jws: &jws,
            idempotency_key: "d1",
        })
        .await
        .unwrap();
    bumper.version = 2;
    bumper
        .carbon_footprint
        .as_mut()
        .unwrap()
        .stages
        .main_production = 3.9;
    let jws2 = fake_jws(&bumper);
    let second = conn
        .publish(PublishRequest {
            passport: &bumper,
            signed_jws: &jws2,
            idempotency_key: "d2",
        })
        .await
        .unwrap();
    assert_eq!(first.remote_id, second.remote_id);
    let fetched = conn.fetch(&second.remote_id).await.unwrap();
    assert_eq!(fetched.passport.version, 2);
    assert!(fetched.reference.unwrap().verifies(&jws2));
    assert_eq!(fetched.passport, conn.carried_subset(&bumper));
}

#[tokio::test]
async fn an_expired_token_is_renewed_once_and_bad_passwords_are_auth_errors() {
    let mock = mock().await;
    let conn = connect(config(&mock, BUYER, buyer_auth(BUYER_PASSWORD)), None).await;
    let pellets = pp_pellets();
    let receipt = conn
        .publish(PublishRequest {
            passport: &pellets,
            signed_jws: "a.b.c",
            idempotency_key: "k",
        })
        .await
        .unwrap();
    let logins = mock.stats().auth_posts;
    mock.expire_tokens();
    conn.fetch(&receipt.remote_id).await.unwrap();
    let after = mock.stats().auth_posts;
    assert_eq!(after, logins + 1, "one refresh after the 401");
    let bad = connect(config(&mock, BUYER, buyer_auth("WrongPass1")), None).await;
    assert!(matches!(
        bad.fetch(&receipt.remote_id).await,
        Err(AdapterError::Auth { .. })
    ));
}

#[tokio::test]
async fn the_cfp_trade_flow_works_from_both_sides() {
    let mock = mock().await;
    let buyer = connect(config(&mock, BUYER, buyer_auth(BUYER_PASSWORD)), None).await;
    let supplier = connect(
        config(&mock, SUPPLIER, supplier_auth(SUPPLIER_SECRET)),
        None,
    )
    .await;
    let bumper = pp_new_bumper();
    let pellets = pp_pellets();
    let ours = buyer
        .publish(PublishRequest {
            passport: &bumper,
            signed_jws: "b.u.m",
            idempotency_key: "b",
        })
        .await
        .unwrap();
    let theirs = supplier
        .publish(PublishRequest {
            passport: &pellets,
            signed_jws: "p.e.l",
            idempotency_key: "p",
        })
        .await
        .unwrap();
    let negotiation = buyer.negotiation().expect("ouranos negotiates");
    let handle = negotiation
        .request_footprint(&FootprintRequest {
            our_remote_id: ours.remote_id.clone(),
            supplier: mock.operator_id(SUPPLIER).unwrap(),
            message: Some("CFP of RPP-BK 2318 lot 2412-0907, please".into()),
            due: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(
        negotiation.negotiation_state(&handle).await.unwrap(),
        NegotiationState::Pending
    );

    let responder = supplier.negotiation().unwrap();
    let incoming = responder.incoming_requests().await.unwrap();
    assert_eq!(incoming.len(), 1);
    assert!(incoming[0].open);
    assert_eq!(incoming[0].request_id, handle.request_id);
    assert_eq!(incoming[0].customer, mock.operator_id(BUYER).unwrap());
    responder
        .answer(&incoming[0].request_id, &theirs.remote_id)
        .await
        .unwrap();

    match negotiation.negotiation_state(&handle).await.unwrap() {
        NegotiationState::Answered {
            supplier_remote_id,
            footprint,
        } => {
            assert_eq!(supplier_remote_id, theirs.remote_id);
            let footprint = footprint.expect("the supplier published its cfp");
            let expected = supplier.carried_subset(&pellets).carbon_footprint.unwrap();
            assert_eq!(
                footprint.stages.raw_material_extraction,
                expected.stages.raw_material_extraction
            );
            assert_eq!(
                footprint.stages.main_production,
                expected.stages.main_production
            );
            assert_eq!(footprint.declared_unit, expected.declared_unit);
        }
        other => panic!("expected an answer, got {other:?}"),
    }

    // A second request, rejected by the supplier.
    let handle2 = negotiation
        .request_footprint(&FootprintRequest {
            our_remote_id: ours.remote_id.clone(),
            supplier: mock.operator_id(SUPPLIER).unwrap(),
            message: None,
            due: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
        })
        .await
        .unwrap();
    let open: Vec<_> = responder
        .incoming_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.open)
        .collect();
    assert_eq!(open.len(), 1);
    responder
        .reject(&open[0], "no matching product")
        .await
        .unwrap();
    assert_eq!(
        negotiation.negotiation_state(&handle2).await.unwrap(),
        NegotiationState::Rejected {
            reason: Some("no matching product".into())
        }
    );
    assert_eq!(mock.stats().validation_failures, 0);
}

#[tokio::test]
async fn the_ssrf_guard_refuses_loopback_unless_allow_listed() {
    let mock = mock().await;
    let registry = AdapterRegistry::with_builtin_adapters();
    let checked = registry
        .validate(&config(&mock, BUYER, buyer_auth(BUYER_PASSWORD)))
        .unwrap();
    let http = HttpClient::new(EgressPolicy::public_only(), &HttpSettings::default()).unwrap();
    let (conn, health) = registry
        .build(checked, AdapterContext::new("mock-ouranos", http))
        .await
        .unwrap();
    assert!(matches!(
        health.run().await,
        Err(AdapterError::EgressRefused { .. })
    ));
    let pellets = pp_pellets();
    let err = conn
        .publish(PublishRequest {
            passport: &pellets,
            signed_jws: "a.b.c",
            idempotency_key: "k",
        })
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::EgressRefused { .. }), "{err:?}");
    assert_eq!(mock.stats().requests, 0);
}
