//! The HTTP surface: management API under `/api/v1` (bearer tokens), the partner-facing API under
//! `/partner/v1` (partner tokens, access policy, per-partner limits), the published trust
//! documents under `/.well-known`, health, readiness and metrics. Every error is RFC 9457
//! problem+json.

mod body;
mod conformance;
mod exchanges;
mod idempotency;
pub mod limits;
pub mod partner_api;
mod partners;
mod passports;
mod records;
mod remote;
mod trust_routes;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{FromRef, MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dpp_schemas::SchemaRegistry;
use metrics_exporter_prometheus::PrometheusHandle;
use sha2::{Digest, Sha256};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

pub use body::{parse_json, read_body, read_json};
pub use remote::RemotePull;

use crate::config::Config;
use crate::exchange::Exchange;
use crate::problem::Problem;
use crate::service::PassportService;
use crate::store::{Store, StoreError};
use crate::telemetry::RequestServed;
use crate::trust::JwsVerifier;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

/// The shared parts of [`AppState`].
pub struct AppInner {
    /// The write path.
    pub service: PassportService,
    /// Effective configuration.
    pub config: Config,
    /// Published JWKS (all public keys, current and retired).
    pub jwks: serde_json::Value,
    /// Published did:web document.
    pub did_document: serde_json::Value,
    /// Verifier over the published JWKS.
    pub verifier: JwsVerifier,
    /// Prometheus handle for `/metrics`.
    pub metrics: PrometheusHandle,
    /// Partners, their connections and the outbox wake-up.
    pub exchange: Exchange,
    /// The pull cache and where pulls go.
    pub remote_pull: RemotePull,
    /// Per-partner limits of the partner-facing API.
    pub inbound: limits::InboundGates,
    admin_digests: Vec<[u8; 32]>,
    reader_digests: Vec<[u8; 32]>,
    metrics_digests: Vec<[u8; 32]>,
}

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl AppState {
    /// Builds the state; tokens are kept only as SHA-256 digests.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        service: PassportService,
        config: Config,
        jwks: serde_json::Value,
        did_document: serde_json::Value,
        verifier: JwsVerifier,
        metrics: PrometheusHandle,
        exchange: Exchange,
        remote_pull: RemotePull,
    ) -> Self {
        let digest = |t: &String| -> [u8; 32] { Sha256::digest(t.as_bytes()).into() };
        let admin_digests = config.auth.admin_tokens.iter().map(digest).collect();
        let reader_digests = config.auth.reader_tokens.iter().map(digest).collect();
        let metrics_digests = config.auth.metrics_tokens.iter().map(digest).collect();
        let inbound = limits::InboundGates::new(config.inbound.clone());
        Self(Arc::new(AppInner {
            service,
            config,
            jwks,
            did_document,
            verifier,
            metrics,
            exchange,
            remote_pull,
            inbound,
            admin_digests,
            reader_digests,
            metrics_digests,
        }))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        self.service.store()
    }

    /// The compiled schemas.
    pub fn schemas(&self) -> &SchemaRegistry {
        self.service.schemas()
    }
}

impl FromRef<AppState> for RemotePull {
    fn from_ref(state: &AppState) -> Self {
        state.remote_pull.clone()
    }
}

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read passports, lineage, KPIs; verify signatures.
    Reader,
    /// Everything, including writes.
    Admin,
}

/// The authenticated caller, put into request extensions by the auth middleware.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Its role.
    pub role: Role,
    /// `admin:<8 hex>` / `reader:<8 hex>`: a token fingerprint for the audit log, never the token.
    pub actor: String,
}

/// The whole router.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/passports", post(passports::create).get(passports::list))
        .route(
            "/passports/{id}",
            get(passports::get_one).put(passports::put_version),
        )
        .route("/passports/{id}/versions", get(passports::versions))
        .route("/passports/{id}/signed", get(passports::signed))
        .route("/passports/{id}/lineage", get(records::lineage))
        .route(
            "/trace-events",
            post(records::create_trace_event).get(records::list_trace_events),
        )
        .route("/trace-events/{id}", get(records::get_trace_event))
        .route(
            "/collection-records",
            post(records::create_collection_record).get(records::list_collection_records),
        )
        .route(
            "/collection-records/{id}",
            get(records::get_collection_record),
        )
        .route("/kpis/circularity", get(records::circularity_kpis))
        .route("/verify", post(trust_routes::verify))
        .route("/keys", get(trust_routes::list_keys))
        .route("/keys/{kid}/revoke", post(trust_routes::revoke_key))
        .route("/partners", post(partners::create).get(partners::list))
        .route(
            "/partners/{name}",
            get(partners::get_one)
                .patch(partners::update)
                .delete(partners::delete),
        )
        .route("/partners/{name}/conformance", get(conformance::latest))
        .route(
            "/partners/{name}/tokens",
            post(partners::issue_token).get(partners::list_tokens),
        )
        .route(
            "/partners/{name}/tokens/{id}",
            axum::routing::delete(partners::revoke_token),
        )
        .route("/exchanges", post(exchanges::create).get(exchanges::list))
        .route("/exchanges/{id}", get(exchanges::get_one))
        .route("/exchanges/{id}/retry", post(exchanges::retry))
        .route(
            "/subscriptions",
            post(exchanges::create_subscription).get(exchanges::list_subscriptions),
        )
        .route(
            "/subscriptions/{id}",
            axum::routing::delete(exchanges::delete_subscription),
        )
        .route(
            "/remote/{partner}/passports/{remote_id}",
            get(remote::get_remote_passport),
        )
        // Layers run outside in: authenticate first, so a key belongs to the caller it names.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotency,
        ))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    // Schemas are public: partners validate what we send against them.
    let public_api = Router::new()
        .route("/schemas", get(trust_routes::list_schemas))
        .route("/schemas/{name}", get(trust_routes::get_schema));
    Router::new()
        .nest("/api/v1", api.merge(public_api))
        .nest("/partner/v1", partner_api::routes(state.clone()))
        .route("/.well-known/jwks.json", get(trust_routes::jwks))
        .route("/.well-known/did.json", get(trust_routes::did_document))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_deadline,
        ))
        .layer(middleware::from_fn(observe))
        // Outermost first: refuse an unusable caller id, set one when absent (a UUID), copy it
        // to the answer; `observe` logs it, so a caller's report finds the log line.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::from_fn(drop_unusable_request_id))
        .with_state(state)
}

/// Routes a reader token may call although their method writes elsewhere: they only read.
/// Matched against the route template the router chose, never against the request's path.
const READER_POSTS: [&str; 1] = ["/api/v1/verify"];

/// The role a route needs: reads (GET, HEAD and the [`READER_POSTS`]) a reader token, every
/// other method an admin token. Decided by the matched route, so no path spelling (a partner
/// named `verify`, a trailing segment) changes the answer; a request that matched no route
/// needs an admin token.
fn role_needed(method: &Method, route: Option<&MatchedPath>) -> Role {
    let Some(route) = route else {
        return Role::Admin;
    };
    if matches!(*method, Method::GET | Method::HEAD)
        || (*method == Method::POST && READER_POSTS.contains(&route.as_str()))
    {
        Role::Reader
    } else {
        Role::Admin
    }
}

/// Bearer-token check against the role the matched route needs ([`role_needed`]).
async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let needed = role_needed(request.method(), request.extensions().get::<MatchedPath>());
    let token = bearer_token(request.headers());
    let Some(token) = token else {
        return Problem::unauthorized("send an API token as 'Authorization: Bearer <token>'")
            .into_response();
    };
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let role = if digest_listed(&state.admin_digests, &digest) {
        Role::Admin
    } else if digest_listed(&state.reader_digests, &digest) {
        Role::Reader
    } else {
        return Problem::unauthorized("the API token is not known").into_response();
    };
    if role < needed {
        return Problem::forbidden(format!(
            "{} {} needs an admin token; this token may only read",
            request.method(),
            request.uri().path()
        ))
        .into_response();
    }
    let prefix = if role == Role::Admin {
        "admin"
    } else {
        "reader"
    };
    let actor = format!("{prefix}:{}", hex::encode(&digest[..4]));
    request.extensions_mut().insert(Caller { role, actor });
    next.run(request).await
}

/// Whether `digest` is in `list`. Comparing fixed-size digests in constant time leaks neither
/// the token nor its length.
fn digest_listed(list: &[[u8; 32]], digest: &[u8; 32]) -> bool {
    list.iter().fold(false, |found, d| {
        found | aws_lc_rs::constant_time::verify_slices_are_equal(d, digest).is_ok()
    })
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Answers 503 problem+json when a request runs past `request_timeout_secs`. The handler's future
/// is dropped, so an open transaction rolls back: a timed-out write stores nothing.
async fn request_deadline(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = std::time::Duration::from_secs(state.config.request_timeout_secs);
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(http.path = %path, timeout_secs = limit.as_secs(), "request timed out");
            let mut problem = Problem::unavailable(format!(
                "the request took longer than {} s and was cancelled; nothing it started was kept",
                limit.as_secs()
            ));
            problem.retry_after = Some(1);
            problem.into_response()
        }
    }
}

/// Longest caller-chosen `x-request-id` kept.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Removes an `x-request-id` that is not 1–128 visible ASCII characters (or is sent twice), so a
/// caller cannot write control characters or kilobytes into every log line; one is made instead.
async fn drop_unusable_request_id(mut request: Request, next: Next) -> Response {
    let name = axum::http::HeaderName::from_static("x-request-id");
    let values: Vec<_> = request.headers().get_all(&name).iter().collect();
    let usable = values.len() == 1
        && (1..=MAX_REQUEST_ID_LEN).contains(&values[0].len())
        && values[0].as_bytes().iter().all(u8::is_ascii_graphic);
    if !values.is_empty() && !usable {
        request.headers_mut().remove(&name);
    }
    next.run(request).await
}

async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().clone();
    let response = next.run(request).await;
    RequestServed {
        route: &route,
        method: method.as_str(),
        status: response.status().as_u16(),
        elapsed: started.elapsed(),
        request_id: &request_id,
    }
    .emit();
    response
}

async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store().ping().await {
        Ok(()) => axum::Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            Problem::unavailable("the database is not reachable").into_response()
        }
    }
}

/// Prometheus text. With metrics tokens configured, only they and admin tokens may read it.
async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if !state.metrics_digests.is_empty() {
        let Some(token) = bearer_token(&headers) else {
            return Problem::unauthorized(
                "send the metrics token as 'Authorization: Bearer <token>'",
            )
            .into_response();
        };
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if !(digest_listed(&state.metrics_digests, &digest)
            || digest_listed(&state.admin_digests, &digest))
        {
            return Problem::unauthorized("the metrics token is not known").into_response();
        }
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn not_found(request: Request) -> Problem {
    Problem::not_found(format!(
        "no route for {} {}",
        request.method(),
        request.uri().path()
    ))
}

async fn method_not_allowed(request: Request) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// Maps store failures to problems; unexpected ones are logged and shown as 500/503.
pub fn store_problem(err: StoreError) -> Problem {
    match err {
        StoreError::NotFound => Problem::not_found("no such resource"),
        StoreError::Duplicate => Problem::conflict("the resource exists already"),
        StoreError::StateConflict(detail) => Problem::conflict(detail),
        StoreError::InvalidCursor(cursor) => {
            Problem::bad_parameter(format!("invalid cursor {cursor:?}"))
        }
        StoreError::VersionConflict { current } => Problem::precondition_failed(format!(
            "the resource changed; the current version is {current}"
        )),
        other => {
            tracing::error!(error = %other, "store failure");
            Problem::internal()
        }
    }
}

/// Parses a `urn:uuid:` path segment.
pub(crate) fn parse_id(raw: &str, what: &str) -> Result<dpp_schemas::UrnUuid, Problem> {
    raw.parse().map_err(|_| {
        Problem::bad_parameter(format!("{what} must be a urn:uuid identifier, got {raw:?}"))
    })
}
