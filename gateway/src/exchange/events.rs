//! Telemetry of the exchange engine as types: each delivery event's `emit()` writes the structured
//! log line and updates the Prometheus metrics together.

use std::time::Duration;

use dpp_adapters::contract::{MetricsHook, RemoteCallEvent, TokenEvent};
use metrics::{counter, histogram};

/// A delivery attempt starts.
pub struct DeliveryAttempted<'a> {
    /// Outbox item id.
    pub exchange: &'a str,
    /// Partner.
    pub partner: &'a str,
    /// Passport id.
    pub passport: &'a str,
    /// Attempt number, from 1.
    pub attempt: i64,
}

impl DeliveryAttempted<'_> {
    /// Logs and counts the attempt.
    pub fn emit(&self) {
        tracing::debug!(
            exchange.id = self.exchange,
            partner = self.partner,
            passport.id = self.passport,
            attempt = self.attempt,
            "delivery attempted"
        );
        counter!("dpp_outbox_attempts_total", "partner" => self.partner.to_owned()).increment(1);
    }
}

/// The remote acknowledged a delivery.
pub struct DeliverySucceeded<'a> {
    /// Outbox item id.
    pub exchange: &'a str,
    /// Partner.
    pub partner: &'a str,
    /// Passport id.
    pub passport: &'a str,
    /// Attempts it took.
    pub attempts: i64,
    /// The remote's id of the record.
    pub remote_id: &'a str,
    /// Time of the successful attempt.
    pub elapsed: Duration,
}

impl DeliverySucceeded<'_> {
    /// Logs and counts the delivery.
    pub fn emit(&self) {
        tracing::info!(
            exchange.id = self.exchange,
            partner = self.partner,
            passport.id = self.passport,
            attempts = self.attempts,
            remote_id = self.remote_id,
            elapsed_ms = self.elapsed.as_millis() as u64,
            "delivery succeeded"
        );
        counter!("dpp_outbox_deliveries_total", "partner" => self.partner.to_owned(), "outcome" => "delivered")
            .increment(1);
        histogram!("dpp_outbox_delivery_seconds", "partner" => self.partner.to_owned())
            .record(self.elapsed.as_secs_f64());
    }
}

/// An attempt failed and the item will be tried again.
pub struct DeliveryFailed<'a> {
    /// Outbox item id.
    pub exchange: &'a str,
    /// Partner.
    pub partner: &'a str,
    /// Attempt number that failed.
    pub attempt: i64,
    /// Why.
    pub error: &'a str,
    /// When it is tried again.
    pub retry_in: Duration,
}

impl DeliveryFailed<'_> {
    /// Logs and counts the failure.
    pub fn emit(&self) {
        tracing::info!(
            exchange.id = self.exchange,
            partner = self.partner,
            attempt = self.attempt,
            error = self.error,
            retry_in_ms = self.retry_in.as_millis() as u64,
            "delivery failed, will retry"
        );
        counter!("dpp_outbox_deliveries_total", "partner" => self.partner.to_owned(), "outcome" => "failed")
            .increment(1);
    }
}

/// An item went to the dead letter.
pub struct DeliveryDead<'a> {
    /// Outbox item id.
    pub exchange: &'a str,
    /// Partner.
    pub partner: &'a str,
    /// Attempts made.
    pub attempts: i64,
    /// The last error.
    pub error: &'a str,
}

impl DeliveryDead<'_> {
    /// Logs and counts the dead letter.
    pub fn emit(&self) {
        tracing::warn!(
            exchange.id = self.exchange,
            partner = self.partner,
            attempts = self.attempts,
            error = self.error,
            "delivery dead"
        );
        counter!("dpp_outbox_deliveries_total", "partner" => self.partner.to_owned(), "outcome" => "dead")
            .increment(1);
    }
}

/// Maps adapter telemetry onto the gateway's metrics registry.
#[derive(Debug, Clone, Copy, Default)]
pub struct AdapterMetrics;

impl MetricsHook for AdapterMetrics {
    fn remote_call(&self, event: &RemoteCallEvent<'_>) {
        let status = event
            .status
            .map_or_else(|| "none".to_owned(), |s| s.to_string());
        counter!(
            "dpp_adapter_remote_calls_total",
            "adapter" => event.adapter,
            "partner" => event.partner.to_owned(),
            "status" => status
        )
        .increment(1);
        histogram!("dpp_adapter_remote_call_seconds", "adapter" => event.adapter)
            .record(event.elapsed.as_secs_f64());
    }

    fn token_acquired(&self, event: &TokenEvent<'_>) {
        counter!(
            "dpp_adapter_tokens_acquired_total",
            "adapter" => event.adapter,
            "partner" => event.partner.to_owned()
        )
        .increment(1);
    }
}
