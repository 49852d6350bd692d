//! The `dpp-mock` binary starts, announces its address and answers a login.

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
