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
