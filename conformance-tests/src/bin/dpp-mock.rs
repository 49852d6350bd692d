//! `dpp-mock`: runs a mock data space standalone, e.g. for the gateway's demo or a load test.
//!
//! ```text
//! dpp-mock ouranos --listen 127.0.0.1:8081 --api-key KEY --account buyer@example.com:Passw0rd \
//!     --client gateway:s3cret --error-rate 0.3 --seed-data
//! dpp-mock ouranos --account buyer@example.com:Passw0rd --hostile-paging endless-cursor
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use dpp_conformance::mock::ouranos::{
    Account, Break, ClientCredentials, Faults, HostilePaging, MockConfig, MockOuranos,
};

#[derive(Parser)]
#[command(
    name = "dpp-mock",
    about = "Mock data spaces for dpp-gateway tests and demos"
)]
struct Cli {
    #[command(subcommand)]
    mock: MockKind,
}

#[derive(Subcommand)]
enum MockKind {
    /// Mock of the Ouranos Ecosystem data transport and user authentication APIs.
    Ouranos(OuranosArgs),
}

#[derive(clap::Args)]
struct OuranosArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// Value of the `apiKey` header every request must carry.
    #[arg(long, env = "DPP_MOCK_API_KEY", default_value = "mock-api-key")]
    api_key: String,
    /// v1 login account `ID:PASSWORD` (`/auth/login`); repeatable; each is its own operator.
    #[arg(long = "account", value_name = "ID:PASSWORD")]
    accounts: Vec<String>,
    /// v2 client credentials `ID:SECRET` (`/auth/client`); repeatable; each is its own operator.
    #[arg(long = "client", value_name = "ID:SECRET")]
    clients: Vec<String>,
    /// Access-token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl_secs: u64,
    /// Page size of lists when the request gives no `limit` (1..=100).
    #[arg(long, default_value_t = 100)]
    page_size: usize,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Share of requests answered with a 5xx (0..=1).
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Status of injected errors (500, 502, 503, 504).
    #[arg(long, default_value_t = 503)]
    error_status: u16,
    /// Share of requests answered 429 with `Retry-After` (0..=1).
    #[arg(long = "rate-limit-429", default_value_t = 0.0)]
    rate_limit: f64,
    /// `Retry-After` of injected 429s, in seconds.
    #[arg(long, default_value_t = 1)]
    retry_after: u64,
    /// Share of requests whose connection is closed without an answer (0..=1).
    #[arg(long, default_value_t = 0.0)]
    reset_rate: f64,
    /// Share of successful writes stored and then left unanswered (0..=1).
    #[arg(long, default_value_t = 0.0)]
    drop_after_commit_rate: f64,
    /// Share of requests that stall `--stall-ms` before they are handled, so the client times
    /// out (0..=1).
    #[arg(long, default_value_t = 0.0)]
    stall_rate: f64,
    /// How long a stalled request waits, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    stall_ms: u64,
    /// Seed of fault injection and generated ids.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Load the seed data (two operators, plants, parts, a CFP, an answered request).
    #[arg(long)]
    seed_data: bool,
    /// Break, on purpose, the rule that conformance case CASE-ID checks (e.g. OUR-AUTH-02);
    /// repeatable. For proving the suite catches it; never for real use.
    #[arg(long = "break", value_name = "CASE-ID")]
    breaks: Vec<String>,
    /// Play a hostile remote in list paging, for testing clients: `foreign-host` (the `link`
    /// URL names 169.254.169.254, the cursor stays valid), `endless-cursor` (every page links
    /// to a fresh cursor; unknown cursors restart the list) or `oversized-pages` (pages ignore
    /// `limit`). Never for real use.
    #[arg(long, value_name = "MODE")]
    hostile_paging: Option<String>,
}

fn split_pair(raw: &str, what: &str) -> anyhow::Result<(String, String)> {
    match raw.split_once(':') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
            Ok((id.to_owned(), secret.to_owned()))
        }
        _ => bail!("{what} must look like ID:SECRET, got {raw:?}"),
    }
}

fn ouranos_config(args: OuranosArgs) -> anyhow::Result<MockConfig> {
    let faults = Faults {
        latency_ms: args.latency_ms,
        error_rate: args.error_rate,
        error_status: args.error_status,
        rate_limit_rate: args.rate_limit,
        retry_after_secs: args.retry_after,
        reset_rate: args.reset_rate,
        drop_after_commit_rate: args.drop_after_commit_rate,
        stall_rate: args.stall_rate,
        stall_ms: args.stall_ms,
        seed: args.seed,
        ..Faults::default()
    };
    faults.validate().map_err(anyhow::Error::msg)?;
    if !(1..=100).contains(&args.page_size) {
        bail!("--page-size must be within 1..=100, got {}", args.page_size);
    }
    let accounts = args
        .accounts
        .iter()
        .map(|raw| {
            split_pair(raw, "--account").map(|(account_id, password)| Account {
                account_id,
                password,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let clients = args
        .clients
        .iter()
        .map(|raw| {
            split_pair(raw, "--client").map(|(client_id, client_secret)| ClientCredentials {
                client_id,
                client_secret,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let breaks = args
        .breaks
        .iter()
        .map(|id| {
            Break::for_case(id).with_context(|| {
                let known: Vec<&str> = Break::all().map(Break::case_id).collect();
                format!(
                    "--break: no break mode for case {id:?}; known: {}",
                    known.join(", ")
                )
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let hostile_paging = args
        .hostile_paging
        .as_deref()
        .map(|name| {
            HostilePaging::from_name(name).with_context(|| {
                let known: Vec<&str> = HostilePaging::ALL.map(HostilePaging::as_str).to_vec();
                format!(
                    "--hostile-paging: no mode {name:?}; known: {}",
                    known.join(", ")
                )
            })
        })
        .transpose()?;
    Ok(MockConfig {
        listen: args.listen,
        api_key: args.api_key,
        accounts,
        clients,
        token_ttl: Duration::from_secs(args.token_ttl_secs),
        page_size: args.page_size,
        faults,
        seed: args.seed,
        seed_data: args.seed_data,
        breaks,
        hostile_paging,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.mock {
        MockKind::Ouranos(args) => {
            let config = ouranos_config(args)?;
            let mock = MockOuranos::start(config)
                .await
                .context("starting the ouranos mock")?;
            println!("mock ouranos listening on {}", mock.base_url());
            if let Some(mode) = mock.hostile_paging() {
                eprintln!(
                    "warning: paging as a hostile remote on purpose: {}",
                    mode.as_str()
                );
            }
            for rule in mock.breaks() {
                eprintln!(
                    "warning: breaking {} on purpose: {}",
                    rule.case_id(),
                    rule.description()
                );
            }
            tokio::signal::ctrl_c().await?;
            mock.shutdown().await;
        }
    }
    Ok(())
}
