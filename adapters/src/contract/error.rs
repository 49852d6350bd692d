//! The one error type at the adapters' public edge: typed, so the exchange engine can decide
//! between retry, dead letter and "fix your config" without parsing messages.

use std::fmt;
use std::time::Duration;

use dpp_schemas::wire::Violation;

use super::Capability;

/// Longest remote body excerpt kept in an error (bytes, cut at a char boundary).
pub const BODY_EXCERPT_LIMIT: usize = 512;

/// Everything that can go wrong in an adapter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// The remote refused our credentials (after one refresh), or the token endpoint failed.
    #[error("authentication with {adapter} failed: {reason}")]
    Auth {
        /// Adapter type, e.g. `ouranos`.
        adapter: &'static str,
        /// Why, lowercase, never containing a secret.
        reason: String,
    },
    /// The remote answered with an error status.
    #[error("remote answered {status}: {body_excerpt}")]
    Remote {
        /// HTTP status.
        status: u16,
        /// The start of the response body (at most [`BODY_EXCERPT_LIMIT`] bytes).
        body_excerpt: String,
        /// The remote's correlation id for support inquiries (Ouranos `x-track`), if it sent one.
        track: Option<String>,
    },
    /// The remote asked us to slow down (HTTP 429).
    #[error("rate limited by the remote, retry after {retry_after:?}")]
    RateLimited {
        /// The remote's `Retry-After`, if it sent a usable one.
        retry_after: Option<Duration>,
    },
    /// No answer in time.
    #[error("no answer from {url} within the timeout")]
    Timeout {
        /// The URL called (without query secrets; adapters put none there).
        url: String,
    },
    /// Connection refused, reset, TLS failure, truncated body, DNS failure.
    #[error("transport error calling {url}: {reason}")]
    Transport {
        /// The URL called.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The SSRF guard refused the destination (scheme, or an address that is not public and
    /// not on the partner's allow-list).
    #[error("refused to call {url}: {reason}")]
    EgressRefused {
        /// The URL refused.
        url: String,
        /// Which rule refused it.
        reason: String,
    },
    /// A body we were about to send, or one we received, breaks the wire schema.
    #[error("{schema} body breaks the wire schema: {}", ViolationList(violations))]
    InvalidWire {
        /// Which schema, e.g. `ouranos PUT partsStructure`.
        schema: String,
        /// Every violation found.
        violations: Vec<Violation>,
    },
    /// A value cannot be expressed in the other model (too large, unknown unit, …).
    #[error("cannot map {field}: {reason}")]
    Mapping {
        /// The canonical or wire field concerned.
        field: String,
        /// Why, with the offending value.
        reason: String,
    },
    /// The remote has no such object.
    #[error("not found: {0}")]
    NotFound(String),
    /// The adapter does not have this capability.
    #[error("adapter does not support {0}")]
    Unsupported(Capability),
    /// The adapter exists but this binary was built without its Cargo feature.
    #[error("compiled without {0}")]
    CompiledOut(String),
    /// The adapter configuration is invalid.
    #[error("invalid adapter config: {0}")]
    Config(String),
    /// The adapter configuration breaks several rules, each named by its JSON pointer into the
    /// adapter table (what `validate` reports, so a user fixes every one in one go).
    #[error("invalid adapter config: {}", ConfigProblemList(.0))]
    InvalidConfig(Vec<ConfigProblem>),
}

/// One broken rule of an adapter configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// JSON pointer into the adapter table (`/auth/client_id`; `/endpoint`).
    pub pointer: String,
    /// What is wrong, with the offending value where it is not a secret.
    pub message: String,
}

struct ConfigProblemList<'a>(&'a [ConfigProblem]);

impl fmt::Display for ConfigProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", p.pointer, p.message)?;
        }
        Ok(())
    }
}

impl AdapterError {
    /// Whether trying the same call again later may succeed (the outbox backs off and retries
    /// these; everything else goes to the dead letter or back to the operator at once).
    pub fn is_retryable(&self) -> bool {
        match self {
            AdapterError::Remote { status, .. } => *status >= 500 || *status == 408,
            AdapterError::RateLimited { .. }
            | AdapterError::Timeout { .. }
            | AdapterError::Transport { .. } => true,
            _ => false,
        }
    }

    /// What went wrong, in words safe to show a caller who is not the operator: the kind of
    /// failure, a remote's status and correlation id, never a remote's body, a URL, a resolved
    /// address, a file or a configuration value (those stay in the `Display` form, for logs).
    pub fn summary(&self) -> String {
        match self {
            AdapterError::Auth { adapter, .. } => format!("authentication with {adapter} failed"),
            AdapterError::Remote { status, track, .. } => match track {
                Some(track) => {
                    format!("the remote answered HTTP {status} (its correlation id {track})")
                }
                None => format!("the remote answered HTTP {status}"),
            },
            AdapterError::RateLimited { .. } => "the remote asked us to slow down".to_owned(),
            AdapterError::Timeout { .. } => "the remote did not answer in time".to_owned(),
            AdapterError::Transport { .. } => "the remote could not be reached".to_owned(),
            AdapterError::EgressRefused { .. } => {
                "the partner's address is refused by the egress policy".to_owned()
            }
            AdapterError::InvalidWire { schema, violations } => format!(
                "{schema} body breaks the wire schema ({} violation(s))",
                violations.len()
            ),
            // The reason describes the remote's data (what the caller asked for), not our side.
            AdapterError::Mapping { field, reason } => format!("cannot map {field}: {reason}"),
            AdapterError::NotFound(_) => "the remote has no such object".to_owned(),
            AdapterError::Unsupported(capability) => {
                format!("the adapter does not support {capability}")
            }
            AdapterError::CompiledOut(adapter) => format!("compiled without {adapter}"),
            AdapterError::Config(_) | AdapterError::InvalidConfig(_) => {
                "the partner's configuration cannot be used".to_owned()
            }
        }
    }

    /// `Remote` from a status and a raw body, the excerpt cut at a char boundary.
    pub fn remote(status: u16, body: &[u8], track: Option<String>) -> Self {
        AdapterError::Remote {
            status,
            body_excerpt: excerpt(body),
            track,
        }
    }
}

/// The first [`BODY_EXCERPT_LIMIT`] bytes of `body` as text, cut at a char boundary.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if text.len() <= BODY_EXCERPT_LIMIT {
        return text.into_owned();
    }
    let mut end = BODY_EXCERPT_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

struct ViolationList<'a>(&'a [Violation]);

impl fmt::Display for ViolationList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_cuts_long_bodies_at_a_char_boundary() {
        let body = "é".repeat(400);
        let cut = excerpt(body.as_bytes());
        assert!(cut.ends_with('…'));
        assert!(cut.len() <= BODY_EXCERPT_LIMIT + '…'.len_utf8());
        assert_eq!(excerpt(b"short"), "short");
    }

    #[test]
    fn retryable_errors_are_transient_ones() {
        assert!(AdapterError::remote(503, b"", None).is_retryable());
        assert!(!AdapterError::remote(400, b"", None).is_retryable());
        assert!(AdapterError::RateLimited { retry_after: None }.is_retryable());
        assert!(!AdapterError::CompiledOut("ouranos".into()).is_retryable());
    }

    #[test]
    fn invalid_wire_lists_every_violation() {
        let e = AdapterError::InvalidWire {
            schema: "ouranos PUT cfp".into(),
            violations: vec![
                Violation::new("/0/cfpType", "bad"),
                Violation::new("", "short"),
            ],
        };
        let root = Violation::new("", "short").to_string();
        assert_eq!(
            e.to_string(),
            format!("ouranos PUT cfp body breaks the wire schema: /0/cfpType: bad; {root}")
        );
    }
}
