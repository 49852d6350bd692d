//! The partner-facing API's doors: tokens (issued once, listed without the secret, revoked,
//! gone with the partner), which tokens open which API, partner states, and the per-partner
//! limits — a rate limit and a concurrency cap, each answered 429 with `Retry-After` and kept
//! per partner. What a partner may *see* is the access-policy matrix in `access_policy.rs`.

mod common;

use common::{ADMIN, TestGateway, expect_problem, ouranos_registration};
use dpp_schemas::fixtures;
use reqwest::Method;
use serde_json::{Value, json};

fn registration(name: &str, state: &str, limits: Value) -> Value {
    let mut doc = ouranos_registration(name);
    doc["state"] = json!(state);
    doc["limits"] = limits;
    doc
}

async fn register(gw: &TestGateway, doc: &Value) -> Value {
    let response = gw
        .admin(Method::POST, "/api/v1/partners")
        .json(doc)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

async fn issue(gw: &TestGateway, partner: &str) -> Value {
    let response = gw
        .admin(Method::POST, &format!("/api/v1/partners/{partner}/tokens"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

fn as_partner(gw: &TestGateway, token: &str, path: &str) -> reqwest::RequestBuilder {
    gw.http.get(gw.url(path)).bearer_auth(token)
}

async fn seed(gw: &TestGateway) -> String {
    let pellets = fixtures::pp_pellets();
    let created = gw
        .admin(Method::POST, "/api/v1/passports")
        .json(&pellets)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    pellets.id.to_string()
}

#[tokio::test]
async fn tokens_are_shown_once_listed_without_the_secret_and_revocable() {
    let gw = TestGateway::start().await;
    let passport = seed(&gw).await;
    register(&gw, &registration("tokai", "trusted-unchecked", json!({}))).await;
    let path = format!("/partner/v1/passports/{passport}");

    let issued = issue(&gw, "tokai").await;
    let token = issued["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("dppp_"), "{issued}");
    let id = issued["id"].as_str().unwrap().to_owned();
    let ok = as_partner(&gw, &token, &path).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);

    // Listed by id and a digest hint, never with the token.
    let listed: Value = gw.read_json("/api/v1/partners/tokai/tokens").await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id.as_str());
    assert!(items[0]["hint"].as_str().unwrap().starts_with("sha256:"));
    assert!(!listed.to_string().contains(&token[5..]), "{listed}");

    // Each API takes only its own tokens.
    let management = as_partner(&gw, ADMIN, &path).send().await.unwrap();
    let body = expect_problem(management, 401).await;
    assert!(
        body["detail"].as_str().unwrap().contains("partner tokens"),
        "{body}"
    );
    let wrong_door = gw
        .http
        .get(gw.url("/api/v1/passports"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    expect_problem(wrong_door, 401).await;
    let none = gw.http.get(gw.url(&path)).send().await.unwrap();
    expect_problem(none, 401).await;
    let forged = as_partner(
        &gw,
        "dppp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &path,
    )
    .send()
    .await
    .unwrap();
    expect_problem(forged, 401).await;
    // A reader may not issue tokens.
    let by_reader = gw
        .reader(Method::POST, "/api/v1/partners/tokai/tokens")
        .send()
        .await
        .unwrap();
    expect_problem(by_reader, 403).await;
    let unknown = gw
        .admin(Method::POST, "/api/v1/partners/nobody/tokens")
        .send()
        .await
        .unwrap();
    expect_problem(unknown, 404).await;

    // Rotation: a second token works alongside; revoking the first shuts only it out.
    let second = issue(&gw, "tokai").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = gw
        .admin(
            Method::DELETE,
            &format!("/api/v1/partners/tokai/tokens/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 204);
    let again = gw
        .admin(
            Method::DELETE,
            &format!("/api/v1/partners/tokai/tokens/{id}"),
        )
        .send()
        .await
        .unwrap();
    expect_problem(again, 404).await;
    let old = as_partner(&gw, &token, &path).send().await.unwrap();
    let body = expect_problem(old, 401).await;
    assert!(
        body["detail"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    let new = as_partner(&gw, &second, &path).send().await.unwrap();
    assert_eq!(new.status().as_u16(), 200);

    // At most ten at once.
    for _ in 0..9 {
        issue(&gw, "tokai").await;
    }
    let eleventh = gw
        .admin(Method::POST, "/api/v1/partners/tokai/tokens")
        .send()
        .await
        .unwrap();
    expect_problem(eleventh, 409).await;

    // Removing the partner removes its tokens.
    let removed = gw
        .admin(Method::DELETE, "/api/v1/partners/tokai")
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status().as_u16(), 204);
    let gone = as_partner(&gw, &second, &path).send().await.unwrap();
    expect_problem(gone, 401).await;
    register(&gw, &registration("tokai", "trusted-unchecked", json!({}))).await;
    let reborn = as_partner(&gw, &second, &path).send().await.unwrap();
    expect_problem(reborn, 401).await;
}

#[tokio::test]
async fn partners_we_do_not_exchange_with_are_refused() {
    let gw = TestGateway::start().await;
    let passport = seed(&gw).await;
    for state in ["registered"] {
        let name = format!("p-{state}");
        register(&gw, &registration(&name, state, json!({}))).await;
        let token = issue(&gw, &name).await["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let refused = as_partner(&gw, &token, &format!("/partner/v1/passports/{passport}"))
            .send()
            .await
            .unwrap();
        let body = expect_problem(refused, 403).await;
        assert!(body["detail"].as_str().unwrap().contains(state), "{body}");
    }
    // A failed conformance run closes the door of a partner that was let in.
    register(
        &gw,
        &registration("p-fails", "trusted-unchecked", json!({})),
    )
    .await;
    let token = issue(&gw, "p-fails").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/partner/v1/passports/{passport}");
    assert_eq!(
        as_partner(&gw, &token, &path)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    gw.state
        .store()
        .set_partner_state("p-fails", dpp_gateway::store::PartnerState::Failed, "test")
        .await
        .unwrap();
    let refused = as_partner(&gw, &token, &path).send().await.unwrap();
    expect_problem(refused, 403).await;
}

#[tokio::test]
async fn limits_are_checked_at_registration_and_shown() {
    let gw = TestGateway::start().await;
    let bad = gw
        .admin(Method::POST, "/api/v1/partners")
        .json(&registration(
            "bad-limits",
            "trusted-unchecked",
            json!({ "requestsPerSecond": 0, "burst": 0, "maxConcurrent": 1000001 }),
        ))
        .send()
        .await
        .unwrap();
    let body = expect_problem(bad, 422).await;
    let pointers: Vec<&str> = body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        vec![
            "/limits/requestsPerSecond",
            "/limits/burst",
            "/limits/maxConcurrent"
        ],
        "{body}"
    );
    let unknown = gw
        .admin(Method::POST, "/api/v1/partners")
        .json(&registration(
            "bad-limits",
            "trusted-unchecked",
            json!({ "rps": 5 }),
        ))
        .send()
        .await
        .unwrap();
    expect_problem(unknown, 422).await;
    let shown = register(
        &gw,
        &registration("good-limits", "trusted-unchecked", json!({ "burst": 5 })),
    )
    .await;
    assert_eq!(shown["limits"], json!({ "burst": 5 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_over_its_rate_gets_429_with_retry_after_and_others_do_not() {
    let gw = TestGateway::start().await;
    let passport = seed(&gw).await;
    // One request per 100 s after a burst of 3: the fourth in a row is over.
    register(
        &gw,
        &registration(
            "slow",
            "trusted-unchecked",
            json!({ "requestsPerSecond": 0.01, "burst": 3 }),
        ),
    )
    .await;
    register(&gw, &registration("other", "trusted-unchecked", json!({}))).await;
    let slow = issue(&gw, "slow").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = issue(&gw, "other").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/partner/v1/passports/{passport}");

    for _ in 0..3 {
        let ok = as_partner(&gw, &slow, &path).send().await.unwrap();
        assert_eq!(ok.status().as_u16(), 200);
    }
    let over = as_partner(&gw, &slow, &path).send().await.unwrap();
    let retry_after: u64 = over.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=100).contains(&retry_after), "{retry_after}");
    let body = expect_problem(over, 429).await;
    assert!(
        body["detail"].as_str().unwrap().contains("rate limit"),
        "{body}"
    );
    // Refused calls are not let through by asking again, whatever route.
    let search = as_partner(&gw, &slow, "/partner/v1/passports")
        .send()
        .await
        .unwrap();
    expect_problem(search, 429).await;

    // Another partner is not held to the first one's bucket.
    for _ in 0..5 {
        let ok = as_partner(&gw, &other, &path).send().await.unwrap();
        assert_eq!(ok.status().as_u16(), 200);
    }

    // Operators see the refusals.
    let metrics = gw
        .http
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("dpp_partner_requests_refused_total")
                && l.contains("partner=\"slow\"")
                && l.contains("reason=\"rate\"")
        })
        .unwrap_or_else(|| panic!("no refusal counter in:\n{metrics}"));
    assert!(line.ends_with(" 2"), "{line}");
    let served = metrics
        .lines()
        .find(|l| {
            l.starts_with("dpp_partner_requests_total")
                && l.contains("partner=\"other\"")
                && l.contains("outcome=\"ok\"")
        })
        .unwrap_or_else(|| panic!("no request counter in:\n{metrics}"));
    assert!(served.ends_with(" 5"), "{served}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_at_its_concurrency_cap_gets_429_until_a_slot_frees() {
    let gw = TestGateway::start().await;
    let passport = seed(&gw).await;
    register(
        &gw,
        &registration("busy", "trusted-unchecked", json!({ "maxConcurrent": 2 })),
    )
    .await;
    let token = issue(&gw, "busy").await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/partner/v1/passports/{passport}");
    let record = gw.state.store().partner("busy").await.unwrap().unwrap();

    // Two of its requests are being answered (held here, where the server takes its slots).
    let first = gw.state.inbound.admit(&record).unwrap();
    let second = gw.state.inbound.admit(&record).unwrap();
    let refused = as_partner(&gw, &token, &path).send().await.unwrap();
    assert_eq!(refused.headers()["retry-after"], "1");
    let body = expect_problem(refused, 429).await;
    assert!(
        body["detail"].as_str().unwrap().contains("at once"),
        "{body}"
    );

    drop(first);
    let ok = as_partner(&gw, &token, &path).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    // The slot the answered request took came back too.
    let ok = as_partner(&gw, &token, &path).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    drop(second);
}
