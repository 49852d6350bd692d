//! The conformance suite against the Ouranos mock: everything passes against the correct mock,
//! every mandatory case fails against the mock broken for it, and the reports are well-formed.

use std::collections::BTreeSet;

use dpp_conformance::mock::ouranos::{Break, HostilePaging, MockConfig, MockOuranos};
use dpp_conformance::suite::{
    self, CaseFilter, Credentials, DataSpace, Level, Outcome, SuiteReport, Target,
};

const API_KEY: &str = "conformance-api-key-7f3a";
const BUYER: (&str, &str) = ("buyer@example.com", "Buyer!pass2025");
const SUPPLIER: (&str, &str) = ("supplier-client", "Supplier!secret2025");

fn mock_config() -> MockConfig {
    let mut config = MockConfig::default()
        .with_account(BUYER.0, BUYER.1)
        .with_client(SUPPLIER.0, SUPPLIER.1);
    config.api_key = API_KEY.into();
    config
}

fn target(mock: &MockOuranos) -> Target {
    Target::new(
        DataSpace::Ouranos,
        &mock.base_url(),
        Credentials::account(API_KEY, BUYER.0, BUYER.1),
    )
    .unwrap()
    .with_counterpart(Credentials::client(API_KEY, SUPPLIER.0, SUPPLIER.1))
}

fn failures(report: &SuiteReport) -> Vec<String> {
    report
        .cases
        .iter()
        .filter(|c| c.outcome != Outcome::Pass)
        .map(|c| {
            format!(
                "{} {:?}: {}",
                c.id,
                c.outcome,
                c.reason.as_deref().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn every_case_passes_against_the_correct_mock() {
    let mock = MockOuranos::start(mock_config()).await.unwrap();
    let report = suite::run(&target(&mock), &CaseFilter::all()).await;
    assert_eq!(
        report.cases.len(),
        suite::cases_for(DataSpace::Ouranos).len()
    );
    assert!(failures(&report).is_empty(), "{:#?}", failures(&report));
    assert!(!report.mandatory_failed());
    assert_eq!(report.summary.passed, report.cases.len());
    // The suite exercised the mock's validation, and the mock's own answers stayed valid.
    let stats = mock.stats();
    assert_eq!(stats.validation_failures, 5, "{stats:#?}");
    assert_eq!(stats.self_check_failures, 0, "{stats:#?}");
    // Each case recorded what it sent; secrets never reach the report.
    let json = report.to_json().unwrap();
    for secret in [API_KEY, BUYER.1, SUPPLIER.1, "mock-at."] {
        assert!(!json.contains(secret), "{secret} leaked into the report");
    }
    assert!(report.cases.iter().all(|c| !c.exchanges.is_empty()));
    mock.shutdown().await;
}

#[tokio::test]
async fn a_v2_client_without_a_counterpart_trades_with_itself() {
    let mock = MockOuranos::start(mock_config()).await.unwrap();
    let target = Target::new(
        DataSpace::Ouranos,
        &mock.base_url(),
        Credentials::client(API_KEY, SUPPLIER.0, SUPPLIER.1),
    )
    .unwrap();
    let report = suite::run(&target, &CaseFilter::all()).await;
    assert!(failures(&report).is_empty(), "{:#?}", failures(&report));
    let trade = report.case("OUR-TRADE-03").unwrap();
    assert!(
        trade
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("no counterpart"),
        "{trade:?}"
    );
    assert_eq!(report.login, format!("v2 client {}", SUPPLIER.0));
}

/// A case that cannot fail checks nothing: for every mandatory case (and every recommended one
/// the mock can break), a mock broken for exactly that rule must make it fail.
#[tokio::test]
async fn every_mandatory_case_fails_against_the_mock_broken_for_it() {
    let mut defects = Vec::new();
    let mut checked = 0;
    for case in suite::cases() {
        let Some(rule) = Break::for_case(case.id) else {
            if case.level == Level::Mandatory {
                defects.push(format!("{}: the mock has no --break mode for it", case.id));
            }
            continue;
        };
        let mock = MockOuranos::start(mock_config().with_break(rule))
            .await
            .unwrap();
        let report = suite::run(&target(&mock), &CaseFilter::all()).await;
        let result = report.case(case.id).expect("the case ran");
        if result.outcome != Outcome::Fail {
            defects.push(format!(
                "{} passed against a mock that breaks it ({})",
                case.id,
                rule.description()
            ));
        } else if result
            .reason
            .as_deref()
            .unwrap_or("")
            .starts_with("prerequisite")
        {
            defects.push(format!(
                "{} failed only on a prerequisite, not on its own check: {:?}",
                case.id, result.reason
            ));
        }
        if case.level == Level::Mandatory && !report.mandatory_failed() {
            defects.push(format!("{}: mandatory_failed() is false", case.id));
        }
        checked += 1;
        mock.shutdown().await;
    }
    assert!(defects.is_empty(), "{defects:#?}");
    let mandatory = suite::cases()
        .iter()
        .filter(|c| c.level == Level::Mandatory)
        .count();
    assert!(checked >= mandatory, "checked {checked} of {mandatory}");
    // And every break mode belongs to a case that exists.
    let ids: BTreeSet<&str> = suite::cases().iter().map(|c| c.id).collect();
    for rule in Break::all() {
        assert!(ids.contains(rule.case_id()), "{rule:?} names no case");
    }
}

#[tokio::test]
async fn a_filtered_run_makes_its_own_prerequisites() {
    let mock = MockOuranos::start(mock_config()).await.unwrap();
    let filter = CaseFilter::ids(["OUR-CFP-02", "OUR-TRADE-04"]);
    // Through a client the caller hands in (the gateway passes its SSRF-guarded one).
    let target = target(&mock).with_http_client(reqwest::Client::new());
    let report = suite::run(&target, &filter).await;
    let ids: Vec<&str> = report.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["OUR-CFP-02", "OUR-TRADE-04"]);
    assert!(failures(&report).is_empty(), "{:#?}", failures(&report));
    // The CFP case registered its part and CFP itself: its exchanges show the PUTs.
    let cfp = report.case("OUR-CFP-02").unwrap();
    assert!(cfp.exchanges.iter().any(|e| e.request.method == "PUT"));
}

/// The paging case against a remote whose `link` abuses paging: the suite fails the case and
/// names why, rather than following the link elsewhere or paging forever.
#[tokio::test]
async fn hostile_paging_fails_the_paging_case() {
    for (mode, expected) in [
        (HostilePaging::ForeignHost, "another origin"),
        (HostilePaging::EndlessCursor, "keeps leading on"),
        (HostilePaging::OversizedPages, "limit=2 but 3 parts came"),
    ] {
        let mock = MockOuranos::start(mock_config().with_hostile_paging(mode))
            .await
            .unwrap();
        let report = suite::run(&target(&mock), &CaseFilter::ids(["OUR-PARTS-03"])).await;
        let case = report.case("OUR-PARTS-03").expect("the case ran");
        let reason = case.reason.as_deref().unwrap_or("");
        assert_eq!(case.outcome, Outcome::Fail, "{mode:?}: {case:?}");
        assert!(reason.contains(expected), "{mode:?}: {reason}");
        // No request left for the metadata address.
        assert!(
            case.exchanges
                .iter()
                .all(|e| !e.request.url.contains("169.254.169.254")),
            "{mode:?}: {:#?}",
            case.exchanges
        );
        mock.shutdown().await;
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_fails_every_case_with_a_reason() {
    // Bind then drop a listener: the port is (very likely) closed afterwards.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = Target::new(
        DataSpace::Ouranos,
        &format!("http://127.0.0.1:{port}"),
        Credentials::account("k", BUYER.0, BUYER.1),
    )
    .unwrap();
    let report = suite::run(&target, &CaseFilter::ids(["OUR-AUTH-*"])).await;
    assert_eq!(report.summary.failed, report.cases.len());
    assert!(report.mandatory_failed());
    for case in &report.cases {
        let reason = case.reason.as_deref().unwrap_or("");
        assert!(reason.contains("no answer"), "{}: {reason}", case.id);
        assert!(case.exchanges.iter().all(|e| e.error.is_some()));
    }
}

#[tokio::test]
async fn reports_are_written_and_well_formed() {
    let mock = MockOuranos::start(mock_config().with_break(Break::NoLinkHeader))
        .await
        .unwrap();
    let report = suite::run(&target(&mock), &CaseFilter::all()).await;
    assert_eq!(report.case("OUR-PARTS-03").unwrap().outcome, Outcome::Fail);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/report");
    let files = report.write(&out).unwrap();

    // JSON: parses back to the same report.
    let json = std::fs::read_to_string(&files.json).unwrap();
    let parsed: SuiteReport = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed, report);
    let raw: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(raw["data_space"], "ouranos");
    assert_eq!(raw["summary"]["total"], report.cases.len());
    assert_eq!(raw["cases"][0]["id"], "OUR-AUTH-01");
    assert!(raw["cases"][0]["exchanges"][0]["request"]["url"].is_string());

    // JUnit: well-formed XML, one testcase per case, the failure counted.
    let xml = std::fs::read_to_string(&files.junit).unwrap();
    assert!(xml.starts_with("<?xml"), "{}", &xml[..80.min(xml.len())]);
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut depth, mut testcases, mut failures_seen) = (0i32, 0usize, 0usize);
    loop {
        match reader.read_event().expect("junit.xml is well-formed") {
            quick_xml::events::Event::Start(e) => {
                depth += 1;
                testcases += usize::from(e.name().as_ref() == b"testcase");
                failures_seen += usize::from(e.name().as_ref() == b"failure");
            }
            quick_xml::events::Event::Empty(e) => {
                testcases += usize::from(e.name().as_ref() == b"testcase");
                failures_seen += usize::from(e.name().as_ref() == b"failure");
            }
            quick_xml::events::Event::End(_) => depth -= 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
        assert!(depth >= 0, "unbalanced junit.xml");
    }
    assert_eq!(depth, 0, "unbalanced junit.xml");
    assert_eq!(testcases, report.cases.len());
    assert_eq!(failures_seen, report.summary.failed);
    let junit = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(junit.tests, report.cases.len());
    assert_eq!(junit.failures, report.summary.failed);

    // HTML: self-contained, every case id present, the failure shown with its reason.
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for case in suite::cases() {
        assert!(html.contains(&format!("id=\"{}\"", case.id)), "{}", case.id);
    }
    for external in ["<script", "src=", "href=\"http", "@import", "url("] {
        assert!(!html.contains(external), "html references {external}");
    }
    assert!(html.contains("no link header"));
    assert!(html.contains("NOT CONFORMANT"));

    // No secret in any file.
    for text in [&json, &xml, &html] {
        for secret in [API_KEY, BUYER.1, SUPPLIER.1] {
            assert!(!text.contains(secret), "{secret} leaked");
        }
    }
    mock.shutdown().await;
}

#[test]
fn html_escapes_what_the_endpoint_sends() {
    let mut report = SuiteReport {
        format: 1,
        suite: "dpp-conformance test".into(),
        data_space: DataSpace::Ouranos,
        endpoint: "http://127.0.0.1:1/<x>".into(),
        login: "v1 account a@example.com".into(),
        run_id: "r".into(),
        started_at: chrono::Utc::now(),
        duration_ms: 1,
        summary: Default::default(),
        cases: Vec::new(),
    };
    report.cases.push(dpp_conformance::suite::CaseReport {
        id: "OUR-ERR-01".into(),
        area: "ERR".into(),
        level: Level::Mandatory,
        description: "d".into(),
        spec: "s".into(),
        outcome: Outcome::Fail,
        reason: Some("<script>alert(1)</script>".into()),
        duration_ms: 0,
        exchanges: Vec::new(),
    });
    let html = report.to_html();
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("http://127.0.0.1:1/&lt;x&gt;"));
}

#[test]
fn the_readme_lists_every_case_with_its_level() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for case in suite::cases() {
        let row = format!("| `{}` | {} | {} |", case.id, case.level, case.description);
        assert!(
            readme.contains(&row),
            "README case table lacks or differs for {}",
            case.id
        );
    }
}
