//! Telemetry as types: each event an operator graphs or alerts on is a struct whose `emit()` writes
//! the structured log line and updates the Prometheus metric together (Vector's pattern).

use std::time::Duration;

use metrics::{counter, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// How often pending histogram samples are folded into their summaries.
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the global Prometheus recorder once and returns the handle `/metrics` renders from.
pub fn install_metrics() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // A second install (tests start several gateways in one process) keeps the first recorder.
            let _ = metrics::set_global_recorder(recorder);
            // `build_recorder` leaves upkeep to us: without it every histogram sample is kept until
            // the next scrape, so an unscraped gateway grows by ~20 bytes per request (seen with
            // scripts/soak.sh). Drain them into the summaries every few seconds.
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(METRICS_UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot start metrics upkeep; histograms grow until scraped");
            }
            handle
        })
        .clone()
}

/// A passport version was validated, signed and committed.
pub struct PassportWritten<'a> {
    /// Passport id.
    pub id: &'a str,
    /// The version written.
    pub version: i64,
    /// Canonical size in bytes.
    pub bytes: usize,
    /// Who wrote it (`api:admin`, `import`, `demo`).
    pub actor: &'a str,
}

impl PassportWritten<'_> {
    /// Logs and counts the write.
    pub fn emit(&self) {
        tracing::info!(
            passport.id = self.id,
            passport.version = self.version,
            bytes = self.bytes,
            actor = self.actor,
            "passport version written"
        );
        counter!("dpp_passport_versions_written_total").increment(1);
        histogram!("dpp_passport_canonical_bytes").record(self.bytes as f64);
    }
}

/// A write was refused because the document broke its schema or a rule.
pub struct DocumentRejected<'a> {
    /// Which kind of document (`passport`, `trace-event`, …).
    pub kind: &'a str,
    /// Why, as a problem slug.
    pub reason: &'a str,
    /// How many violations.
    pub violations: usize,
}

impl DocumentRejected<'_> {
    /// Logs and counts the rejection.
    pub fn emit(&self) {
        tracing::info!(
            document.kind = self.kind,
            reason = self.reason,
            violations = self.violations,
            "document rejected"
        );
        counter!("dpp_documents_rejected_total", "kind" => self.kind.to_owned(), "reason" => self.reason.to_owned())
            .increment(1);
    }
}

/// A trace event was appended to the hash-linked chain.
pub struct TraceEventRecorded<'a> {
    /// Event id.
    pub event_id: &'a str,
    /// Its SHA-256 over JCS bytes.
    pub hash: &'a str,
    /// Distinct ids that went into it (stored one row each).
    pub inputs: usize,
    /// Distinct ids that came out of it (stored one row each).
    pub outputs: usize,
}

impl TraceEventRecorded<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        tracing::info!(
            event.id = self.event_id,
            event.hash = self.hash,
            inputs = self.inputs,
            outputs = self.outputs,
            "trace event recorded"
        );
        counter!("dpp_trace_events_recorded_total").increment(1);
    }
}

/// An HTTP request finished (emitted by the API's middleware).
pub struct RequestServed<'a> {
    /// Route template, e.g. `/api/v1/passports/{id}`.
    pub route: &'a str,
    /// Method.
    pub method: &'a str,
    /// Status code.
    pub status: u16,
    /// Wall time.
    pub elapsed: Duration,
    /// `x-request-id` (the caller's, if it sent a usable one, else ours), also in the answer.
    pub request_id: &'a str,
}

impl RequestServed<'_> {
    /// Logs and measures the request.
    pub fn emit(&self) {
        tracing::debug!(
            http.route = self.route,
            http.method = self.method,
            http.status = self.status,
            request_id = self.request_id,
            elapsed_us = self.elapsed.as_micros() as u64,
            "request served"
        );
        let labels = [
            ("route", self.route.to_owned()),
            ("method", self.method.to_owned()),
            ("status", self.status.to_string()),
        ];
        counter!("dpp_http_requests_total", &labels).increment(1);
        histogram!("dpp_http_request_duration_seconds", "route" => self.route.to_owned())
            .record(self.elapsed.as_secs_f64());
    }
}
