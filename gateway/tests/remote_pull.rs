//! Pulls over HTTP: `GET /api/v1/remote/{partner}/passports/{remote_id}` on a real gateway whose
//! partner is the mock Ouranos (credentials by environment reference). A passport is pushed
//! through the outbox, then pulled back: fetched once, then served from the cache, with the
//! partner's own TTL; removal and re-registration forget what was pulled. Upstream calls are
//! counted by the mock, not by the code under test.

mod exchange_support;

use std::future::Future;
use std::sync::Once;
use std::time::Duration;

use dpp_adapters::contract::PassportReference;
use dpp_conformance::mock::ouranos::MockOuranos;
use exchange_support::*;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const API_KEY_ENV: &str = "DPP_REMOTE_PULL_TEST_OURANOS_API_KEY";
const CLIENT_SECRET_ENV: &str = "DPP_REMOTE_PULL_TEST_OURANOS_CLIENT_SECRET";
/// A remote id the mock does not hold.
const ABSENT: &str = "00000000-0000-4000-8000-000000000000";

static CREDENTIALS: Once = Once::new();

/// Runs one test on its own runtime, after the credentials the partners reference are in the
/// environment.
fn run(test: impl Future<Output = ()>) {
    CREDENTIALS.call_once(|| {
        // SAFETY: every test of this binary calls `run` before anything else, and `Once` makes
        // the others wait while the environment is written, so nothing reads it concurrently.
        unsafe {
            std::env::set_var(API_KEY_ENV, API_KEY);
            std::env::set_var(CLIENT_SECRET_ENV, CLIENT_SECRET);
        }
    });
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(test);
}

/// The mock as partner `name`, credentials by environment reference.
fn env_partner(mock: &MockOuranos, name: &str) -> Value {
    assert_eq!(mock.api_key(), API_KEY);
    json!({
        "name": name,
        "type": "ouranos",
        "endpoint": mock.base_url(),
        "settings": {
            "api_key": { "env": API_KEY_ENV },
            "operator_id": mock.operator_id(CLIENT_ID).unwrap(),
            "plant_id": mock.plant_ids(CLIENT_ID)[0],
            "auth": {
                "mode": "client",
                "client_id": CLIENT_ID,
                "client_secret": { "env": CLIENT_SECRET_ENV }
            }
        },
        "allowedHosts": ["127.0.0.1"],
        "state": "trusted-unchecked"
    })
}

/// Creates pellet lot `n`, pushes it to `partner` through the outbox; its id and remote id.
async fn pushed(gw: &TestGateway, partner: &str, n: usize) -> (String, String) {
    let passport = gw.create(pellet_lot(n)).await;
    let exchange = gw.push(partner, &passport).await;
    gw.settle(Duration::from_secs(20)).await;
    let done = gw.exchange(&exchange).await;
    assert_eq!(done["state"], "delivered", "{done}");
    (passport, done["remoteId"].as_str().unwrap().to_owned())
}

/// A reader's pull: status, headers and JSON body.
async fn pull(gw: &TestGateway, partner: &str, remote_id: &str) -> (u16, HeaderMap, Value) {
    let response = gw
        .reader(
            Method::GET,
            &format!("/api/v1/remote/{partner}/passports/{remote_id}"),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).map_or("", |v| v.to_str().unwrap())
}

fn problem_type(body: &Value) -> &str {
    body["type"]
        .as_str()
        .unwrap()
        .trim_start_matches("https://dpp-gateway.dev/problems/")
}

#[test]
fn a_pushed_passport_is_pulled_back_fetched_once_then_from_the_cache() {
    run(async {
        let mock = start_mock().await;
        let gw = TestGateway::start(fast_delivery()).await;
        gw.register(&env_partner(&mock, "kanto-recycling")).await;
        let (passport, remote_id) = pushed(&gw, "kanto-recycling", 1).await;

        let before = mock.upstream_gets();
        let (status, headers, body) = pull(&gw, "kanto-recycling", &remote_id).await;
        assert_eq!(status, 200, "{body}");
        let per_fetch = mock.upstream_gets() - before;
        assert!(per_fetch >= 1, "the first pull goes upstream");
        assert_eq!(header(&headers, "x-cache"), "MISS");
        assert_eq!(
            header(&headers, "cache-status"),
            "dpp-gateway; fwd=uri-miss; stored"
        );
        assert_eq!(header(&headers, "cache-control"), "private, max-age=300");
        assert_eq!(body["freshness"], "fresh");
        assert_eq!(body["partner"], "kanto-recycling");
        assert_eq!(body["remoteId"], remote_id.as_str());
        assert_eq!(body["passport"]["id"], passport.as_str());
        // The remote record points at the JWS the gateway stored when the passport was written.
        let stored = gw
            .store()
            .passport(&passport, Some(1))
            .await
            .unwrap()
            .unwrap();
        let reference = PassportReference::of(
            &serde_json::from_str(&stored.canonical_json).unwrap(),
            &stored.jws,
        );
        assert_eq!(body["reference"]["passportId"], passport.as_str());
        assert_eq!(
            body["reference"]["jwsSha256"],
            reference.jws_sha256.as_str()
        );

        let (status, headers, again) = pull(&gw, "kanto-recycling", &remote_id).await;
        assert_eq!(status, 200);
        assert_eq!(header(&headers, "x-cache"), "HIT");
        assert!(
            header(&headers, "cache-status").starts_with("dpp-gateway; hit; ttl="),
            "{headers:?}"
        );
        assert!(headers.contains_key("age"));
        assert_eq!(again["freshness"], "cached");
        assert_eq!(again["passport"], body["passport"]);
        assert_eq!(
            mock.upstream_gets() - before,
            per_fetch,
            "the second pull is answered by the cache"
        );

        // An admin may pull too; without a token nobody may.
        let admin = gw
            .admin(
                Method::GET,
                &format!("/api/v1/remote/kanto-recycling/passports/{remote_id}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(admin.status().as_u16(), 200);
        let anonymous = gw
            .http
            .get(format!(
                "{}/api/v1/remote/kanto-recycling/passports/{remote_id}",
                gw.base
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status().as_u16(), 401);
    });
}

#[test]
fn unknown_partners_absent_passports_and_bad_paths_are_problems() {
    run(async {
        let mock = start_mock().await;
        let gw = TestGateway::start(fast_delivery()).await;
        gw.register(&env_partner(&mock, "kanto-recycling")).await;

        let (status, headers, body) = pull(&gw, "nobody", ABSENT).await;
        assert_eq!(status, 404);
        assert_eq!(header(&headers, "content-type"), "application/problem+json");
        assert_eq!(problem_type(&body), "unknown-partner");
        assert!(body["detail"].as_str().unwrap().contains("nobody"));

        let before = mock.upstream_gets();
        let (status, headers, body) = pull(&gw, "kanto-recycling", ABSENT).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(problem_type(&body), "remote-not-found");
        assert!(header(&headers, "cache-status").contains("fwd=uri-miss"));
        let per_fetch = mock.upstream_gets() - before;
        assert!(per_fetch >= 1);
        let (status, headers, _) = pull(&gw, "kanto-recycling", ABSENT).await;
        assert_eq!(status, 404);
        assert_eq!(
            header(&headers, "cache-status"),
            "dpp-gateway; hit; detail=negative"
        );
        assert_eq!(
            mock.upstream_gets() - before,
            per_fetch,
            "a remembered 404 makes no upstream call"
        );

        // Path segments that are not UTF-8, and remote ids too long to be one.
        let response = gw
            .reader(Method::GET, "/api/v1/remote/kanto-recycling/passports/%FF")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(
            header(response.headers(), "content-type"),
            "application/problem+json"
        );
        let (status, _, body) = pull(&gw, "kanto-recycling", &"x".repeat(300)).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            mock.upstream_gets() - before,
            per_fetch,
            "refused paths make no upstream call"
        );
    });
}

#[test]
fn a_partner_registered_with_a_one_second_ttl_is_fetched_again_after_it() {
    run(async {
        let mock = start_mock().await;
        let gw = TestGateway::start(fast_delivery()).await;
        let mut partner = env_partner(&mock, "short-lived");
        partner["pull"] = json!({ "ttlSeconds": 1 });
        let created = gw.register(&partner).await;
        assert_eq!(
            created["pull"],
            json!({
                "ttlSeconds": 1,
                "negativeTtlSeconds": 30,
                "staleIfErrorSeconds": 86400,
                "timeoutSeconds": 10
            })
        );
        let (_, remote_id) = pushed(&gw, "short-lived", 2).await;

        let before = mock.upstream_gets();
        let (status, headers, _) = pull(&gw, "short-lived", &remote_id).await;
        assert_eq!(status, 200);
        assert_eq!(header(&headers, "x-cache"), "MISS");
        assert_eq!(header(&headers, "cache-control"), "private, max-age=1");
        let per_fetch = mock.upstream_gets() - before;
        let (_, headers, _) = pull(&gw, "short-lived", &remote_id).await;
        assert_eq!(header(&headers, "x-cache"), "HIT");
        assert_eq!(mock.upstream_gets() - before, per_fetch);

        tokio::time::sleep(Duration::from_millis(1300)).await;
        let (status, headers, body) = pull(&gw, "short-lived", &remote_id).await;
        assert_eq!(status, 200);
        assert_eq!(header(&headers, "x-cache"), "MISS", "{body}");
        assert_eq!(body["freshness"], "fresh");
        assert_eq!(
            mock.upstream_gets() - before,
            2 * per_fetch,
            "the expired entry was fetched again"
        );
    });
}

#[test]
fn removing_or_registering_a_partner_again_forgets_what_was_pulled() {
    run(async {
        let mock = start_mock().await;
        let gw = TestGateway::start(fast_delivery()).await;
        let partner = env_partner(&mock, "kanto-recycling");
        gw.register(&partner).await;
        let (_, remote_id) = pushed(&gw, "kanto-recycling", 3).await;
        let x_cache = |headers: &HeaderMap| header(headers, "x-cache").to_owned();

        let (_, headers, _) = pull(&gw, "kanto-recycling", &remote_id).await;
        assert_eq!(x_cache(&headers), "MISS");
        let (_, headers, _) = pull(&gw, "kanto-recycling", &remote_id).await;
        assert_eq!(x_cache(&headers), "HIT");

        let removed = gw
            .admin(Method::DELETE, "/api/v1/partners/kanto-recycling")
            .send()
            .await
            .unwrap();
        assert_eq!(removed.status().as_u16(), 204);
        let (status, _, body) = pull(&gw, "kanto-recycling", &remote_id).await;
        assert_eq!(status, 404);
        assert_eq!(problem_type(&body), "unknown-partner");

        gw.register(&partner).await;
        let before = mock.upstream_gets();
        let (status, headers, _) = pull(&gw, "kanto-recycling", &remote_id).await;
        assert_eq!(status, 200);
        assert_eq!(x_cache(&headers), "MISS", "a new registration starts empty");
        assert!(mock.upstream_gets() > before);
        let (_, headers, _) = pull(&gw, "kanto-recycling", &remote_id).await;
        assert_eq!(x_cache(&headers), "HIT");

        // Removed and registered again behind the API's back (the CLI, another replica): the
        // gateway notices the new registration on the next pull.
        let record = gw
            .store()
            .partner("kanto-recycling")
            .await
            .unwrap()
            .unwrap();
        gw.store()
            .delete_partner("kanto-recycling", "cli")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        gw.store().insert_partner(&record, "cli").await.unwrap();
        let (status, headers, _) = pull(&gw, "kanto-recycling", &remote_id).await;
        assert_eq!(status, 200);
        assert_eq!(x_cache(&headers), "MISS");
    });
}

/// The attack of issue 9: an admin token registers a "partner" whose client secret names the
/// gateway's signing key (or its environment), and one reader pull would send it away. Every
/// spelling is refused at registration; a symlink planted in the secrets dir passes registration
/// (names are checked without I/O) but is refused when read, with words that say nothing of the
/// file system, and the "partner" receives no request at all.
#[test]
fn a_credential_reference_cannot_send_the_signing_key_or_the_environment_to_a_partner() {
    run(async {
        let mock = start_mock().await;
        let gw = TestGateway::start(fast_delivery()).await;
        let jwks: Value = gw
            .reader(Method::GET, "/.well-known/jwks.json")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
        let key_file = gw.dir.path().join("keys").join(format!("{kid}.pem"));
        assert!(
            key_file.exists(),
            "the key store layout changed: {key_file:?}"
        );

        let attacks = [
            json!({ "file": key_file.to_string_lossy() }),
            json!({ "file": format!("../keys/{kid}.pem") }),
            json!({ "file": "/proc/self/environ" }),
            json!({ "file": gw.dir.path().join("dpp-gateway.db").to_string_lossy() }),
            json!({ "env": "DPP_GATEWAY_ADMIN_TOKEN" }),
            json!({ "env": "HOME" }),
        ];
        for (i, reference) in attacks.iter().enumerate() {
            let mut doc = env_partner(&mock, &format!("exfil-{i}"));
            doc["settings"]["auth"]["client_secret"] = reference.clone();
            let response = gw
                .admin(Method::POST, "/api/v1/partners")
                .json(&doc)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 422, "{reference} was accepted");
            let body: Value = response.json().await.unwrap();
            assert_eq!(
                body["violations"][0]["pointer"], "/settings/auth/client_secret",
                "{body}"
            );
        }

        // A link inside the secrets dir to the key store, and one to a file that is not there.
        let secrets = gw.dir.path().join("secrets");
        std::os::unix::fs::symlink(&key_file, secrets.join("planted")).unwrap();
        let mut details = Vec::new();
        for (name, file) in [("planted-key", "planted"), ("planted-missing", "absent")] {
            let mut doc = env_partner(&mock, name);
            doc["settings"]["auth"]["client_secret"] = json!({ "file": file });
            gw.register(&doc).await;
            let (status, _, body) = pull(&gw, name, ABSENT).await;
            assert_eq!(status, 503, "{body}");
            let detail = body["detail"].as_str().unwrap().to_owned();
            assert!(
                !detail.contains(&kid) && !detail.contains("keys"),
                "{detail}"
            );
            details.push(detail.replace(name, "NAME").replace(file, "FILE"));
        }
        assert_eq!(details[0], details[1], "the answers tell the files apart");
        let stats = mock.stats();
        assert_eq!(
            (stats.requests, stats.auth_posts),
            (0, 0),
            "the mock partner was called: {stats:?}"
        );
    });
}
