//! A request that outlives `request_timeout_secs` is answered 503 problem+json, and the gateway
//! keeps serving.

mod exchange_support;

use dpp_conformance::mock::ouranos::Faults;
use exchange_support::{TestGateway, fast_delivery, mock_partner, start_mock};
use reqwest::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upstream_cannot_hold_a_request_past_the_deadline() {
    let mock = start_mock().await;
    let gw = TestGateway::start_with(fast_delivery(), |c| c.request_timeout_secs = 1).await;
    gw.register(&mock_partner(&gw, &mock, "slow")).await;
    // Every call to the partner now takes 5 s; the pull's own timeout (10 s) is longer than the
    // request deadline, so the deadline is what answers.
    mock.set_faults(Faults {
        latency_ms: 5_000,
        ..Faults::default()
    })
    .unwrap();

    let response = gw
        .reader(
            Method::GET,
            "/api/v1/remote/slow/passports/0a5e0a5e-0000-4000-8000-000000000001",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(response.headers()["retry-after"], "1");
    let problem: serde_json::Value = response.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("longer than 1 s"),
        "{problem}"
    );
    let health = gw
        .http
        .get(format!("{}/healthz", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
