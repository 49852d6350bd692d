//! HTTP side of the Ouranos mock: routing (`/api/v1/datatransport` and `/api/v1/authInfo`
//! dispatched on `dataTarget`, the `/auth/*` endpoints), `apiKey` + bearer checks, schema
//! validation of bodies, the `x-track` and `link` headers, idempotent replay, fault injection and
//! the `/__admin` endpoints.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get, post};
use chrono::{SecondsFormat, Utc};
use dpp_schemas::wire::Violation;
use dpp_schemas::wire::ouranos::{Method as WireMethod, Target, ouranos};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::store::{ApiError, Caller, Query, Reply, Scope, allowed_params};
use super::{Break, Forgery, HostilePaging, Shared, Stats, lock};
use crate::mock::faults::{Before, Faults};
use crate::mock::server::ConnectionControl;

/// The host of `link` URLs under [`HostilePaging::ForeignHost`]: the cloud metadata address.
const FOREIGN_HOST: &str = "169.254.169.254";

/// Largest request body the mock reads.
const MAX_BODY: usize = 8 << 20;

/// The endpoint families of the published interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    DataTransport,
    AuthInfo,
    Login,
    Refresh,
    Change,
    Client,
    SystemToken,
}

impl Route {
    fn scope(self) -> Scope {
        match self {
            Route::DataTransport => Scope::Dataspace,
            _ => Scope::Auth,
        }
    }

    /// Needs `Authorization: Bearer` besides `apiKey`.
    fn needs_bearer(self) -> bool {
        matches!(self, Route::DataTransport | Route::AuthInfo | Route::Change)
    }

    /// Carries traceability data (counted as gets/puts, idempotent, drop-after-commit applies).
    fn is_data(self) -> bool {
        matches!(self, Route::DataTransport | Route::AuthInfo)
    }

    fn allows(self, method: &Method) -> bool {
        match self {
            Route::DataTransport => [Method::GET, Method::PUT, Method::DELETE].contains(method),
            Route::AuthInfo => [Method::GET, Method::PUT].contains(method),
            _ => method == Method::POST,
        }
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/datatransport", api(Route::DataTransport))
        .route("/api/v1/authInfo", api(Route::AuthInfo))
        .route("/auth/login", api(Route::Login))
        .route("/auth/refresh", api(Route::Refresh))
        .route("/auth/change", api(Route::Change))
        .route("/auth/client", api(Route::Client))
        .route("/api/v2/systemAuth/token", api(Route::SystemToken))
        .route(
            "/__admin/faults",
            get(admin_get_faults).post(admin_set_faults),
        )
        .route("/__admin/stats", get(admin_stats))
        .route("/__admin/reset", post(admin_reset))
        .route("/__admin/expire-tokens", post(admin_expire_tokens))
        .fallback(endpoint_not_found)
        .with_state(shared)
}

fn api(route: Route) -> MethodRouter<Arc<Shared>> {
    any(move |State(shared): State<Arc<Shared>>, request: Request| handle(shared, route, request))
}

/// Per-request context for error details and headers.
struct Ctx {
    x_track: String,
    data_target: String,
    method: String,
}

/// A finished answer, cloneable so it can be replayed for a repeated `Idempotency-Key`.
#[derive(Debug, Clone)]
struct Rendered {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl Rendered {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

async fn handle(shared: Arc<Shared>, route: Route, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let control = parts.extensions.get::<ConnectionControl>().cloned();
    let query = Query::parse(parts.uri.query());
    let ctx = Ctx {
        x_track: header_str(&parts.headers, "x-track")
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        data_target: query.get("dataTarget").unwrap_or("").to_owned(),
        method: parts.method.to_string(),
    };
    let scope = route.scope();
    lock(&shared.store).stats.requests += 1;

    // Infrastructure faults come first, as a load balancer's would.
    let (latency, before) = lock(&shared.faults).before();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match before {
        Before::Proceed => {}
        Before::Reset => {
            if let Some(control) = &control {
                control.drop_connection().await;
            }
        }
        Before::RateLimit { retry_after_secs } => {
            let mut rendered = render_error(
                &shared,
                &ctx,
                ApiError::new(429, scope, "TooManyRequests", "Too many requests"),
            );
            rendered
                .headers
                .push((header::RETRY_AFTER, HeaderValue::from(retry_after_secs)));
            return rendered.into_response();
        }
        Before::Error { status } => {
            return render_error(&shared, &ctx, injected_error(status, scope)).into_response();
        }
    }

    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(e) => {
            let error = ApiError::bad_request(scope, format!("Validation failed, {e}"));
            return render_error(&shared, &ctx, error).into_response();
        }
    };

    // apiKey (403 per the spec), then the route, then the bearer token (401).
    let api_key_error = match header_str(&parts.headers, "apikey") {
        None if shared.broken(Break::AcceptMissingApiKey) => None,
        None => Some("You do not have the necessary privileges"),
        Some(key) if key != shared.config.api_key && !shared.broken(Break::AcceptWrongApiKey) => {
            Some("Invalid key")
        }
        Some(_) => None,
    };
    if let Some(message) = api_key_error {
        lock(&shared.store).stats.auth_failures += 1;
        return render_error(&shared, &ctx, ApiError::forbidden(Scope::Auth, message))
            .into_response();
    }
    if !route.allows(&parts.method) {
        return render_error(
            &shared,
            &ctx,
            ApiError::not_found(scope, "Endpoint Not Found"),
        )
        .into_response();
    }
    let caller = if route.needs_bearer() {
        let token = header_str(&parts.headers, "authorization").and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
        let mut store = lock(&shared.store);
        match store.authenticate(token) {
            Ok(caller) => Some(caller),
            Err(error) => {
                store.stats.auth_failures += 1;
                drop(store);
                return render_error(&shared, &ctx, error).into_response();
            }
        }
    } else {
        None
    };

    // Test hook: a forged answer queued for this dataTarget and method goes out instead.
    let forged = if route.is_data() && caller.is_some() {
        let mut queue = lock(&shared.forged);
        queue
            .iter()
            .position(|f| f.data_target == ctx.data_target && f.method == ctx.method)
            .map(|at| queue.remove(at).forgery)
    } else {
        None
    };
    let patch = match forged {
        Some(Forgery::Raw {
            status,
            content_type,
            body,
        }) => {
            let mut headers: Vec<_> = x_track(&shared, &ctx).into_iter().collect();
            if let Ok(value) = HeaderValue::from_str(&content_type)
                && !content_type.is_empty()
            {
                headers.push((header::CONTENT_TYPE, value));
            }
            return Rendered {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                headers,
                body: Bytes::from(body),
            }
            .into_response();
        }
        Some(Forgery::Patch(patch)) => Some(patch),
        None => None,
    };

    // Mock extension: Idempotency-Key on writes replays the first successful answer.
    let idempotency = match header_str(&parts.headers, "idempotency-key") {
        Some(key) if route.is_data() && parts.method != Method::GET => {
            let scope_key = (
                caller
                    .as_ref()
                    .map(|c| c.operator_id.clone())
                    .unwrap_or_default(),
                key.to_owned(),
            );
            let fingerprint = Fingerprint {
                method: parts.method.to_string(),
                uri: parts.uri.to_string(),
                body: body.clone(),
            };
            match lock(&shared.idempotency).begin(scope_key.clone(), fingerprint) {
                Begin::Proceed => Some(scope_key),
                Begin::Replay(mut rendered) => {
                    lock(&shared.store).stats.idempotent_replays += 1;
                    rendered.headers.push((
                        HeaderName::from_static("idempotent-replayed"),
                        HeaderValue::from_static("true"),
                    ));
                    return rendered.into_response();
                }
                Begin::InFlight => {
                    let error = ApiError::new(
                        409,
                        scope,
                        "Conflict",
                        "A request with this Idempotency-Key is in progress",
                    );
                    return render_error(&shared, &ctx, error).into_response();
                }
                Begin::Mismatch => {
                    let error = ApiError::new(
                        422,
                        scope,
                        "UnprocessableEntity",
                        "Idempotency-Key was already used for a different request",
                    );
                    return render_error(&shared, &ctx, error).into_response();
                }
            }
        }
        _ => None,
    };

    let rendered = match process(
        &shared,
        route,
        &parts.method,
        &query,
        caller.as_ref(),
        &body,
    ) {
        Ok((mut reply, check)) => {
            // A forged answer is meant to break the schema: not the mock's own mistake.
            let check = match (&patch, reply.body.as_mut()) {
                (Some(patch), Some(body)) => {
                    patch(body);
                    None
                }
                _ => check,
            };
            render_reply(
                &shared,
                &ctx,
                &parts.headers,
                parts.uri.path(),
                &query,
                reply,
                check,
            )
        }
        Err(error) => render_error(&shared, &ctx, error),
    };
    let committed = rendered.status.is_success();
    if let Some(key) = idempotency {
        lock(&shared.idempotency).finish(key, committed.then(|| rendered.clone()));
    }
    if committed
        && route.is_data()
        && parts.method != Method::GET
        && lock(&shared.faults).drop_after_commit()
        && let Some(control) = &control
    {
        control.drop_connection().await;
    }
    rendered.into_response()
}

/// The operation behind a request, with what to check its answer against.
type Processed = (Reply, Option<(Target, WireMethod)>);

fn process(
    shared: &Shared,
    route: Route,
    method: &Method,
    query: &Query,
    caller: Option<&Caller>,
    body: &Bytes,
) -> Result<Processed, ApiError> {
    let scope = route.scope();
    let wm = match *method {
        Method::GET => WireMethod::Get,
        Method::PUT => WireMethod::Put,
        Method::POST => WireMethod::Post,
        Method::DELETE => WireMethod::Delete,
        _ => return Err(ApiError::not_found(scope, "Endpoint Not Found")),
    };
    let mut store = lock(&shared.store);
    let store = &mut *store;
    match route {
        Route::DataTransport | Route::AuthInfo => {
            let caller = caller.ok_or_else(|| ApiError::unauthorized("Authentication required"))?;
            let data_target = query.get("dataTarget").unwrap_or("");
            let found = if route == Route::DataTransport {
                Target::from_datatransport(data_target)
            } else {
                Target::from_auth_info(data_target)
            };
            let mut target = found.ok_or_else(|| {
                ApiError::invalid_param(scope, "dataTarget", "Unexpected query parameter")
            })?;
            let allowed = allowed_params(target, method.as_str());
            let unknown = query
                .0
                .iter()
                .filter(|_| !shared.broken(Break::AcceptUnknownParam))
                .find(|(k, _)| !allowed.contains(&k.as_str()));
            if let Some((name, _)) = unknown {
                return Err(ApiError::invalid_param(
                    scope,
                    name,
                    "Unexpected query parameter",
                ));
            }
            count(&mut store.stats, data_target, wm);
            let reply = match (target, wm) {
                (Target::Operator, WireMethod::Get) => {
                    if query.get("operatorIds").is_some() && query.get("openOperatorId").is_none() {
                        target = Target::OperatorsByIds;
                    }
                    store.get_operator(caller, query)
                }
                (Target::Operator, WireMethod::Put) => {
                    let input = parse(
                        &mut store.stats,
                        &shared.config.breaks,
                        target,
                        wm,
                        body,
                        scope,
                    )?;
                    store.put_operator(caller, input)
                }
                (Target::Plant, WireMethod::Get) => store.list_plants(caller),
                (Target::Plant, WireMethod::Put) => {
                    let input = parse(
                        &mut store.stats,
                        &shared.config.breaks,
                        target,
                        wm,
                        body,
                        scope,
                    )?;
                    store.put_plant(caller, input)
                }
                (Target::Parts, WireMethod::Get) => store.list_parts(caller, query),
                (Target::Parts, WireMethod::Put) => {
                    let input = parse(
                        &mut store.stats,
                        &shared.config.breaks,
                        target,
                        wm,
                        body,
                        scope,
                    )?;
                    store.put_part(caller, input)
                }
                (Target::Parts, WireMethod::Delete) => store.delete_part(caller, query),
                (Target::PartsStructure, WireMethod::Get) => store.get_structure(caller, query),
                (Target::PartsStructure, WireMethod::Put) => {
                    let input = parse(
                        &mut store.stats,
                        &shared.config.breaks,
                        target,
                        wm,
                        body,
                        scope,
                    )?;
                    store.put_structure(caller, input)
                }
                (Target::Cfp, WireMethod::Get) => store.get_cfp(caller, query),
                (Target::Cfp, WireMethod::Put) => {
                    let input = parse(
                        &mut store.stats,
                        &shared.config.breaks,
                        target,
                        wm,
                        body,
                        scope,
                    )?;
                    store.put_cfp(caller, input)
                }
                (Target::CfpCertification, WireMethod::Get) => {
                    store.get_certifications(caller, query)
                }
                (Target::TradeRequest, WireMethod::Get) => store.list_trade_requests(caller, query),
                (Target::TradeRequest, WireMethod::Put) => {
                    let input = parse(
                        &mut store.stats,
                        &shared.config.breaks,
                        target,
                        wm,
                        body,
                        scope,
                    )?;
                    store.put_trade_request(caller, input)
                }
                (Target::TradeResponse, WireMethod::Get) => {
                    store.list_trade_responses(caller, query)
                }
                (Target::TradeResponse, WireMethod::Put) => store.put_trade_response(caller, query),
                (Target::Status, WireMethod::Get) => store.list_statuses(caller, query),
                (Target::Status, WireMethod::Put) => {
                    let input = parse(
                        &mut store.stats,
                        &shared.config.breaks,
                        target,
                        wm,
                        body,
                        scope,
                    )?;
                    store.put_status(caller, input)
                }
                _ => Err(ApiError::not_found(scope, "Endpoint Not Found")),
            }?;
            Ok((reply, Some((target, wm))))
        }
        Route::Login => {
            store.stats.auth_posts += 1;
            let input = parse(
                &mut store.stats,
                &shared.config.breaks,
                Target::AuthLogin,
                wm,
                body,
                scope,
            )?;
            Ok((store.login(input)?, Some((Target::AuthLogin, wm))))
        }
        Route::Refresh => {
            store.stats.auth_posts += 1;
            let input = parse(
                &mut store.stats,
                &shared.config.breaks,
                Target::AuthRefresh,
                wm,
                body,
                scope,
            )?;
            Ok((store.refresh(input)?, Some((Target::AuthRefresh, wm))))
        }
        Route::Change => {
            store.stats.auth_posts += 1;
            let caller = caller.ok_or_else(|| ApiError::unauthorized("Authentication required"))?;
            let input = parse(
                &mut store.stats,
                &shared.config.breaks,
                Target::AuthChange,
                wm,
                body,
                scope,
            )?;
            Ok((store.change_password(caller, input)?, None))
        }
        Route::Client => {
            store.stats.auth_posts += 1;
            let input = parse(
                &mut store.stats,
                &shared.config.breaks,
                Target::AuthClient,
                wm,
                body,
                scope,
            )?;
            Ok((store.client_login(input)?, Some((Target::AuthClient, wm))))
        }
        Route::SystemToken => {
            store.stats.auth_posts += 1;
            let input: super::model::TokenInput = parse(
                &mut store.stats,
                &shared.config.breaks,
                Target::SystemAuthToken,
                wm,
                body,
                scope,
            )?;
            Ok((
                store.introspect(&input.id_token)?,
                Some((Target::SystemAuthToken, wm)),
            ))
        }
    }
}

fn count(stats: &mut Stats, data_target: &str, method: WireMethod) {
    let per_target = stats.by_target.entry(data_target.to_owned()).or_default();
    match method {
        WireMethod::Get => {
            stats.gets += 1;
            per_target.get += 1;
        }
        WireMethod::Put => {
            stats.puts += 1;
            per_target.put += 1;
        }
        WireMethod::Delete => {
            stats.deletes += 1;
            per_target.delete += 1;
        }
        WireMethod::Post => {}
    }
}

/// Reads a body: JSON syntax, then the official schema (and its prose rules), then the type.
fn parse<T: DeserializeOwned>(
    stats: &mut Stats,
    breaks: &std::collections::BTreeSet<Break>,
    target: Target,
    method: WireMethod,
    body: &Bytes,
    scope: Scope,
) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(scope, format!("Validation failed, {e}")))?;
    if let Err(violations) = ouranos().validate_request(target, method, &value)
        && let violations = tolerated(breaks, target, method, violations)
        && !violations.is_empty()
    {
        stats.validation_failures += 1;
        let reasons: Vec<String> = violations.iter().map(ToString::to_string).collect();
        return Err(ApiError::bad_request(
            scope,
            format!("Validation failed, {}", reasons.join("; ")),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(scope, format!("Validation failed, {e}")))
}

/// Drops the violations a broken mock is told to let through (conformance self-test).
fn tolerated(
    breaks: &std::collections::BTreeSet<Break>,
    target: Target,
    method: WireMethod,
    violations: Vec<Violation>,
) -> Vec<Violation> {
    if method != WireMethod::Put {
        return violations;
    }
    let lets_through = |v: &Violation| match target {
        Target::Parts => breaks.contains(&Break::AcceptInvalidPart),
        Target::PartsStructure => {
            (breaks.contains(&Break::AcceptOver50Children) && v.pointer == "/childrenPartsModel")
                || (breaks.contains(&Break::AcceptParentAmount)
                    && v.pointer == "/parentPartsModel/amountRequired")
        }
        Target::Cfp => {
            (breaks.contains(&Break::AcceptIncompleteCfp) && v.pointer.is_empty())
                || (breaks.contains(&Break::AcceptTooManyDecimals) && v.message.contains("decimal"))
        }
        _ => false,
    };
    violations
        .into_iter()
        .filter(|v| !lets_through(v))
        .collect()
}

fn render_reply(
    shared: &Shared,
    ctx: &Ctx,
    headers: &HeaderMap,
    path: &str,
    query: &Query,
    reply: Reply,
    check: Option<(Target, WireMethod)>,
) -> Rendered {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let mut out = Rendered {
        status,
        headers: x_track(shared, ctx).into_iter().collect(),
        body: Bytes::new(),
    };
    if let Some(body) = &reply.body {
        if let Some((target, method)) = check
            && let Err(violations) = ouranos().validate_response(target, method, reply.status, body)
        {
            // The mock's own answers must follow the spec too; tests watch this counter.
            lock(&shared.store).stats.self_check_failures += 1;
            tracing::error!(?target, %method, ?violations, "mock answer breaks the official schema");
        }
        out.headers.push((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ));
        out.body = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
    }
    if let Some(page) = reply.next.filter(|_| !shared.broken(Break::NoLinkHeader)) {
        let host = if shared.config.hostile_paging == Some(HostilePaging::ForeignHost) {
            // Hostile on purpose: the cloud metadata address, with a cursor valid here.
            FOREIGN_HOST.to_owned()
        } else {
            header_str(headers, "host")
                .map(str::to_owned)
                .unwrap_or_else(|| shared.addr.to_string())
        };
        let mut next = form_urlencoded::Serializer::new(String::new());
        for (k, v) in query.0.iter().filter(|(k, _)| k != "limit" && k != "after") {
            next.append_pair(k, v);
        }
        next.append_pair("limit", &page.limit.to_string());
        next.append_pair("after", &page.after);
        // Exactly the published form: `<URL>;` (no rel parameter).
        let link = format!("<http://{host}{path}?{}>;", next.finish());
        if let Ok(value) = HeaderValue::from_str(&link) {
            out.headers.push((header::LINK, value));
        }
    }
    out
}

fn render_error(shared: &Shared, ctx: &Ctx, error: ApiError) -> Rendered {
    let detail = error.detail.unwrap_or_else(|| {
        format!(
            "id: {}, timeStamp: {}, dataTarget: {}, method: {}",
            ctx.x_track,
            Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            ctx.data_target,
            ctx.method
        )
    });
    let wrong_shape = (shared.broken(Break::UnknownTargetErrorShape)
        && error
            .message
            .contains("dataTarget: Unexpected query parameter"))
        || (shared.broken(Break::MissingParamErrorShape)
            && error.message.contains("cannot be blank"));
    let body = if wrong_shape {
        json!({ "error": error.message })
    } else {
        json!({ "code": error.code, "message": error.message, "detail": detail })
    };
    let mut headers: Vec<_> = x_track(shared, ctx).into_iter().collect();
    headers.push((
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    ));
    Rendered {
        status: StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        headers,
        body: Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
    }
}

fn injected_error(status: u16, scope: Scope) -> ApiError {
    match status {
        500 => ApiError::new(
            500,
            scope,
            "InternalServerError",
            "Unexpected error occurred",
        ),
        502 => ApiError::new(502, scope, "BadGateway", "Bad gateway"),
        504 => ApiError::new(504, Scope::Traceability, "Timeout", ""),
        _ => ApiError::new(
            503,
            scope,
            "ServiceUnavailable",
            "Unexpected error occurred in outer service",
        ),
    }
}

fn x_track(shared: &Shared, ctx: &Ctx) -> Option<(HeaderName, HeaderValue)> {
    if shared.broken(Break::NoXTrack) {
        return None;
    }
    Some((
        HeaderName::from_static("x-track"),
        HeaderValue::from_str(&ctx.x_track).unwrap_or_else(|_| HeaderValue::from_static("-")),
    ))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn endpoint_not_found(State(shared): State<Arc<Shared>>, method: Method) -> Response {
    if shared.broken(Break::NotFoundPlainText) {
        return (StatusCode::NOT_FOUND, "404 page not found").into_response();
    }
    let ctx = Ctx {
        x_track: uuid::Uuid::new_v4().to_string(),
        data_target: String::new(),
        method: method.to_string(),
    };
    render_error(
        &shared,
        &ctx,
        ApiError::not_found(Scope::Dataspace, "Endpoint Not Found"),
    )
    .into_response()
}

// ---- idempotency ------------------------------------------------------------------------------

/// What identifies "the same request" for a repeated `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    method: String,
    uri: String,
    body: Bytes,
}

#[derive(Debug)]
enum Entry {
    InFlight(Fingerprint),
    Done(Fingerprint, Rendered),
}

enum Begin {
    Proceed,
    Replay(Rendered),
    InFlight,
    Mismatch,
}

/// Answers by (operatorId, Idempotency-Key). Only successful answers are kept, so a refused
/// request can be corrected and retried under the same key.
#[derive(Debug, Default)]
pub(crate) struct IdempotencyCache {
    entries: HashMap<(String, String), Entry>,
}

impl IdempotencyCache {
    fn begin(&mut self, key: (String, String), fingerprint: Fingerprint) -> Begin {
        match self.entries.get(&key) {
            None => {
                self.entries.insert(key, Entry::InFlight(fingerprint));
                Begin::Proceed
            }
            Some(Entry::InFlight(_)) => Begin::InFlight,
            Some(Entry::Done(stored, rendered)) if *stored == fingerprint => {
                Begin::Replay(rendered.clone())
            }
            Some(Entry::Done(..)) => Begin::Mismatch,
        }
    }

    fn finish(&mut self, key: (String, String), rendered: Option<Rendered>) {
        match (self.entries.remove(&key), rendered) {
            (Some(Entry::InFlight(fingerprint)), Some(rendered)) => {
                self.entries.insert(key, Entry::Done(fingerprint, rendered));
            }
            (Some(other @ Entry::Done(..)), _) => {
                self.entries.insert(key, other);
            }
            _ => {}
        }
    }
}

// ---- admin ------------------------------------------------------------------------------------

/// Forgets data, counters, idempotency keys and injected faults (back to the configured ones).
pub(crate) fn reset(shared: &Shared) {
    lock(&shared.store).reset_data(shared.config.seed_data);
    let mut faults = lock(&shared.faults);
    faults.set(shared.config.faults.clone());
    faults.reset_counts();
    drop(faults);
    *lock(&shared.idempotency) = IdempotencyCache::default();
}

async fn admin_get_faults(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(lock(&shared.faults).faults().clone()).into_response()
}

async fn admin_set_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let faults: Faults = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("invalid faults: {e}")).into_response(),
    };
    if let Err(e) = faults.validate() {
        return (StatusCode::BAD_REQUEST, e).into_response();
    }
    lock(&shared.faults).set(faults.clone());
    axum::Json(faults).into_response()
}

async fn admin_stats(State(shared): State<Arc<Shared>>) -> Response {
    let mut stats = lock(&shared.store).stats.clone();
    stats.faults = lock(&shared.faults).counts().clone();
    axum::Json(stats).into_response()
}

async fn admin_reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    reset(&shared);
    StatusCode::NO_CONTENT
}

async fn admin_expire_tokens(State(shared): State<Arc<Shared>>) -> StatusCode {
    lock(&shared.store).expire_tokens();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(body: &'static str) -> Fingerprint {
        Fingerprint {
            method: "PUT".into(),
            uri: "/api/v1/datatransport?dataTarget=parts".into(),
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    fn rendered() -> Rendered {
        Rendered {
            status: StatusCode::CREATED,
            headers: Vec::new(),
            body: Bytes::from_static(b"{}"),
        }
    }

    #[test]
    fn idempotency_cache_replays_refuses_reuse_and_forgets_failures() {
        let mut cache = IdempotencyCache::default();
        let key = ("op".to_owned(), "k1".to_owned());
        assert!(matches!(cache.begin(key.clone(), fp("a")), Begin::Proceed));
        assert!(matches!(cache.begin(key.clone(), fp("a")), Begin::InFlight));
        cache.finish(key.clone(), Some(rendered()));
        assert!(matches!(
            cache.begin(key.clone(), fp("a")),
            Begin::Replay(_)
        ));
        assert!(matches!(cache.begin(key.clone(), fp("b")), Begin::Mismatch));
        // A failed attempt leaves no trace.
        let other = ("op".to_owned(), "k2".to_owned());
        assert!(matches!(
            cache.begin(other.clone(), fp("a")),
            Begin::Proceed
        ));
        cache.finish(other.clone(), None);
        assert!(matches!(cache.begin(other, fp("b")), Begin::Proceed));
    }
}
