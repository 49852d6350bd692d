//! The `dpp-gateway` command line: serve, demo, keys, passport import/export, partners,
//! config validate.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use dpp_schemas::SchemaRegistry;
use indicatif::ProgressStyle;

use crate::app::{Gateway, bind, open_existing_store, open_store, shutdown_signal};
use crate::config::{Config, Overrides, redact_url};
use crate::service::{PassportService, ServiceError};
use crate::store::PassportFilter;
use crate::trust::KeyStore;

/// Federation gateway for digital product passports.
#[derive(Debug, Parser)]
#[command(
    name = "dpp-gateway",
    version,
    about,
    after_help = "Environment: DPP_GATEWAY_CONFIG (config file), DPP_GATEWAY_ADMIN_TOKEN, \
DPP_GATEWAY_READER_TOKEN, DPP_GATEWAY_METRICS_TOKEN, DPP_GATEWAY_<KEY> for any config key \
(nested with __, e.g. DPP_GATEWAY_SECRETS__DIR), DPP_GATEWAY_LOG (log filter, e.g. debug,sqlx=warn).

Examples:
  dpp-gateway demo
  DPP_GATEWAY_ADMIN_TOKEN=... dpp-gateway serve -c gateway.toml --listen 0.0.0.0:8080
  dpp-gateway config validate -c gateway.toml
  dpp-gateway completions bash > /etc/bash_completion.d/dpp-gateway"
)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    #[command(
        after_help = "Needs an admin token (DPP_GATEWAY_ADMIN_TOKEN or auth.admin_tokens). \
Reads DPP_GATEWAY_CONFIG and every DPP_GATEWAY_<KEY>.

Example:
  DPP_GATEWAY_ADMIN_TOKEN=$(openssl rand -hex 16) dpp-gateway serve --listen 127.0.0.1:8080 --data-dir /var/lib/dpp-gateway"
    )]
    Serve(ServeArgs),
    /// Run a self-contained demo with seeded plastics passports (temp data dir).
    Demo(DemoArgs),
    /// Manage signing keys.
    Keys {
        /// Which key operation.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Import or export passports.
    Passport {
        /// Which passport operation.
        #[command(subcommand)]
        command: PassportCommand,
    },
    /// Register, list, show and remove partners (works on the store directly).
    Partner {
        /// Which partner operation.
        #[command(subcommand)]
        command: PartnerCommand,
    },
    /// Run or list the conformance suite that checks a data-space endpoint before data flows.
    Conformance {
        /// Which conformance operation.
        #[command(subcommand)]
        command: ConformanceCommand,
    },
    /// Check configuration.
    Config {
        /// Which config operation.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  dpp-gateway completions zsh > ~/.zfunc/_dpp-gateway")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Where the configuration comes from.
#[derive(Debug, Args, Clone, Default)]
pub struct ConfigArgs {
    /// TOML config file (env `DPP_GATEWAY_*` and these flags override it).
    #[arg(long, short = 'c', env = "DPP_GATEWAY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (keys, SQLite database).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// `postgres://…` to use PostgreSQL instead of the embedded SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
}

impl ConfigArgs {
    /// Loads the effective configuration.
    pub fn load(&self) -> anyhow::Result<Config> {
        self.load_with(None)
    }

    /// Loads the effective configuration, with `listen` (from `serve --listen`) on top.
    pub fn load_with(&self, listen: Option<SocketAddr>) -> anyhow::Result<Config> {
        let overrides = Overrides {
            listen,
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
        };
        Ok(Config::load(self.config.as_deref(), &overrides)?)
    }
}

/// `serve` options: the configuration and where to listen.
#[derive(Debug, Args, Clone, Default)]
pub struct ServeArgs {
    /// Listen address, e.g. 0.0.0.0:8080 (overrides `listen` of the file and DPP_GATEWAY_LISTEN).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `demo` options.
#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Listen address (default 127.0.0.1:8080; with --once a free port unless given).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Run the scenario, verify every signed passport against the published JWKS, print a summary, exit.
    #[arg(long)]
    pub once: bool,
}

/// `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate the first signing key (fails if keys exist).
    Generate(ConfigArgs),
    /// Add a new active key; old public keys stay published.
    Rotate(ConfigArgs),
    /// List keys with their state (active, retired, revoked).
    List(ConfigArgs),
    /// Revoke a key: it verifies nothing any more, not even what it signed, and is no longer
    /// published; its private key file is deleted. Irreversible.
    Revoke {
        /// The key id (as `keys list` shows it).
        kid: String,
        /// Also make a new active key in the same step; required to revoke the active key.
        #[arg(long)]
        rotate: bool,
        /// Configuration.
        #[command(flatten)]
        config: ConfigArgs,
    },
}

/// `passport` subcommands.
#[derive(Debug, Subcommand)]
pub enum PassportCommand {
    /// Import passports from a JSON Lines file (one passport per line); bad lines are reported by number.
    Import {
        /// The JSONL file (`-` for stdin).
        file: PathBuf,
        /// Configuration.
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Export the latest version of every passport as JSON Lines.
    Export {
        /// Output file (default stdout).
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// Configuration.
        #[command(flatten)]
        config: ConfigArgs,
    },
}

/// `partner` subcommands.
#[derive(Debug, Subcommand)]
pub enum PartnerCommand {
    /// Register a partner; checked exactly as `POST /api/v1/partners` checks it.
    Add(PartnerAddArgs),
    /// List partners.
    List(ConfigArgs),
    /// Show one partner as JSON (credential references only).
    Show {
        /// The partner's name.
        name: String,
        /// Configuration.
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Run the conformance suite against the partner's endpoint with its registered settings and
    /// record the result: state `verified` when every mandatory case passes, else `failed`.
    Check {
        /// The partner's name.
        name: String,
        /// Write report.json, junit.xml and report.html here.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Configuration.
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Change a partner with a JSON merge patch over its registration (TOML or `.json`), checked
    /// like `partner add`; a new endpoint, type, settings or allowed hosts send it back to
    /// `registered` (run `partner check` again).
    #[command(
        after_help = "Example (patch.toml):\n  endpoint = \"https://ouranos-2.example/\"\n  [limits]\n  requestsPerSecond = 5.0\n\n  dpp-gateway partner update ouranos-tokai --patch patch.toml"
    )]
    Update {
        /// The partner's name.
        name: String,
        /// The merge patch.
        #[arg(long)]
        patch: PathBuf,
        /// Configuration.
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Remove a partner; its undelivered exchanges become dead.
    Remove {
        /// The partner's name.
        name: String,
        /// Configuration.
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// The tokens a partner calls `/partner/v1` with.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `partner token …`.
#[derive(Debug, Subcommand, Clone)]
pub enum TokenCommand {
    /// Issue a new token and print it: it is shown this once, only its SHA-256 is kept.
    Issue {
        /// The partner's name.
        name: String,
        /// Configuration.
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// List the partner's tokens (id, digest hint, creation time; never the token).
    List {
        /// The partner's name.
        name: String,
        /// Configuration.
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Revoke one token by its id.
    Revoke {
        /// The partner's name.
        name: String,
        /// The token's id (from `partner token list`).
        id: String,
        /// Configuration.
        #[command(flatten)]
        config: ConfigArgs,
    },
}

/// `partner add` options.
#[derive(Debug, Args, Clone)]
pub struct PartnerAddArgs {
    /// Unique slug (lowercase letters, digits, '-').
    pub name: String,
    /// Adapter type, e.g. `ouranos`.
    #[arg(long = "type")]
    pub adapter_type: String,
    /// The remote's base URL.
    #[arg(long)]
    pub endpoint: String,
    /// TOML or JSON file with the rest of the adapter table; credentials as
    /// `{ env = "NAME" }` or `{ file = "/path" }`, never inline.
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// A host the partner's client may reach although it is not public (repeatable).
    #[arg(long = "allowed-host")]
    pub allowed_hosts: Vec<String>,
    /// TOML or JSON file with the access policy (`[passports]`, `[fields]`).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// TOML or JSON file with its limits on `/partner/v1` (`requestsPerSecond`, `burst`,
    /// `maxConcurrent`); the `[inbound]` defaults otherwise.
    #[arg(long)]
    pub limits: Option<PathBuf>,
    /// Allow deliveries without a conformance run (state `trusted-unchecked`).
    #[arg(long)]
    pub trusted_unchecked: bool,
    /// Configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `conformance` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConformanceCommand {
    /// Print every case with its id, level, description and the spec it checks.
    List,
    /// Run the suite against an endpoint; exits 1 when a mandatory case fails.
    Run(Box<ConformanceRunArgs>),
}

/// `conformance run` options: a registered partner, or an adapter + endpoint + credentials.
#[derive(Debug, Args, Clone)]
pub struct ConformanceRunArgs {
    /// Check a registered partner with its own settings (instead of --adapter/--endpoint).
    #[arg(long, conflicts_with_all = ["adapter", "endpoint", "credentials_from"])]
    pub partner: Option<String>,
    /// Data space of the endpoint, e.g. `ouranos`.
    #[arg(long, requires_all = ["endpoint", "credentials_from"])]
    pub adapter: Option<String>,
    /// Base URL of the endpoint.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Environment-variable prefix of the credentials, e.g. `OURANOS` reads `OURANOS_API_KEY` and
    /// `OURANOS_ACCOUNT`/`OURANOS_PASSWORD` or `OURANOS_CLIENT_ID`/`OURANOS_CLIENT_SECRET`.
    #[arg(long)]
    pub credentials_from: Option<String>,
    /// Only these cases (ids or `PREFIX-*` patterns, repeatable).
    #[arg(long = "case")]
    pub cases: Vec<String>,
    /// Write report.json, junit.xml and report.html here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Configuration (for --partner).
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and check the configuration without starting anything; prints the effective values.
    Validate(ConfigArgs),
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            let config = args.config.load_with(args.listen)?;
            if config.auth.admin_tokens.is_empty() {
                bail!(
                    "no admin token configured: set DPP_GATEWAY_ADMIN_TOKEN or auth.admin_tokens in the config file"
                );
            }
            let listen = config.listen;
            if !listen.ip().is_loopback() && config.auth.metrics_tokens.is_empty() {
                tracing::warn!(
                    listen = %listen,
                    "/metrics is open to anyone who reaches this address and names partners; set DPP_GATEWAY_METRICS_TOKEN (auth.metrics_tokens)"
                );
            }
            let gateway = Gateway::build(config).await?;
            let listener = bind(listen).await?;
            tracing::info!(listen = %listener.local_addr()?, kid = gateway.keys.signer().kid(), "dpp-gateway serving");
            // A second Ctrl-C / SIGTERM during the grace stops at once.
            gateway
                .serve_until(listener, shutdown_signal(), shutdown_signal)
                .await?;
        }
        Command::Demo(args) => return crate::demo::run(args).await,
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            use std::io::Write as _;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "dpp-gateway", &mut script);
            // A closed pipe (`| head`) is the reader's choice, not an error.
            match std::io::stdout().write_all(&script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
                _ => {}
            }
        }
        Command::Keys { command } => keys(command)?,
        Command::Passport {
            command: PassportCommand::Import { file, config },
        } => {
            return import(&file, &config.load()?).await;
        }
        Command::Passport {
            command: PassportCommand::Export { output, config },
        } => {
            export(output.as_deref(), &config.load()?).await?;
        }
        Command::Partner { command } => return partner(command).await,
        Command::Conformance { command } => return conformance(command).await,
        Command::Config {
            command: ConfigCommand::Validate(args),
        } => {
            let mut config = args.load()?;
            // Everything `serve` would refuse, each said once (stdout), then one summary.
            let mut problems = Vec::new();
            if config.auth.admin_tokens.is_empty() {
                problems.push(
                    "no admin token configured, so `serve` would refuse to start: set DPP_GATEWAY_ADMIN_TOKEN or auth.admin_tokens"
                        .to_owned(),
                );
            }
            let admin = config.auth.admin_tokens.len();
            let readers = config.auth.reader_tokens.len();
            let scrapers = config.auth.metrics_tokens.len();
            config.auth.admin_tokens = vec![format!("({admin} token(s), hidden)")];
            config.auth.reader_tokens = vec![format!("({readers} token(s), hidden)")];
            config.auth.metrics_tokens = vec![format!("({scrapers} token(s), hidden)")];
            config.database_url = config.database_url.as_deref().map(redact_url);
            println!(
                "{}",
                toml::to_string_pretty(&config).context("cannot print the configuration")?
            );
            if let Err(e) = check_partners(&config).await {
                problems.push(format!("{e:#}"));
            }
            if !problems.is_empty() {
                for problem in &problems {
                    println!("# error: {problem}");
                }
                bail!(
                    "the configuration has {} problem(s), listed above",
                    problems.len()
                );
            }
            println!("# configuration is valid");
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn keys(command: KeysCommand) -> anyhow::Result<()> {
    let print = |keys: &KeyStore| {
        println!("{:<45} {:<8} {:<6} created", "kid", "status", "alg");
        for k in keys.list() {
            let revoked = k
                .revoked_at
                .map(|at| format!(" (revoked {at})"))
                .unwrap_or_default();
            println!(
                "{:<45} {:<8} {:<6} {}{revoked}",
                k.kid,
                k.status.as_str(),
                k.alg,
                k.created_at
            );
        }
    };
    match command {
        KeysCommand::Generate(args) => {
            let config = args.load()?;
            let keys = KeyStore::generate(&config.data_dir)?;
            println!(
                "generated signing key in {}",
                config.data_dir.join("keys").display()
            );
            print(&keys);
        }
        KeysCommand::Rotate(args) => {
            let config = args.load()?;
            let mut keys = KeyStore::open(&config.data_dir)?;
            let kid = keys.rotate()?;
            println!(
                "new active key {kid}; previous keys stay published in the JWKS (restart `serve` to sign with it)"
            );
            print(&keys);
        }
        KeysCommand::List(args) => print(&KeyStore::open(&args.load()?.data_dir)?),
        KeysCommand::Revoke {
            kid,
            rotate,
            config,
        } => {
            let config = config.load()?;
            let mut keys = KeyStore::open(&config.data_dir)?;
            if rotate {
                let (_, new_kid) = keys.rotate_revoking(&kid)?;
                println!("revoked key {kid}; new active key {new_kid}");
            } else {
                keys.revoke(&kid)?;
                println!("revoked key {kid}");
            }
            // This process changed files only: a running gateway learns it on restart, or at
            // once through its API.
            println!(
                "a running `serve` keeps its keys until restarted; to revoke a key in a running gateway at once, use POST /api/v1/keys/{{kid}}/revoke"
            );
            print(&keys);
        }
    }
    Ok(())
}

fn progress(len: Option<u64>, what: &str) -> crate::log_output::ProgressGuard {
    let bar = crate::log_output::progress_bar(len);
    let template =
        format!("{{spinner}} {what} [{{bar:40}}] {{pos}}/{{len}} ({{per_sec}}, eta {{eta}})");
    bar.set_style(
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

async fn service_for(config: &Config) -> anyhow::Result<PassportService> {
    let keys = KeyStore::open_or_generate(&config.data_dir)?;
    let store = open_store(config).await?;
    let schemas = Arc::new(SchemaRegistry::new().context("cannot compile the bundled schemas")?);
    Ok(PassportService::new(store, schemas, keys.signer()))
}

/// `passport import`: every line goes through the same validate → sign → store path as the API.
async fn import(file: &Path, config: &Config) -> anyhow::Result<std::process::ExitCode> {
    let service = service_for(config).await?;
    let (reader, total): (Box<dyn BufRead>, Option<u64>) = if file == Path::new("-") {
        (Box::new(BufReader::new(std::io::stdin())), None)
    } else {
        let count = BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
        )
        .lines()
        .count() as u64;
        (
            Box::new(BufReader::new(std::fs::File::open(file)?)),
            Some(count),
        )
    };
    let bar = progress(total, "importing");
    let (mut imported, mut failed) = (0u64, 0u64);
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        bar.inc(1);
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                failed += 1;
                bar.suspend(|| eprintln!("line {number}: cannot be read: {e}"));
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        // The same strict parser as the API (duplicate keys refused).
        let outcome = match crate::api::parse_json(line.as_bytes()) {
            Err(problem) => Err(problem.detail.trim_start_matches("the body is ").to_owned()),
            Ok(value) => service
                .create(value, "import")
                .await
                .map_err(|e| describe(&e)),
        };
        match outcome {
            Ok(_) => imported += 1,
            Err(message) => {
                failed += 1;
                bar.suspend(|| eprintln!("line {number}: {message}"));
            }
        }
    }
    bar.finish_and_clear();
    println!("imported {imported} passport(s), {failed} line(s) refused");
    Ok(if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    })
}

fn describe(err: &ServiceError) -> String {
    match err {
        ServiceError::Invalid { kind, violations } => {
            let list: Vec<_> = violations
                .iter()
                .map(|v| {
                    format!(
                        "{}: {}",
                        if v.pointer.is_empty() {
                            "/"
                        } else {
                            &v.pointer
                        },
                        v.message
                    )
                })
                .collect();
            format!("{kind} refused: {}", list.join("; "))
        }
        other => other.to_string(),
    }
}

async fn export(output: Option<&Path>, config: &Config) -> anyhow::Result<()> {
    let store = open_existing_store(config).await?;
    let total = store.passport_count().await?;
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let bar = progress(Some(total.max(0) as u64), "exporting");
    let mut cursor: Option<String> = None;
    let mut written = 0u64;
    loop {
        let page = store
            .list_passports(&PassportFilter::default(), cursor.as_deref(), 500)
            .await?;
        for passport in &page.items {
            out.write_all(passport.canonical_json.as_bytes())?;
            out.write_all(b"\n")?;
            written += 1;
            bar.inc(1);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    out.flush()?;
    bar.finish_and_clear();
    eprintln!("exported {written} passport(s)");
    Ok(())
}

/// Reads a TOML or JSON table (by extension; `.json` is JSON, anything else TOML).
fn read_table(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?
    } else {
        let table: toml::Table =
            toml::from_str(&text).with_context(|| format!("{} is not TOML", path.display()))?;
        serde_json::to_value(table)?
    };
    if !value.is_object() {
        bail!("{} must hold a table", path.display());
    }
    Ok(value)
}

async fn partner(command: PartnerCommand) -> anyhow::Result<std::process::ExitCode> {
    let adapters = dpp_adapters::AdapterRegistry::with_builtin_adapters();
    match command {
        PartnerCommand::Add(args) => {
            let config = args.config.load()?;
            let mut doc = serde_json::json!({
                "name": args.name,
                "type": args.adapter_type,
                "endpoint": args.endpoint,
                "allowedHosts": args.allowed_hosts,
            });
            if let Some(path) = &args.settings {
                doc["settings"] = read_table(path)?;
            }
            if let Some(path) = &args.policy {
                doc["policy"] = read_table(path)?;
            }
            if let Some(path) = &args.limits {
                doc["limits"] = read_table(path)?;
            }
            if args.trusted_unchecked {
                doc["state"] = "trusted-unchecked".into();
            }
            let registration: crate::exchange::PartnerRegistration =
                serde_json::from_value(doc).context("invalid partner registration")?;
            let schemas = SchemaRegistry::new().context("cannot compile the bundled schemas")?;
            let secrets = config.secret_sources()?;
            let record = match registration.check(&adapters, &schemas, &secrets) {
                Ok(record) => record,
                Err(violations) => {
                    eprintln!("partner refused:");
                    for v in violations {
                        eprintln!(
                            "  {}: {}",
                            if v.pointer.is_empty() {
                                "/"
                            } else {
                                &v.pointer
                            },
                            v.message
                        );
                    }
                    return Ok(std::process::ExitCode::from(1));
                }
            };
            let store = open_store(&config).await?;
            let stored = match store.insert_partner(&record, "cli").await {
                Ok(stored) => stored,
                Err(crate::store::StoreError::Duplicate) => {
                    bail!("a partner named {} exists already", record.name)
                }
                Err(e) => return Err(e.into()),
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::exchange::PartnerView::of(
                    &stored, &adapters
                ))?
            );
        }
        PartnerCommand::List(args) => {
            let store = open_existing_store(&args.load()?).await?;
            let partners = store.partners().await?;
            // Columns as wide as their longest value, so long names do not shift the rest.
            let width = |header: &str, values: Vec<usize>| {
                values.into_iter().chain([header.len()]).max().unwrap_or(0)
            };
            let name_w = width("name", partners.iter().map(|p| p.name.len()).collect());
            let type_w = width(
                "type",
                partners.iter().map(|p| p.adapter_type.len()).collect(),
            );
            let state_w = width(
                "state",
                partners.iter().map(|p| p.state.as_str().len()).collect(),
            );
            println!(
                "{:<name_w$}  {:<type_w$}  {:<state_w$}  endpoint",
                "name", "type", "state"
            );
            for p in &partners {
                println!(
                    "{:<name_w$}  {:<type_w$}  {:<state_w$}  {}",
                    p.name,
                    p.adapter_type,
                    p.state.as_str(),
                    p.endpoint
                );
            }
        }
        PartnerCommand::Show { name, config } => {
            let store = open_existing_store(&config.load()?).await?;
            let Some(record) = store.partner(&name).await? else {
                bail!("no partner named {name:?}");
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::exchange::PartnerView::of(
                    &record, &adapters
                ))?
            );
        }
        PartnerCommand::Check {
            name,
            report,
            config,
        } => {
            let config = config.load()?;
            let secrets = config.secret_sources()?;
            let store = open_existing_store(&config).await?;
            let outcome = crate::onboarding::check_partner(
                &store,
                &adapters,
                &secrets,
                &name,
                report.as_deref(),
                "cli",
            )
            .await?;
            print_report(&outcome.report, outcome.files.as_ref());
            println!("partner {name} is now {}", outcome.state);
            return Ok(if outcome.report.mandatory_failed() {
                std::process::ExitCode::from(1)
            } else {
                std::process::ExitCode::SUCCESS
            });
        }
        PartnerCommand::Update {
            name,
            patch,
            config,
        } => {
            let config = config.load()?;
            let patch = read_table(&patch)?;
            let store = open_existing_store(&config).await?;
            let Some(current) = store.partner(&name).await? else {
                bail!("no partner named {name:?}");
            };
            let schemas = SchemaRegistry::new().context("cannot compile the bundled schemas")?;
            let record = match crate::exchange::partners::updated_record(
                &current,
                &patch,
                &adapters,
                &schemas,
                &config.secret_sources()?,
            ) {
                Ok(record) => record,
                Err(violations) => {
                    eprintln!("update refused:");
                    for v in violations {
                        eprintln!("  {}: {}", v.pointer, v.message);
                    }
                    return Ok(std::process::ExitCode::from(1));
                }
            };
            let stored = store
                .update_partner(&record, current.revision, "cli")
                .await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::exchange::PartnerView::of(
                    &stored, &adapters
                ))?
            );
        }
        PartnerCommand::Remove { name, config } => {
            let store = open_existing_store(&config.load()?).await?;
            match store.delete_partner(&name, "cli").await {
                Ok(()) => println!("removed partner {name}"),
                Err(crate::store::StoreError::NotFound) => bail!("no partner named {name:?}"),
                Err(e) => return Err(e.into()),
            }
        }
        PartnerCommand::Token(command) => token(command).await?,
    }
    Ok(std::process::ExitCode::SUCCESS)
}

async fn token(command: TokenCommand) -> anyhow::Result<()> {
    use crate::store::StoreError;
    match command {
        TokenCommand::Issue { name, config } => {
            let store = open_existing_store(&config.load()?).await?;
            match store.issue_partner_token(&name, "cli").await {
                Ok((token, listed)) => {
                    eprintln!(
                        "token {} for partner {name}; it is shown this once:",
                        listed.id
                    );
                    println!("{token}");
                }
                Err(StoreError::NotFound) => bail!("no partner named {name:?}"),
                Err(StoreError::StateConflict(why)) => bail!("{why}"),
                Err(e) => return Err(e.into()),
            }
        }
        TokenCommand::List { name, config } => {
            let store = open_existing_store(&config.load()?).await?;
            if store.partner(&name).await?.is_none() {
                bail!("no partner named {name:?}");
            }
            println!("{:<38} {:<20} created", "id", "hint");
            for t in store.partner_tokens(&name).await? {
                println!("{:<38} {:<20} {}", t.id, t.hint, t.created_at.to_rfc3339());
            }
        }
        TokenCommand::Revoke { name, id, config } => {
            let store = open_existing_store(&config.load()?).await?;
            match store.revoke_partner_token(&name, &id, "cli").await {
                Ok(()) => println!("revoked token {id} of partner {name}"),
                Err(StoreError::NotFound) => bail!("partner {name:?} has no token {id:?}"),
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// `config validate`: every stored partner's adapter table through its adapter's pure
/// `validate` — nothing connects to a partner. A SQLite database that does not exist yet is
/// not created.
async fn check_partners(config: &Config) -> anyhow::Result<()> {
    if config.database_url.is_none()
        && !config
            .data_dir
            .join(crate::store::SQLITE_FILE_NAME)
            .exists()
    {
        println!("# partners: none (no database yet)");
        return Ok(());
    }
    let secrets = config.secret_sources()?;
    let store = open_store(config).await?;
    let adapters = dpp_adapters::AdapterRegistry::with_builtin_adapters();
    let partners = store.partners().await?;
    let mut invalid = 0;
    for p in &partners {
        match crate::exchange::partners::check_stored_partner(p, &adapters, &secrets) {
            Ok(()) => {
                println!(
                    "# partner {} ({}): adapter config valid",
                    p.name, p.adapter_type
                );
                // Valid references that will not resolve here (an unset variable, a missing
                // file) do not stop `serve`, but every call to that partner would fail.
                let settings = serde_json::Value::Object(p.settings.clone());
                for (pointer, reference) in
                    crate::exchange::partners::secret_references(&settings, "/settings")
                {
                    if let Err(e) = secrets.resolve(&reference, &pointer).await {
                        let message = match e {
                            dpp_adapters::contract::AdapterError::Config(m) => m,
                            other => other.to_string(),
                        };
                        println!(
                            "# partner {} ({}): warning: {message}",
                            p.name, p.adapter_type
                        );
                    }
                }
            }
            Err(message) => {
                invalid += 1;
                println!(
                    "# partner {} ({}): INVALID: {message}",
                    p.name, p.adapter_type
                );
            }
        }
    }
    store.close().await;
    if invalid > 0 {
        bail!(
            "{invalid} of {} partner(s) have an invalid adapter config",
            partners.len()
        );
    }
    Ok(())
}

async fn conformance(command: ConformanceCommand) -> anyhow::Result<std::process::ExitCode> {
    use dpp_conformance::suite::{self, CaseFilter, DataSpace, Target};
    match command {
        ConformanceCommand::List => {
            println!("{:<14} {:<11} {:<70} spec", "id", "level", "description");
            for case in suite::cases() {
                println!(
                    "{:<14} {:<11} {:<70} {}",
                    case.id,
                    case.level.as_str(),
                    case.description,
                    case.spec
                );
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        ConformanceCommand::Run(args) => {
            let target = match (
                &args.partner,
                &args.adapter,
                &args.endpoint,
                &args.credentials_from,
            ) {
                (Some(partner), ..) => {
                    let config = args.config.load()?;
                    let secrets = config.secret_sources()?;
                    let store = open_existing_store(&config).await?;
                    let adapters = dpp_adapters::AdapterRegistry::with_builtin_adapters();
                    crate::onboarding::target_for_partner(&store, &adapters, &secrets, partner)
                        .await?
                }
                (None, Some(adapter), Some(endpoint), Some(prefix)) => {
                    let data_space: DataSpace = adapter.parse().map_err(|_| {
                        anyhow::anyhow!("the conformance suite has no cases for {adapter:?}")
                    })?;
                    Target::from_env(data_space, endpoint, prefix)?
                }
                _ => bail!("give --partner NAME, or --adapter, --endpoint and --credentials-from"),
            };
            let filter = if args.cases.is_empty() {
                CaseFilter::all()
            } else {
                CaseFilter::ids(args.cases.clone())
            };
            let report = suite::run(&target, &filter).await;
            let files = match &args.report {
                Some(dir) => Some(report.write(dir)?),
                None => None,
            };
            print_report(&report, files.as_ref());
            Ok(if report.mandatory_failed() {
                std::process::ExitCode::from(1)
            } else {
                std::process::ExitCode::SUCCESS
            })
        }
    }
}

fn print_report(
    report: &dpp_conformance::suite::SuiteReport,
    files: Option<&dpp_conformance::suite::ReportFiles>,
) {
    for case in &report.cases {
        let reason = case.reason.as_deref().unwrap_or("");
        println!(
            "{:<5} {:<14} {:<11} {}",
            case.outcome.as_str(),
            case.id,
            case.level.as_str(),
            reason
        );
    }
    let s = &report.summary;
    println!(
        "{} case(s): {} passed, {} failed ({} mandatory), {} skipped — {}",
        s.total, s.passed, s.failed, s.mandatory_failed, s.skipped, report.endpoint
    );
    if let Some(files) = files {
        println!(
            "reports: {} {} {}",
            files.json.display(),
            files.junit.display(),
            files.html.display()
        );
    }
}
