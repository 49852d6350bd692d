//! The access-policy matrix: partners with different policies × the six fixture passports × every
//! way a partner gets a passport — push (through the outbox and the Ouranos adapter to a mock of
//! its own), pull (`/partner/v1/passports/{id}` and its signed form), search (paged, and filtered
//! on every polymer and product id there is) and lineage. For each cell the test knows, from the
//! fixtures alone, whether the partner may have the passport; and every document it receives is
//! checked against the stored original with an oracle written here, independent of the gateway's
//! redaction code: the partner's form is every leaf its patterns grant, at the stored indices,
//! nothing withheld, nothing invented, nothing granted left out. Beside the matrix: versions
//! (shared only while the latest is granted) and search paging over hidden passports.

mod exchange_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dpp_conformance::mock::ouranos::MockOuranos;
use dpp_gateway::store::OutboxFilter;
use exchange_support::*;
use reqwest::Method;
use serde_json::{Map, Value, json};
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
            // The PP bumper loop, without footprints or grades: the passports whose main material
            // is of the PP family (the PP+EPDM-T15 lots and the new bumper's PP+EPDM-T20), not the
            // PET lot with its PP caps.
            name: "pp-loop",
            state: "trusted-unchecked",
            policy: json!({
                "passports": { "polymer": "PP" },
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
            // The two ends of the bumper chain's first half and the new bumper, not the flakes
            // between them (ids filled in below); several stored indices of one array denied,
            // beside a wildcard and a member of a named element.
            name: "chain-ends",
            state: "trusted-unchecked",
            policy: json!({
                "passports": { "ids": [] },
                "fields": { "deny": [
                    "/materials/1", "/materials/2", "/materials/*/grade", "/materials/3/mass",
                    "/product/ids/1"
                ] }
            }),
            granted: &["pp-collected-bumpers", "pp-pellets", "pp-new-bumper"],
            denied: &[
                "/materials/1",
                "/materials/2",
                "/materials/*/grade",
                "/materials/3/mass",
                "/product/ids/1",
            ],
            allowed: None,
        },
        Case {
            // An allow-list naming stored indices (dropping element 1), and a deny inside one.
            name: "indexed-allow",
            state: "trusted-unchecked",
            policy: json!({
                "fields": {
                    "allow": [
                        "/id", "/version", "/issuedAt", "/updatedAt", "/issuer", "/product",
                        "/materials/0", "/materials/2", "/materials/3"
                    ],
                    "deny": ["/materials/2/mass", "/materials/*/chainOfCustody"]
                }
            }),
            granted: &[
                "pp-collected-bumpers",
                "pp-flakes",
                "pp-pellets",
                "pp-new-bumper",
                "pet-bottle-flakes",
                "abs-housing",
            ],
            denied: &["/materials/2/mass", "/materials/*/chainOfCustody"],
            allowed: Some(&[
                "/id",
                "/version",
                "/issuedAt",
                "/updatedAt",
                "/issuer",
                "/product",
                "/materials/0",
                "/materials/2",
                "/materials/3",
            ]),
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

/// Whether `case` may have the leaf at `path` (tokens of the stored passport).
fn may_have_leaf(case: &Case, path: &[String]) -> bool {
    !case.denied.iter().any(|d| covers(d, path))
        && case
            .allowed
            .is_none_or(|allowed| allowed.iter().any(|a| covers(a, path)))
}

/// What `case` may have of `value` (found at `path` in the stored passport), by leaves: every
/// leaf it may have, judged at its stored path; containers left without a leaf dropped; arrays
/// compacted in their stored order.
fn permitted(case: &Case, value: &Value, path: &mut Vec<String>) -> Option<Value> {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, member) in map {
                path.push(key.clone());
                if let Some(kept) = permitted(case, member, path) {
                    out.insert(key.clone(), kept);
                }
                path.pop();
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) => {
            let mut out = Vec::new();
            for (index, item) in items.iter().enumerate() {
                path.push(index.to_string());
                if let Some(kept) = permitted(case, item, path) {
                    out.push(kept);
                }
                path.pop();
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
        leaf => may_have_leaf(case, path).then(|| leaf.clone()),
    }
}

/// `value` by leaves: containers without a leaf dropped (an emptied container carries nothing).
fn by_leaves(value: &Value) -> Option<Value> {
    match value {
        Value::Object(map) => {
            let out: Map<String, Value> = map
                .iter()
                .filter_map(|(k, v)| by_leaves(v).map(|v| (k.clone(), v)))
                .collect();
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) => {
            let out: Vec<Value> = items.iter().filter_map(by_leaves).collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        leaf => Some(leaf.clone()),
    }
}

/// The partner's form of `original` according to the oracle.
fn partner_form(case: &Case, original: &Value) -> Value {
    permitted(case, original, &mut Vec::new()).unwrap_or_else(|| json!({}))
}

/// The oracle: `got` is exactly what `case` may have of `original`.
fn check_fields(case: &Case, original: &Value, got: &Value, what: &str) {
    let expected = partner_form(case, original);
    let got = by_leaves(got).unwrap_or_else(|| json!({}));
    if got == expected {
        return;
    }
    let (expected, got) = (leaf_map(&expected), leaf_map(&got));
    let show = |paths: Vec<&Vec<String>>| {
        paths
            .iter()
            .map(|p| format!("/{}", p.join("/")))
            .collect::<Vec<_>>()
    };
    let beyond = show(
        got.iter()
            .filter(|(p, v)| expected.get(*p) != Some(*v))
            .map(|(p, _)| p)
            .collect(),
    );
    let lacking = show(
        expected
            .iter()
            .filter(|(p, v)| got.get(*p) != Some(*v))
            .map(|(p, _)| p)
            .collect(),
    );
    panic!(
        "{what}: partner {} got leaves its policy withholds or the stored passport lacks \
         {beyond:?} and lacks leaves its policy grants {lacking:?} (pointers into the partner's \
         form, arrays compacted)",
        case.name
    );
}

/// The polymers of the main materials (largest mass fraction, all on a tie) and the product ids
/// (`value` and `scheme:value`) of a passport document: what the search filters look at.
fn filter_values(doc: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let materials: Vec<&Value> = doc["materials"].as_array().into_iter().flatten().collect();
    let largest = materials
        .iter()
        .filter_map(|m| m["massFraction"].as_f64())
        .fold(f64::NEG_INFINITY, f64::max);
    let polymers = materials
        .iter()
        .filter(|m| m["massFraction"].as_f64() == Some(largest))
        .filter_map(|m| m["polymer"].as_str().map(str::to_owned))
        .collect();
    let product_ids = doc["product"]["ids"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| {
            let (scheme, value) = (i["scheme"].as_str(), i["value"].as_str());
            [
                value.map(str::to_owned),
                scheme.zip(value).map(|(s, v)| format!("{s}:{v}")),
            ]
        })
        .flatten()
        .collect();
    (polymers, product_ids)
}

/// The protected header of a compact JWS.
fn jws_header(jws: &str) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jws.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap()
}

/// What the `redaction` header of `case`'s redacted forms must name: its field policy.
fn redaction_of(case: &Case) -> Value {
    let fields = &case.policy["fields"];
    let mut out = json!({ "deny": fields.get("deny").cloned().unwrap_or(json!([])) });
    if let Some(allow) = fields.get("allow") {
        out["allow"] = allow.clone();
    }
    out
}

/// Checks that a JWS handed to `case` says which form it is: the stored one (`dpp+jws`) when it
/// covers the stored bytes, else `dpp-redacted+jws` naming the field policy.
fn check_form(case: &Case, jws: &str, stored: &(String, String), what: &str) {
    let header = jws_header(jws);
    let payload = URL_SAFE_NO_PAD
        .decode(jws.split('.').nth(1).unwrap())
        .unwrap();
    if payload == stored.0.as_bytes() {
        assert_eq!(header["typ"], "dpp+jws", "{what}");
        assert_eq!(jws, stored.1, "{what}: the full form is the stored JWS");
    } else {
        assert_eq!(header["typ"], "dpp-redacted+jws", "{what}: {header}");
        assert_eq!(header["redaction"], redaction_of(case), "{what}");
    }
}

/// The `(from, to, eventId)` edges of a lineage answer.
fn edges_of(lineage: &Value) -> BTreeSet<(String, String, String)> {
    lineage["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().to_owned(),
                e["to"].as_str().unwrap().to_owned(),
                e["eventId"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct Matrix {
    gw: TestGateway,
    /// Fixture name → passport id.
    ids: BTreeMap<&'static str, String>,
    /// Passport id → stored canonical document.
    stored: BTreeMap<String, Value>,
    /// Passport id → stored canonical bytes and JWS.
    raw: BTreeMap<String, (String, String)>,
    /// Partner name → its token and its own mock.
    partners: BTreeMap<&'static str, (String, MockOuranos)>,
}

impl Matrix {
    async fn start() -> Matrix {
        let gw = TestGateway::start(fast_delivery()).await;
        let mut ids = BTreeMap::new();
        let mut stored = BTreeMap::new();
        let mut raw = BTreeMap::new();
        for (name, passport) in dpp_schemas::fixtures::named_passports() {
            let id = gw.create(serde_json::to_value(&passport).unwrap()).await;
            let row = gw.store().passport(&id, None).await.unwrap().unwrap();
            stored.insert(
                id.clone(),
                serde_json::from_str(&row.canonical_json).unwrap(),
            );
            raw.insert(id.clone(), (row.canonical_json, row.jws));
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
            if case.policy["passports"]["ids"] == json!([]) {
                case.policy["passports"]["ids"] =
                    case.granted.iter().map(|n| ids[n].clone()).collect();
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
            raw,
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
            // It says which form it is, and so does our verification of it.
            check_form(&case, &jws, &m.raw[id], &what);
            let verified =
                m.gw.reader(Method::POST, "/api/v1/verify")
                    .header("content-type", "application/jose")
                    .body(jws)
                    .send()
                    .await
                    .unwrap();
            assert_eq!(verified.status().as_u16(), 200, "{what}");
            let verified: Value = verified.json().await.unwrap();
            if body.as_ref() == m.raw[id].0.as_bytes() {
                assert_eq!(verified["form"], "full-passport", "{what}");
                assert!(verified.get("redaction").is_none(), "{what}");
            } else {
                assert_eq!(verified["form"], "redacted-passport", "{what}");
                assert_eq!(verified["redaction"], redaction_of(&case), "{what}");
            }

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
            // A cursor promises more: an empty page after one would say hidden passports follow.
            assert!(
                pages == 1 || !items.is_empty(),
                "search by {}: an empty page after a cursor",
                case.name
            );
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
                Some(cursor) => {
                    // Never the id of a passport the partner may not have.
                    let at = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).unwrap()).unwrap();
                    assert!(
                        granted.contains(&at),
                        "search by {}: cursor at {at}",
                        case.name
                    );
                    path = format!("/partner/v1/passports?limit=2&after={cursor}");
                }
                None => break,
            }
            assert!(pages < 10, "paging does not end");
        }
        if shared_at_all {
            assert_eq!(found, granted, "search by {}", case.name);
            // Every polymer and product id of every stored passport as a filter: a passport
            // matches exactly when its form for this partner holds the value (for a polymer: its
            // main material is of it), never because of a value the partner may not have.
            let mut polymers = BTreeSet::new();
            let mut product_ids = BTreeSet::new();
            for doc in m.stored.values() {
                let (_, i) = filter_values(doc);
                // Every material's polymer, main or not, and a family name: minor materials must
                // match nothing, `PP` must match its blends.
                polymers.extend(
                    doc["materials"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|m| m["polymer"].as_str().map(str::to_owned)),
                );
                polymers.insert("PP".to_owned());
                product_ids.extend(i);
            }
            let filters = polymers
                .iter()
                .map(|p| ("polymer", p))
                .chain(product_ids.iter().map(|i| ("productId", i)));
            for (name, value) in filters {
                let what = format!("search by {} for {name}={value}", case.name);
                let path = format!("/partner/v1/passports?{name}={}", url_encode(value));
                let page: Value = m
                    .as_partner(case.name, &path)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let got: BTreeSet<String> = page["items"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{what}: {page}"))
                    .iter()
                    .map(|d| d["id"].as_str().unwrap().to_owned())
                    .collect();
                let expected: BTreeSet<String> = granted
                    .iter()
                    .filter(|id| {
                        let (p, i) = filter_values(&partner_form(&case, &m.stored[*id]));
                        if name == "polymer" {
                            p.iter()
                                .any(|s| dpp_gateway::store::polymer_matches(s, value))
                        } else {
                            i.contains(value)
                        }
                    })
                    .cloned()
                    .collect();
                assert_eq!(got, expected, "{what}");
            }
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
            assert!(
                shared.get("withheld").is_none(),
                "{what}: nothing counts hidden passports: {shared}"
            );
            let full_edges = edges_of(&full);
            // The oracle: the walk over the edges between the root and granted passports only.
            let walkable: Vec<&(String, String, String)> = full_edges
                .iter()
                .filter(|(from, to, _)| {
                    (from == id || granted.contains(from)) && (to == id || granted.contains(to))
                })
                .collect();
            let mut expected = BTreeSet::new();
            for upstream in [true, false] {
                let mut reached = BTreeSet::from([id.clone()]);
                let mut frontier = BTreeSet::from([id.clone()]);
                for depth in 1..=8 {
                    let mut next = BTreeSet::new();
                    for (from, to, _) in &walkable {
                        let (near, far) = if upstream { (to, from) } else { (from, to) };
                        if frontier.contains(near) && reached.insert(far.clone()) {
                            next.insert(far.clone());
                        }
                    }
                    for node in &next {
                        let way = if upstream { "upstream" } else { "downstream" };
                        expected.insert((node.clone(), depth, way.to_owned()));
                    }
                    frontier = next;
                }
            }
            let shown: BTreeSet<(String, u64, String)> = shared["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| {
                    (
                        n["id"].as_str().unwrap().to_owned(),
                        n["depth"].as_u64().unwrap(),
                        n["direction"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            assert_eq!(shown, expected, "{what}");
            let shown_ids: BTreeSet<&str> = shown.iter().map(|(n, _, _)| n.as_str()).collect();
            for edge in edges_of(&shared) {
                assert!(full_edges.contains(&edge), "{what}: invented edge {edge:?}");
                for node in [&edge.0, &edge.1] {
                    assert!(
                        node == id || shown_ids.contains(node.as_str()),
                        "{what}: edge to a node not shown {node}"
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
            check_form(&case, &jws, &m.raw[&item.passport_id], &what);
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

/// Registers `name` on its own mock with `policy` and returns a partner token.
async fn partner_with_policy(
    gw: &TestGateway,
    mock: &MockOuranos,
    name: &str,
    policy: Value,
) -> String {
    let mut registration = mock_partner(gw, mock, name);
    registration["policy"] = policy;
    gw.register(&registration).await;
    let issued: Value = gw
        .admin(Method::POST, &format!("/api/v1/partners/{name}/tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    issued["token"].as_str().unwrap().to_owned()
}

/// Writes the next version of passport `id` through the API; returns its version number.
async fn put_version(gw: &TestGateway, id: &str, doc: &Value) -> i64 {
    let current = gw
        .reader(Method::GET, &format!("/api/v1/passports/{id}"))
        .send()
        .await
        .unwrap();
    let etag = current.headers()["etag"].to_str().unwrap().to_owned();
    // The gateway numbers and dates the version.
    let mut doc = doc.clone();
    doc.as_object_mut().unwrap().remove("version");
    doc.as_object_mut().unwrap().remove("updatedAt");
    let response = gw
        .admin(Method::PUT, &format!("/api/v1/passports/{id}"))
        .header("if-match", etag)
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "{}",
        response.text().await.unwrap()
    );
    gw.store()
        .passport(id, None)
        .await
        .unwrap()
        .unwrap()
        .version
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_shared_only_while_the_latest_is_granted() {
    let gw = TestGateway::start(fast_delivery()).await;
    let mock = start_mock().await;
    let pellets = dpp_schemas::fixtures::pp_pellets();
    let selected = pellets.materials[0].polymer.clone();
    let id = gw.create(serde_json::to_value(&pellets).unwrap()).await;
    let token = partner_with_policy(
        &gw,
        &mock,
        "pp-lots",
        json!({
            "passports": { "polymer": selected },
            "fields": { "deny": ["/carbonFootprint"] }
        }),
    )
    .await;
    let get = |path: String| {
        gw.http
            .get(format!("{}{path}", gw.base))
            .bearer_auth(&token)
            .send()
    };

    // Version 1, granted: readable by number, redacted like the latest.
    let v1: Value = get(format!("/partner/v1/passports/{id}?version=1"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v1["version"], 1);
    assert!(v1.get("carbonFootprint").is_none(), "{v1}");

    // Version 2 moves the lot out of the selector (another polymer): its history goes with it.
    let mut moved = serde_json::to_value(&pellets).unwrap();
    moved["materials"][0]["polymer"] = json!("PE-HD");
    assert_eq!(put_version(&gw, &id, &moved).await, 2);
    for path in [
        format!("/partner/v1/passports/{id}"),
        format!("/partner/v1/passports/{id}?version=1"),
        format!("/partner/v1/passports/{id}/signed?version=1"),
        format!("/partner/v1/passports/{id}?version=2"),
        format!("/partner/v1/passports/{id}/lineage"),
    ] {
        assert_eq!(get(path.clone()).await.unwrap().status(), 404, "{path}");
    }
    // Nor can the operator push version 1 to it any more.
    let push = gw
        .admin(Method::POST, "/api/v1/exchanges")
        .json(&json!({ "partner": "pp-lots", "passport": id, "version": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(push.status().as_u16(), 403);

    // Version 3 is back in the grant: 1 and 3 are readable, 2 (outside the grant) is not.
    let back = serde_json::to_value(&pellets).unwrap();
    assert_eq!(put_version(&gw, &id, &back).await, 3);
    assert_eq!(
        get(format!("/partner/v1/passports/{id}?version=1"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        get(format!("/partner/v1/passports/{id}?version=3"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        get(format!("/partner/v1/passports/{id}?version=2"))
            .await
            .unwrap()
            .status(),
        404
    );
    let signed = get(format!("/partner/v1/passports/{id}/signed?version=1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(jws_header(&signed)["typ"], "dpp-redacted+jws");
    let push = gw
        .admin(Method::POST, "/api/v1/exchanges")
        .json(&json!({ "partner": "pp-lots", "passport": id, "version": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(push.status().as_u16(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_paging_shows_nothing_of_hidden_passports() {
    let gw = TestGateway::start(fast_delivery()).await;
    let mock = start_mock().await;
    // Three PET lots the partner may have, between and after runs of pellet lots it may not:
    // 28 hidden ones between the first two (more than a scan budget of one-passport pages),
    // 8 after the last.
    let at = |n: u32| format!("urn:uuid:00000000-0000-4000-8000-{n:012}");
    let visible = [1_u32, 30, 40];
    for n in 1..=48_u32 {
        let mut doc = if visible.contains(&n) {
            pet_flakes(n as usize)
        } else {
            pellet_lot(n as usize)
        };
        doc["id"] = json!(at(n));
        gw.create(doc).await;
    }
    let token = partner_with_policy(
        &gw,
        &mock,
        "pet-buyer",
        json!({ "passports": { "polymer": "PET" } }),
    )
    .await;
    let granted: BTreeSet<String> = visible.iter().map(|n| at(*n)).collect();
    for limit in [1, 2, 3] {
        let mut found = BTreeSet::new();
        let mut path = format!("/partner/v1/passports?limit={limit}");
        for page_number in 1.. {
            assert!(page_number < 10, "paging does not end");
            let page: Value = gw
                .http
                .get(format!("{}{path}", gw.base))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let items = page["items"].as_array().unwrap();
            assert!(
                page_number == 1 || !items.is_empty(),
                "limit {limit}: an empty page after a cursor says hidden passports follow"
            );
            found.extend(items.iter().map(|d| d["id"].as_str().unwrap().to_owned()));
            let Some(cursor) = page["nextCursor"].as_str() else {
                break;
            };
            let position = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).unwrap()).unwrap();
            assert!(
                granted.contains(&position),
                "limit {limit}: the cursor names {position}, a passport the partner may not have"
            );
            path = format!("/partner/v1/passports?limit={limit}&after={cursor}");
        }
        assert_eq!(found, granted, "limit {limit}");
    }
}
