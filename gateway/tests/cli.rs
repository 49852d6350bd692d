//! The `dpp-gateway` binary as an operator runs it.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn gateway(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dpp-gateway"))
        .args(args)
        .env_remove("DPP_GATEWAY_ADMIN_TOKEN")
        .env("DPP_GATEWAY_DATA_DIR", dir)
        .output()
        .expect("run dpp-gateway")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The README's quick start is `cargo run --release -- demo`: `cargo run` at the workspace root
/// must find exactly one binary among the default members, and it must be `dpp-gateway`.
#[test]
fn cargo_run_at_the_root_finds_only_the_gateway() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let defaults: Vec<&str> = meta["workspace_default_members"]
        .as_array()
        .expect("cargo metadata names the default members")
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let bins: Vec<&str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| defaults.contains(&p["id"].as_str().unwrap()))
        .flat_map(|p| p["targets"].as_array().unwrap())
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        bins,
        ["dpp-gateway"],
        "binaries `cargo run` would choose from"
    );
}

#[test]
fn demo_once_runs_the_scenario_and_verifies_every_signature() {
    let dir = tempfile::tempdir().unwrap();
    let out = gateway(&["demo", "--once"], dir.path());
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed\nstdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    // Logs to a pipe are plain text: no ANSI colour codes (ESC) around the levels.
    let stderr = text(&out.stderr);
    assert!(stderr.contains("INFO"), "no log lines to check:\n{stderr}");
    assert!(
        !out.stderr.contains(&0x1b),
        "ANSI escape codes in piped logs, first line: {:?}",
        stderr.lines().next()
    );
    let line = stdout
        .lines()
        .find(|l| l.contains("signatures verified"))
        .expect("summary line");
    let counts = line.split_whitespace().last().unwrap();
    let (verified, written) = counts.split_once('/').unwrap();
    assert_eq!(verified, written);
    assert!(verified.parse::<u32>().unwrap() >= 7, "{line}");
    assert!(stdout.contains("recycling rate"));

    // One row per data space: onboarded through the suite, every passport sent, received back
    // through the pull cache and verified against our signed original.
    let row = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("ouranos"))
        .expect("ouranos row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    let (passed, total) = cells[1].split_once('/').unwrap();
    assert_eq!(passed, total, "{row}");
    assert_eq!(cells[2], "verified", "{row}");
    let sent: usize = cells[3].parse().unwrap();
    assert_eq!(sent, dpp_schemas::fixtures::all_passports().len(), "{row}");
    assert_eq!(cells[4], cells[3], "received back: {row}");
    assert_eq!(cells[5], cells[3], "verified: {row}");
}

#[test]
fn import_reports_bad_lines_and_keeps_the_good_ones_then_export_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passports.jsonl");
    let good: Vec<String> = dpp_schemas::fixtures::all_passports()
        .iter()
        .take(3)
        .map(|p| serde_json::to_string(p).unwrap())
        .collect();
    let mut broken: serde_json::Value = serde_json::from_str(&good[2]).unwrap();
    broken["id"] = serde_json::json!("urn:uuid:0b5e3f4e-0000-4000-8000-00000000beef");
    broken["materials"][0]["polymer"] = serde_json::json!("wood");
    let lines = [
        good[0].clone(),
        "{not json".into(),
        good[1].clone(),
        broken.to_string(),
        good[2].clone(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();

    let out = gateway(&["passport", "import", file.to_str().unwrap()], dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("line 2: not valid JSON"), "{stderr}");
    assert!(
        stderr.contains("line 4: passport refused") && stderr.contains("/materials/0/polymer"),
        "{stderr}"
    );
    assert!(text(&out.stdout).contains("imported 3 passport(s), 2 line(s) refused"));

    let exported = dir.path().join("out.jsonl");
    let out = gateway(
        &["passport", "export", "-o", exported.to_str().unwrap()],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exported = std::fs::read_to_string(exported).unwrap();
    let mut ids: Vec<String> = exported
        .lines()
        .map(|l| {
            serde_json::from_str::<dpp_schemas::Passport>(l)
                .unwrap()
                .id
                .to_string()
        })
        .collect();
    let mut expected: Vec<String> = dpp_schemas::fixtures::all_passports()
        .iter()
        .take(3)
        .map(|p| p.id.to_string())
        .collect();
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);
}

#[test]
fn keys_generate_rotate_list() {
    let dir = tempfile::tempdir().unwrap();
    let out = gateway(&["keys", "generate"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let again = gateway(&["keys", "generate"], dir.path());
    assert!(
        !again.status.success(),
        "a second generate must refuse to overwrite keys"
    );

    for entry in std::fs::read_dir(dir.path().join("keys")).unwrap() {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "pem") {
            assert_eq!(
                entry.metadata().unwrap().permissions().mode() & 0o777,
                0o600,
                "{:?}",
                entry.path()
            );
        }
    }
    let out = gateway(&["keys", "rotate"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list = text(&gateway(&["keys", "list"], dir.path()).stdout);
    assert_eq!(
        list.lines().filter(|l| l.contains("active")).count(),
        1,
        "{list}"
    );
    assert_eq!(
        list.lines().filter(|l| l.contains("retired")).count(),
        1,
        "{list}"
    );
}

#[test]
fn config_validate_accepts_good_and_names_bad_settings() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "listen = \"0.0.0.0:9000\"\n[auth]\nadmin_tokens = [\"a-very-secret-admin-token\"]\n",
    )
    .unwrap();
    let out = gateway(
        &["config", "validate", "--config", good.to_str().unwrap()],
        dir.path(),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("0.0.0.0:9000") && stdout.contains("configuration is valid"));
    assert!(
        !stdout.contains("a-very-secret-admin-token"),
        "secrets must not be printed"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listen = \"nowhere\"\n").unwrap();
    let out = gateway(
        &["config", "validate", "--config", bad.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("listen"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn serve_refuses_to_start_without_an_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let out = gateway(&["serve", "--listen", "127.0.0.1:0"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("DPP_GATEWAY_ADMIN_TOKEN"));
}

/// `keys revoke`: never the only active key on its own, `--rotate` replaces it in the same step,
/// and a revoked key's private key file is deleted.
#[test]
fn keys_revoke_refuses_the_active_key_unless_it_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let keys_dir = dir.path().join("keys");
    let out = gateway(&["keys", "generate"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let kid_of = |status: &str| -> Vec<String> {
        let list = text(&gateway(&["keys", "list"], dir.path()).stdout);
        list.lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(status))
            .map(|l| l.split_whitespace().next().unwrap().to_owned())
            .collect()
    };
    let first = kid_of("active").remove(0);

    let refused = gateway(&["keys", "revoke", &first], dir.path());
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("active signing key") && stderr.contains("--rotate"),
        "{stderr}"
    );
    assert_eq!(kid_of("active"), [first.as_str()]);

    let unknown = gateway(
        &[
            "keys",
            "revoke",
            "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U",
        ],
        dir.path(),
    );
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("no signing key"),
        "{}",
        text(&unknown.stderr)
    );

    // Rotate, then revoke the retired key: it verifies nothing and its private key is gone.
    assert!(gateway(&["keys", "rotate"], dir.path()).status.success());
    let second = kid_of("active").remove(0);
    let out = gateway(&["keys", "revoke", &first], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("restart"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(kid_of("revoked"), [first.as_str()]);
    assert!(!keys_dir.join(format!("{first}.pem")).exists());

    // The active key with --rotate: a new key takes over in the same step.
    let out = gateway(&["keys", "revoke", &second, "--rotate"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(kid_of("revoked"), [first.clone(), second.clone()]);
    let third = kid_of("active");
    assert_eq!(third.len(), 1);
    assert!(third[0] != first && third[0] != second);
    assert!(!keys_dir.join(format!("{second}.pem")).exists());
    assert!(keys_dir.join(format!("{}.pem", third[0])).exists());

    // A rotation later keeps both revoked.
    assert!(gateway(&["keys", "rotate"], dir.path()).status.success());
    assert_eq!(kid_of("revoked"), [first, second]);
    assert_eq!(kid_of("retired"), third);
}

/// Issue 10: `config validate` said "valid" where `serve` refused to start, and printed each
/// error twice.
#[test]
fn config_validate_refuses_what_serve_would_refuse_and_says_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = gateway(&["config", "validate"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!stdout.contains("configuration is valid"), "{stdout}");
    let said = format!("{stdout}{stderr}")
        .matches("DPP_GATEWAY_ADMIN_TOKEN")
        .count();
    assert_eq!(said, 1, "{stdout}\n{stderr}");
}

/// Issue 10: read-only commands pointed at a wrong data dir created an empty store and
/// answered "exported 0 passports".
#[test]
fn read_only_commands_refuse_a_data_dir_without_a_store_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo");
    for args in [
        &["passport", "export"][..],
        &["partner", "list"],
        &["partner", "show", "x"],
        &["partner", "token", "list", "x"],
    ] {
        let out = gateway(args, &missing);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("no gateway store"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert!(!missing.exists(), "a read-only command created {missing:?}");
}

/// Issue 10: shell completions, and `--listen` only where something listens.
#[test]
fn completions_are_printed_and_listen_belongs_to_serve() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = gateway(&["completions", shell], dir.path());
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(
            script.contains("dpp-gateway") && script.contains("partner"),
            "{shell}"
        );
    }
    let serve = text(&gateway(&["serve", "--help"], dir.path()).stdout);
    assert!(serve.contains("--listen") && serve.contains("DPP_GATEWAY_ADMIN_TOKEN"));
    let list = gateway(&["partner", "list", "--listen", "127.0.0.1:1"], dir.path());
    assert_eq!(list.status.code(), Some(2), "partner list took --listen");
}

/// Known tokens a script hands the demo (at least 16 characters, as `serve` requires).
const DEMO_ADMIN: &str = "demo-test-admin-token-0123456789";
const DEMO_READER: &str = "demo-test-reader-token-012345678";

/// A `demo` process, killed when the test ends.
struct DemoProcess(std::process::Child);

impl Drop for DemoProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `dpp-gateway demo` serving on a free port with the tokens in `env`, and returns it with
/// everything it printed up to and including its last suggested request.
fn start_serving_demo(env: &[(&str, &str)]) -> (DemoProcess, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_dpp-gateway"));
    command
        .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("DPP_GATEWAY_ADMIN_TOKEN")
        .env_remove("DPP_GATEWAY_READER_TOKEN")
        .env("DPP_GATEWAY_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("start the demo");
    let stdout = child.stdout.take().unwrap();
    let demo = DemoProcess(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let mut printed = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("the demo stopped or hung before serving:\n{printed}"));
        printed.push_str(&line);
        printed.push('\n');
        if line.trim_start().starts_with("curl") && line.contains("/metrics") {
            return (demo, printed);
        }
    }
}

/// Splits one shell command into words: single quotes literal, double quotes and bare words with
/// `$NAME` taken from `vars` (what the printed lines use; anything else fails the test).
fn shell_words(command: &str, vars: &[(&str, &str)]) -> Vec<String> {
    let expand = |word: &str| -> String {
        let mut out = word.to_owned();
        for (name, value) in vars {
            out = out.replace(&format!("${name}"), value);
        }
        assert!(!out.contains('$'), "unknown variable in {word:?}");
        out
    };
    let (mut words, mut word, mut in_word) = (Vec::new(), String::new(), false);
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                word.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                in_word = true;
                let quoted: String = chars.by_ref().take_while(|&c| c != '"').collect();
                word.push_str(&expand(&quoted));
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                let mut bare = c.to_string();
                while let Some(next) = chars.clone().next() {
                    if next.is_whitespace() || next == '\'' || next == '"' {
                        break;
                    }
                    bare.push(next);
                    chars.next();
                }
                word.push_str(&expand(&bare));
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Runs one printed pipeline of `curl -s [-H 'h: v']… [--data-binary @-] URL` stages as curl
/// would (a stage with `@-` POSTs the previous stage's output) and returns the last status and
/// body.
async fn run_curl_pipeline(
    http: &reqwest::Client,
    pipeline: &str,
    vars: &[(&str, &str)],
) -> (reqwest::StatusCode, String) {
    let mut piped: Option<String> = None;
    let mut last = None;
    for stage in pipeline.split(" | ") {
        let words = shell_words(stage, vars);
        assert_eq!(words.first().map(String::as_str), Some("curl"), "{stage}");
        let (mut url, mut headers, mut body) = (None, Vec::new(), None);
        let mut words = words.iter().skip(1);
        while let Some(word) = words.next() {
            match word.as_str() {
                "-s" => {}
                "-H" => {
                    let header = words.next().expect("-H value");
                    let (name, value) = header.split_once(':').expect("header name: value");
                    headers.push((name.trim().to_owned(), value.trim().to_owned()));
                }
                "--data-binary" => {
                    assert_eq!(words.next().map(String::as_str), Some("@-"), "{stage}");
                    body = Some(piped.take().expect("a stage before --data-binary @-"));
                }
                w if w.starts_with("http://") => url = Some(w.to_owned()),
                other => panic!("unexpected curl word {other:?} in {stage}"),
            }
        }
        let url = url.unwrap_or_else(|| panic!("no URL in {stage}"));
        let mut request = match body {
            Some(body) => http.post(&url).body(body),
            None => http.get(&url),
        };
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.expect(&url);
        let status = response.status();
        let text = response.text().await.unwrap();
        piped = Some(text.clone());
        last = Some((status, text));
    }
    last.expect("an empty pipeline")
}

/// The printed curl lines, a line ending in `\` joined with the next.
fn printed_curl_lines(printed: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut pending = String::new();
    for line in printed.lines().map(str::trim) {
        if pending.is_empty() && !line.starts_with("curl") {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(line);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    commands
}

/// The demo keeps its mock data spaces up while it serves: after it printed it is serving, a
/// passport pushed to the `verified` mock partner is delivered and pulled back through
/// `/api/v1/remote/…`. It uses the tokens it is given and never prints them.
#[tokio::test(flavor = "multi_thread")]
async fn serving_demo_pushes_and_pulls_after_start_up_with_the_given_tokens() {
    let (demo, printed) = start_serving_demo(&[
        ("DPP_GATEWAY_ADMIN_TOKEN", DEMO_ADMIN),
        ("DPP_GATEWAY_READER_TOKEN", DEMO_READER),
    ]);
    assert!(
        !printed.contains(DEMO_ADMIN) && !printed.contains(DEMO_READER),
        "the demo printed a token it was given:\n{printed}"
    );
    assert!(
        printed.contains("DPP_GATEWAY_ADMIN_TOKEN is set")
            && printed.contains("DPP_GATEWAY_READER_TOKEN is set"),
        "{printed}"
    );
    let base = printed
        .lines()
        .find_map(|l| l.split_once("dpp-gateway demo — "))
        .map(|(_, base)| base.trim().to_owned())
        .expect("the demo names its address");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let bumper = dpp_schemas::fixtures::pp_new_bumper().id.to_string();
    let response = http
        .post(format!("{base}/api/v1/exchanges"))
        .bearer_auth(DEMO_ADMIN)
        .json(&serde_json::json!({ "partner": "ouranos-demo", "passport": bumper }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
    let item: serde_json::Value = response.json().await.unwrap();
    let id = item["id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let delivered = loop {
        let item: serde_json::Value = http
            .get(format!("{base}/api/v1/exchanges/{id}"))
            .bearer_auth(DEMO_READER)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        match item["state"].as_str() {
            Some("delivered") => break item,
            Some("dead") => panic!("the push after start-up died: {item}"),
            _ if std::time::Instant::now() > deadline => {
                panic!("the push after start-up did not finish: {item}")
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    };
    let remote_id = delivered["remoteId"].as_str().expect("a remote id");
    let pulled = http
        .get(format!(
            "{base}/api/v1/remote/ouranos-demo/passports/{remote_id}"
        ))
        .bearer_auth(DEMO_READER)
        .send()
        .await
        .unwrap();
    let status = pulled.status();
    let pulled: serde_json::Value = pulled.json().await.unwrap();
    assert_eq!(status, reqwest::StatusCode::OK, "{pulled}");
    assert_eq!(pulled["reference"]["passportId"], bumper, "{pulled}");
    drop(demo);
}

/// Every curl line the demo prints answers 2xx with content that shows something: run as printed,
/// with the generated tokens the demo told the user to export.
#[tokio::test(flavor = "multi_thread")]
async fn every_request_the_demo_suggests_answers_something_meaningful() {
    let (demo, printed) = start_serving_demo(&[]);
    let exported = |var: &str| -> String {
        printed
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("export {var}=")))
            .unwrap_or_else(|| panic!("no generated {var} printed:\n{printed}"))
            .to_owned()
    };
    let (admin, reader) = (
        exported("DPP_GATEWAY_ADMIN_TOKEN"),
        exported("DPP_GATEWAY_READER_TOKEN"),
    );
    assert!(admin.len() >= 16 && reader.len() >= 16);
    let vars = [
        ("DPP_GATEWAY_ADMIN_TOKEN", admin.as_str()),
        ("DPP_GATEWAY_READER_TOKEN", reader.as_str()),
    ];
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let lines = printed_curl_lines(&printed);
    assert!(lines.len() >= 10, "{printed}");
    let names: std::collections::HashMap<String, String> = dpp_schemas::fixtures::all_passports()
        .into_iter()
        .map(|p| (p.id.to_string(), p.product.name))
        .collect();
    for line in &lines {
        let (status, body) = run_curl_pipeline(&http, line, &vars).await;
        assert!(status.is_success(), "{line}\nanswered {status}: {body}");
        assert!(!body.trim().is_empty(), "{line} answered nothing");
        let json = serde_json::from_str::<serde_json::Value>(&body).ok();
        if line.contains("polymer=PP") {
            let found: Vec<&str> = json.as_ref().unwrap()["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| names[p["id"].as_str().unwrap()].as_str())
                .collect();
            let expected: Vec<String> = [
                dpp_schemas::fixtures::pp_collected_bumpers(),
                dpp_schemas::fixtures::pp_flakes(),
                dpp_schemas::fixtures::pp_pellets(),
            ]
            .into_iter()
            .map(|p| p.product.name)
            .collect();
            let mut found_sorted = found.clone();
            found_sorted.sort_unstable();
            let mut expected_sorted: Vec<&str> = expected.iter().map(String::as_str).collect();
            expected_sorted.sort_unstable();
            assert_eq!(
                found_sorted, expected_sorted,
                "recycled-PP search: the PP bumper chain, not the PET lot"
            );
        } else if line.contains("/kpis/") {
            let kpis = json.unwrap();
            assert!(
                kpis["total"]["recyclingRate"]
                    .as_f64()
                    .is_some_and(|r| r > 0.0),
                "{line}\n{kpis}"
            );
            assert!(!kpis["periods"].as_array().unwrap().is_empty(), "{kpis}");
        } else if line.contains("/verify") {
            let answer = json.unwrap();
            assert_eq!(answer["verified"], true, "{answer}");
            assert_eq!(answer["form"], "full-passport", "{answer}");
        } else if line.contains("/lineage") {
            let lineage = json.unwrap();
            assert!(lineage["nodes"].as_array().unwrap().len() > 1, "{lineage}");
        } else if line.contains("/versions") {
            let versions = json.unwrap();
            assert_eq!(
                versions["versions"].as_array().unwrap().len(),
                2,
                "{versions}"
            );
        }
    }
    drop(demo);
}

/// A token the demo is handed must be as strong as `serve` requires: a short one is refused,
/// naming the variable, and never echoed.
#[test]
fn demo_refuses_a_short_token_from_the_environment() {
    let out = Command::new(env!("CARGO_BIN_EXE_dpp-gateway"))
        .args(["demo", "--once"])
        .env("DPP_GATEWAY_ADMIN_TOKEN", "short-secret")
        .env_remove("DPP_GATEWAY_READER_TOKEN")
        .output()
        .expect("run dpp-gateway");
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("DPP_GATEWAY_ADMIN_TOKEN must be at least 16 characters long"),
        "{stderr}"
    );
    assert!(!stderr.contains("short-secret") && !text(&out.stdout).contains("short-secret"));
}
