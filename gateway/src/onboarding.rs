//! Partner onboarding: the conformance suite runs against a partner's endpoint with the partner's
//! own registered settings before data flows; the run is recorded and decides the partner's state
//! (`verified` when every mandatory case passed, `failed` otherwise).

use std::path::Path;

use anyhow::{Context, bail};
use dpp_adapters::contract::{EgressPolicy, HttpClient, HttpSettings, SecretSources};
use dpp_adapters::registry::AdapterRegistry;
use dpp_conformance::suite::{self, CaseFilter, DataSpace, ReportFiles, SuiteReport, Target};
use reqwest::Url;

use crate::store::{NewConformanceRun, PartnerState, Store};

/// Prefix of the suite variables handed over from the adapter's resolved credentials.
const VARS: &str = "PARTNER";

/// What a partner check produced.
#[derive(Debug)]
pub struct CheckOutcome {
    /// The suite's report.
    pub report: SuiteReport,
    /// The partner's state after the run.
    pub state: PartnerState,
    /// Report files, when a directory was given.
    pub files: Option<ReportFiles>,
}

/// The suite target for a registered partner: its endpoint and credentials as its adapter reads
/// them, reached through an HTTP client bound by the partner's egress allow-list.
pub async fn target_for_partner(
    store: &Store,
    adapters: &AdapterRegistry,
    secrets: &SecretSources,
    name: &str,
) -> anyhow::Result<Target> {
    let record = store
        .partner(name)
        .await?
        .with_context(|| format!("no partner named {name:?}"))?;
    let data_space: DataSpace = record.adapter_type.parse().map_err(|_| {
        anyhow::anyhow!(
            "the conformance suite has no cases for {} partners",
            record.adapter_type
        )
    })?;
    let factory = adapters.factory(&record.adapter_type)?;
    let checked = factory.validate(&record.adapter_config())?;
    let credentials = factory.conformance_credentials(&checked, secrets).await?;
    let policy = EgressPolicy::allowing(&record.allowed_hosts);
    let endpoint = Url::parse(&credentials.endpoint)
        .with_context(|| format!("endpoint {}", credentials.endpoint))?;
    // The suite speaks HTTP itself; IP-literal endpoints bypass the DNS-time guard, so check here.
    policy.check_url(&endpoint)?;
    let http = HttpClient::new(policy, &HttpSettings::default())?.reqwest_client();
    let target = Target::from_vars(data_space, &credentials.endpoint, VARS, |var| {
        var.strip_prefix(VARS)
            .and_then(|v| v.strip_prefix('_'))
            .and_then(|suffix| credentials.vars.get(suffix).cloned())
    })?;
    Ok(target.with_http_client(http))
}

/// Runs every case against partner `name`, writes the reports to `report_dir` (if given), records
/// the run and sets the partner's state from it.
pub async fn check_partner(
    store: &Store,
    adapters: &AdapterRegistry,
    secrets: &SecretSources,
    name: &str,
    report_dir: Option<&Path>,
    actor: &str,
) -> anyhow::Result<CheckOutcome> {
    let target = target_for_partner(store, adapters, secrets, name).await?;
    let report = suite::run(&target, &CaseFilter::all()).await;
    let files = match report_dir {
        Some(dir) => Some(
            report
                .write(dir)
                .with_context(|| format!("cannot write the reports to {}", dir.display()))?,
        ),
        None => None,
    };
    let summary = &report.summary;
    let run = NewConformanceRun {
        partner: name.to_owned(),
        passed: summary.passed as i64,
        failed: summary.failed as i64,
        mandatory_failed: summary.mandatory_failed as i64,
        report_dir: report_dir.map(|d| d.display().to_string()),
        report_json: report.to_json()?,
        actor: actor.to_owned(),
    };
    let state = store.record_conformance_run(&run).await?;
    if summary.total == 0 {
        bail!("the suite ran no case against {name}");
    }
    tracing::info!(
        partner = name,
        passed = summary.passed,
        failed = summary.failed,
        mandatory_failed = summary.mandatory_failed,
        state = state.as_str(),
        "partner conformance checked"
    );
    Ok(CheckOutcome {
        report,
        state,
        files,
    })
}
