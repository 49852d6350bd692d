//! `Idempotency-Key` on the management API's writes, over HTTP: a retried write replays the first
//! answer byte for byte and stores nothing new; a reused key with another request is refused;
//! concurrent duplicates store one record; a request that died mid-way never lets a retry store a
//! second record.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{ADMIN, TestGateway, expect_problem};
use dpp_gateway::store::{Reservation, StoreError};
use dpp_schemas::fixtures;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A second admin token: keys are per caller.
const OTHER_ADMIN: &str = "second-admin-token-0123456789";

async fn start() -> TestGateway {
    TestGateway::start_with(|c| c.auth.admin_tokens.push(OTHER_ADMIN.into())).await
}

/// The audit actor of the admin token (how receipts name the caller).
fn admin_actor() -> String {
    format!(
        "admin:{}",
        hex::encode(&Sha256::digest(ADMIN.as_bytes())[..4])
    )
}

/// The answer's status, the headers a replay repeats, whether it says it is a replay, and the
/// exact body bytes.
async fn answer(response: reqwest::Response) -> (u16, Vec<Option<String>>, bool, Vec<u8>) {
    let status = response.status().as_u16();
    let headers = ["location", "etag", "content-type"]
        .iter()
        .map(|h| {
            response
                .headers()
                .get(*h)
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .collect();
    let replayed = response
        .headers()
        .get("idempotency-replayed")
        .is_some_and(|v| v == "true");
    (
        status,
        headers,
        replayed,
        response.bytes().await.unwrap().to_vec(),
    )
}

/// Registers a trusted partner (its endpoint answers nothing; deliveries just fail and retry).
async fn register_partner(gw: &TestGateway, dir: &tempfile::TempDir) {
    let _ = dir;
    // A reference by name into the gateway's secrets dir (never read: deliveries fail first).
    let secret = "api-key";
    let registered = gw
        .admin(Method::POST, "/api/v1/partners")
        .json(&json!({
            "name": "ouranos-idem",
            "type": "ouranos",
            "endpoint": "http://127.0.0.1:9/",
            "settings": {
                "api_key": { "file": secret },
                "operator_id": "b39e6248-c888-56ca-d9d0-89de1b1adc8e",
                "plant_id": "eedf264e-cace-4414-8bd3-e10ce1e4ffd5",
                "auth": { "mode": "client", "client_id": "gw", "client_secret": { "file": secret } }
            },
            "allowedHosts": ["127.0.0.1"],
            "state": "trusted-unchecked"
        }))
        .send()
        .await
        .unwrap();
    let status = registered.status().as_u16();
    assert_eq!(status, 201, "{}", registered.text().await.unwrap());
}

async fn exchanges_of(gw: &TestGateway, passport: &str) -> usize {
    let list: Value = gw
        .read_json("/api/v1/exchanges?partner=ouranos-idem&limit=500")
        .await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["passportId"] == passport)
        .count()
}

#[tokio::test]
async fn a_retried_create_replays_the_first_answer_and_stores_nothing_new() {
    let gw = start().await;
    let pellets = fixtures::pp_pellets();
    let post = || {
        gw.admin(Method::POST, "/api/v1/passports")
            .header("Idempotency-Key", "create-pellets-0001")
            .json(&pellets)
    };
    let first = answer(post().send().await.unwrap()).await;
    assert_eq!(first.0, 201);
    assert!(!first.2, "a first answer is no replay");
    assert!(first.1.iter().all(Option::is_some), "{:?}", first.1);
    for _ in 0..3 {
        let again = answer(post().send().await.unwrap()).await;
        assert!(again.2, "Idempotency-Replayed: true");
        assert_eq!(
            (again.0, &again.1, &again.3),
            (first.0, &first.1, &first.3),
            "same status, headers and body bytes"
        );
    }
    assert_eq!(gw.footprint().await, (1, 1, 0));
    let id = pellets.id.to_string();
    let audit = gw
        .store
        .audit_entries(&format!("passport:{id}@1"))
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "one write, {audit:?}");

    // Without the key the same body is a second request: the id is taken.
    let plain = gw
        .admin(Method::POST, "/api/v1/passports")
        .json(&pellets)
        .send()
        .await
        .unwrap();
    expect_problem(plain, 409).await;

    // Keys are per caller: another admin's key of the same name is its own.
    let other = gw
        .http
        .post(gw.url("/api/v1/passports"))
        .bearer_auth(OTHER_ADMIN)
        .header("Idempotency-Key", "create-pellets-0001")
        .json(&pellets)
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("idempotency-replayed").is_none());
    expect_problem(other, 409).await;

    // A new version: PUT with If-Match, retried, is stored once.
    let etag = first.1[1].clone().unwrap();
    let mut next = serde_json::to_value(&pellets).unwrap();
    next["product"]["name"] = json!("Recycled PP compound, revised");
    // The version it edits (the one If-Match names): the gateway numbers the new one.
    next["version"] = json!(1);
    let put = || {
        gw.admin(Method::PUT, &format!("/api/v1/passports/{id}"))
            .header("Idempotency-Key", "revise-pellets-0001")
            .header("if-match", &etag)
            .json(&next)
    };
    let first_put = answer(put().send().await.unwrap()).await;
    assert_eq!(
        first_put.0,
        200,
        "{}",
        String::from_utf8_lossy(&first_put.3)
    );
    let again = answer(put().send().await.unwrap()).await;
    assert!(again.2);
    assert_eq!(again.3, first_put.3);
    assert_eq!(again.1, first_put.1);
    assert_eq!(gw.store.passport_versions(&id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_refused() {
    let gw = start().await;
    let first = gw
        .admin(Method::POST, "/api/v1/passports")
        .header("Idempotency-Key", "k-7f3a")
        .json(&fixtures::pp_pellets())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let reused = gw
        .admin(Method::POST, "/api/v1/passports")
        .header("Idempotency-Key", "k-7f3a")
        .json(&fixtures::pet_bottle_flakes())
        .send()
        .await
        .unwrap();
    let problem = expect_problem(reused, 422).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("idempotency-key-reused")
    );
    // Another path under the same key is another request too.
    let event = &fixtures::trace_events()[0];
    let elsewhere = gw
        .admin(Method::POST, "/api/v1/trace-events")
        .header("Idempotency-Key", "k-7f3a")
        .json(event)
        .send()
        .await
        .unwrap();
    expect_problem(elsewhere, 422).await;
    assert_eq!(gw.footprint().await, (1, 1, 0));
}

#[tokio::test]
async fn malformed_keys_are_refused_and_store_nothing() {
    let gw = start().await;
    let long = "k".repeat(256);
    let bad: [&[u8]; 4] = [b"", long.as_bytes(), b"two words", "cl\u{e9}".as_bytes()];
    for key in bad {
        let response = gw
            .admin(Method::POST, "/api/v1/passports")
            .header(
                "Idempotency-Key",
                reqwest::header::HeaderValue::from_bytes(key).unwrap(),
            )
            .json(&fixtures::pp_pellets())
            .send()
            .await
            .unwrap();
        let problem = expect_problem(response, 400).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("Idempotency-Key"),
            "{problem}"
        );
    }
    let twice = gw
        .admin(Method::POST, "/api/v1/passports")
        .header("Idempotency-Key", "a")
        .header("Idempotency-Key", "b")
        .json(&fixtures::pp_pellets())
        .send()
        .await
        .unwrap();
    expect_problem(twice, 400).await;
    assert_eq!(gw.footprint().await, (0, 0, 0));
    // The longest key is fine.
    let longest = gw
        .admin(Method::POST, "/api/v1/passports")
        .header("Idempotency-Key", "k".repeat(255))
        .json(&fixtures::pp_pellets())
        .send()
        .await
        .unwrap();
    assert_eq!(longest.status(), 201);
}

#[tokio::test]
async fn a_refused_request_gives_its_key_back_for_the_corrected_retry() {
    let gw = start().await;
    let mut broken = serde_json::to_value(fixtures::pp_pellets()).unwrap();
    broken["materials"] = json!("none");
    let refused = gw
        .admin(Method::POST, "/api/v1/passports")
        .header("Idempotency-Key", "fix-and-retry")
        .json(&broken)
        .send()
        .await
        .unwrap();
    expect_problem(refused, 422).await;
    let corrected = gw
        .admin(Method::POST, "/api/v1/passports")
        .header("Idempotency-Key", "fix-and-retry")
        .json(&fixtures::pp_pellets())
        .send()
        .await
        .unwrap();
    assert_eq!(corrected.status(), 201);
    assert!(corrected.headers().get("idempotency-replayed").is_none());
    assert_eq!(gw.footprint().await, (1, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_queue_one_exchange() {
    let gw = start().await;
    let dir = tempfile::tempdir().unwrap();
    register_partner(&gw, &dir).await;
    let pellets = fixtures::pp_pellets();
    let passport = pellets.id.to_string();
    let created = gw
        .admin(Method::POST, "/api/v1/passports")
        .json(&pellets)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let body = json!({ "partner": "ouranos-idem", "passport": passport });
    let send = || {
        gw.admin(Method::POST, "/api/v1/exchanges")
            .header("Idempotency-Key", "push-pellets-1")
            .json(&body)
            .send()
    };
    let answers = futures_util::future::join_all((0..24).map(|_| send())).await;
    let mut fresh = 0;
    let mut replayed = 0;
    let mut in_progress = 0;
    let mut ids = BTreeSet::new();
    for response in answers {
        let response = response.unwrap();
        match response.status().as_u16() {
            202 => {
                if response.headers().get("idempotency-replayed").is_some() {
                    replayed += 1;
                } else {
                    fresh += 1;
                }
                let item: Value = response.json().await.unwrap();
                ids.insert(item["id"].as_str().unwrap().to_owned());
            }
            409 => {
                assert_eq!(
                    response
                        .headers()
                        .get("retry-after")
                        .map(|v| v.to_str().unwrap().to_owned()),
                    Some("1".to_owned()),
                    "{}",
                    response.text().await.unwrap()
                );
                let problem = expect_problem(response, 409).await;
                assert!(
                    problem["type"]
                        .as_str()
                        .unwrap()
                        .ends_with("idempotency-in-progress")
                );
                in_progress += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(fresh, 1, "one request ran");
    assert_eq!(fresh + replayed + in_progress, 24);
    assert_eq!(ids.len(), 1, "every 202 names the same exchange");
    // A retry after the first finished replays it.
    let late = send().await.unwrap();
    assert_eq!(late.status(), 202);
    assert!(late.headers().get("idempotency-replayed").is_some());
    assert_eq!(exchanges_of(&gw, &passport).await, 1);

    // Without a key, each request queues its own push: the count above would see a duplicate.
    for _ in 0..2 {
        let plain = gw
            .admin(Method::POST, "/api/v1/exchanges")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(plain.status(), 202);
    }
    assert_eq!(exchanges_of(&gw, &passport).await, 3);
}

#[tokio::test]
async fn a_request_that_died_never_lets_its_retry_store_twice() {
    let gw = start().await;
    let actor = admin_actor();
    let pellets = fixtures::pp_pellets();
    let body = serde_json::to_vec(&pellets).unwrap();
    let sha = {
        let mut h = Sha256::new();
        h.update(b"POST\n/api/v1/passports\n");
        h.update(&body);
        hex::encode(h.finalize())
    };
    let post = || {
        gw.admin(Method::POST, "/api/v1/passports")
            .header("Idempotency-Key", "died-mid-way")
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };

    // A request holds the key: a retry is told to wait.
    let lease = Duration::from_secs(60);
    let Reservation::Reserved(stalled) = gw
        .store
        .reserve_receipt(&actor, "died-mid-way", &sha, lease)
        .await
        .unwrap()
    else {
        panic!("the key is new")
    };
    let waiting = post().await.unwrap();
    let problem = expect_problem(waiting, 409).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("idempotency-in-progress")
    );

    // Its lease runs out (the process died): the next retry takes the key over. The stalled
    // request, should it wake up, can no longer store anything.
    let Reservation::Reserved(retry) = gw
        .store
        .reserve_receipt(&actor, "died-mid-way", &sha, Duration::ZERO)
        .await
        .unwrap()
    else {
        panic!("an expired reservation is taken over")
    };
    // (Any store write stands in for the record: each one audits itself in its transaction.)
    let woke = stalled
        .clone()
        .scope(gw.store.audit("test", "passport.touch", "passport:none"))
        .await;
    assert!(
        matches!(woke, Err(StoreError::StateConflict(_))),
        "{woke:?}"
    );

    // The retry commits its record, and the gateway dies before keeping the answer.
    retry
        .clone()
        .scope(
            gw.store
                .audit("test", "passport.create", "passport:stand-in"),
        )
        .await
        .unwrap();
    // A retry within the lease waits (the request may be about to keep its answer); once the
    // lease is over it learns the request took effect, and nothing runs again.
    let soon = post().await.unwrap();
    expect_problem(soon, 409).await;
    assert_eq!(
        gw.store
            .reserve_receipt(&actor, "died-mid-way", &sha, Duration::ZERO)
            .await
            .unwrap(),
        Reservation::AnswerLost
    );
    assert_eq!(
        gw.store
            .reserve_receipt(&actor, "died-mid-way", "another request", Duration::ZERO)
            .await
            .unwrap(),
        Reservation::Mismatch
    );
    assert_eq!(gw.footprint().await, (0, 0, 0));
    assert!(
        !gw.store.release_receipt(&retry).await.unwrap(),
        "a committed receipt is never given back"
    );
}

/// Issue 9: a partner token is a secret shown once. Issued under an `Idempotency-Key`, its
/// answer used to be kept whole in `inbound_receipts` and replayed; now no byte of the database
/// holds it, the retry learns only that the request took effect, and the data dir and database
/// are private to the gateway's user.
#[tokio::test]
async fn a_partner_token_is_never_kept_for_replay_nor_stored_in_clear() {
    use std::os::unix::fs::PermissionsExt as _;
    let gw = start().await;
    let dir = tempfile::tempdir().unwrap();
    register_partner(&gw, &dir).await;
    let issue = || {
        gw.admin(Method::POST, "/api/v1/partners/ouranos-idem/tokens")
            .header("idempotency-key", "token-once")
    };
    let first = issue().send().await.unwrap();
    assert_eq!(first.status(), 201);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let token = first.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let retry = issue().send().await.unwrap();
    let problem = expect_problem(retry, 409).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("/idempotency-answer-withheld"),
        "{problem}"
    );
    assert!(!problem.to_string().contains(&token));
    // Still exactly one token.
    let listed: Value = gw
        .admin(Method::GET, "/api/v1/partners/ouranos-idem/tokens")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );

    // No file of the data dir (database, journals, keys) holds the token or its secret part.
    let data_dir = gw.dir.path();
    let secret_part = token.rsplit('_').next().unwrap().to_owned();
    let mut files = vec![data_dir.to_owned()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let holds = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(
            !holds(&token) && !holds(&secret_part),
            "{} holds the partner token",
            path.display()
        );
    }
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(data_dir), 0o700);
    let db = data_dir.join(dpp_gateway::store::SQLITE_FILE_NAME);
    assert_eq!(mode(&db), 0o600);
    for journal in ["-wal", "-shm"] {
        let path = std::path::PathBuf::from(format!("{}{journal}", db.display()));
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
}
