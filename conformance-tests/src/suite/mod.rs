//! The conformance suite: numbered cases per data space, run over HTTP against a mock or a
//! partner's live endpoint, with reports in JSON, JUnit XML and one HTML page.
//!
//! The suite shares no code with the gateway's adapters: it speaks the published API itself and
//! checks every answer against the official schemas (`dpp_schemas::wire`), so it judges a
//! partner's endpoint (and our adapters' assumptions) independently.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dpp_conformance::suite::ConformanceError> {
//! use dpp_conformance::suite::{self, CaseFilter, DataSpace, Target};
//!
//! let target = Target::from_env(DataSpace::Ouranos, "https://partner.example", "OURANOS")?;
//! let report = suite::run(&target, &CaseFilter::all()).await;
//! report.write(std::path::Path::new("conformance-report"))?;
//! if report.mandatory_failed() {
//!     std::process::exit(1);
//! }
//! # Ok(()) }
//! ```

mod html;
mod ouranos;
mod probe;
mod report;
mod target;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use report::{
    CaseReport, Exchange, Outcome, ReportFiles, RequestExcerpt, ResponseExcerpt, SuiteReport,
    Summary,
};
pub use target::{Credentials, Login, Secret, Target};

/// A data space the suite has cases for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DataSpace {
    /// Ouranos Ecosystem (Japan): data-transaction-system v3.0.0, ic-user-auth v0.0.5.
    Ouranos,
}

impl DataSpace {
    /// Every data space with cases.
    pub const ALL: [DataSpace; 1] = [DataSpace::Ouranos];

    /// The adapter `type` name (`ouranos`).
    pub fn as_str(self) -> &'static str {
        match self {
            DataSpace::Ouranos => "ouranos",
        }
    }

    /// The prefix of its case ids (`OUR`).
    pub fn case_prefix(self) -> &'static str {
        match self {
            DataSpace::Ouranos => "OUR",
        }
    }

    /// Whether the data space signs payloads, so that the suite has signature cases for it.
    /// Ouranos does no payload signing: it has none.
    pub fn signs_payloads(self) -> bool {
        match self {
            DataSpace::Ouranos => false,
        }
    }
}

impl fmt::Display for DataSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DataSpace {
    type Err = ConformanceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DataSpace::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ConformanceError::UnknownDataSpace { name: s.to_owned() })
    }
}

/// How much a case matters for onboarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Must pass for a partner to be verified.
    Mandatory,
    /// Reported, but does not block verification.
    Recommended,
}

impl Level {
    /// `mandatory` / `recommended`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Mandatory => "mandatory",
            Level::Recommended => "recommended",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One case of the suite, as `dpp-gateway conformance list` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CaseInfo {
    /// Stable id: `{data space prefix}-{area}-{number}`, e.g. `OUR-PARTS-03`. Never reused.
    pub id: &'static str,
    /// The data space.
    pub data_space: DataSpace,
    /// The area (`AUTH`, `PARTS`, …), the middle of the id.
    pub area: &'static str,
    /// Mandatory or recommended.
    pub level: Level,
    /// One line: what the endpoint must do.
    pub description: &'static str,
    /// The published file and location the case checks, relative to `shared/specs/`.
    pub spec: &'static str,
}

/// Every case of every data space, in run order.
pub fn cases() -> Vec<CaseInfo> {
    DataSpace::ALL.into_iter().flat_map(cases_for).collect()
}

/// The cases of one data space, in run order.
pub fn cases_for(data_space: DataSpace) -> Vec<CaseInfo> {
    match data_space {
        DataSpace::Ouranos => ouranos::CASES.to_vec(),
    }
}

/// Which cases to run: all by default; ids (`OUR-PARTS-03`) or id prefixes ending in `*`
/// (`OUR-AUTH-*`), and optionally mandatory ones only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    patterns: Vec<String>,
    mandatory_only: bool,
}

impl CaseFilter {
    /// Every case.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only the cases matching one of `patterns` (case-insensitive; `*` at the end matches any
    /// rest). An empty list means all.
    pub fn ids<S: Into<String>>(patterns: impl IntoIterator<Item = S>) -> Self {
        Self {
            patterns: patterns
                .into_iter()
                .map(|p| p.into().trim().to_ascii_uppercase())
                .filter(|p| !p.is_empty())
                .collect(),
            mandatory_only: false,
        }
    }

    /// Keeps mandatory cases only.
    pub fn mandatory_only(mut self) -> Self {
        self.mandatory_only = true;
        self
    }

    /// Whether `case` is selected.
    pub fn matches(&self, case: &CaseInfo) -> bool {
        if self.mandatory_only && case.level != Level::Mandatory {
            return false;
        }
        self.patterns.is_empty()
            || self.patterns.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => case.id.starts_with(prefix),
                None => case.id == p,
            })
    }
}

/// Runs the selected cases of `target`'s data space against its endpoint, in order, and reports
/// each one. Never fails as a whole: an unreachable endpoint fails the cases.
pub async fn run(target: &Target, filter: &CaseFilter) -> SuiteReport {
    match target.data_space() {
        DataSpace::Ouranos => ouranos::run(target, filter).await,
    }
}

/// Errors at the suite's public edge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConformanceError {
    /// An environment variable the credentials need is not set.
    #[error("environment variable {name} is not set")]
    MissingVariable {
        /// The variable (or the alternatives) missing.
        name: String,
    },
    /// Both v1 and v2 credentials are set under one prefix.
    #[error("both {prefix}_ACCOUNT and {prefix}_CLIENT_ID are set; set only one login")]
    AmbiguousCredentials {
        /// The prefix.
        prefix: String,
    },
    /// The endpoint is not an http(s) base URL.
    #[error("endpoint must be an http(s) base url without query, got {endpoint:?}")]
    InvalidEndpoint {
        /// What was given.
        endpoint: String,
    },
    /// No such data space.
    #[error("no conformance cases for data space {name:?}")]
    UnknownDataSpace {
        /// What was given.
        name: String,
    },
    /// Writing a report file failed.
    #[error("writing {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Serialising a report failed.
    #[error("serialising the {format} report: {message}")]
    Serialize {
        /// `json` or `junit`.
        format: &'static str,
        /// The cause.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn case_ids_are_unique_well_formed_and_carry_a_spec_reference() {
        let all = cases();
        let ids: BTreeSet<&str> = all.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), all.len(), "duplicate case ids");
        for case in &all {
            let parts: Vec<&str> = case.id.split('-').collect();
            assert_eq!(parts.len(), 3, "{}", case.id);
            assert_eq!(parts[0], case.data_space.case_prefix(), "{}", case.id);
            assert_eq!(parts[1], case.area, "{}", case.id);
            assert!(
                parts[2].len() == 2 && parts[2].chars().all(|c| c.is_ascii_digit()),
                "{}",
                case.id
            );
            assert!(case.spec.starts_with("ouranos/"), "{}", case.spec);
            assert!(!case.description.is_empty() && !case.description.ends_with('.'));
        }
        assert!(!DataSpace::Ouranos.signs_payloads());
        assert!(all.iter().all(|c| c.area != "SIG"), "ouranos signs nothing");
    }

    #[test]
    fn filters_select_by_id_prefix_and_level() {
        let all = cases();
        let auth: Vec<_> = all
            .iter()
            .filter(|c| CaseFilter::ids(["our-auth-*"]).matches(c))
            .collect();
        assert!(auth.len() >= 6 && auth.iter().all(|c| c.area == "AUTH"));
        let one: Vec<_> = all
            .iter()
            .filter(|c| CaseFilter::ids(["OUR-PARTS-03"]).matches(c))
            .collect();
        assert_eq!(one.len(), 1);
        assert!(
            all.iter()
                .filter(|c| CaseFilter::all().mandatory_only().matches(c))
                .all(|c| c.level == Level::Mandatory)
        );
        assert_eq!("Ouranos".parse::<DataSpace>().unwrap(), DataSpace::Ouranos);
        assert!("gaiax".parse::<DataSpace>().is_err());
    }
}
