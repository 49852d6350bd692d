//! The access-policy matrix: partners with different policies × the six fixture passports × every
//! way a partner gets a passport — push (through the outbox and the Ouranos adapter to a mock of
//! its own), pull (`/partner/v1/passports/{id}` and its signed form), search and lineage. For
//! each cell the test knows, from the fixtures alone, whether the partner may have the passport;
//! and every document it receives is checked leaf by leaf against the stored original with an
//! oracle written here, independent of the gateway's redaction code: nothing denied, nothing
//! outside an allow-list, nothing invented, nothing granted left out.

mod exchange_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dpp_conformance::mock::ouranos::MockOuranos;
use dpp_gateway::store::OutboxFilter;
use exchange_support::*;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One partner of the matrix: its policy, and what the fixtures say it may have.
struct Case {
    name: &'static str,
    state: &'static str,
    policy: Value,
    /// Fixture names (see `dpp_schemas::fixtures::named_passports`) it may have.
    granted: &'static [&'static str],
    /// Pointer patterns (`*` = any token) that must never reach it.
    denied: &'static [&'static str],
    /// When given, only leaves under these patterns may reach it.
    allowed: Option<&'static [&'static str]>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "open",
            state: "trusted-unchecked",
            policy: json!({}),
            granted: &[
                "pp-collected-bumpers",
                "pp-flakes",
                "pp-pellets",
                "pp-new-bumper",
                "pet-bottle-flakes",
                "abs-housing",
            ],
            denied: &[],
            allowed: None,
        },
        Case {
            // The PP bumper loop, without footprints or grades.
            name: "pp-loop",
            state: "trusted-unchecked",
            policy: json!({
                "passports": { "polymer": "PP+EPDM-T15" },
                "fields": { "deny": ["/carbonFootprint", "/materials/*/grade"] }
            }),
            granted: &[
                "pp-collected-bumpers",
                "pp-flakes",
                "pp-pellets",
                "pp-new-bumper",
            ],
            denied: &["/carbonFootprint", "/materials/*/grade"],
            allowed: None,
        },
        Case {
            // Lots (not products) that are at least 90 % recycled, a minimal field set.
            name: "recycled-lots",
            state: "trusted-unchecked",
            policy: json!({
                "passports": { "productIdPrefix": "lot:", "minRecycledShare": 0.9 },
                "fields": { "allow": [
                    "/id", "/version", "/issuedAt", "/updatedAt", "/issuer", "/product",
                    "/materials/*/name", "/materials/*/polymer", "/materials/*/massFraction",
                    "/materials/*/recycledShare"
                ] }
            }),
            granted: &[
                "pp-collected-bumpers",
                "pp-flakes",
                "pp-pellets",
                "pet-bottle-flakes",
            ],
            denied: &[
                "/carbonFootprint",
                "/circularity",
                "/materials/*/properties",
                "/materials/*/chainOfCustody",
            ],
            allowed: Some(&[
                "/id",
                "/version",
                "/issuedAt",
                "/updatedAt",
                "/issuer",
                "/product",
                "/materials/*/name",
                "/materials/*/polymer",
                "/materials/*/massFraction",
                "/materials/*/recycledShare",
            ]),
        },
        Case {
            // Named passports only (filled in with the pellets' id below).
            name: "pellets-only",
            state: "verified-later",
            policy: json!({
                "passports": { "ids": [] },
                "fields": { "deny": ["/materials/*/chainOfCustody", "/materials/*/originCountry"] }
            }),
            granted: &["pp-pellets"],
            denied: &["/materials/*/chainOfCustody", "/materials/*/originCountry"],
            allowed: None,
        },
        Case {
            // Registered, never checked: gets nothing at all.
            name: "unchecked",
            state: "registered",
            policy: json!({}),
            granted: &[],
            denied: &[],
            allowed: None,
        },
    ]
}

/// A leaf of a JSON document: its pointer tokens and its value.
fn leaves(value: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(k.clone());
                leaves(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                leaves(v, path, out);
                path.pop();
            }
        }
        scalar => out.push((path.clone(), scalar.clone())),
    }
}

fn leaf_map(doc: &Value) -> BTreeMap<Vec<String>, Value> {
    let mut out = Vec::new();
    leaves(doc, &mut Vec::new(), &mut out);
    out.into_iter().collect()
}

/// Whether `pattern` (`/a/*/b`) covers `path` (is a prefix of it, `*` matching any token).
fn covers(pattern: &str, path: &[String]) -> bool {
    let tokens: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    tokens.len() <= path.len()
        && tokens
            .iter()
            .zip(path)
            .all(|(t, p)| *t == "*" || *t == p.as_str())
}

/// The oracle: `got` is exactly what `case` may have of `original`.
fn check_fields(case: &Case, original: &Value, got: &Value, what: &str) {
    let original = leaf_map(original);
    let got = leaf_map(got);
    let may_have = |path: &[String]| {
        !case.denied.iter().any(|d| covers(d, path))
            && case
                .allowed
                .is_none_or(|allowed| allowed.iter().any(|a| covers(a, path)))
    };
    for (path, value) in &got {
        assert!(
            may_have(path),
            "{what}: partner {} received /{} which its policy withholds",
            case.name,
            path.join("/")
        );
        assert_eq!(
            original.get(path),
            Some(value),
            "{what}: /{} differs from the stored passport",
            path.join("/")
        );
    }
    for path in original.keys() {
        if may_have(path) {
            assert!(
                got.contains_key(path),
                "{what}: partner {} did not get /{} which its policy grants",
                case.name,
                path.join("/")
            );
        }
    }
}

struct Matrix {
    gw: TestGateway,
    /// Fixture name → passport id.
    ids: BTreeMap<&'static str, String>,
    /// Passport id → stored canonical document.
    stored: BTreeMap<String, Value>,
    /// Partner name → its token and its own mock.
    partners: BTreeMap<&'static str, (String, MockOuranos)>,
}

impl Matrix {
    async fn start() -> Matrix {
        let gw = TestGateway::start(fast_delivery()).await;
        let mut ids = BTreeMap::new();
        let mut stored = BTreeMap::new();
        for (name, passport) in dpp_schemas::fixtures::named_passports() {
            let id = gw.create(serde_json::to_value(&passport).unwrap()).await;
            let row = gw.store().passport(&id, None).await.unwrap().unwrap();
            stored.insert(
                id.clone(),
                serde_json::from_str(&row.canonical_json).unwrap(),
            );
            ids.insert(name, id);
        }
        for event in dpp_schemas::fixtures::trace_events() {
            gw.state
                .service
                .record_trace_event(serde_json::to_value(&event).unwrap(), "test")
                .await
                .unwrap();
        }
        let mut partners = BTreeMap::new();
        for mut case in cases() {
            let mock = start_mock().await;
            let mut registration = mock_partner(&gw, &mock, case.name);
            if case.name == "pellets-only" {
                case.policy["passports"]["ids"] = json!([ids["pp-pellets"]]);
            }
            registration["policy"] = case.policy.clone();
            registration["state"] = json!(if case.state == "verified-later" {
                "registered"
            } else {
                case.state
            });
            gw.register(&registration).await;
            if case.state == "verified-later" {
                // What a passed conformance run does.
                gw.store()
                    .set_partner_state(
                        case.name,
                        dpp_gateway::store::PartnerState::Verified,
                        "test",
                    )
                    .await
                    .unwrap();
            }
            let issued = gw
                .admin(
                    Method::POST,
                    &format!("/api/v1/partners/{}/tokens", case.name),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(issued.status().as_u16(), 201);
            let issued: Value = issued.json().await.unwrap();
            let token = issued["token"].as_str().unwrap().to_owned();
            partners.insert(case.name, (token, mock));
        }
        Matrix {
            gw,
            ids,
            stored,
            partners,
        }
    }

    fn granted(&self, case: &Case) -> BTreeSet<String> {
        case.granted.iter().map(|n| self.ids[n].clone()).collect()
    }

    fn as_partner(&self, partner: &str, path: &str) -> reqwest::RequestBuilder {
        self.gw
            .http
            .get(format!("{}{}", self.gw.base, path))
            .bearer_auth(&self.partners[partner].0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_partner_receives_a_passport_or_field_its_policy_does_not_grant() {
    let m = Matrix::start().await;
    let nobody = "urn:uuid:00000000-0000-4000-8000-000000000000";

    for case in cases() {
        let granted = m.granted(&case);
        let shared_at_all = case.state != "registered";

        // Pull: one passport, and its signed form.
        for (id, original) in &m.stored {
            let what = format!("pull {} by {}", id, case.name);
            let response = m
                .as_partner(case.name, &format!("/partner/v1/passports/{id}"))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            if !shared_at_all {
                assert_eq!(status, 403, "{what}");
                continue;
            }
            if !granted.contains(id) {
                // Exactly what a passport that does not exist gets: nothing to learn from.
                assert_eq!(status, 404, "{what}");
                let withheld: Value = response.json().await.unwrap();
                let absent: Value = m
                    .as_partner(case.name, &format!("/partner/v1/passports/{nobody}"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(
                    withheld["detail"].as_str().unwrap().replace(id, "ID"),
                    absent["detail"].as_str().unwrap().replace(nobody, "ID"),
                    "{what}"
                );
                let signed = m
                    .as_partner(case.name, &format!("/partner/v1/passports/{id}/signed"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(signed.status().as_u16(), 404, "{what}");
                continue;
            }
            assert_eq!(status, 200, "{what}");
            let etag = response.headers()["etag"].to_str().unwrap().to_owned();
            let body = response.bytes().await.unwrap();
            let doc: Value = serde_json::from_slice(&body).unwrap();
            check_fields(&case, original, &doc, &what);

            // The signed form covers exactly those bytes and verifies against our keys.
            let signed = m
                .as_partner(case.name, &format!("/partner/v1/passports/{id}/signed"))
                .send()
                .await
                .unwrap();
            assert_eq!(signed.status().as_u16(), 200, "{what}");
            assert_eq!(signed.headers()["etag"].to_str().unwrap(), etag, "{what}");
            let jws = signed.text().await.unwrap();
            let payload = URL_SAFE_NO_PAD
                .decode(jws.split('.').nth(1).unwrap())
                .unwrap();
            assert_eq!(payload, body.to_vec(), "{what}");
            let verified =
                m.gw.reader(Method::POST, "/api/v1/verify")
                    .header("content-type", "application/jose")
                    .body(jws)
                    .send()
                    .await
                    .unwrap();
            assert_eq!(verified.status().as_u16(), 200, "{what}");

            // A conditional read of the same form answers 304.
            let again = m
                .as_partner(case.name, &format!("/partner/v1/passports/{id}"))
                .header("if-none-match", &etag)
                .send()
                .await
                .unwrap();
            assert_eq!(again.status().as_u16(), 304, "{what}");
        }

        // Search: every page (two at a time), then a filter.
        let mut found = BTreeSet::new();
        let mut path = "/partner/v1/passports?limit=2".to_owned();
        let mut pages = 0;
        loop {
            let response = m.as_partner(case.name, &path).send().await.unwrap();
            if !shared_at_all {
                assert_eq!(response.status().as_u16(), 403);
                break;
            }
            assert_eq!(response.status().as_u16(), 200);
            let page: Value = response.json().await.unwrap();
            pages += 1;
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 2);
            for doc in items {
                let id = doc["id"].as_str().unwrap().to_owned();
                check_fields(
                    &case,
                    &m.stored[&id],
                    doc,
                    &format!("search by {}", case.name),
                );
                assert!(found.insert(id), "a passport came twice");
            }
            match page["nextCursor"].as_str() {
                Some(cursor) => path = format!("/partner/v1/passports?limit=2&after={cursor}"),
                None => break,
            }
            assert!(pages < 10, "paging does not end");
        }
        if shared_at_all {
            assert_eq!(found, granted, "search by {}", case.name);
            let pet: Value = m
                .as_partner(case.name, "/partner/v1/passports?polymer=PET")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let pet_ids: BTreeSet<String> = pet["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["id"].as_str().unwrap().to_owned())
                .collect();
            let expected: BTreeSet<String> = granted
                .iter()
                .filter(|id| **id == m.ids["pet-bottle-flakes"])
                .cloned()
                .collect();
            assert_eq!(pet_ids, expected, "filtered search by {}", case.name);
        }

        // Lineage: from every passport, both ways.
        for id in m.stored.keys() {
            let what = format!("lineage of {id} for {}", case.name);
            let response = m
                .as_partner(
                    case.name,
                    &format!("/partner/v1/passports/{id}/lineage?direction=both&depth=8"),
                )
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            if !shared_at_all {
                assert_eq!(status, 403, "{what}");
                continue;
            }
            if !granted.contains(id) {
                assert_eq!(status, 404, "{what}");
                continue;
            }
            assert_eq!(status, 200, "{what}");
            let shared: Value = response.json().await.unwrap();
            let full: Value =
                m.gw.reader(
                    Method::GET,
                    &format!("/api/v1/passports/{id}/lineage?direction=both&depth=8"),
                )
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let reached: BTreeSet<String> = full["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned())
                .filter(|n| n != id)
                .collect();
            let shown: BTreeSet<String> = shared["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned())
                .collect();
            let expected: BTreeSet<String> = reached.intersection(&granted).cloned().collect();
            assert_eq!(shown, expected, "{what}");
            assert_eq!(
                shared["withheld"].as_u64().unwrap() as usize,
                reached.difference(&granted).count(),
                "{what}"
            );
            for edge in shared["edges"].as_array().unwrap() {
                for end in ["from", "to"] {
                    let node = edge[end].as_str().unwrap();
                    assert!(
                        node == id || granted.contains(node),
                        "{what}: edge to withheld {node}"
                    );
                }
            }
        }
    }

    // Push: every partner × every passport; refused unless granted, and what is delivered is the
    // partner's form, signed over exactly those fields.
    for case in cases() {
        let granted = m.granted(&case);
        for (name, id) in &m.ids {
            let response =
                m.gw.admin(Method::POST, "/api/v1/exchanges")
                    .json(&json!({ "partner": case.name, "passport": id }))
                    .send()
                    .await
                    .unwrap();
            let expected = if case.state == "registered" {
                409
            } else if granted.contains(id) {
                202
            } else {
                403
            };
            assert_eq!(
                response.status().as_u16(),
                expected,
                "push {name} to {}",
                case.name
            );
        }
    }
    m.gw.settle(Duration::from_secs(60)).await;
    for case in cases() {
        let granted = m.granted(&case);
        let mock = &m.partners[case.name].1;
        let items =
            m.gw.store()
                .list_outbox(
                    &OutboxFilter {
                        partner: Some(case.name.to_owned()),
                        ..OutboxFilter::default()
                    },
                    None,
                    100,
                )
                .await
                .unwrap()
                .items;
        let pushed: BTreeSet<String> = items.iter().map(|i| i.passport_id.clone()).collect();
        assert_eq!(pushed, granted, "outbox of {}", case.name);
        // The mock of this partner holds a parent part for exactly the granted passports.
        let in_mock: BTreeSet<String> = parents_in_mock(mock)
            .into_iter()
            .map(|(id, _, _)| id)
            .collect();
        assert_eq!(in_mock, granted, "mock of {}", case.name);
        for item in &items {
            let what = format!("push of {} to {}", item.passport_id, case.name);
            assert_eq!(
                item.state.as_str(),
                "delivered",
                "{what}: {:?}",
                item.last_error
            );
            let stored =
                m.gw.store()
                    .passport(&item.passport_id, Some(item.version))
                    .await
                    .unwrap()
                    .unwrap();
            let jws = item.redacted_jws.clone().unwrap_or(stored.jws);
            let payload: Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(jws.split('.').nth(1).unwrap())
                    .unwrap(),
            )
            .unwrap();
            check_fields(&case, &m.stored[&item.passport_id], &payload, &what);
            // The remote's record references exactly this JWS.
            let (_, _, part) = parents_in_mock(mock)
                .into_iter()
                .find(|(id, _, _)| *id == item.passport_id)
                .unwrap();
            let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(jws.as_bytes()));
            assert_eq!(
                part["partsAddInfo3"].as_str().unwrap(),
                format!("sha256:{digest}"),
                "{what}"
            );
        }
    }
}
