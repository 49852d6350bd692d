//! What the server tells the operator about connections, as types (see `crate::telemetry`): each
//! event writes its log line and its metric together. Under a flood the same event repeats
//! thousands of times a second, so the log lines an attacker can cause are throttled; the metrics
//! count every one.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use metrics::{counter, gauge};

use super::limits::Refusal;

/// At most one line per throttled event kind in this time.
const LOG_AT_MOST_EVERY: Duration = Duration::from_secs(10);

/// Lets one log line of a kind through every [`LOG_AT_MOST_EVERY`] and counts those held back.
#[derive(Debug, Default)]
pub struct LogThrottle {
    state: Mutex<(Option<Instant>, u64)>,
}

impl LogThrottle {
    /// `Some(lines held back since the last one)` when a line may be written now.
    fn allow(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (last, held_back) = &mut *state;
        let now = Instant::now();
        if last.is_some_and(|last| now.duration_since(last) < LOG_AT_MOST_EVERY) {
            *held_back += 1;
            return None;
        }
        *last = Some(now);
        Some(std::mem::take(held_back))
    }
}

/// A connection was admitted (its slot's drop counts it closed).
pub struct ConnectionOpened;

impl ConnectionOpened {
    /// Counts the connection open.
    pub fn emit(&self) {
        gauge!("dpp_http_connections_open").increment(1.0);
    }
}

/// A connection was closed at once, unread, because a cap was reached.
pub struct ConnectionRefused {
    /// The peer's address.
    pub ip: IpAddr,
    /// Which cap.
    pub reason: Refusal,
}

impl ConnectionRefused {
    /// Counts the refusal; logs it unless a refusal for the same reason was logged lately.
    pub fn emit(&self, throttle: &LogThrottle) {
        counter!("dpp_http_connections_refused_total", "reason" => self.reason.as_str())
            .increment(1);
        if let Some(held_back) = throttle.allow() {
            tracing::warn!(
                peer = %self.ip,
                reason = self.reason.as_str(),
                refused_unlogged = held_back,
                "connection refused: connection cap reached (see dpp_http_connections_refused_total)"
            );
        }
    }
}

/// An admitted connection ended; `outcome` is hyper's error, if it ended on one.
pub struct ConnectionEnded {
    /// The peer's address and port.
    pub peer: SocketAddr,
    /// The error the connection ended with, if any.
    pub outcome: Option<hyper::Error>,
}

impl ConnectionEnded {
    /// Counts a header read timeout; logs an error at debug level (clients hang up all the time).
    pub fn emit(&self) {
        let Some(error) = &self.outcome else {
            return;
        };
        if error.is_timeout() {
            counter!("dpp_http_header_timeouts_total").increment(1);
            tracing::debug!(peer = %self.peer, "connection closed: request head not sent in time");
        } else {
            tracing::debug!(peer = %self.peer, %error, "connection ended with an error");
        }
    }
}

/// `accept` failed for a reason that is not one connection's (out of files or buffers).
pub struct AcceptFailed<'a> {
    /// The error.
    pub error: &'a std::io::Error,
}

impl AcceptFailed<'_> {
    /// Counts the failure; logs it unless one was logged lately.
    pub fn emit(&self, throttle: &LogThrottle) {
        counter!("dpp_http_accept_errors_total").increment(1);
        if let Some(held_back) = throttle.allow() {
            tracing::error!(
                error = %self.error,
                unlogged = held_back,
                "cannot accept connections; pausing the listener briefly"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_lets_the_first_line_through_and_counts_the_rest() {
        let throttle = LogThrottle::default();
        assert_eq!(throttle.allow(), Some(0));
        assert_eq!(throttle.allow(), None);
        assert_eq!(throttle.allow(), None);
        // Pretend the window passed: the next line reports the two held back.
        throttle.state.lock().unwrap().0 = Instant::now().checked_sub(LOG_AT_MOST_EVERY);
        assert_eq!(throttle.allow(), Some(2));
    }
}
