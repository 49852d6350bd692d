//! Partner onboarding: the conformance suite decides whether a partner may receive passports.

mod exchange_support;

use std::time::Duration;

use dpp_conformance::mock::ouranos::{Break, MockConfig, MockOuranos};
use dpp_gateway::store::{OutboxState, PartnerState};
use exchange_support::{
    CLIENT_ID, CLIENT_SECRET, TestGateway, fast_delivery, mock_partner, start_mock,
};
use reqwest::Method;
use serde_json::Value;

fn unchecked(mut registration: Value) -> Value {
    registration.as_object_mut().unwrap().remove("state");
    registration
}

#[tokio::test]
async fn a_conforming_partner_is_verified_and_then_receives_deliveries() {
    let gateway = TestGateway::start(fast_delivery()).await;
    let mock = start_mock().await;
    gateway
        .register(&unchecked(mock_partner(&gateway, &mock, "ouranos-good")))
        .await;
    let passport = gateway
        .create(serde_json::to_value(dpp_schemas::fixtures::pp_pellets()).unwrap())
        .await;

    // Registered but unchecked: no delivery.
    let refused = gateway
        .admin(Method::POST, "/api/v1/exchanges")
        .json(&serde_json::json!({ "partner": "ouranos-good", "passport": passport }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let none = gateway
        .reader(Method::GET, "/api/v1/partners/ouranos-good/conformance")
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 404);

    let reports = gateway.dir.path().join("reports");
    let adapters = dpp_adapters::AdapterRegistry::with_builtin_adapters();
    let outcome = dpp_gateway::onboarding::check_partner(
        gateway.store(),
        &adapters,
        gateway.state.exchange.partners.secrets(),
        "ouranos-good",
        Some(&reports),
        "test",
    )
    .await
    .unwrap();
    assert_eq!(
        outcome.state,
        PartnerState::Verified,
        "{:#?}",
        outcome.report.summary
    );
    assert_eq!(outcome.report.summary.mandatory_failed, 0);
    assert!(outcome.report.summary.passed >= 20);
    for file in ["report.json", "junit.xml", "report.html"] {
        assert!(reports.join(file).is_file(), "{file} missing");
    }
    let html = std::fs::read_to_string(reports.join("report.html")).unwrap();
    assert!(
        !html.contains(CLIENT_SECRET),
        "the report leaks the client secret"
    );

    let latest: Value = gateway
        .reader(Method::GET, "/api/v1/partners/ouranos-good/conformance")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(latest["state"], "verified");
    assert_eq!(latest["run"]["mandatoryFailed"], 0);
    assert_eq!(
        latest["run"]["report"]["summary"]["passed"],
        outcome.report.summary.passed
    );

    // Verified: the same push goes through and is delivered.
    let id = gateway.push("ouranos-good", &passport).await;
    gateway.settle(Duration::from_secs(30)).await;
    assert_eq!(
        gateway.exchange(&id).await["state"],
        OutboxState::Delivered.as_str()
    );
}

#[tokio::test]
async fn a_partner_breaking_a_mandatory_rule_is_marked_failed() {
    let gateway = TestGateway::start(fast_delivery()).await;
    let mock = MockOuranos::start(
        MockConfig::default()
            .with_client(CLIENT_ID, CLIENT_SECRET)
            .with_break(Break::AcceptWrongCredentials),
    )
    .await
    .unwrap();
    gateway
        .register(&unchecked(mock_partner(&gateway, &mock, "ouranos-lax")))
        .await;
    let adapters = dpp_adapters::AdapterRegistry::with_builtin_adapters();
    let outcome = dpp_gateway::onboarding::check_partner(
        gateway.store(),
        &adapters,
        gateway.state.exchange.partners.secrets(),
        "ouranos-lax",
        None,
        "test",
    )
    .await
    .unwrap();
    assert_eq!(outcome.state, PartnerState::Failed);
    let failed: Vec<&str> = outcome
        .report
        .cases
        .iter()
        .filter(|c| c.outcome.as_str() == "fail")
        .map(|c| c.id.as_str())
        .collect();
    assert!(failed.contains(&"OUR-AUTH-02"), "{failed:?}");
    assert_eq!(
        gateway
            .store()
            .partner("ouranos-lax")
            .await
            .unwrap()
            .unwrap()
            .state,
        PartnerState::Failed
    );
    let passport = gateway
        .create(serde_json::to_value(dpp_schemas::fixtures::pet_bottle_flakes()).unwrap())
        .await;
    let refused = gateway
        .admin(Method::POST, "/api/v1/exchanges")
        .json(&serde_json::json!({ "partner": "ouranos-lax", "passport": passport }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
}

#[tokio::test]
async fn the_cli_lists_cases_and_runs_the_suite_against_an_endpoint() {
    let mock = start_mock().await;
    let list = tokio::process::Command::new(env!("CARGO_BIN_EXE_dpp-gateway"))
        .args(["conformance", "list"])
        .output()
        .await
        .unwrap();
    let listing = String::from_utf8_lossy(&list.stdout);
    for case in dpp_conformance::suite::cases() {
        assert!(
            listing.contains(case.id),
            "{} missing from the listing",
            case.id
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let run = |base: String, report: std::path::PathBuf| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_dpp-gateway"))
            .args([
                "conformance",
                "run",
                "--adapter",
                "ouranos",
                "--endpoint",
                &base,
                "--credentials-from",
                "ONBOARD",
            ])
            .arg("--report")
            .arg(report)
            .env("ONBOARD_API_KEY", mock.api_key())
            .env("ONBOARD_CLIENT_ID", CLIENT_ID)
            .env("ONBOARD_CLIENT_SECRET", CLIENT_SECRET)
            .output()
    };
    let good = run(mock.base_url(), dir.path().join("good")).await.unwrap();
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stdout)
    );
    assert!(dir.path().join("good/junit.xml").is_file());

    let broken = MockOuranos::start(
        MockConfig::default()
            .with_client(CLIENT_ID, CLIENT_SECRET)
            .with_break(Break::AcceptMissingBearer),
    )
    .await
    .unwrap();
    let bad = tokio::process::Command::new(env!("CARGO_BIN_EXE_dpp-gateway"))
        .args([
            "conformance",
            "run",
            "--adapter",
            "ouranos",
            "--endpoint",
            &broken.base_url(),
            "--credentials-from",
            "ONBOARD",
        ])
        .env("ONBOARD_API_KEY", broken.api_key())
        .env("ONBOARD_CLIENT_ID", CLIENT_ID)
        .env("ONBOARD_CLIENT_SECRET", CLIENT_SECRET)
        .output()
        .await
        .unwrap();
    assert_eq!(
        bad.status.code(),
        Some(1),
        "a mandatory failure must fail the command"
    );
    assert!(String::from_utf8_lossy(&bad.stdout).contains("OUR-AUTH-04"));
}
