//! RFC 9457 problem details: every error the HTTP API returns is one of these, as
//! `application/problem+json`, naming the problem and (for schema violations) every offending pointer.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Base of the problem `type` URIs; each problem kind has a page under it in docs/problems.md.
pub const PROBLEM_BASE: &str = "https://dpp-gateway.dev/problems/";

/// One violated rule, located by a JSON pointer into the request body.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ViolationDetail {
    /// JSON pointer into the offending document (`""` is the root).
    pub pointer: String,
    /// What is wrong there.
    pub message: String,
}

/// An RFC 9457 problem.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// URI identifying the problem kind.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem kind.
    pub title: &'static str,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// Every violation, for schema and rule failures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<ViolationDetail>,
    /// Seconds after which a retry may succeed (also sent as `Retry-After`).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem of kind `slug` (appended to [`PROBLEM_BASE`]).
    pub fn new(
        status: StatusCode,
        slug: &str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: format!("{PROBLEM_BASE}{slug}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
            violations: Vec::new(),
            retry_after: None,
        }
    }

    /// Attaches the violations behind a 422.
    pub fn with_violations(mut self, violations: Vec<ViolationDetail>) -> Self {
        self.violations = violations;
        self
    }

    /// 400: the body is not well-formed JSON (or not the expected shape of request).
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            "Malformed request",
            detail,
        )
    }

    /// 400: a query parameter or path segment is invalid.
    pub fn bad_parameter(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            "Invalid parameter",
            detail,
        )
    }

    /// 401: no or unknown bearer token.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        )
    }

    /// 403: the token is valid but not allowed to do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 409: the resource exists already, or the request contradicts its state.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    /// 412: `If-Match` does not name the current version.
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
            "Precondition failed",
            detail,
        )
    }

    /// 428: `If-Match` is required and missing.
    pub fn precondition_required(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition-required",
            "Precondition required",
            detail,
        )
    }

    /// 413: the body is larger than the configured limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Request body too large",
            format!("request body exceeds the limit of {limit} bytes"),
        )
    }

    /// 415: the body's content type is not one this route takes.
    pub fn unsupported_media_type(got: Option<&str>, expected: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!(
                "content type {:?} is not accepted here; send {expected}",
                got.unwrap_or("(none)")
            ),
        )
    }

    /// 422: the document breaks its schema or a rule; lists every violation.
    pub fn schema_violation(what: &str, violations: Vec<ViolationDetail>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "schema-violation",
            "Document violates its schema",
            format!(
                "the {what} breaks {} rule(s); see violations",
                violations.len()
            ),
        )
        .with_violations(violations)
    }

    /// 422: a signature or token could not be verified.
    pub fn invalid_signature(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-signature",
            "Signature not verified",
            detail,
        )
    }

    /// 500: something failed on our side; the detail is logged, not shown.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the gateway failed to handle the request; the operator's log has the cause",
        )
    }

    /// 429: the caller is over a rate or concurrency limit; retry after `retry_after` seconds.
    pub fn too_many_requests(detail: impl Into<String>, retry_after: u64) -> Self {
        let mut problem = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            "Too many requests",
            detail,
        );
        problem.retry_after = Some(retry_after.max(1));
        problem
    }

    /// 503: a dependency (the database) is not reachable.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"dpp-gateway\""),
            );
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
