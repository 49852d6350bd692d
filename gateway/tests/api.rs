//! The management API over HTTP, as a client uses it.

mod common;

use common::{ADMIN, READER, TestGateway, expect_problem};
use dpp_schemas::fixtures;
use reqwest::Method;
use serde_json::{Value, json};

fn passport_json(p: &dpp_schemas::Passport) -> Value {
    serde_json::to_value(p).unwrap()
}

#[tokio::test]
async fn create_read_version_and_sign() {
    let gw = TestGateway::start().await;
    let pellets = fixtures::pp_pellets();
    let id = pellets.id.to_string();

    let created = gw
        .admin(Method::POST, "/api/v1/passports")
        .json(&pellets)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(
        created.headers()["location"],
        format!("/api/v1/passports/{id}").as_str()
    );
    let etag1 = created.headers()["etag"].to_str().unwrap().to_owned();
    let body1: Value = created.json().await.unwrap();
    assert_eq!(body1["version"], 1);
    assert_eq!(body1["id"], id.as_str());

    // Reads serve the stored bytes and ETag; If-None-Match short-circuits.
    let read = gw
        .reader(Method::GET, &format!("/api/v1/passports/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["etag"].to_str().unwrap(), etag1);
    assert_eq!(read.json::<Value>().await.unwrap(), body1);
    let cached = gw
        .reader(Method::GET, &format!("/api/v1/passports/{id}"))
        .header("if-none-match", &etag1)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);

    // Duplicate id.
    let dup = gw
        .admin(Method::POST, "/api/v1/passports")
        .json(&pellets)
        .send()
        .await
        .unwrap();
    expect_problem(dup, 409).await;

    // New version: If-Match required, must be current.
    let mut next = passport_json(&pellets);
    next["materials"][0]["grade"] = json!("PP-R 40 MB (rev. B)");
    next.as_object_mut().unwrap().remove("version");
    let missing = gw
        .admin(Method::PUT, &format!("/api/v1/passports/{id}"))
        .json(&next)
        .send()
        .await
        .unwrap();
    expect_problem(missing, 428).await;
    let wrong = gw
        .admin(Method::PUT, &format!("/api/v1/passports/{id}"))
        .header("if-match", "\"deadbeef\"")
        .json(&next)
        .send()
        .await
        .unwrap();
    expect_problem(wrong, 412).await;
    let updated = gw
        .admin(Method::PUT, &format!("/api/v1/passports/{id}"))
        .header("if-match", &etag1)
        .json(&next)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let etag2 = updated.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(etag1, etag2);
    let body2: Value = updated.json().await.unwrap();
    assert_eq!(body2["version"], 2);
    assert_eq!(
        body2["issuedAt"], body1["issuedAt"],
        "issuedAt is fixed by the first version"
    );
    // The old ETag is stale now.
    let stale = gw
        .admin(Method::PUT, &format!("/api/v1/passports/{id}"))
        .header("if-match", &etag1)
        .json(&next)
        .send()
        .await
        .unwrap();
    expect_problem(stale, 412).await;

    // Both versions stay readable, immutable.
    let v1 = gw
        .read_json(&format!("/api/v1/passports/{id}?version=1"))
        .await;
    assert_eq!(v1, body1);
    let versions: Value = gw
        .read_json(&format!("/api/v1/passports/{id}/versions"))
        .await;
    assert_eq!(versions["versions"].as_array().unwrap().len(), 2);
    assert_eq!(versions["versions"][1]["etag"], etag2.as_str());

    // The signed form is the stored JWS over the JCS bytes; /verify checks it against our keys.
    let signed = gw
        .reader(Method::GET, &format!("/api/v1/passports/{id}/signed"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    assert_eq!(signed.headers()["content-type"], "application/jose");
    let jws = signed.text().await.unwrap();
    assert_eq!(jws.split('.').count(), 3);
    let verified = gw
        .reader(Method::POST, "/api/v1/verify")
        .header("content-type", "application/jose")
        .body(jws.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 200);
    let verified: Value = verified.json().await.unwrap();
    assert_eq!(verified["payload"], body2);
    assert_eq!(verified["header"]["alg"], "ES256");
    assert_eq!(verified["header"]["typ"], "dpp+jws");
    assert!(verified["header"]["iat"].is_i64());
    let jwks: Value = gw
        .http
        .get(gw.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verified["kid"], jwks["keys"][0]["kid"]);

    // A tampered payload fails verification.
    let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].replacen('e', "f", 1);
    let tampered = gw
        .reader(Method::POST, "/api/v1/verify")
        .json(&json!({ "jws": parts.join(".") }))
        .send()
        .await
        .unwrap();
    expect_problem(tampered, 422).await;
}

/// What a client does: GET a passport, change a field, PUT the body back with the ETag it read.
#[tokio::test]
async fn a_passport_read_with_get_can_be_edited_and_put_back() {
    let gw = TestGateway::start().await;
    let pellets = fixtures::pp_pellets();
    let id = pellets.id.to_string();
    let path = format!("/api/v1/passports/{id}");
    let created = gw
        .admin(Method::POST, "/api/v1/passports")
        .json(&pellets)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let read = gw.reader(Method::GET, &path).send().await.unwrap();
    let etag1 = read.headers()["etag"].to_str().unwrap().to_owned();
    let fetched: Value = read.json().await.unwrap();
    assert_eq!(fetched["version"], 1);

    // The unchanged body: no new version, the existing one answered with its ETag and place.
    let unchanged = gw
        .admin(Method::PUT, &path)
        .header("if-match", &etag1)
        .json(&fetched)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 200);
    assert_eq!(unchanged.headers()["etag"].to_str().unwrap(), etag1);
    assert_eq!(
        unchanged.headers()["location"],
        format!("{path}?version=1").as_str()
    );
    assert_eq!(unchanged.json::<Value>().await.unwrap(), fetched);
    let versions = gw.read_json(&format!("{path}/versions")).await;
    assert_eq!(versions["versions"].as_array().unwrap().len(), 1);

    // A version number that is neither absent nor the edited one is refused, and stores nothing.
    for wrong in [json!(2), json!(0), json!(7), json!("1")] {
        let mut body = fetched.clone();
        body["materials"][0]["grade"] = json!("PP-R 40 MB (rev. C)");
        body["version"] = wrong.clone();
        let refused = gw
            .admin(Method::PUT, &path)
            .header("if-match", &etag1)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = expect_problem(refused, 409).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("send the version you edit (1"),
            "version {wrong}: {problem}"
        );
    }
    let versions = gw.read_json(&format!("{path}/versions")).await;
    assert_eq!(versions["versions"].as_array().unwrap().len(), 1);

    // Edited and sent back as read, `version: 1` included: version 2.
    let mut edited = fetched.clone();
    edited["materials"][0]["grade"] = json!("PP-R 40 MB (rev. B)");
    let updated = gw
        .admin(Method::PUT, &path)
        .header("if-match", &etag1)
        .json(&edited)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let etag2 = updated.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(etag2, etag1);
    assert_eq!(
        updated.headers()["location"],
        format!("{path}?version=2").as_str()
    );
    let body2: Value = updated.json().await.unwrap();
    assert_eq!(body2["version"], 2);
    assert_eq!(body2["materials"][0]["grade"], "PP-R 40 MB (rev. B)");
    let versions = gw.read_json(&format!("{path}/versions")).await;
    assert_eq!(versions["versions"].as_array().unwrap().len(), 2);

    // Version 2 read back and PUT unchanged (its own `version` and `updatedAt`) stays version 2.
    let again = gw
        .admin(Method::PUT, &path)
        .header("if-match", &etag2)
        .json(&body2)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag2);
    let versions = gw.read_json(&format!("{path}/versions")).await;
    assert_eq!(versions["versions"].as_array().unwrap().len(), 2);
}

/// 9007199254740993 (2^53 + 1) has no IEEE 754 double: stored, it would be 9007199254740992.
const TWO_POW_53_PLUS_1: u64 = 9_007_199_254_740_993;

#[tokio::test]
async fn integers_beyond_two_to_the_53_are_refused_with_their_pointer() {
    let gw = TestGateway::start().await;
    let bumper = passport_json(&fixtures::pp_new_bumper());
    let cases: [(&str, &[&str]); 3] = [
        // A number field, a count (pieces of a part) and the integer `version`.
        (
            "/circularity/expectedLifetimeYears",
            &["circularity", "expectedLifetimeYears"],
        ),
        ("/parts/0/quantity", &["parts", "0", "quantity"]),
        ("/version", &["version"]),
    ];
    for (pointer, path) in cases {
        let mut body = bumper.clone();
        let mut slot = &mut body;
        for key in path {
            slot = match key.parse::<usize>() {
                Ok(i) => &mut slot[i],
                Err(_) => &mut slot[*key],
            };
        }
        *slot = json!(TWO_POW_53_PLUS_1);
        let r = gw
            .admin(Method::POST, "/api/v1/passports")
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = expect_problem(r, 422).await;
        assert_eq!(problem["violations"][0]["pointer"], pointer, "{problem}");
        assert!(
            problem["violations"][0]["message"]
                .as_str()
                .unwrap()
                .contains("9007199254740993"),
            "{problem}"
        );
    }
    assert_eq!(gw.footprint().await.0, 0, "nothing was stored");

    // And on a new version, where `version` is compared with the edited one.
    let pellets = fixtures::pp_pellets();
    let created = gw
        .admin(Method::POST, "/api/v1/passports")
        .json(&pellets)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let etag = created.headers()["etag"].to_str().unwrap().to_owned();
    let mut body: Value = created.json().await.unwrap();
    body["version"] = json!(TWO_POW_53_PLUS_1);
    let r = gw
        .admin(Method::PUT, &format!("/api/v1/passports/{}", pellets.id))
        .header("if-match", &etag)
        .json(&body)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(r, 422).await;
    assert_eq!(problem["violations"][0]["pointer"], "/version", "{problem}");

    // Collection records and trace events: the same rule.
    let mut record = serde_json::to_value(&fixtures::collection_records()[0]).unwrap();
    record["entries"][0]["collectedKg"] = json!(TWO_POW_53_PLUS_1);
    let r = gw
        .admin(Method::POST, "/api/v1/collection-records")
        .json(&record)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(r, 422).await;
    assert_eq!(
        problem["violations"][0]["pointer"],
        "/entries/0/collectedKg"
    );
}

#[tokio::test]
async fn uppercase_urn_uuid_ids_are_the_same_ids_in_lowercase() {
    let gw = TestGateway::start().await;
    let pellets = fixtures::pp_pellets();
    let id = pellets.id.to_string();
    let upper = id.to_ascii_uppercase();
    assert!(upper.starts_with("URN:UUID:"));
    let mut body = passport_json(&pellets);
    body["id"] = json!(upper);
    let created = gw
        .admin(Method::POST, "/api/v1/passports")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(
        created.headers()["location"],
        format!("/api/v1/passports/{id}").as_str()
    );
    let stored: Value = created.json().await.unwrap();
    assert_eq!(stored["id"], id.as_str(), "stored in lowercase");

    // The uppercase spelling is a duplicate, not a second passport.
    let dup = gw
        .admin(Method::POST, "/api/v1/passports")
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_problem(dup, 409).await;

    // Read and written under either spelling.
    let read = gw
        .reader(Method::GET, &format!("/api/v1/passports/{upper}"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let etag = read.headers()["etag"].to_str().unwrap().to_owned();
    let mut edited: Value = read.json().await.unwrap();
    assert_eq!(edited["id"], id.as_str());
    edited["id"] = json!(upper);
    edited["materials"][0]["grade"] = json!("PP-R 40 MB (rev. B)");
    let put = gw
        .admin(Method::PUT, &format!("/api/v1/passports/{upper}"))
        .header("if-match", &etag)
        .json(&edited)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(put.json::<Value>().await.unwrap()["version"], 2);

    // A set of ids holding one id in two spellings holds it twice.
    let mut twice = passport_json(&fixtures::pp_new_bumper());
    let event = twice["traceEvents"][0].as_str().unwrap().to_owned();
    twice["traceEvents"] = json!([event, event.to_ascii_uppercase()]);
    let r = gw
        .admin(Method::POST, "/api/v1/passports")
        .json(&twice)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(r, 422).await;
    assert_eq!(
        problem["violations"][0]["pointer"], "/traceEvents",
        "{problem}"
    );
}

#[tokio::test]
async fn country_codes_must_be_assigned_iso_3166_codes() {
    let gw = TestGateway::start().await;
    for (code, pointer) in [
        ("XX", "/product/country"),
        ("AA", "/product/country"),
        ("ZZ", "/product/country"),
    ] {
        let mut body = passport_json(&fixtures::pp_pellets());
        body["product"]["country"] = json!(code);
        let r = gw
            .admin(Method::POST, "/api/v1/passports")
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = expect_problem(r, 422).await;
        assert_eq!(problem["violations"][0]["pointer"], pointer, "{problem}");
        assert!(
            problem["violations"][0]["message"]
                .as_str()
                .unwrap()
                .contains("ISO 3166-1"),
            "{problem}"
        );
    }
    for code in ["JP", "DE", "US"] {
        let mut p = fixtures::pp_pellets();
        p.id = dpp_schemas::UrnUuid::new_random();
        p.product.country = code.into();
        let r = gw
            .admin(Method::POST, "/api/v1/passports")
            .json(&p)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{code}");
    }
}

#[tokio::test]
async fn collection_records_and_trace_events_are_read_back() {
    let gw = TestGateway::start().await;
    for p in fixtures::all_passports() {
        let r = gw
            .admin(Method::POST, "/api/v1/passports")
            .json(&p)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let records = fixtures::collection_records();
    for r in &records {
        let created = gw
            .admin(Method::POST, "/api/v1/collection-records")
            .json(r)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let location = created.headers()["location"].to_str().unwrap().to_owned();
        // The Location the write names answers the record, as canonical JSON with an ETag.
        let read = gw.reader(Method::GET, &location).send().await.unwrap();
        assert_eq!(read.status(), 200);
        assert!(read.headers().contains_key("etag"));
        let text = read.text().await.unwrap();
        assert_eq!(
            text.as_bytes(),
            dpp_schemas::jcs::to_vec(r).unwrap().as_slice()
        );
    }
    let missing = gw
        .reader(
            Method::GET,
            "/api/v1/collection-records/urn:uuid:0194ee9b-5c00-7000-8000-00000000dead",
        )
        .send()
        .await
        .unwrap();
    expect_problem(missing, 404).await;

    // Listed one per page: every record once, in id order, then no cursor.
    let mut seen = Vec::new();
    let mut next = Some("/api/v1/collection-records?limit=1".to_owned());
    while let Some(path) = next {
        let r = gw.reader(Method::GET, &path).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let link = r
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        let page: Value = r.json().await.unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        seen.push(page["items"][0]["id"].as_str().unwrap().to_owned());
        next = page["nextCursor"].as_str().map(|c| {
            let link = link.expect("a Link header with the next page");
            assert!(link.contains(&format!("after={c}")), "{link}");
            format!("/api/v1/collection-records?limit=1&after={c}")
        });
    }
    let mut expected: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
    expected.sort();
    assert_eq!(seen, expected);

    // A date range selects by the day of collection, both ends inclusive.
    let first = &records[0];
    let day = first.collected_on.to_string();
    let page: Value = gw
        .read_json(&format!("/api/v1/collection-records?from={day}&to={day}"))
        .await;
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let on_that_day: Vec<String> = records
        .iter()
        .filter(|r| r.collected_on == first.collected_on)
        .map(|r| r.id.to_string())
        .collect();
    assert!(!ids.is_empty());
    assert_eq!(ids.len(), on_that_day.len());
    assert!(ids.iter().all(|id| on_that_day.iter().any(|d| d == id)));

    // Trace events: all of them, and those naming one passport in their material flow.
    let events = fixtures::trace_events();
    for e in &events {
        let r = gw
            .admin(Method::POST, "/api/v1/trace-events")
            .json(e)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let all: Value = gw.read_json("/api/v1/trace-events?limit=500").await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), events.len());
    assert!(all.get("nextCursor").is_none());
    for item in items {
        let event = events
            .iter()
            .find(|e| e.event_id.to_string() == item["eventID"].as_str().unwrap())
            .expect("a recorded event");
        assert_eq!(item["hash"], dpp_schemas::event_hash(event).as_str());
        let canonical: Value =
            serde_json::from_slice(&dpp_schemas::jcs::to_vec(event).unwrap()).unwrap();
        assert_eq!(item["event"], canonical);
    }
    let bumper = fixtures::pp_new_bumper().id.to_string();
    let named = dpp_gateway::service::material_flow;
    let mut expected: Vec<String> = events
        .iter()
        .filter(|e| {
            let flow = named(e);
            flow.inputs.contains(&bumper) || flow.outputs.contains(&bumper)
        })
        .map(|e| e.event_id.to_string())
        .collect();
    expected.sort();
    assert!(!expected.is_empty(), "a fixture event makes the bumper");
    let page: Value = gw
        .read_json(&format!(
            "/api/v1/trace-events?passport={}",
            bumper.to_ascii_uppercase()
        ))
        .await;
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["eventID"].as_str().unwrap())
        .collect();
    assert_eq!(ids, expected);

    // Paged two at a time, the pages add up to the whole list.
    let mut paged = Vec::new();
    let mut after = String::new();
    loop {
        let page: Value = gw
            .read_json(&format!("/api/v1/trace-events?limit=2{after}"))
            .await;
        paged.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["eventID"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(c) => after = format!("&after={c}"),
            None => break,
        }
    }
    let whole: Vec<String> = items
        .iter()
        .map(|i| i["eventID"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paged, whole);

    // Reads need a token, and a reader token is enough.
    let anonymous = gw
        .http
        .get(gw.url("/api/v1/trace-events"))
        .send()
        .await
        .unwrap();
    expect_problem(anonymous, 401).await;
}

#[tokio::test]
async fn authentication_and_roles() {
    let gw = TestGateway::start().await;
    let none = gw
        .http
        .get(gw.url("/api/v1/passports"))
        .send()
        .await
        .unwrap();
    assert!(none.headers().contains_key("www-authenticate"));
    expect_problem(none, 401).await;
    let unknown = gw
        .http
        .get(gw.url("/api/v1/passports"))
        .bearer_auth("not-a-token-at-all-xx")
        .send()
        .await
        .unwrap();
    expect_problem(unknown, 401).await;
    let reader_write = gw
        .reader(Method::POST, "/api/v1/passports")
        .json(&fixtures::pet_bottle_flakes())
        .send()
        .await
        .unwrap();
    expect_problem(reader_write, 403).await;
    assert_eq!(gw.store.passport_count().await.unwrap(), 0);
    let reader_read = gw
        .reader(Method::GET, "/api/v1/passports")
        .send()
        .await
        .unwrap();
    assert_eq!(reader_read.status(), 200);
    let admin_read = gw
        .http
        .get(gw.url("/api/v1/passports"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(admin_read.status(), 200);
    // Public documents need no token.
    for path in [
        "/.well-known/jwks.json",
        "/.well-known/did.json",
        "/api/v1/schemas/passport",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        let r = gw.http.get(gw.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let _ = READER;
}

#[tokio::test]
async fn bad_input_is_refused_and_stores_nothing() {
    let gw = TestGateway::start_with(|c| c.body_limit_bytes = 16 * 1024).await;
    let before = gw.footprint().await;
    let good = serde_json::to_string(&fixtures::abs_housing()).unwrap();

    // 413: over the configured limit (declared length and chunked both).
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(20 * 1024));
    let r = gw
        .admin(Method::POST, "/api/v1/passports")
        .header("content-type", "application/json")
        // The server closes a connection whose body it refused to read; don't pool it.
        .header("connection", "close")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    expect_problem(r, 413).await;
    let chunks: Vec<Result<String, std::io::Error>> = vec![Ok(big.clone())];
    let stream = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let r = gw
        .admin(Method::POST, "/api/v1/passports")
        .header("content-type", "application/json")
        .header("connection", "close")
        .body(stream)
        .send()
        .await
        .unwrap();
    expect_problem(r, 413).await;

    // 400: malformed JSON, truncated JSON, empty body.
    for body in ["{\"id\": ", "not json", "", &good[..good.len() / 2]] {
        let r = gw
            .admin(Method::POST, "/api/v1/passports")
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        expect_problem(r, 400).await;
    }

    // 415: wrong or missing content type.
    let r = gw
        .admin(Method::POST, "/api/v1/passports")
        .header("content-type", "text/plain")
        .body(good.clone())
        .send()
        .await
        .unwrap();
    expect_problem(r, 415).await;
    let r = gw
        .admin(Method::POST, "/api/v1/passports")
        .body(good.clone())
        .send()
        .await
        .unwrap();
    expect_problem(r, 415).await;

    // 422: every violation listed with its pointer.
    let mut broken = passport_json(&fixtures::abs_housing());
    broken["materials"][0]["polymer"] = json!("plastic");
    broken["materials"][0]["massFraction"] = json!(1.5);
    broken["product"].as_object_mut().unwrap().remove("name");
    broken["bogus"] = json!(true);
    let r = gw
        .admin(Method::POST, "/api/v1/passports")
        .json(&broken)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(r, 422).await;
    let pointers: Vec<&str> = problem["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["pointer"].as_str().unwrap())
        .collect();
    for expected in [
        "/materials/0/polymer",
        "/materials/0/massFraction",
        "/product/name",
        "/bogus",
    ] {
        assert!(
            pointers.contains(&expected),
            "{expected} missing from {pointers:?}"
        );
    }
    assert!(
        pointers.len() >= 4,
        "every violation is listed: {pointers:?}"
    );

    // 422: a semantic rule (recycled share above 1).
    let mut overshare = passport_json(&fixtures::abs_housing());
    overshare["materials"][0]["recycledShare"] = json!({ "preConsumer": 0.7, "postConsumer": 0.6 });
    let r = gw
        .admin(Method::POST, "/api/v1/passports")
        .json(&overshare)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(r, 422).await;
    assert!(
        problem["violations"][0]["pointer"]
            .as_str()
            .unwrap()
            .starts_with("/materials/0")
    );

    // 409: a client-chosen version on create.
    let mut versioned = passport_json(&fixtures::abs_housing());
    versioned["version"] = json!(7);
    let r = gw
        .admin(Method::POST, "/api/v1/passports")
        .json(&versioned)
        .send()
        .await
        .unwrap();
    expect_problem(r, 409).await;

    // Bad ids, parameters and routes.
    for (path, status) in [
        ("/api/v1/passports/not-a-urn", 400),
        ("/api/v1/passports?limit=0", 400),
        ("/api/v1/passports?minRecycledShare=abc", 400),
        ("/api/v1/passports?colour=red", 400),
        ("/api/v1/passports?after=garbage", 400),
        ("/api/v1/nowhere", 404),
        ("/api/v1/kpis/circularity", 400),
    ] {
        expect_problem(gw.reader(Method::GET, path).send().await.unwrap(), status).await;
    }
    let r = gw
        .admin(Method::DELETE, "/api/v1/passports")
        .send()
        .await
        .unwrap();
    expect_problem(r, 405).await;

    assert_eq!(
        gw.footprint().await,
        before,
        "a refused request stored something"
    );
    // And the good document still goes in afterwards.
    let r = gw
        .admin(Method::POST, "/api/v1/passports")
        .header("content-type", "application/json")
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn list_filters_and_cursor_paging() {
    let gw = TestGateway::start().await;
    let all = fixtures::all_passports();
    for p in &all {
        let r = gw
            .admin(Method::POST, "/api/v1/passports")
            .json(p)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    // Paging with limit 2 visits every passport exactly once.
    let mut seen = Vec::new();
    let mut next: Option<String> = Some("/api/v1/passports?limit=2".into());
    let mut pages = 0;
    while let Some(path) = next.take() {
        let r = gw.reader(Method::GET, &path).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let link = r
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_owned());
        let page: Value = r.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|p| p["id"].as_str().unwrap().to_owned()));
        pages += 1;
        if let Some(link) = link {
            assert!(page["nextCursor"].is_string());
            next = Some(
                link.trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    assert!(pages >= 3);
    let mut expected: Vec<String> = all.iter().map(|p| p.id.to_string()).collect();
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected);

    // Filters.
    let ids = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let pet: Value = gw.read_json("/api/v1/passports?polymer=PET").await;
    assert_eq!(ids(pet), vec![fixtures::pet_bottle_flakes().id.to_string()]);
    let high: Value = gw
        .read_json("/api/v1/passports?minRecycledShare=0.95")
        .await;
    for id in ids(high.clone()) {
        let p = all.iter().find(|p| p.id.to_string() == id).unwrap();
        assert!(
            p.materials.iter().any(|m| m.recycled_share.total() >= 0.95),
            "{id}"
        );
    }
    assert!(!ids(high).contains(&fixtures::abs_housing().id.to_string()));
    let product = &fixtures::abs_housing().product.ids[0];
    let by_product: Value = gw
        .read_json(&format!("/api/v1/passports?productId={}", product.value))
        .await;
    assert_eq!(
        ids(by_product),
        vec![fixtures::abs_housing().id.to_string()]
    );
    let future: Value = gw
        .read_json("/api/v1/passports?updatedSince=2999-01-01T00:00:00Z")
        .await;
    assert!(ids(future).is_empty());
}

#[tokio::test]
async fn trace_events_lineage_and_kpis() {
    let gw = TestGateway::start().await;
    for p in fixtures::all_passports() {
        assert_eq!(
            gw.admin(Method::POST, "/api/v1/passports")
                .json(&p)
                .send()
                .await
                .unwrap()
                .status(),
            201
        );
    }
    let events = fixtures::trace_events();

    // An event whose predecessor is unknown is refused and leaves nothing behind.
    let r = gw
        .admin(Method::POST, "/api/v1/trace-events")
        .json(&events[1])
        .send()
        .await
        .unwrap();
    let problem = expect_problem(r, 422).await;
    assert!(
        problem["violations"][0]["pointer"]
            .as_str()
            .unwrap()
            .starts_with("/previousEventHashes")
    );
    assert!(
        gw.store
            .trace_event(&events[1].event_id.to_string())
            .await
            .unwrap()
            .is_none()
    );

    for e in &events {
        let r = gw
            .admin(Method::POST, "/api/v1/trace-events")
            .json(e)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["hash"], dpp_schemas::event_hash(e).as_str());
    }
    let again = gw
        .admin(Method::POST, "/api/v1/trace-events")
        .json(&events[0])
        .send()
        .await
        .unwrap();
    expect_problem(again, 409).await;

    let bumper = fixtures::pp_new_bumper().id.to_string();
    let collected = fixtures::pp_collected_bumpers().id.to_string();
    let up: Value = gw
        .read_json(&format!(
            "/api/v1/passports/{bumper}/lineage?direction=upstream"
        ))
        .await;
    let node_ids: Vec<&str> = up["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    for expected in [
        fixtures::pp_pellets().id.to_string(),
        fixtures::pp_flakes().id.to_string(),
        collected.clone(),
    ] {
        assert!(
            node_ids.contains(&expected.as_str()),
            "{expected} not upstream of the bumper: {node_ids:?}"
        );
    }
    let shallow: Value = gw
        .read_json(&format!(
            "/api/v1/passports/{bumper}/lineage?direction=upstream&depth=1"
        ))
        .await;
    let shallow_ids: Vec<&str> = shallow["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert!(
        !shallow_ids.contains(&collected.as_str()),
        "depth=1 must not reach the collected bumpers"
    );
    let down: Value = gw
        .read_json(&format!(
            "/api/v1/passports/{collected}/lineage?direction=downstream"
        ))
        .await;
    let down_ids: Vec<&str> = down["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert!(down_ids.contains(&bumper.as_str()));
    let r = gw
        .reader(
            Method::GET,
            &format!("/api/v1/passports/{bumper}/lineage?direction=sideways"),
        )
        .send()
        .await
        .unwrap();
    expect_problem(r, 400).await;

    // Collection records and the KPIs over them, recomputed here from the fixtures.
    let records = fixtures::collection_records();
    for r in &records {
        assert_eq!(
            gw.admin(Method::POST, "/api/v1/collection-records")
                .json(r)
                .send()
                .await
                .unwrap()
                .status(),
            201
        );
    }
    let report: Value = gw
        .read_json("/api/v1/kpis/circularity?from=2000-01-01&to=2100-01-01")
        .await;
    let (mut c, mut reused, mut material, mut thermal) = (0.0, 0.0, 0.0, 0.0);
    for r in &records {
        for e in &r.entries {
            c += e.collected_kg;
            reused += e.reused_parts_kg;
            material += e.material_recycling_kg;
            thermal += e.thermal_recycling_kg;
        }
    }
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert!(close(report["total"]["collectedKg"].as_f64().unwrap(), c));
    assert!(close(
        report["total"]["recyclingRate"].as_f64().unwrap(),
        (reused + material + thermal) / c
    ));
    assert!(close(
        report["total"]["resourceReuseRate"].as_f64().unwrap(),
        (reused + material) / c
    ));
    assert!(!report["periods"].as_array().unwrap().is_empty());
    let r = gw
        .reader(
            Method::GET,
            "/api/v1/kpis/circularity?from=2026-02-01&to=2026-01-01",
        )
        .send()
        .await
        .unwrap();
    expect_problem(r, 400).await;
}

/// Row count of every table of the gateway's SQLite database (sqlx's own table left out).
async fn row_counts(gw: &TestGateway) -> std::collections::BTreeMap<String, i64> {
    use sqlx::{Connection, Row};
    let path = gw
        .state
        .config
        .data_dir
        .join(dpp_gateway::store::SQLITE_FILE_NAME);
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", path.display()))
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for table in tables {
        // Names from sqlite_master, quoted; no input of the test reaches them.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM \"{table}\""
        )))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        counts.insert(table, row.get::<i64, _>(0));
    }
    conn.close().await.unwrap();
    counts
}

/// `count` lot ids of one kind (`kind` is four hex digits), in sort order.
fn lot_ids(kind: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|n| format!("urn:uuid:0193{kind}-0000-7000-8000-{n:012}"))
        .collect()
}

fn transformation_event(event_id: &str, inputs: &[String], outputs: &[String]) -> Value {
    json!({
        "type": "TransformationEvent",
        "eventID": event_id,
        "eventTime": "2025-01-20T09:00:00+09:00",
        "eventTimeZoneOffset": "+09:00",
        "bizStep": "transforming",
        "inputEPCList": inputs,
        "outputEPCList": outputs,
    })
}

/// Issue 9, item 10: one ~98 KB event with 1,000 inputs × 1,000 outputs wrote a million edge rows.
/// Now it is stored as its 1,000 inputs and 1,000 outputs, the lineage over it is the same, and an
/// event past the bound is refused whole.
#[tokio::test]
async fn a_wide_trace_event_costs_its_inputs_plus_outputs_and_a_wider_one_is_refused() {
    let gw = TestGateway::start().await;
    let inputs = lot_ids("a000", 1_000);
    let outputs = lot_ids("b000", 1_000);
    // Passports to walk from: one of the inputs and one of the outputs.
    for (id, fixture) in [
        (&inputs[0], fixtures::pp_flakes()),
        (&outputs[500], fixtures::pp_pellets()),
    ] {
        let mut passport = passport_json(&fixture);
        passport["id"] = json!(id);
        let r = gw
            .admin(Method::POST, "/api/v1/passports")
            .json(&passport)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    let event = transformation_event(
        "urn:uuid:0193c000-0000-7000-8000-000000000001",
        &inputs,
        &outputs,
    );
    assert!(
        event.to_string().len() > 90_000,
        "as large as the attack's event"
    );
    let before = row_counts(&gw).await;
    let r = gw
        .admin(Method::POST, "/api/v1/trace-events")
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let recorded: Value = r.json().await.unwrap();
    assert_eq!(
        recorded["edges"], 1_000_000,
        "the graph still has every pair"
    );
    let after = row_counts(&gw).await;
    let grown: std::collections::BTreeMap<&String, i64> = after
        .iter()
        .map(|(table, n)| (table, n - before.get(table).copied().unwrap_or(0)))
        .filter(|(_, grew)| *grew != 0)
        .collect();
    // The event, its audit row, 1,000 input rows and 1,000 output rows.
    assert_eq!(
        grown.values().sum::<i64>(),
        1 + 1 + 1_000 + 1_000,
        "rows added per table: {grown:?}"
    );

    let up: Value = gw
        .read_json(&format!(
            "/api/v1/passports/{}/lineage?direction=upstream&depth=4",
            outputs[500]
        ))
        .await;
    assert_eq!(up["truncated"], false);
    let reached: Vec<&str> = up["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        reached,
        inputs.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let edges = up["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1_000);
    assert!(edges.iter().all(|e| e["to"] == outputs[500].as_str()));
    let down: Value = gw
        .read_json(&format!(
            "/api/v1/passports/{}/lineage?direction=downstream&depth=4",
            inputs[0]
        ))
        .await;
    let reached: Vec<&str> = down["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        reached,
        outputs.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(down["edges"].as_array().unwrap().len(), 1_000);

    // One input past the bound, or one output past it in the quantity list: refused, 422,
    // pointing at the first entry past the bound, and nothing stored.
    let before = row_counts(&gw).await;
    let wider = lot_ids("d000", 1_001);
    let too_many_inputs = transformation_event(
        "urn:uuid:0193c000-0000-7000-8000-000000000002",
        &wider,
        &outputs[..1],
    );
    let mut too_many_outputs = transformation_event(
        "urn:uuid:0193c000-0000-7000-8000-000000000003",
        &inputs[..1],
        &outputs,
    );
    too_many_outputs["outputQuantityList"] = json!([
        { "epcClass": wider[0], "quantity": 1.0, "uom": "KGM" }
    ]);
    for (event, pointer) in [
        (too_many_inputs, "/inputEPCList/1000"),
        (too_many_outputs, "/outputQuantityList/0"),
    ] {
        let r = gw
            .admin(Method::POST, "/api/v1/trace-events")
            .json(&event)
            .send()
            .await
            .unwrap();
        let problem = expect_problem(r, 422).await;
        assert_eq!(
            problem["type"],
            "https://dpp-gateway.dev/problems/schema-violation"
        );
        let violations = problem["violations"].as_array().unwrap();
        assert!(
            violations.iter().any(|v| v["pointer"] == pointer
                && v["message"].as_str().unwrap().contains("at most 1000")),
            "{problem}"
        );
        assert!(
            gw.store
                .trace_event(event["eventID"].as_str().unwrap())
                .await
                .unwrap()
                .is_none()
        );
    }
    assert_eq!(
        row_counts(&gw).await,
        before,
        "refused events store nothing"
    );
}

#[tokio::test]
async fn published_documents() {
    let gw = TestGateway::start().await;
    let jwks = gw
        .http
        .get(gw.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.headers()["content-type"], "application/jwk-set+json");
    let jwks: Value = jwks.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert!(key.get("d").is_none(), "private key material published");

    let did: Value = gw
        .http
        .get(gw.url("/.well-known/did.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let port = gw.base.rsplit(':').next().unwrap();
    assert_eq!(did["id"], format!("did:web:127.0.0.1%3A{port}").as_str());
    assert_eq!(did["verificationMethod"][0]["publicKeyJwk"]["x"], key["x"]);

    let list: Value = gw
        .http
        .get(gw.url("/api/v1/schemas"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["schemas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for name in &names {
        let r = gw
            .http
            .get(gw.url(&format!("/api/v1/schemas/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/schema+json");
        let schema: Value = r.json().await.unwrap();
        assert!(schema["$id"].is_string(), "{name}");
    }
    assert!(
        names.contains(&"passport")
            && names.contains(&"trace-event")
            && names.contains(&"collection-record")
    );
    expect_problem(
        gw.http
            .get(gw.url("/api/v1/schemas/nope"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;

    // The published passport schema accepts what the API stores.
    let schema: Value = gw
        .http
        .get(gw.url("/api/v1/schemas/passport"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let metrics = gw
        .http
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("dpp_http_requests_total"), "{metrics}");
}

/// Issue 9: `/metrics` names partners; with a metrics token configured only it (or an admin
/// token) reads it.
#[tokio::test]
async fn metrics_answer_only_the_metrics_token_when_one_is_set() {
    const SCRAPER: &str = "scraper-token-0123456789";
    let gw = TestGateway::start_with(|c| c.auth.metrics_tokens.push(SCRAPER.into())).await;
    let scrape = |token: Option<&str>| {
        let mut request = gw.http.get(gw.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    for token in [None, Some(READER), Some("scraper-token-0123456780")] {
        let refused = scrape(token).await.unwrap();
        let body = expect_problem(refused, 401).await;
        assert!(!body.to_string().contains("dpp_http"), "{body}");
    }
    for token in [SCRAPER, ADMIN] {
        let answered = scrape(Some(token)).await.unwrap();
        assert_eq!(answered.status(), 200);
        assert!(answered.text().await.unwrap().contains("# TYPE"));
    }
}

/// Every problem kind the code can answer (`Problem::new(StatusCode::…, "kind", …)` anywhere in
/// `gateway/src`) has its row in `docs/problems.md`, where the `type` URIs point.
#[test]
fn every_problem_kind_is_documented() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("../docs/problems.md")).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    let mut dirs = vec![root.join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (at, _) in text.match_indices("::new(") {
                // `…::new(StatusCode::X, "kind", …)`: the first literal after a StatusCode.
                let call: String = text[at..].chars().take(200).collect();
                let Some(status) = call.find("StatusCode::") else {
                    continue;
                };
                let rest = &call[status..];
                if !call[..status]
                    .trim_start_matches("::new(")
                    .trim()
                    .is_empty()
                {
                    continue;
                }
                if let Some(open) = rest.find('"')
                    && let Some(len) = rest[open + 1..].find('"')
                {
                    kinds.insert(rest[open + 1..open + 1 + len].to_owned());
                }
            }
        }
    }
    assert!(kinds.len() >= 29, "found only {kinds:?}");
    let missing: Vec<&String> = kinds
        .iter()
        .filter(|k| !docs.contains(&format!("<a id=\"{k}\"></a>`{k}`")))
        .collect();
    assert!(missing.is_empty(), "not in docs/problems.md: {missing:?}");
}

/// Issue 10 (tower-http was a dependency no code used): every answer carries an `x-request-id`,
/// the caller's when it is usable, a fresh UUID otherwise, and the log line of the request
/// names it.
#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let gw = TestGateway::start().await;
    let id_of = |r: &reqwest::Response| {
        r.headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let fresh = gw.http.get(gw.url("/healthz")).send().await.unwrap();
    let made = id_of(&fresh).expect("no x-request-id");
    assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");
    let kept = gw
        .reader(
            Method::GET,
            "/api/v1/passports/urn:uuid:00000000-0000-4000-8000-000000000000",
        )
        .header("x-request-id", "support-ticket-4711")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), 404);
    assert_eq!(id_of(&kept).as_deref(), Some("support-ticket-4711"));
    for hostile in ["a b", &"x".repeat(129)] {
        let replaced = gw
            .http
            .get(gw.url("/healthz"))
            .header("x-request-id", hostile)
            .send()
            .await
            .unwrap();
        let id = id_of(&replaced).unwrap();
        assert!(
            uuid::Uuid::parse_str(&id).is_ok(),
            "{hostile:?} kept as {id}"
        );
    }
}
