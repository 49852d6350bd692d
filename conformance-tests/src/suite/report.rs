//! The outcome of a suite run and its three renderings: `report.json` (machine), `junit.xml`
//! (partners' CI) and `report.html` (one self-contained page for people).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};
use serde::{Deserialize, Serialize};

use super::{CaseInfo, ConformanceError, DataSpace, Level};

/// Version of the `report.json` layout.
pub const REPORT_FORMAT: u32 = 1;

/// What happened to one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every check held.
    Pass,
    /// A check failed, or the endpoint did not answer (see the reason).
    Fail,
    /// Not applicable to this target (see the reason).
    Skip,
}

impl Outcome {
    /// `pass` / `fail` / `skip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
        }
    }
}

/// A request as sent, with secrets redacted and the body cut to an excerpt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestExcerpt {
    /// HTTP method.
    pub method: String,
    /// Full URL.
    pub url: String,
    /// Headers that matter for the check (`apiKey`, `Authorization`), values redacted unless
    /// they are the suite's own deliberately wrong ones.
    pub headers: BTreeMap<String, String>,
    /// Body excerpt (secrets redacted), if there was a body.
    pub body: Option<String>,
}

/// The answer as received: status, a subset of headers, the body cut to an excerpt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseExcerpt {
    /// HTTP status.
    pub status: u16,
    /// `content-type`, `link`, `x-track`, `retry-after`, `location` when present.
    pub headers: BTreeMap<String, String>,
    /// Body excerpt (tokens redacted), if there was a body.
    pub body: Option<String>,
}

/// One request of a case and what came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// The request.
    pub request: RequestExcerpt,
    /// The answer, unless there was none.
    pub response: Option<ResponseExcerpt>,
    /// Why there was no answer (connection refused, timeout, …).
    pub error: Option<String>,
    /// Round trip in milliseconds.
    pub duration_ms: u64,
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseReport {
    /// Case id (`OUR-PARTS-03`).
    pub id: String,
    /// Area (`PARTS`).
    pub area: String,
    /// Mandatory or recommended.
    pub level: Level,
    /// What the case checks.
    pub description: String,
    /// The spec location it checks.
    pub spec: String,
    /// Pass, fail or skip.
    pub outcome: Outcome,
    /// Why it failed or was skipped; for a pass, an optional note.
    pub reason: Option<String>,
    /// How long the case took, in milliseconds.
    pub duration_ms: u64,
    /// Every request the case made, in order (prerequisites included).
    pub exchanges: Vec<Exchange>,
}

impl CaseReport {
    pub(crate) fn new(
        info: &CaseInfo,
        outcome: Outcome,
        reason: Option<String>,
        duration: Duration,
        exchanges: Vec<Exchange>,
    ) -> Self {
        Self {
            id: info.id.to_owned(),
            area: info.area.to_owned(),
            level: info.level,
            description: info.description.to_owned(),
            spec: info.spec.to_owned(),
            outcome,
            reason,
            duration_ms: millis(duration),
            exchanges,
        }
    }
}

/// Counts over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Cases run.
    pub total: usize,
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Skipped.
    pub skipped: usize,
    /// Mandatory cases that failed.
    pub mandatory_failed: usize,
}

/// The result of a suite run. Serialises to `report.json`; deserialises back (for a stored
/// partner report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteReport {
    /// Layout version ([`REPORT_FORMAT`]).
    pub format: u32,
    /// `dpp-conformance <version>`.
    pub suite: String,
    /// The data space checked.
    pub data_space: DataSpace,
    /// The endpoint checked.
    pub endpoint: String,
    /// How the suite logged in (no secrets), e.g. `v1 account buyer@example.com`.
    pub login: String,
    /// Unique per run; names the test data the run created (`DPPCONF-<run_id>-…`).
    pub run_id: String,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// Counts.
    pub summary: Summary,
    /// One entry per case run, in run order.
    pub cases: Vec<CaseReport>,
}

/// Where [`SuiteReport::write`] put the reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFiles {
    /// `DIR/report.json`.
    pub json: PathBuf,
    /// `DIR/junit.xml`.
    pub junit: PathBuf,
    /// `DIR/report.html`.
    pub html: PathBuf,
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl SuiteReport {
    /// Assembles a report and computes its summary.
    pub(crate) fn new(
        target_data_space: DataSpace,
        endpoint: &str,
        login: String,
        run_id: String,
        started_at: DateTime<Utc>,
        duration: Duration,
        cases: Vec<CaseReport>,
    ) -> Self {
        let count = |o: Outcome| cases.iter().filter(|c| c.outcome == o).count();
        let summary = Summary {
            total: cases.len(),
            passed: count(Outcome::Pass),
            failed: count(Outcome::Fail),
            skipped: count(Outcome::Skip),
            mandatory_failed: cases
                .iter()
                .filter(|c| c.outcome == Outcome::Fail && c.level == Level::Mandatory)
                .count(),
        };
        Self {
            format: REPORT_FORMAT,
            suite: format!("dpp-conformance {}", env!("CARGO_PKG_VERSION")),
            data_space: target_data_space,
            endpoint: endpoint.to_owned(),
            login,
            run_id,
            started_at,
            duration_ms: millis(duration),
            summary,
            cases,
        }
    }

    /// Whether a mandatory case failed: the partner is not verified and the CLI exits non-zero.
    pub fn mandatory_failed(&self) -> bool {
        self.cases
            .iter()
            .any(|c| c.level == Level::Mandatory && c.outcome == Outcome::Fail)
    }

    /// The result of one case.
    pub fn case(&self, id: &str) -> Option<&CaseReport> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// `report.json` content.
    pub fn to_json(&self) -> Result<String, ConformanceError> {
        serde_json::to_string_pretty(self).map_err(|e| ConformanceError::Serialize {
            format: "json",
            message: e.to_string(),
        })
    }

    /// `junit.xml` content: one `<testsuite>` per area, one `<testcase>` per case (name = case
    /// id), failures with the reason as message and the exchanges as text.
    pub fn to_junit_xml(&self) -> Result<String, ConformanceError> {
        let mut report = quick_junit::Report::new(format!("dpp-conformance {}", self.data_space));
        report.set_timestamp(self.started_at);
        report.set_time(Duration::from_millis(self.duration_ms));
        let mut areas: Vec<&str> = Vec::new();
        for case in &self.cases {
            if !areas.contains(&case.area.as_str()) {
                areas.push(&case.area);
            }
        }
        for area in areas {
            let mut suite = TestSuite::new(format!("{}/{area}", self.data_space));
            suite.add_property(Property::new("endpoint", &self.endpoint));
            suite.add_property(Property::new("run_id", &self.run_id));
            for case in self.cases.iter().filter(|c| c.area == area) {
                let status = match case.outcome {
                    Outcome::Pass => TestCaseStatus::success(),
                    Outcome::Fail => {
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(case.reason.clone().unwrap_or_default());
                        s.set_type(case.level.as_str());
                        s.set_description(exchanges_text(&case.exchanges));
                        s
                    }
                    Outcome::Skip => {
                        let mut s = TestCaseStatus::skipped();
                        s.set_message(case.reason.clone().unwrap_or_default());
                        s
                    }
                };
                let mut test = TestCase::new(&case.id, status);
                test.set_classname(format!("{}.{}", self.data_space, case.area));
                test.set_time(Duration::from_millis(case.duration_ms));
                test.add_property(Property::new("level", case.level.as_str()));
                test.add_property(Property::new("description", &case.description));
                test.add_property(Property::new("spec", &case.spec));
                suite.add_test_case(test);
            }
            report.add_test_suite(suite);
        }
        report.to_string().map_err(|e| ConformanceError::Serialize {
            format: "junit",
            message: e.to_string(),
        })
    }

    /// `report.html` content: one self-contained page (inline CSS, no scripts or external
    /// assets), every value HTML-escaped.
    pub fn to_html(&self) -> String {
        super::html::render(self)
    }

    /// Writes `report.json`, `junit.xml` and `report.html` into `dir` (created if missing).
    pub fn write(&self, dir: &Path) -> Result<ReportFiles, ConformanceError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ConformanceError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let files = ReportFiles {
            json: dir.join("report.json"),
            junit: dir.join("junit.xml"),
            html: dir.join("report.html"),
        };
        std::fs::write(&files.json, self.to_json()?).map_err(io(&files.json))?;
        std::fs::write(&files.junit, self.to_junit_xml()?).map_err(io(&files.junit))?;
        std::fs::write(&files.html, self.to_html()).map_err(io(&files.html))?;
        Ok(files)
    }
}

/// Plain-text rendering of a case's exchanges (JUnit failure text).
pub(crate) fn exchanges_text(exchanges: &[Exchange]) -> String {
    let mut out = String::new();
    for (i, ex) in exchanges.iter().enumerate() {
        let r = &ex.request;
        out.push_str(&format!("#{} {} {}\n", i + 1, r.method, r.url));
        for (k, v) in &r.headers {
            out.push_str(&format!("  {k}: {v}\n"));
        }
        if let Some(body) = &r.body {
            out.push_str(&format!("  > {body}\n"));
        }
        match (&ex.response, &ex.error) {
            (Some(resp), _) => {
                out.push_str(&format!("  <- {}", resp.status));
                for (k, v) in &resp.headers {
                    out.push_str(&format!("; {k}: {v}"));
                }
                out.push('\n');
                if let Some(body) = &resp.body {
                    out.push_str(&format!("  < {body}\n"));
                }
            }
            (None, Some(error)) => out.push_str(&format!("  <- no answer: {error}\n")),
            (None, None) => out.push_str("  <- no answer\n"),
        }
    }
    out
}
