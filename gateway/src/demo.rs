//! `dpp-gateway demo`: a gateway on a temporary data dir, seeded over its own HTTP API with realistic
//! plastics passports and their lineage (collected PP bumpers → flakes → recycled pellets → a new
//! bumper; a PET bottle-flake lot; an ABS housing with a substance of concern), onboarded with
//! one mock partner per data space, then either left serving with instructions (the mocks keep
//! running until the server stops, so pushes and pulls keep working), or (`--once`) checked end
//! to end and summarised.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, bail, ensure};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::Digest;

use crate::app::{Gateway, bind, shutdown_signal};
use crate::cli::DemoArgs;
use crate::config::Config;
use crate::trust::JwsVerifier;

/// What the seeded scenario produced, for the summary.
#[derive(Debug, Default)]
pub struct DemoSummary {
    /// Passports created.
    pub passports: usize,
    /// Versions written in total (creations and updates).
    pub versions: usize,
    /// Trace events recorded.
    pub events: usize,
    /// Collection records stored.
    pub collection_records: usize,
    /// Signed passports verified against the published JWKS.
    pub verified: usize,
    /// Upstream lineage of the new bumper, nearest first.
    pub bumper_upstream: Vec<String>,
    /// Recycling rate over all collection records.
    pub recycling_rate: Option<f64>,
    /// Resource-reuse rate over all collection records.
    pub resource_reuse_rate: Option<f64>,
}

/// Where a demo API token came from: the operator's environment (never printed) or made up
/// for this run (printed, so the suggested requests can be pasted).
#[derive(Debug)]
enum DemoToken {
    FromEnv(String),
    Generated(String),
}

impl DemoToken {
    /// The token in `var` if set (at least 16 characters, as `serve` requires), else a new one.
    fn from_env_or_generate(var: &str) -> anyhow::Result<DemoToken> {
        match std::env::var(var) {
            Ok(token) => {
                ensure!(
                    token.len() >= 16,
                    "{var} must be at least 16 characters long, got {}",
                    token.len()
                );
                Ok(DemoToken::FromEnv(token))
            }
            Err(std::env::VarError::NotPresent) => Ok(DemoToken::Generated(format!(
                "demo-{}",
                uuid::Uuid::new_v4().simple()
            ))),
            Err(std::env::VarError::NotUnicode(_)) => bail!("{var} is not valid UTF-8"),
        }
    }

    fn secret(&self) -> &str {
        match self {
            DemoToken::FromEnv(t) | DemoToken::Generated(t) => t,
        }
    }

    /// The line telling the user which token to use, without echoing one they set themselves.
    fn announce(&self, var: &str) -> String {
        match self {
            DemoToken::FromEnv(_) => format!("  {var} is set: the demo uses it"),
            DemoToken::Generated(t) => format!("  export {var}={t}"),
        }
    }
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let data_dir = tempfile::Builder::new()
        .prefix("dpp-demo-")
        .tempdir()
        .context("cannot create a temp dir")?;
    let listen: SocketAddr = args.listen.unwrap_or_else(|| {
        if args.once {
            ([127, 0, 0, 1], 0).into()
        } else {
            ([127, 0, 0, 1], 8080).into()
        }
    });
    let listener = bind(listen).await?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let admin = DemoToken::from_env_or_generate(ADMIN_TOKEN_VAR)?;
    let reader = DemoToken::from_env_or_generate(READER_TOKEN_VAR)?;
    let (admin_token, reader_token) = (admin.secret().to_owned(), reader.secret().to_owned());
    // The mock partners' credentials are files in a secrets directory beside (never holding)
    // the key store, as an operator would mount one.
    let secrets_dir = data_dir.path().join("secrets");
    std::fs::create_dir_all(&secrets_dir).context("cannot create the demo secrets dir")?;
    let mut config = Config {
        listen: addr,
        data_dir: data_dir.path().to_owned(),
        public_base_url: base.clone(),
        operator_id: "urn:example:operator:kanto-polymer-works".into(),
        secrets: crate::config::SecretsConfig {
            dir: Some(secrets_dir.clone()),
            env: Vec::new(),
        },
        ..Config::default()
    };
    config.auth.admin_tokens.push(admin_token.clone());
    config.auth.reader_tokens.push(reader_token.clone());
    config.check()?;
    let gateway = Gateway::build(config).await?;
    let store = gateway.state.store().clone();
    let secrets = gateway.state.exchange.partners.secrets().clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let once = args.once;
    let server = tokio::spawn(gateway.serve(listener, async move {
        if once {
            let _ = stop_rx.await;
        } else {
            tokio::select! {
                _ = stop_rx => {},
                () = shutdown_signal() => {},
            }
        }
    }));

    let outcome = async {
        let summary = seed_and_check(&base, &admin_token, &reader_token).await?;
        let (rows, mocks) = exchange_with_data_spaces(
            &store,
            &secrets,
            data_dir.path(),
            &base,
            &admin_token,
            &reader_token,
        )
        .await?;
        anyhow::Ok((summary, rows, mocks))
    }
    .await;
    let (summary, rows, mocks) = match outcome {
        Ok(s) => s,
        Err(e) => {
            let _ = stop_tx.send(());
            let _ = server.await;
            return Err(e);
        }
    };
    print_summary(&summary, &base);
    print_data_spaces(&rows);
    // Serving stops on Ctrl-C, or at once with --once; the sender is kept until then (dropping
    // it would stop the server too).
    let keep_serving = if once {
        let _ = stop_tx.send(());
        None
    } else {
        print_instructions(&base, &admin, &reader);
        Some(stop_tx)
    };
    // The partners stay `verified`, so their mock data spaces must answer for as long as the
    // gateway serves: they stop only after it has.
    let served = server.await.context("server task panicked");
    for mock in mocks {
        mock.shutdown().await;
    }
    drop(keep_serving);
    served??;
    Ok(ExitCode::SUCCESS)
}

/// The variables `demo` takes its API tokens from, as `serve` does.
const ADMIN_TOKEN_VAR: &str = "DPP_GATEWAY_ADMIN_TOKEN";
const READER_TOKEN_VAR: &str = "DPP_GATEWAY_READER_TOKEN";

async fn seed_and_check(base: &str, admin: &str, reader: &str) -> anyhow::Result<DemoSummary> {
    let http = reqwest::Client::builder().no_proxy().build()?;
    let mut summary = DemoSummary::default();

    for passport in dpp_schemas::fixtures::all_passports() {
        post_created(
            &http,
            &format!("{base}/api/v1/passports"),
            admin,
            &passport,
            &passport.id.to_string(),
        )
        .await?;
        summary.passports += 1;
        summary.versions += 1;
    }
    for event in dpp_schemas::fixtures::trace_events() {
        post_created(
            &http,
            &format!("{base}/api/v1/trace-events"),
            admin,
            &event,
            &event.event_id.to_string(),
        )
        .await?;
        summary.events += 1;
    }
    for record in dpp_schemas::fixtures::collection_records() {
        post_created(
            &http,
            &format!("{base}/api/v1/collection-records"),
            admin,
            &record,
            &record.id.to_string(),
        )
        .await?;
        summary.collection_records += 1;
    }

    // A change is a new version: the new bumper gets a better recyclability statement.
    let bumper = dpp_schemas::fixtures::pp_new_bumper();
    let url = format!("{base}/api/v1/passports/{}", bumper.id);
    let current = http.get(&url).bearer_auth(reader).send().await?;
    let etag = current
        .headers()
        .get("etag")
        .context("GET passport without ETag")?
        .to_str()?
        .to_owned();
    let mut doc: Value = current.json().await?;
    if let Some(c) = doc.get_mut("circularity").and_then(Value::as_object_mut) {
        c.insert("recyclableContent".into(), serde_json::json!(0.97));
    }
    let object = doc.as_object_mut().context("passport is not an object")?;
    for server_field in ["version", "updatedAt"] {
        object.remove(server_field);
    }
    let response = http
        .put(&url)
        .bearer_auth(admin)
        .header("if-match", &etag)
        .json(&doc)
        .send()
        .await?;
    ensure!(
        response.status() == StatusCode::OK,
        "new version answered {}: {}",
        response.status(),
        response.text().await?
    );
    summary.versions += 1;
    let stale = http
        .put(&url)
        .bearer_auth(admin)
        .header("if-match", &etag)
        .json(&doc)
        .send()
        .await?;
    ensure!(
        stale.status() == StatusCode::PRECONDITION_FAILED,
        "a stale If-Match was not refused: {}",
        stale.status()
    );

    // Verify every stored signature (every version) against the JWKS the gateway publishes.
    let jwks: Value = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await?
        .json()
        .await?;
    let verifier = JwsVerifier::from_jwks(&jwks)?;
    let mut cursor: Option<String> = None;
    loop {
        let mut request = http
            .get(format!("{base}/api/v1/passports"))
            .bearer_auth(reader)
            .query(&[("limit", "2")]);
        if let Some(c) = &cursor {
            request = request.query(&[("after", c)]);
        }
        let page: Value = request.send().await?.error_for_status()?.json().await?;
        for item in page["items"].as_array().context("page without items")? {
            let id = item["id"].as_str().context("passport without id")?;
            let latest = item["version"]
                .as_u64()
                .context("passport without version")?;
            for version in 1..=latest {
                let jws = http
                    .get(format!("{base}/api/v1/passports/{id}/signed"))
                    .query(&[("version", version)])
                    .bearer_auth(reader)
                    .send()
                    .await?
                    .error_for_status()?
                    .text()
                    .await?;
                let verified = verifier
                    .verify(&jws)
                    .with_context(|| format!("signature of {id} v{version}"))?;
                let payload: Value = serde_json::from_slice(&verified.payload)?;
                ensure!(
                    payload["id"] == id && payload["version"] == version,
                    "signed payload of {id} v{version} is another passport"
                );
                summary.verified += 1;
            }
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    if summary.verified != summary.versions {
        bail!(
            "verified {} signatures but wrote {} versions",
            summary.verified,
            summary.versions
        );
    }

    let lineage: Value = http
        .get(format!("{url}/lineage"))
        .query(&[("direction", "upstream")])
        .bearer_auth(reader)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut nodes: Vec<(u64, String)> = lineage["nodes"]
        .as_array()
        .context("lineage without nodes")?
        .iter()
        .filter_map(|n| Some((n["depth"].as_u64()?, n["id"].as_str()?.to_owned())))
        .filter(|(depth, _)| *depth > 0)
        .collect();
    nodes.sort();
    let names = names_by_id();
    summary.bumper_upstream = nodes
        .into_iter()
        .map(|(d, id)| format!("{d}: {}", names.get(&id).cloned().unwrap_or(id)))
        .collect();
    ensure!(
        !summary.bumper_upstream.is_empty(),
        "the new bumper has no upstream lineage"
    );

    let kpis: Value = http
        .get(format!("{base}/api/v1/kpis/circularity"))
        .query(&[("from", "2000-01-01"), ("to", "2100-12-31")])
        .bearer_auth(reader)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    summary.recycling_rate = kpis["total"]["recyclingRate"].as_f64();
    summary.resource_reuse_rate = kpis["total"]["resourceReuseRate"].as_f64();
    Ok(summary)
}

/// POSTs `body` and insists on `201 Created`.
async fn post_created(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &impl serde::Serialize,
    what: &str,
) -> anyhow::Result<()> {
    let response = http.post(url).bearer_auth(token).json(body).send().await?;
    let status = response.status();
    ensure!(
        status == StatusCode::CREATED,
        "POST {url} ({what}) answered {status}: {}",
        response.text().await?
    );
    Ok(())
}

/// One data space's line in the demo table.
#[derive(Debug)]
pub struct DataSpaceRow {
    /// Data space (adapter type).
    pub data_space: String,
    /// Conformance cases passed / run.
    pub cases_passed: usize,
    /// Conformance cases run.
    pub cases_total: usize,
    /// Partner state after onboarding.
    pub state: String,
    /// Passports delivered (acknowledged by the remote).
    pub sent: usize,
    /// Passports pulled back through the gateway's pull cache.
    pub received: usize,
    /// Pulled passports whose reference matches our stored JWS, which verifies against our JWKS.
    pub verified: usize,
}

/// For every data space with a mock: start it in-process, register a partner for it, onboard
/// the partner through the conformance suite, push every seeded passport, pull each back through
/// `/api/v1/remote/…` and check the reference it carries against our signed original. Returns
/// the table rows and the mocks, still running: the caller keeps them up while the demo serves.
async fn exchange_with_data_spaces(
    store: &crate::store::Store,
    secrets: &dpp_adapters::contract::SecretSources,
    data_dir: &std::path::Path,
    base: &str,
    admin: &str,
    reader: &str,
) -> anyhow::Result<(Vec<DataSpaceRow>, Vec<dpp_conformance::mock::DemoMock>)> {
    use dpp_conformance::mock::DemoMock;
    use dpp_conformance::suite::DataSpace;

    let http = reqwest::Client::builder().no_proxy().build()?;
    let adapters = dpp_adapters::AdapterRegistry::with_builtin_adapters();
    let jwks: Value = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await?
        .json()
        .await?;
    let verifier = JwsVerifier::from_jwks(&jwks)?;
    let passports = dpp_schemas::fixtures::all_passports();
    let mut rows = Vec::new();
    let mut mocks = Vec::new();
    for data_space in DataSpace::ALL {
        let name = format!("{}-demo", data_space.as_str());
        let secrets_dir = secrets.dir().context("the demo has a secrets dir")?;
        let mock = DemoMock::start(data_space, secrets_dir, &name).await?;
        let registration = mock.registration.clone();
        // Kept before anything can fail, so an error below still shuts it down (on drop).
        mocks.push(mock);
        post_created(
            &http,
            &format!("{base}/api/v1/partners"),
            admin,
            &registration,
            &name,
        )
        .await?;
        let reports = data_dir.join("reports").join(&name);
        let check = crate::onboarding::check_partner(
            store,
            &adapters,
            secrets,
            &name,
            Some(&reports),
            "demo",
        )
        .await?;
        let mut row = DataSpaceRow {
            data_space: data_space.as_str().to_owned(),
            cases_passed: check.report.summary.passed,
            cases_total: check.report.summary.total,
            state: check.state.as_str().to_owned(),
            sent: 0,
            received: 0,
            verified: 0,
        };
        ensure!(
            !check.report.mandatory_failed(),
            "the {name} mock failed mandatory conformance cases"
        );

        let mut exchanges = Vec::new();
        for passport in &passports {
            let response = http
                .post(format!("{base}/api/v1/exchanges"))
                .bearer_auth(admin)
                .json(&serde_json::json!({ "partner": name, "passport": passport.id.to_string() }))
                .send()
                .await?;
            ensure!(
                response.status() == StatusCode::ACCEPTED,
                "push to {name} answered {}",
                response.status()
            );
            let item: Value = response.json().await?;
            exchanges.push(
                item["id"]
                    .as_str()
                    .context("exchange without id")?
                    .to_owned(),
            );
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        for id in &exchanges {
            let item = loop {
                let item: Value = http
                    .get(format!("{base}/api/v1/exchanges/{id}"))
                    .bearer_auth(reader)
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                match item["state"].as_str() {
                    Some("delivered") => break item,
                    Some("dead") => bail!("delivery {id} to {name} died: {}", item["lastError"]),
                    _ if std::time::Instant::now() > deadline => {
                        bail!("delivery {id} to {name} did not finish")
                    }
                    _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                }
            };
            row.sent += 1;
            let remote_id = item["remoteId"]
                .as_str()
                .context("delivered without a remote id")?;
            let pulled = http
                .get(format!("{base}/api/v1/remote/{name}/passports/{remote_id}"))
                .bearer_auth(reader)
                .send()
                .await?;
            ensure!(
                pulled.status() == StatusCode::OK,
                "pull of {remote_id} from {name} answered {}",
                pulled.status()
            );
            let pulled: Value = pulled.json().await?;
            row.received += 1;
            let reference = &pulled["reference"];
            let (Some(id), Some(version), Some(digest)) = (
                reference["passportId"].as_str(),
                reference["version"].as_u64(),
                reference["jwsSha256"].as_str(),
            ) else {
                continue;
            };
            let jws = http
                .get(format!("{base}/api/v1/passports/{id}/signed"))
                .query(&[("version", version)])
                .bearer_auth(reader)
                .send()
                .await?
                .error_for_status()?
                .text()
                .await?;
            let ours = base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                sha2::Sha256::digest(jws.as_bytes()),
            );
            if ours == digest && verifier.verify(&jws).is_ok() {
                row.verified += 1;
            }
        }
        rows.push(row);
    }
    Ok((rows, mocks))
}

fn print_data_spaces(rows: &[DataSpaceRow]) {
    println!();
    println!(
        "  {:<12} {:>14} {:<10} {:>6} {:>15} {:>9}",
        "data space", "cases passed", "state", "sent", "received back", "verified"
    );
    for r in rows {
        println!(
            "  {:<12} {:>14} {:<10} {:>6} {:>15} {:>9}",
            r.data_space,
            format!("{}/{}", r.cases_passed, r.cases_total),
            r.state,
            r.sent,
            r.received,
            r.verified
        );
    }
}

fn names_by_id() -> std::collections::HashMap<String, String> {
    dpp_schemas::fixtures::all_passports()
        .into_iter()
        .map(|p| (p.id.to_string(), p.product.name))
        .collect()
}

fn print_summary(s: &DemoSummary, base: &str) {
    println!();
    println!("dpp-gateway demo — {base}");
    println!("  passports created          {}", s.passports);
    println!("  versions written           {}", s.versions);
    println!("  trace events recorded      {}", s.events);
    println!("  collection records         {}", s.collection_records);
    println!("  signatures verified (JWKS) {}/{}", s.verified, s.versions);
    println!("  new bumper, upstream lineage:");
    for line in &s.bumper_upstream {
        println!("    {line}");
    }
    let pct = |r: Option<f64>| {
        r.map(|r| format!("{:.1} %", r * 100.0))
            .unwrap_or_else(|| "n/a".into())
    };
    println!("  recycling rate             {}", pct(s.recycling_rate));
    println!(
        "  resource-reuse rate        {}",
        pct(s.resource_reuse_rate)
    );
}

/// The requests the demo suggests, as curl lines a user pastes into a shell where the token
/// variables are set (the demo prints their `export` lines first, or uses the user's own).
/// Every line must answer something meaningful for the seeded data: `tests/cli.rs` runs each.
pub fn example_requests(base: &str) -> Vec<String> {
    let bumper = dpp_schemas::fixtures::pp_new_bumper().id;
    let reader = format!("-H \"Authorization: Bearer ${READER_TOKEN_VAR}\"");
    // The KPI period covers the seeded collection records, whatever year the demo runs in.
    let days: Vec<chrono::NaiveDate> = dpp_schemas::fixtures::collection_records()
        .iter()
        .map(|r| r.collected_on)
        .collect();
    let from = days
        .iter()
        .min()
        .map(ToString::to_string)
        .unwrap_or_default();
    let to = days
        .iter()
        .max()
        .map(ToString::to_string)
        .unwrap_or_default();
    vec![
        format!("curl -s {base}/.well-known/jwks.json"),
        format!("curl -s {base}/.well-known/did.json"),
        // Recycled-PP lots: passports whose main material by mass is PP (or a PP blend) and at
        // least half recycled; see README "Searching passports".
        format!("curl -s {reader} '{base}/api/v1/passports?polymer=PP&minRecycledShare=0.5'"),
        format!("curl -s {reader} {base}/api/v1/passports/{bumper}"),
        format!("curl -s {reader} {base}/api/v1/passports/{bumper}/versions"),
        format!("curl -s {reader} '{base}/api/v1/passports/{bumper}/lineage?direction=upstream'"),
        format!(
            "curl -s {reader} {base}/api/v1/passports/{bumper}/signed \\\n    \
             | curl -s {reader} -H 'Content-Type: application/jose' --data-binary @- {base}/api/v1/verify"
        ),
        format!("curl -s {reader} '{base}/api/v1/kpis/circularity?from={from}&to={to}'"),
        format!("curl -s {base}/api/v1/schemas/passport"),
        format!("curl -s {base}/metrics"),
    ]
}

fn print_instructions(base: &str, admin: &DemoToken, reader: &DemoToken) {
    println!();
    println!("Serving until Ctrl-C. API tokens for this run:");
    println!("{}", admin.announce(ADMIN_TOKEN_VAR));
    println!("{}", reader.announce(READER_TOKEN_VAR));
    println!("Try:");
    for line in example_requests(base) {
        println!("  {line}");
    }
}
