//! Fault injection and idempotent replay of the Ouranos mock, observed as a client sees them.

mod support;

use std::time::{Duration, Instant};

use dpp_conformance::mock::ouranos::{Faults, MockConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::*;

const PARTS: &str = "/api/v1/datatransport?dataTarget=parts";

#[tokio::test]
async fn latency_errors_and_rate_limits_are_injected() {
    let mock = start(config()).await;
    let api = login(&mock, BUYER).await;

    mock.set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    })
    .unwrap();
    let started = Instant::now();
    assert_eq!(api.get(PARTS).await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150));

    mock.set_faults(Faults {
        error_next: 1,
        error_status: 500,
        ..Faults::default()
    })
    .unwrap();
    let failed = api.get(PARTS).await;
    failed.assert_error(500, "[dataspace] InternalServerError");
    assert_eq!(
        api.get(PARTS).await.status,
        StatusCode::OK,
        "only the next one fails"
    );

    mock.set_faults(Faults {
        rate_limit_next: 1,
        retry_after_secs: 2,
        ..Faults::default()
    })
    .unwrap();
    let limited = api.get(PARTS).await;
    limited.assert_error(429, "[dataspace] TooManyRequests");
    assert_eq!(limited.header("retry-after"), Some("2"));

    let counts = mock.stats().faults;
    assert_eq!(
        (counts.delayed, counts.errors, counts.rate_limited),
        (1, 1, 1)
    );
    // Injected answers never reach the operation.
    assert_eq!(mock.upstream_gets(), 2);
}

#[tokio::test]
async fn a_stall_outlasts_the_client_timeout() {
    let mock = start(config()).await;
    mock.set_faults(Faults {
        stall_rate: 1.0,
        stall_ms: 2_000,
        ..Faults::default()
    })
    .unwrap();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let timed_out = client
        .get(format!("{}{PARTS}", mock.base_url().trim_end_matches('/')))
        .send()
        .await
        .expect_err("the answer comes after the client gave up");
    assert!(timed_out.is_timeout(), "{timed_out:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(mock.stats().faults.stalled, 1);
    assert_eq!(
        mock.stats().faults.delayed,
        0,
        "a stall is not the fixed latency"
    );
}

#[tokio::test]
async fn a_reset_closes_the_connection_without_an_answer() {
    let mock = start(config()).await;
    let api = login(&mock, BUYER).await;
    mock.set_faults(Faults {
        reset_next: 1,
        ..Faults::default()
    })
    .unwrap();
    let body = api.part("PP-CRATE", "blue", None);
    let outcome = api
        .request(reqwest::Method::PUT, PARTS)
        .json(&body)
        .send()
        .await;
    assert!(outcome.is_err(), "no HTTP answer expected, got {outcome:?}");
    assert_eq!(mock.stats().faults.resets, 1);
    assert_eq!(mock.total_puts(), 0, "nothing processed");
    assert_eq!(api.put(PARTS, &body).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn commit_then_drop_stores_the_data_but_loses_the_answer() {
    let mock = start(config()).await;
    let api = login(&mock, BUYER).await;
    mock.set_faults(Faults {
        drop_after_commit_next: 1,
        ..Faults::default()
    })
    .unwrap();
    let body = api.part("PP-CRATE", "blue", None);
    let outcome = api
        .request(reqwest::Method::PUT, PARTS)
        .json(&body)
        .send()
        .await;
    assert!(outcome.is_err(), "no HTTP answer expected, got {outcome:?}");
    let stats = mock.stats();
    assert_eq!(stats.faults.dropped_after_commit, 1);
    assert_eq!(stats.parts_received.len(), 1, "the part was stored");
    let listed = api.get(PARTS).await;
    assert_eq!(listed.body[0]["partsName"], "PP-CRATE");
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_and_stores_once() {
    let mock = start(config()).await;
    let api = login(&mock, BUYER).await;
    let body = api.part("PET-BOTTLE-FLAKE", "clear", None);
    let put = |key: &str, body: &Value| {
        api.request(reqwest::Method::PUT, PARTS)
            .header("Idempotency-Key", key)
            .json(body)
    };

    // The first attempt is committed but its answer is lost; the retry gets the same answer.
    mock.set_faults(Faults {
        drop_after_commit_next: 1,
        ..Faults::default()
    })
    .unwrap();
    assert!(put("delivery-1", &body).send().await.is_err());
    let retry = api.send(put("delivery-1", &body)).await;
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.body);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    let again = api.send(put("delivery-1", &body)).await;
    assert_eq!(again.body, retry.body);
    let trace_id = retry.body["traceId"].as_str().unwrap();
    assert_eq!(mock.parts_received(trace_id), 1, "stored once");
    assert_eq!(mock.total_puts(), 1);
    assert_eq!(mock.stats().idempotent_replays, 2);

    // The same key for another body is refused; a refused body is not remembered.
    let other = api.part("PET-BOTTLE-FLAKE", "green", None);
    let reuse = api.send(put("delivery-1", &other)).await;
    reuse.assert_error(422, "[dataspace] UnprocessableEntity");
    let mut invalid = other.clone();
    invalid["partsName"] = json!("");
    assert_eq!(
        api.send(put("delivery-2", &invalid)).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.send(put("delivery-2", &other)).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn the_admin_endpoint_sets_faults_reports_stats_and_resets() {
    let mock = start(config()).await;
    let api = login(&mock, BUYER).await;
    let http = reqwest::Client::new();
    let admin = |path: &str| format!("{}/__admin/{path}", mock.base_url());

    let set = http
        .post(admin("faults"))
        .json(&json!({ "error_rate": 1.0, "error_status": 503 }))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    api.get(PARTS)
        .await
        .assert_error(503, "[dataspace] ServiceUnavailable");
    let bad = http
        .post(admin("faults"))
        .json(&json!({ "error_rate": 2.0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let stats: Value = http
        .get(admin("stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["faults"]["errors"], 1);

    let reset = http.post(admin("reset")).send().await.unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(mock.faults(), Faults::default());
    assert_eq!(
        api.get(PARTS).await.status,
        StatusCode::OK,
        "token survives a reset"
    );
    let stats: Value = http
        .get(admin("stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["faults"]["errors"], 0);
    assert_eq!(stats["gets"], 1);

    http.post(admin("expire-tokens")).send().await.unwrap();
    api.get(PARTS)
        .await
        .assert_error(401, "[auth] Unauthorized");
}

#[tokio::test]
async fn the_same_seed_gives_the_same_faults() {
    async fn statuses(seed: u64) -> Vec<u16> {
        let mut cfg = config();
        cfg.faults = Faults {
            error_rate: 0.5,
            seed,
            ..Faults::default()
        };
        let mock = start(cfg).await;
        // Log in with faults off, so both runs draw the same sequence for the GETs.
        mock.set_faults(Faults::default()).unwrap();
        let api = login(&mock, BUYER).await;
        mock.set_faults(Faults {
            error_rate: 0.5,
            seed,
            ..Faults::default()
        })
        .unwrap();
        let mut out = Vec::new();
        for _ in 0..24 {
            out.push(api.get(PARTS).await.status.as_u16());
        }
        out
    }
    let first = statuses(7).await;
    assert_eq!(first, statuses(7).await);
    assert!(first.contains(&503) && first.contains(&200), "{first:?}");
    assert_ne!(first, statuses(8).await);
}

#[tokio::test]
async fn faults_can_be_configured_at_start() {
    let mock = start(MockConfig {
        faults: Faults {
            error_next: 1,
            ..Faults::default()
        },
        ..config()
    })
    .await;
    let http = reqwest::Client::new();
    let first = http
        .post(format!("{}/auth/login", mock.base_url()))
        .header("apiKey", mock.api_key())
        .json(&json!({ "operatorAccountId": BUYER.0, "accountPassword": BUYER.1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["code"], "[auth] ServiceUnavailable");
}
