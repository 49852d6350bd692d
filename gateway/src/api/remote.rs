//! `GET /api/v1/remote/{partner}/passports/{remote_id}`: a partner's passport through the pull
//! cache, with where the answer came from in `Cache-Status` (RFC 9211), `Age`, `X-Cache` and the
//! body's `freshness`; a stale copy also carries `Warning: 111`. Failures are RFC 9457 problems:
//! 404 unknown partner or remote passport, 422 partner whose adapter cannot fetch, 502 remote
//! error or invalid remote data (with every violation), 504 remote timeout, 503 partner
//! unavailable (with `Retry-After` when the remote sent one), 400 bad path.
//!
//! The handler's state is [`RemotePull`]; the router gets it from `AppState` through
//! `axum::extract::FromRef`.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use dpp_adapters::AdapterError;
use dpp_schemas::{Passport, PassportId, Violation};
use serde::Serialize;

use crate::exchange::pull::{
    Freshness, PartnerLookupError, PullCache, PullError, PullTargets, Pulled,
};
use crate::problem::{Problem, ViolationDetail};

/// Longest remote id accepted (it becomes part of a cache key).
const MAX_REMOTE_ID_LEN: usize = 256;

/// What the remote-pull handler needs: the cache and where each partner's pulls go.
#[derive(Clone)]
pub struct RemotePull {
    /// The gateway's pull cache.
    pub cache: Arc<PullCache>,
    /// Partner name → connection and policy.
    pub targets: Arc<dyn PullTargets>,
}

impl RemotePull {
    /// Forgets every cached passport of `partner` (it was removed or registered again).
    pub fn forget_partner(&self, partner: &str) {
        self.cache.invalidate_partner(partner);
    }
}

/// `GET /api/v1/remote/{partner}/passports/{remote_id}`.
pub(crate) async fn get_remote_passport(
    State(pull): State<RemotePull>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    match path {
        Ok(Path((partner, remote_id))) => serve_remote_passport(&pull, &partner, &remote_id).await,
        Err(e) => Problem::bad_parameter(e.body_text()).into_response(),
    }
}

/// The handler's body, for routers whose state holds a [`RemotePull`] elsewhere.
pub(crate) async fn serve_remote_passport(
    pull: &RemotePull,
    partner: &str,
    remote_id: &str,
) -> Response {
    if remote_id.is_empty()
        || remote_id.len() > MAX_REMOTE_ID_LEN
        || remote_id.chars().any(char::is_control)
    {
        return Problem::bad_parameter(format!(
            "remote_id must be 1 to {MAX_REMOTE_ID_LEN} printable characters"
        ))
        .into_response();
    }
    let target = match pull.targets.target(partner).await {
        Ok(target) => target,
        Err(e) => return lookup_problem(e).into_response(),
    };
    pull.cache.track_registration(partner, target.registered_at);
    match pull
        .cache
        .pull(
            partner,
            remote_id,
            &target.policy,
            target.connection.as_ref(),
        )
        .await
    {
        Ok(pulled) => passport_response(partner, remote_id, &pulled),
        Err(e) => pull_problem(e),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RemotePassportBody<'a> {
    partner: &'a str,
    remote_id: &'a str,
    freshness: &'static str,
    fetched_at: String,
    age_seconds: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_because: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<ReferenceBody>,
    passport: &'a Passport,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReferenceBody {
    passport_id: PassportId,
    version: u32,
    jws_sha256: String,
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn passport_response(partner: &str, remote_id: &str, pulled: &Pulled) -> Response {
    let body = RemotePassportBody {
        partner,
        remote_id,
        freshness: pulled.freshness.as_str(),
        fetched_at: rfc3339(pulled.fetched_at),
        age_seconds: pulled.age.as_secs(),
        stale_because: pulled.stale_because.as_deref(),
        reference: pulled.reference.as_ref().map(|r| ReferenceBody {
            passport_id: r.passport_id,
            version: r.version,
            jws_sha256: r.jws_sha256.clone(),
        }),
        passport: &pulled.passport,
    };
    let bytes = match serde_json::to_vec(&body) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a pulled passport");
            return Problem::internal().into_response();
        }
    };
    let age = pulled.age.as_secs();
    let ttl = pulled.ttl.as_secs();
    let (cache_status, x_cache, cache_control) = match pulled.freshness {
        Freshness::Fresh => (
            "dpp-gateway; fwd=uri-miss; stored".to_owned(),
            "MISS",
            format!("private, max-age={ttl}"),
        ),
        Freshness::Cached => {
            let left = ttl.saturating_sub(age);
            (
                format!("dpp-gateway; hit; ttl={left}"),
                "HIT",
                format!("private, max-age={left}"),
            )
        }
        Freshness::Stale => (
            format!(
                "dpp-gateway; hit; ttl=-{}; detail=stale-if-error",
                age.saturating_sub(ttl)
            ),
            "STALE",
            "private, no-cache".to_owned(),
        ),
    };
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    insert(
        headers,
        HeaderName::from_static("cache-status"),
        &cache_status,
    );
    headers.insert(
        HeaderName::from_static("x-cache"),
        HeaderValue::from_static(x_cache),
    );
    headers.insert(header::AGE, HeaderValue::from(age));
    insert(headers, header::CACHE_CONTROL, &cache_control);
    if pulled.freshness == Freshness::Stale {
        headers.insert(
            header::WARNING,
            HeaderValue::from_static("111 dpp-gateway \"Revalidation Failed\""),
        );
    }
    response
}

fn insert(headers: &mut axum::http::HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

fn lookup_problem(error: PartnerLookupError) -> Problem {
    match error {
        PartnerLookupError::Unknown(name) => Problem::new(
            StatusCode::NOT_FOUND,
            "unknown-partner",
            "Unknown partner",
            format!("no partner named {name:?}"),
        ),
        other @ PartnerLookupError::CannotFetch { .. } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "partner-cannot-fetch",
            "Partner cannot be pulled from",
            other.to_string(),
        ),
        other => partner_unavailable(other.to_string()),
    }
}

fn partner_unavailable(detail: String) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "partner-unavailable",
        "Partner unavailable",
        detail,
    )
}

fn violation_details(violations: &[Violation]) -> Vec<ViolationDetail> {
    violations
        .iter()
        .map(|v| ViolationDetail {
            pointer: v.pointer.clone(),
            message: v.message.clone(),
        })
        .collect()
}

fn remote_invalid(detail: String, violations: &[Violation]) -> Problem {
    Problem::new(
        StatusCode::BAD_GATEWAY,
        "remote-invalid",
        "Remote passport invalid",
        detail,
    )
    .with_violations(violation_details(violations))
}

/// The problem for a failed pull (a remembered 404 says so in `Cache-Status`).
fn pull_problem(error: PullError) -> Response {
    if let PullError::Upstream { partner, .. } = &error {
        tracing::warn!(partner = %partner, error = %error, "pull failed");
    }
    let detail = error.public_detail();
    let (problem, cache_status) = match &error {
        PullError::NotFound { cached, .. } => (
            Problem::new(
                StatusCode::NOT_FOUND,
                "remote-not-found",
                "Remote passport not found",
                detail,
            ),
            Some(if *cached {
                "dpp-gateway; hit; detail=negative"
            } else {
                "dpp-gateway; fwd=uri-miss; stored; detail=negative"
            }),
        ),
        PullError::Invalid { violations, .. } => (remote_invalid(detail, violations), None),
        PullError::Upstream { source, .. } => (upstream_problem(detail, source), None),
    };
    let mut response = problem.into_response();
    if let Some(status) = cache_status {
        response.headers_mut().insert(
            HeaderName::from_static("cache-status"),
            HeaderValue::from_static(status),
        );
    }
    response
}

fn upstream_problem(detail: String, source: &AdapterError) -> Problem {
    match source {
        AdapterError::Timeout { .. } => Problem::new(
            StatusCode::GATEWAY_TIMEOUT,
            "remote-timeout",
            "Remote timed out",
            detail,
        ),
        AdapterError::InvalidWire { violations, .. } => remote_invalid(detail, violations),
        AdapterError::Mapping { .. } => remote_invalid(detail, &[]),
        AdapterError::RateLimited { retry_after } => {
            let mut problem = partner_unavailable(detail);
            problem.retry_after = retry_after.map(|d| d.as_secs().max(1));
            problem
        }
        AdapterError::Transport { .. }
        | AdapterError::Auth { .. }
        | AdapterError::EgressRefused { .. }
        | AdapterError::Config(_)
        | AdapterError::CompiledOut(_)
        | AdapterError::Unsupported(_) => partner_unavailable(detail),
        _ => Problem::new(
            StatusCode::BAD_GATEWAY,
            "remote-error",
            "Remote error",
            detail,
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use async_trait::async_trait;
    use axum::body::to_bytes;
    use dpp_adapters::contract::{Capabilities, Connection, FetchedPassport};
    use dpp_schemas::SchemaRegistry;
    use dpp_schemas::fixtures::pp_pellets;
    use serde_json::Value;

    use super::*;
    use crate::exchange::pull::{PullPolicy, PullTarget};

    /// A connection whose fetch answers from a function (no network).
    struct Scripted(fn(&str) -> Result<FetchedPassport, AdapterError>);

    #[async_trait]
    impl Connection for Scripted {
        fn kind(&self) -> &'static str {
            "scripted"
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities {
                fetch: true,
                ..Capabilities::NONE
            }
        }
        fn carried_subset(&self, passport: &Passport) -> Passport {
            passport.clone()
        }
        fn check_request_body(
            &self,
            _: &axum::http::Method,
            _: &reqwest::Url,
            _: &Value,
        ) -> Result<(), Vec<Violation>> {
            Ok(())
        }
        async fn fetch(&self, remote_id: &str) -> Result<FetchedPassport, AdapterError> {
            (self.0)(remote_id)
        }
    }

    struct Partners;

    #[async_trait]
    impl PullTargets for Partners {
        async fn target(&self, partner: &str) -> Result<PullTarget, PartnerLookupError> {
            let script: fn(&str) -> Result<FetchedPassport, AdapterError> = match partner {
                "good" => |id| {
                    Ok(FetchedPassport {
                        remote_id: id.to_owned(),
                        passport: pp_pellets(),
                        reference: None,
                    })
                },
                "gone" => |id| Err(AdapterError::NotFound(id.to_owned())),
                "broken" => |id| {
                    let mut passport = pp_pellets();
                    passport.materials[0].recycled_share.post_consumer = 7.0;
                    Ok(FetchedPassport {
                        remote_id: id.to_owned(),
                        passport,
                        reference: None,
                    })
                },
                "slow" => |id| Err(AdapterError::Timeout { url: id.to_owned() }),
                "busy" => |_| {
                    Err(AdapterError::RateLimited {
                        retry_after: Some(Duration::from_secs(7)),
                    })
                },
                "failing" => |_| Err(AdapterError::remote(500, b"boom", Some("t-9".into()))),
                "down" => |id| {
                    Err(AdapterError::Transport {
                        url: id.to_owned(),
                        reason: "connection refused".into(),
                    })
                },
                "off" => {
                    return Err(PartnerLookupError::Unavailable {
                        partner: partner.to_owned(),
                        reason: "its adapter failed to build".into(),
                    });
                }
                "publisher" => {
                    return Err(PartnerLookupError::CannotFetch {
                        partner: partner.to_owned(),
                        adapter: "push-only".into(),
                    });
                }
                _ => return Err(PartnerLookupError::Unknown(partner.to_owned())),
            };
            Ok(PullTarget {
                connection: Arc::new(Scripted(script)),
                policy: PullPolicy::default(),
                registered_at: chrono::DateTime::UNIX_EPOCH,
            })
        }
    }

    fn state() -> RemotePull {
        RemotePull {
            cache: Arc::new(PullCache::new(
                Arc::new(SchemaRegistry::new().unwrap()),
                100,
            )),
            targets: Arc::new(Partners),
        }
    }

    async fn call(pull: &RemotePull, partner: &str) -> (StatusCode, axum::http::HeaderMap, Value) {
        let response = serve_remote_passport(pull, partner, "b1").await;
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, headers, serde_json::from_slice(&body).unwrap())
    }

    fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> &'a str {
        headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }

    #[tokio::test]
    async fn a_pull_is_fetched_then_served_from_the_cache() {
        let pull = state();
        let (status, headers, body) = call(&pull, "good").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, "x-cache"), "MISS");
        assert_eq!(body["freshness"], "fresh");
        assert_eq!(body["passport"]["id"], pp_pellets().id.to_string());
        let (_, headers, body) = call(&pull, "good").await;
        assert_eq!(header(&headers, "x-cache"), "HIT");
        assert!(header(&headers, "cache-status").starts_with("dpp-gateway; hit; ttl="));
        assert_eq!(body["freshness"], "cached");
        assert_eq!(body["remoteId"], "b1");
    }

    #[tokio::test]
    async fn a_remote_404_is_a_problem_and_remembered() {
        let pull = state();
        let (status, headers, body) = call(&pull, "gone").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body["type"].as_str().unwrap().ends_with("remote-not-found"));
        assert!(header(&headers, "cache-status").contains("fwd=uri-miss"));
        let (status, headers, _) = call(&pull, "gone").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            header(&headers, "cache-status"),
            "dpp-gateway; hit; detail=negative"
        );
    }

    #[tokio::test]
    async fn invalid_remote_data_is_a_502_naming_the_violations() {
        let pull = state();
        let (status, _, body) = call(&pull, "broken").await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(body["type"].as_str().unwrap().ends_with("remote-invalid"));
        let pointers: Vec<&str> = body["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["pointer"].as_str().unwrap())
            .collect();
        assert!(
            pointers
                .iter()
                .any(|p| p.starts_with("/materials/0/recycledShare")),
            "{pointers:?}"
        );
        assert_eq!(pull.cache.stats().invalid, 1);
    }

    #[tokio::test]
    async fn remote_failures_map_to_gateway_statuses() {
        let pull = state();
        let cases = [
            ("slow", StatusCode::GATEWAY_TIMEOUT, "remote-timeout"),
            ("failing", StatusCode::BAD_GATEWAY, "remote-error"),
            (
                "down",
                StatusCode::SERVICE_UNAVAILABLE,
                "partner-unavailable",
            ),
            (
                "off",
                StatusCode::SERVICE_UNAVAILABLE,
                "partner-unavailable",
            ),
            ("nobody", StatusCode::NOT_FOUND, "unknown-partner"),
            (
                "publisher",
                StatusCode::UNPROCESSABLE_ENTITY,
                "partner-cannot-fetch",
            ),
        ];
        for (partner, status, slug) in cases {
            let (got, headers, body) = call(&pull, partner).await;
            assert_eq!(got, status, "{partner}: {body}");
            assert!(
                body["type"].as_str().unwrap().ends_with(slug),
                "{partner}: {body}"
            );
            assert_eq!(header(&headers, "content-type"), "application/problem+json");
        }
        let (status, headers, _) = call(&pull, "busy").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(header(&headers, "retry-after"), "7");
    }

    #[tokio::test]
    async fn the_handler_routes_with_its_state() {
        use tower::ServiceExt;
        let app = axum::Router::new()
            .route(
                "/api/v1/remote/{partner}/passports/{remote_id}",
                axum::routing::get(get_remote_passport),
            )
            .with_state(state());
        let response = app
            .clone()
            .oneshot(
                axum::http::Request::get("/api/v1/remote/good/passports/b1")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(response.headers(), "x-cache"), "MISS");
        // A path that is not UTF-8 is a problem too, not axum's plain-text rejection.
        let response = app
            .oneshot(
                axum::http::Request::get("/api/v1/remote/good/passports/%FF")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            header(response.headers(), "content-type"),
            "application/problem+json"
        );
    }

    #[tokio::test]
    async fn bad_remote_ids_are_refused_before_any_lookup() {
        let pull = state();
        let response = serve_remote_passport(&pull, "good", &"x".repeat(300)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(pull.cache.stats().misses, 0);
    }
}
