//! The `dpp-mock` binary starts, announces its address and answers a login; `--break` works.

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn dpp_mock_ouranos_serves_the_configured_account() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dpp-mock"))
        .args([
            "ouranos",
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "cli-key",
            "--account",
            "buyer@example.com:Passw0rd",
            "--client",
            "gw:s3cret",
            "--page-size",
            "10",
            "--seed-data",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("dpp-mock starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().expect("a first line");
    let base = line
        .strip_prefix("mock ouranos listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();

    let http = reqwest::Client::new();
    let login = http
        .post(format!("{base}/auth/login"))
        .header("apiKey", "cli-key")
        .json(&json!({ "operatorAccountId": "buyer@example.com", "accountPassword": "Passw0rd" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), reqwest::StatusCode::CREATED);
    let client = http
        .post(format!("{base}/auth/client"))
        .header("apiKey", "cli-key")
        .json(&json!({ "clientId": "gw", "clientSecret": "s3cret" }))
        .send()
        .await
        .unwrap();
    assert_eq!(client.status(), reqwest::StatusCode::CREATED);
    let stats: Value = http
        .get(format!("{base}/__admin/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["auth_posts"], 2);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn dpp_mock_refuses_a_malformed_account() {
    let output = Command::new(env!("CARGO_BIN_EXE_dpp-mock"))
        .args([
            "ouranos",
            "--listen",
            "127.0.0.1:0",
            "--account",
            "no-password",
        ])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("ID:SECRET"));
}

#[tokio::test]
async fn dpp_mock_breaks_the_rule_of_the_case_named_by_break() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dpp-mock"))
        .args([
            "ouranos",
            "--listen",
            "127.0.0.1:0",
            "--account",
            "buyer@example.com:Passw0rd",
            "--break",
            "OUR-AUTH-05",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("dpp-mock starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().expect("a first line");
    let base = line
        .strip_prefix("mock ouranos listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    // OUR-AUTH-05 checks that a missing apiKey is refused: this mock lets it through.
    let login = reqwest::Client::new()
        .post(format!("{base}/auth/login"))
        .json(&json!({ "operatorAccountId": "buyer@example.com", "accountPassword": "Passw0rd" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), reqwest::StatusCode::CREATED);
    child.kill().await.unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(
        stderr.contains("breaking OUR-AUTH-05 on purpose"),
        "{stderr}"
    );
}

#[tokio::test]
async fn dpp_mock_refuses_an_unknown_break_case() {
    let output = Command::new(env!("CARGO_BIN_EXE_dpp-mock"))
        .args([
            "ouranos",
            "--listen",
            "127.0.0.1:0",
            "--break",
            "OUR-NOPE-99",
        ])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("OUR-NOPE-99") && stderr.contains("OUR-AUTH-01"),
        "{stderr}"
    );
}

#[tokio::test]
async fn dpp_mock_pages_as_a_hostile_remote_with_hostile_paging() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dpp-mock"))
        .args([
            "ouranos",
            "--listen",
            "127.0.0.1:0",
            "--seed-data",
            "--page-size",
            "1",
            "--hostile-paging",
            "foreign-host",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("dpp-mock starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().expect("a first line");
    let base = line
        .strip_prefix("mock ouranos listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let http = reqwest::Client::new();
    let (maker, password) = dpp_conformance::mock::ouranos::seed::MAKER_ACCOUNT;
    let login: Value = http
        .post(format!("{base}/auth/login"))
        .header("apiKey", "mock-api-key")
        .json(&json!({ "operatorAccountId": maker, "accountPassword": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let parts = http
        .get(format!("{base}/api/v1/datatransport?dataTarget=parts"))
        .header("apiKey", "mock-api-key")
        .bearer_auth(login["accessToken"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(parts.status(), reqwest::StatusCode::OK);
    let link = parts.headers()["link"].to_str().unwrap().to_owned();
    assert!(
        link.starts_with("<http://169.254.169.254/api/v1/datatransport?"),
        "{link}"
    );
    child.kill().await.unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(
        stderr.contains("hostile remote on purpose: foreign-host"),
        "{stderr}"
    );
}

#[tokio::test]
async fn dpp_mock_refuses_an_unknown_hostile_paging_mode() {
    let output = Command::new(env!("CARGO_BIN_EXE_dpp-mock"))
        .args([
            "ouranos",
            "--listen",
            "127.0.0.1:0",
            "--hostile-paging",
            "sideways",
        ])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("sideways") && stderr.contains("endless-cursor"),
        "{stderr}"
    );
}
