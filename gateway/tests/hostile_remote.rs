//! Hostile input from the other side: the Ouranos adapter's inbound data. The corpus in
//! `tests/hostile/ouranos_remote/` forges what the remote answers to a pull — bytes that are not
//! JSON, JSON that breaks the published schema, odd statuses — through the mock's forged-answer
//! hook, and each pull must end in the problem+json its manifest names: never a 500, nothing
//! cached, the gateway still serving. A clean pull at the end proves nothing was poisoned.

mod exchange_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dpp_conformance::mock::ouranos::{ForgedAnswer, Forgery};
use exchange_support::*;
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

const PARTNER: &str = "ouranos-hostile";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    file: String,
    #[serde(default)]
    why: String,
    /// `partsStructure` or `cfp`.
    target: String,
    /// Apply the file's operations to the genuine answer instead of sending the file.
    #[serde(default)]
    patch: bool,
    #[serde(default)]
    remote_status: Option<u16>,
    #[serde(default)]
    content_type: Option<String>,
    status: u16,
    /// The problem type for an error status (none for 200).
    #[serde(default)]
    problem: String,
    #[serde(default)]
    detail: Option<String>,
    /// For 200: pointers into the answer that must not be there.
    #[serde(default)]
    absent: Vec<String>,
}

/// One operation of a patch file.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Op {
    /// Put `value` at `path` (`""` replaces the whole answer).
    Set { path: String, value: Value },
    /// Remove the member or element at `path`.
    Remove { path: String },
    /// The array at `path`, `times` times over.
    Repeat { path: String, times: usize },
    /// A string of `len` times `char` at `path`.
    SetLong {
        path: String,
        char: String,
        len: usize,
    },
}

fn split(path: &str) -> (&str, &str) {
    let at = path.rfind('/').expect("a pointer below the root");
    (&path[..at], &path[at + 1..])
}

fn put(doc: &mut Value, path: &str, value: Value) {
    if path.is_empty() {
        *doc = value;
        return;
    }
    let (parent, last) = split(path);
    match doc.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(last.to_owned(), value);
        }
        Some(Value::Array(items)) => items[last.parse::<usize>().unwrap()] = value,
        other => panic!("patch: no container at {parent:?}: {other:?}"),
    }
}

fn apply(doc: &mut Value, ops: &[Op]) {
    for op in ops {
        match op {
            Op::Set { path, value } => put(doc, path, value.clone()),
            Op::Remove { path } => {
                let (parent, last) = split(path);
                match doc.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(last);
                    }
                    Some(Value::Array(items)) => {
                        items.remove(last.parse::<usize>().unwrap());
                    }
                    other => panic!("patch: no container at {parent:?}: {other:?}"),
                }
            }
            Op::Repeat { path, times } => {
                let items = doc
                    .pointer(path)
                    .and_then(Value::as_array)
                    .unwrap_or_else(|| panic!("patch: no array at {path:?}"))
                    .clone();
                let repeated: Vec<Value> = items
                    .iter()
                    .cycle()
                    .take(items.len() * times)
                    .cloned()
                    .collect();
                put(doc, path, Value::Array(repeated));
            }
            Op::SetLong { path, char, len } => put(doc, path, Value::String(char.repeat(*len))),
        }
    }
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile/ouranos_remote")
}

fn forgery(case: &Case, bytes: Vec<u8>) -> Forgery {
    if case.patch {
        let ops: Vec<Op> = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{}: not a patch: {e}", case.file));
        Forgery::Patch(Arc::new(move |doc: &mut Value| apply(doc, &ops)))
    } else {
        Forgery::Raw {
            status: case.remote_status.unwrap_or(200),
            content_type: case.content_type.clone().unwrap_or_default(),
            body: bytes,
        }
    }
}

async fn pull(gw: &TestGateway, remote_id: &str) -> (u16, String, Value) {
    let response = gw
        .reader(
            Method::GET,
            &format!("/api/v1/remote/{PARTNER}/passports/{remote_id}"),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, content_type, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_remote_answers_end_in_named_problems_and_poison_nothing() {
    let mock = start_mock().await;
    let gw = TestGateway::start(fast_delivery()).await;
    gw.register(&mock_partner(&gw, &mock, PARTNER)).await;
    let passport = gw.create(pellet_lot(1)).await;
    let exchange = gw.push(PARTNER, &passport).await;
    gw.settle(Duration::from_secs(20)).await;
    let delivered = gw.exchange(&exchange).await;
    assert_eq!(delivered["state"], "delivered", "{delivered}");
    let remote_id = delivered["remoteId"].as_str().unwrap().to_owned();

    let manifest: Manifest =
        toml::from_str(&std::fs::read_to_string(corpus().join("cases.toml")).unwrap()).unwrap();
    assert!(manifest.case.len() >= 50, "{} cases", manifest.case.len());
    let mut failures = Vec::new();
    for case in &manifest.case {
        let bytes = std::fs::read(corpus().join(&case.file)).unwrap();
        // Every case is fetched from the remote, not served from an earlier answer.
        gw.state.remote_pull.forget_partner(PARTNER);
        mock.forge_next(ForgedAnswer {
            data_target: case.target.clone(),
            method: "GET".into(),
            forgery: forgery(case, bytes),
        });
        let (status, content_type, body) = pull(&gw, &remote_id).await;
        let mut wrong = Vec::new();
        if mock.forged_pending() != 0 {
            wrong.push("the forged answer was never asked for".to_owned());
            gw.state.remote_pull.forget_partner(PARTNER);
            // Drain it with a pull, so it cannot spill into the next case.
            pull(&gw, &remote_id).await;
        }
        if status != case.status {
            wrong.push(format!("status {status}, expected {}", case.status));
        }
        if case.status == 200 {
            if !body["passport"].is_object() {
                wrong.push("no passport in a 200".to_owned());
            }
            for pointer in &case.absent {
                if body.pointer(pointer).is_some() {
                    wrong.push(format!("{pointer} is there"));
                }
            }
        } else {
            if content_type != "application/problem+json" {
                wrong.push(format!("content type {content_type:?}"));
            }
            let kind = body["type"].as_str().unwrap_or("");
            if !kind.ends_with(&format!("/{}", case.problem)) {
                wrong.push(format!("type {kind:?}, expected {}", case.problem));
            }
        }
        if let Some(detail) = &case.detail
            && !body["detail"]
                .as_str()
                .unwrap_or("")
                .to_lowercase()
                .contains(&detail.to_lowercase())
        {
            wrong.push(format!("detail does not mention {detail:?}"));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{} ({}): {}\n    {}",
                case.file,
                case.why,
                wrong.join("; "),
                body.to_string().chars().take(300).collect::<String>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        manifest.case.len(),
        failures.join("\n")
    );

    // Nothing was cached from a hostile answer: the genuine one comes through whole.
    gw.state.remote_pull.forget_partner(PARTNER);
    let (status, _, body) = pull(&gw, &remote_id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["passport"]["id"], passport.as_str());
    assert_eq!(body["freshness"], "fresh", "{body}");
    let health = gw
        .http
        .get(format!("{}/healthz", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}
