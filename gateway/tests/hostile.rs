//! Hostile and malformed input, replayed from the corpus in `tests/hostile/<surface>/`: every case
//! must get the 4xx problem+json its manifest names, store nothing and leave the gateway healthy.
//! Bulky cases (10,000 nested arrays, bodies over the limit, lying `Content-Length`) are generated
//! here rather than committed.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ADMIN, READER, TestGateway, ouranos_registration};
use dpp_schemas::fixtures;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{Connection, Row};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Small enough that "over the limit" cases stay cheap to send.
const BODY_LIMIT: usize = 64 * 1024;

/// Every JSON-body surface: (corpus folder, method, path).
const JSON_SURFACES: [(&str, &str, &str); 7] = [
    ("passports_create", "POST", "/api/v1/passports"),
    ("passports_put", "PUT", "/api/v1/passports/{passport}"),
    ("trace_events", "POST", "/api/v1/trace-events"),
    ("collection_records", "POST", "/api/v1/collection-records"),
    ("verify_json", "POST", "/api/v1/verify"),
    ("partners", "POST", "/api/v1/partners"),
    ("exchanges", "POST", "/api/v1/exchanges"),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    method: String,
    /// The request target, or `@file` when each case's file holds it.
    path: String,
    token: String,
    content_type: String,
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    file: String,
    #[serde(default)]
    why: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    status: u16,
    problem: String,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    pointer: Option<String>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile")
}

fn manifest(surface: &str) -> Manifest {
    let path = corpus_dir().join(surface).join("cases.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// The gateway under attack, with what it was seeded with.
struct Target {
    gw: TestGateway,
    db: PathBuf,
    passport: String,
    /// A token of a partner that may call `/partner/v1` (open policy, limits high enough for
    /// the whole corpus).
    partner_token: String,
}

impl Target {
    async fn start() -> Target {
        let mut data_dir = PathBuf::new();
        let gw = TestGateway::start_with(|config| {
            config.body_limit_bytes = BODY_LIMIT;
            data_dir = config.data_dir.clone();
        })
        .await;
        let pellets = fixtures::pp_pellets();
        let created = gw
            .admin(Method::POST, "/api/v1/passports")
            .json(&pellets)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let partner = gw
            .admin(Method::POST, "/api/v1/partners")
            .json(&ouranos_registration("tokai"))
            .send()
            .await
            .unwrap();
        assert_eq!(partner.status(), 201, "{}", partner.text().await.unwrap());
        let caller = gw
            .admin(Method::POST, "/api/v1/partners")
            .json(&{
                let mut doc = ouranos_registration("tokai-reader");
                doc["state"] = json!("trusted-unchecked");
                doc["limits"] = json!({ "requestsPerSecond": 10000, "burst": 10000 });
                doc
            })
            .send()
            .await
            .unwrap();
        assert_eq!(caller.status(), 201, "{}", caller.text().await.unwrap());
        let issued: Value = gw
            .admin(Method::POST, "/api/v1/partners/tokai-reader/tokens")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let partner_token = issued["token"].as_str().unwrap().to_owned();
        let event = &fixtures::trace_events()[0];
        let recorded = gw
            .admin(Method::POST, "/api/v1/trace-events")
            .json(event)
            .send()
            .await
            .unwrap();
        assert_eq!(recorded.status(), 201);
        Target {
            gw,
            db: data_dir.join(dpp_gateway::store::SQLITE_FILE_NAME),
            passport: pellets.id.to_string(),
            partner_token,
        }
    }

    async fn etag(&self) -> String {
        let response = self
            .gw
            .reader(Method::GET, &format!("/api/v1/passports/{}", self.passport))
            .send()
            .await
            .unwrap();
        response.headers()["etag"].to_str().unwrap().to_owned()
    }

    /// Row counts of every table: a refused request may not change any of them.
    async fn footprint(&self) -> BTreeMap<String, i64> {
        let url = format!("sqlite://{}?mode=ro", self.db.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let tables: Vec<String> = sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
        let mut counts = BTreeMap::new();
        for table in tables {
            let n: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
                // Names from sqlite_master, quoted; no input of the test reaches them.
                "SELECT COUNT(*) FROM \"{table}\""
            )))
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get(0);
            counts.insert(table, n);
        }
        conn.close().await.unwrap();
        counts
    }

    async fn assert_healthy(&self, after: &str) {
        let health = self.gw.http.get(self.gw.url("/healthz")).send().await;
        let health = health.unwrap_or_else(|e| panic!("gateway unreachable after {after}: {e}"));
        assert_eq!(health.status(), 200, "gateway unhealthy after {after}");
    }

    fn substitute(&self, text: &str, etag: &str) -> String {
        text.replace("{passport}", &self.passport)
            .replace("{etag}", etag)
    }
}

/// What came back for one request, reduced to what the assertions look at.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    body: Value,
    raw: String,
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    let raw = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
    Answer {
        status,
        content_type,
        body,
        raw,
    }
}

/// Checks one answer against what the case expects; returns what is wrong, if anything.
fn judge(
    answer: &Answer,
    status: u16,
    problem: &str,
    detail: Option<&str>,
    pointer: Option<&str>,
) -> Option<String> {
    let mut wrong = Vec::new();
    if !(400..500).contains(&answer.status) {
        wrong.push(format!("status {} is not a 4xx", answer.status));
    }
    if answer.status != status {
        wrong.push(format!("status {} instead of {status}", answer.status));
    }
    if answer.content_type != "application/problem+json" {
        wrong.push(format!("content-type {:?}", answer.content_type));
    }
    let kind = answer.body["type"].as_str().unwrap_or("");
    if kind != format!("https://dpp-gateway.dev/problems/{problem}") {
        wrong.push(format!("problem type {kind:?} instead of {problem:?}"));
    }
    if answer.body["status"] != status {
        wrong.push("problem status differs from the HTTP status".to_owned());
    }
    let text = answer.body["detail"].as_str().unwrap_or("");
    if text.is_empty() {
        wrong.push("problem without detail".to_owned());
    }
    if let Some(detail) = detail
        && !text.contains(detail)
    {
        wrong.push(format!("detail does not mention {detail:?}"));
    }
    if let Some(pointer) = pointer {
        let pointers: Vec<&str> = answer.body["violations"]
            .as_array()
            .map(|v| v.iter().filter_map(|v| v["pointer"].as_str()).collect())
            .unwrap_or_default();
        if !pointers.contains(&pointer) {
            wrong.push(format!("violations {pointers:?} do not name {pointer:?}"));
        }
    }
    (!wrong.is_empty()).then(|| format!("{}: {}", wrong.join("; "), shorten(&answer.raw)))
}

fn shorten(text: &str) -> String {
    text.chars().take(400).collect()
}

/// Replays every case of one surface; returns how many ran and every failure.
async fn replay(target: &Target, surface: &str) -> (usize, Vec<String>) {
    let manifest = manifest(surface);
    let dir = corpus_dir().join(surface);
    let mut failures = Vec::new();
    let before = target.footprint().await;
    for case in &manifest.case {
        let etag = target.etag().await;
        let bytes = std::fs::read(dir.join(&case.file))
            .unwrap_or_else(|e| panic!("{surface}/{}: {e}", case.file));
        let (target_path, body) = if manifest.path == "@file" {
            (String::from_utf8(bytes).unwrap(), Vec::new())
        } else {
            (case.path.clone().unwrap_or(manifest.path.clone()), bytes)
        };
        let method: Method = manifest.method.parse().unwrap();
        let token = match manifest.token.as_str() {
            "reader" => READER,
            "partner" => &target.partner_token,
            _ => ADMIN,
        };
        let mut request = target
            .gw
            .http
            .request(
                method,
                target.gw.url(&target.substitute(&target_path, &etag)),
            )
            .bearer_auth(token);
        let content_type = case.content_type.as_ref().unwrap_or(&manifest.content_type);
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        for (name, value) in &case.headers {
            request = request.header(name, target.substitute(value, &etag));
        }
        if !body.is_empty() || manifest.path != "@file" {
            request = request.body(body);
        }
        let response = match request.send().await {
            Ok(r) => answer(r).await,
            Err(e) => {
                failures.push(format!("{surface}/{}: request failed: {e}", case.file));
                continue;
            }
        };
        if let Some(wrong) = judge(
            &response,
            case.status,
            &case.problem,
            case.detail.as_deref(),
            case.pointer.as_deref(),
        ) {
            let why = case.why.as_deref().unwrap_or("");
            failures.push(format!("{surface}/{} {why}: {wrong}", case.file));
        }
    }
    target.assert_healthy(surface).await;
    let after = target.footprint().await;
    if before != after {
        failures.push(format!(
            "{surface}: the store changed: {before:?} -> {after:?}"
        ));
    }
    (manifest.case.len(), failures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corpus_is_refused_surface_by_surface() {
    let target = Target::start().await;
    let mut surfaces: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("cases.toml").exists())
        // Imports go through the CLI; the remote corpus is replayed by tests/hostile_remote.rs;
        // partner probes are pairs of answers compared by `partner_probes_learn_nothing`.
        .filter(|e| {
            e.file_name() != "import"
                && e.file_name() != "ouranos_remote"
                && e.file_name() != "partner_probes"
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    surfaces.sort();
    assert!(surfaces.len() >= 9, "{surfaces:?}");
    let mut total = 0;
    let mut failures = Vec::new();
    for surface in &surfaces {
        let (n, mut wrong) = replay(&target, surface).await;
        total += n;
        failures.append(&mut wrong);
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The seeded passport is still its first and only version.
    let versions = target
        .gw
        .read_json(&format!("/api/v1/passports/{}/versions", target.passport))
        .await;
    assert_eq!(versions["versions"].as_array().unwrap().len(), 1);
}

#[test]
fn the_corpus_is_large_and_every_file_is_in_a_manifest() {
    let mut files = 0;
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let text = std::fs::read_to_string(dir.join("cases.toml")).unwrap();
        let listed: toml::Table = toml::from_str(&text).unwrap();
        let listed: Vec<&str> = listed["case"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["file"].as_str().unwrap())
            .collect();
        for file in std::fs::read_dir(&dir).unwrap() {
            let name = file.unwrap().file_name().to_string_lossy().into_owned();
            if name == "cases.toml" {
                continue;
            }
            assert!(
                listed.contains(&name.as_str()),
                "{dir:?}/{name} is in no manifest"
            );
            files += 1;
        }
        assert_eq!(listed.len(), {
            let mut unique = listed.clone();
            unique.sort();
            unique.dedup();
            unique.len()
        });
    }
    assert!(files >= 200, "only {files} corpus files");
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeManifest {
    case: Vec<ProbeCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeCase {
    file: String,
    why: String,
    status: u16,
}

/// A partner asking about what its access policy hides — withheld field values as search
/// filters, paging past hidden passports — must get the answer it gets when asking about
/// something that does not exist: every probe of `tests/hostile/partner_probes` beside its
/// control, compared byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_probes_learn_nothing() {
    let gw = TestGateway::start().await;
    for (_, passport) in fixtures::named_passports() {
        let created = gw
            .admin(Method::POST, "/api/v1/passports")
            .json(&passport)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    // Hidden PET lots sorting after every fixture id, so after the chain's last passport.
    for n in 0..25 {
        let mut lot = serde_json::to_value(fixtures::pet_bottle_flakes()).unwrap();
        lot["id"] = json!(format!("urn:uuid:f0000000-0000-4000-8000-{n:012}"));
        lot["product"]["ids"] = json!([{ "scheme": "lot", "value": format!("JP-PET-P{n:05}") }]);
        let created = gw
            .admin(Method::POST, "/api/v1/passports")
            .json(&lot)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    }
    let mut probe = ouranos_registration("probe");
    probe["state"] = json!("trusted-unchecked");
    probe["limits"] = json!({ "requestsPerSecond": 10000, "burst": 10000 });
    probe["policy"] = json!({
        "passports": { "polymer": "PP+EPDM-T15" },
        "fields": { "deny": ["/materials/1", "/product/ids/1", "/carbonFootprint"] }
    });
    let registered = gw
        .admin(Method::POST, "/api/v1/partners")
        .json(&probe)
        .send()
        .await
        .unwrap();
    assert_eq!(
        registered.status(),
        201,
        "{}",
        registered.text().await.unwrap()
    );
    let issued: Value = gw
        .admin(Method::POST, "/api/v1/partners/probe/tokens")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = issued["token"].as_str().unwrap().to_owned();
    let cursor = |id: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
    };
    let last_visible = fixtures::ids::PP_NEW_BUMPER.to_string();
    let substitute = |target: &str| {
        target
            .replace("{after-last-visible}", &cursor(&last_visible))
            .replace(
                "{after-everything}",
                &cursor("urn:uuid:ffffffff-ffff-4fff-bfff-ffffffffffff"),
            )
    };

    let dir = corpus_dir().join("partner_probes");
    let text = std::fs::read_to_string(dir.join("cases.toml")).unwrap();
    let manifest: ProbeManifest = toml::from_str(&text).unwrap();
    assert!(manifest.case.len() >= 5);
    let mut failures = Vec::new();
    for case in &manifest.case {
        let text = std::fs::read_to_string(dir.join(&case.file)).unwrap();
        let targets: Vec<String> = text.lines().map(substitute).collect();
        assert_eq!(targets.len(), 2, "{}: a probe and a control", case.file);
        let mut answers = Vec::new();
        for target in &targets {
            let response = gw
                .http
                .get(gw.url(target))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            answers.push((response.status().as_u16(), response.text().await.unwrap()));
        }
        if answers[0].0 != case.status || answers[0] != answers[1] {
            failures.push(format!(
                "{} ({}): probe answered {} {}, control {} {}",
                case.file,
                case.why,
                answers[0].0,
                shorten(&answers[0].1),
                answers[1].0,
                shorten(&answers[1].1)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Deterministic bulky cases for every JSON surface: deep nesting, bodies just over the limit,
/// huge strings and numbers just under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_bulky_cases_are_refused() {
    let target = Target::start().await;
    let before = target.footprint().await;
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let mut cases: Vec<(String, Vec<u8>, u16, &str, &str)> = vec![
        (
            "10,000 [".into(),
            "[".repeat(10_000).into_bytes(),
            400,
            "malformed-request",
            "recursion limit",
        ),
        (
            "10,000 nested arrays".into(),
            nested(10_000).into_bytes(),
            400,
            "malformed-request",
            "recursion limit",
        ),
        (
            "10,000 nested objects".into(),
            format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000)).into_bytes(),
            400,
            "malformed-request",
            "recursion limit",
        ),
        (
            "one byte over the limit".into(),
            format!("{{\"a\":\"{}\"}}", "x".repeat(BODY_LIMIT - 7)).into_bytes(),
            413,
            "body-too-large",
            "65536 bytes",
        ),
        (
            "a megabyte of spaces".into(),
            vec![b' '; 1 << 20],
            413,
            "body-too-large",
            "limit",
        ),
        (
            "a 60,000-digit number".into(),
            format!("{{\"n\":1{}}}", "0".repeat(60_000)).into_bytes(),
            400,
            "malformed-request",
            "number out of range",
        ),
        (
            "a 60,000-digit fraction".into(),
            format!("{{\"n\":0.{}1}}", "0".repeat(60_000)).into_bytes(),
            // Underflows to 0: syntactically fine, so the route's own checks refuse the document.
            0,
            "",
            "",
        ),
        (
            "5,000 duplicate keys".into(),
            format!(
                "{{{}}}",
                (0..5_000).map(|_| "\"k\":1").collect::<Vec<_>>().join(",")
            )
            .into_bytes(),
            400,
            "malformed-request",
            "duplicate key",
        ),
    ];
    // A 60 KB string in a member no document has: read, then refused by the schema.
    let mut passport = serde_json::to_value(fixtures::abs_housing()).unwrap();
    passport["id"] = json!("urn:uuid:01948c10-0400-7000-8000-0000000b0115");
    passport["notes"] = json!("\u{1F4A3}".repeat(15_000));
    cases.push((
        "a 60 KB string".into(),
        passport.to_string().into_bytes(),
        0,
        "",
        "",
    ));

    let etag = target.etag().await;
    let mut failures = Vec::new();
    for (surface, method, path) in JSON_SURFACES {
        for (what, body, status, problem, detail) in &cases {
            let request = target
                .gw
                .admin(method.parse().unwrap(), &target.substitute(path, &etag))
                .header("content-type", "application/json")
                .header("if-match", &etag)
                // A fresh connection per case: after refusing an over-limit body the server
                // closes the connection, and a pooled one could be reused just as it closes.
                .header("connection", "close")
                .body(body.clone());
            let response = match request.send().await {
                Ok(response) => answer(response).await,
                // An over-limit body may be refused (413) and the connection closed while the
                // client is still writing it; the client then sees the close, not the answer.
                // That is the refusal working; the raw-TCP tests below read the 413 itself.
                Err(e) if body.len() > BODY_LIMIT && e.is_request() => continue,
                Err(e) => panic!("{surface}: {what}: {e}"),
            };
            let wrong = if *status == 0 {
                // Only "a 4xx problem" is promised here.
                (!(400..500).contains(&response.status)
                    || response.content_type != "application/problem+json")
                    .then(|| format!("{} {}", response.status, shorten(&response.raw)))
            } else {
                judge(&response, *status, problem, Some(detail), None)
            };
            if let Some(wrong) = wrong {
                failures.push(format!("{surface}: {what}: {wrong}"));
            }
        }
        target.assert_healthy(surface).await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(target.footprint().await, before, "the store changed");
}

/// Sends raw HTTP/1.1 (to lie about lengths) and returns the status and body of the answer.
async fn raw_request(target: &Target, head: &str, body: &[u8], half_close: bool) -> (u16, String) {
    let addr = target.gw.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(body).await;
    if half_close {
        stream.shutdown().await.unwrap();
    }
    let mut response = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut response),
    )
    .await;
    // The server may close while we still send; what it answered before that is what counts.
    let _ = read;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_and_streamed_lengths_are_refused() {
    let target = Target::start().await;
    let before = target.footprint().await;
    let host = target.gw.base.trim_start_matches("http://").to_owned();
    let head = |extra: &str| {
        format!(
            "POST /api/v1/passports HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {ADMIN}\r\ncontent-type: application/json\r\nconnection: close\r\n{extra}\r\n"
        )
    };
    // Declares more than the limit: refused before a byte of the body is read.
    let (status, text) = raw_request(
        &target,
        &head(&format!("content-length: {}\r\n", BODY_LIMIT + 1)),
        b"{}",
        false,
    )
    .await;
    assert_eq!(status, 413, "{text}");
    assert!(
        text.contains("application/problem+json") && text.contains("body-too-large"),
        "{text}"
    );

    // Declares 2^64 - 1 bytes: hyper itself refuses this one (431, before any handler runs).
    let (status, text) = raw_request(
        &target,
        &head("content-length: 18446744073709551615\r\n"),
        b"{}",
        false,
    )
    .await;
    assert!((400..500).contains(&status), "{text}");

    // Declares 100 bytes, sends 10 and stops: the body cannot be read.
    let (status, text) = raw_request(
        &target,
        &head("content-length: 100\r\n"),
        b"{\"id\":\"x\"",
        true,
    )
    .await;
    assert!((400..500).contains(&status), "{text}");
    if status != 0 {
        assert!(text.contains("application/problem+json"), "{text}");
    }

    // No length at all, chunked past the limit.
    let chunk = vec![b' '; 16 * 1024];
    let mut body = Vec::new();
    for _ in 0..(BODY_LIMIT / chunk.len() + 2) {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let (status, text) = raw_request(
        &target,
        &head("transfer-encoding: chunked\r\n"),
        &body,
        false,
    )
    .await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("body-too-large"), "{text}");

    target.assert_healthy("lying lengths").await;
    assert_eq!(target.footprint().await, before, "the store changed");
}

#[derive(Debug, Deserialize)]
struct ImportManifest {
    case: Vec<ImportCase>,
}

#[derive(Debug, Deserialize)]
struct ImportCase {
    file: String,
    detail: String,
}

#[test]
fn import_reports_every_hostile_line_and_stores_nothing() {
    let dir = corpus_dir().join("import");
    let manifest: ImportManifest =
        toml::from_str(&std::fs::read_to_string(dir.join("cases.toml")).unwrap()).unwrap();
    let mut jsonl = Vec::new();
    for case in &manifest.case {
        let line = std::fs::read(dir.join(&case.file)).unwrap();
        assert!(!line.contains(&b'\n'), "{} spans lines", case.file);
        jsonl.extend_from_slice(&line);
        jsonl.push(b'\n');
    }
    // Generated: a line of 10,000 `[` and a line of 200,000 characters.
    jsonl.extend_from_slice("[".repeat(10_000).as_bytes());
    jsonl.push(b'\n');
    jsonl.extend_from_slice(format!("{{\"name\":\"{}\"", "n".repeat(200_000)).as_bytes());
    jsonl.push(b'\n');
    let lines = manifest.case.len() + 2;

    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("hostile.jsonl");
    std::fs::write(&file, &jsonl).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_dpp-gateway"))
            .args(args)
            .env_remove("DPP_GATEWAY_ADMIN_TOKEN")
            .env("DPP_GATEWAY_DATA_DIR", data.path())
            .output()
            .unwrap()
    };
    let out = run(&["passport", "import", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let reported: BTreeMap<usize, &str> = stderr
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("line ")?;
            let (number, message) = rest.split_once(": ")?;
            Some((number.parse().ok()?, message))
        })
        .collect();
    let mut missing = Vec::new();
    for (index, case) in manifest.case.iter().enumerate() {
        match reported.get(&(index + 1)) {
            Some(message) if message.contains(&case.detail) => {}
            other => missing.push(format!(
                "line {} ({}): expected {:?}, got {other:?}",
                index + 1,
                case.file,
                case.detail
            )),
        }
    }
    assert!(
        reported
            .get(&(lines - 1))
            .is_some_and(|m| m.contains("recursion limit")),
        "{stderr}"
    );
    assert!(reported.contains_key(&lines), "{stderr}");
    assert!(missing.is_empty(), "{}\n{stderr}", missing.join("\n"));
    assert_eq!(reported.len(), lines, "{stderr}");
    assert!(
        stdout.contains(&format!("imported 0 passport(s), {lines} line(s) refused")),
        "{stdout}"
    );

    let exported = data.path().join("out.jsonl");
    let out = run(&["passport", "export", "-o", exported.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(exported).unwrap(),
        "",
        "nothing is stored"
    );
}
