//! `/api/v1/exchanges` (queue a push, follow its progress, retry a dead one) and
//! `/api/v1/subscriptions` (queue every new matching version for a partner).

use axum::Extension;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{AppState, Caller, parse_id, read_json, store_problem};
use crate::exchange::{PushError, queue_push};
use crate::problem::{Problem, ViolationDetail};
use crate::store::{
    MAX_OUTBOX_PAGE, OutboxFilter, OutboxItem, OutboxState, PassportSelector, StoreError,
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PushRequest {
    partner: String,
    passport: String,
    #[serde(default)]
    version: Option<u32>,
}

fn bad_document(what: &str, e: serde_json::Error) -> Problem {
    Problem::schema_violation(
        what,
        vec![ViolationDetail {
            pointer: String::new(),
            message: e.to_string(),
        }],
    )
}

fn push_problem(err: PushError) -> Problem {
    match err {
        PushError::PartnerNotFound(_) | PushError::PassportNotFound(_) => {
            Problem::not_found(err.to_string())
        }
        PushError::NotDeliverable { .. } => Problem::new(
            StatusCode::CONFLICT,
            "partner-not-verified",
            "Partner not verified",
            err.to_string(),
        ),
        PushError::CannotPublish { .. } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "partner-cannot-publish",
            "Partner cannot receive pushes",
            err.to_string(),
        ),
        PushError::PolicyRefused { .. } => Problem::new(
            StatusCode::FORBIDDEN,
            "access-policy",
            "Refused by the partner's access policy",
            err.to_string(),
        ),
        PushError::Store(e) => store_problem(e),
    }
}

fn item_response(status: StatusCode, item: &OutboxItem) -> Response {
    let mut response = (status, axum::Json(item)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/exchanges/{}", item.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

pub(super) async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let value = read_json(&headers, body, state.config.body_limit_bytes).await?;
    let request: PushRequest =
        serde_json::from_value(value).map_err(|e| bad_document("exchange request", e))?;
    let passport = parse_id(&request.passport, "passport")?.to_string();
    let item = queue_push(
        &state.exchange,
        &request.partner,
        &passport,
        request.version.map(i64::from),
        &caller.actor,
    )
    .await
    .map_err(push_problem)?;
    Ok(item_response(StatusCode::ACCEPTED, &item))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ListQuery {
    state: Option<String>,
    partner: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = query.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let filter = OutboxFilter {
        state: q
            .state
            .as_deref()
            .map(str::parse::<OutboxState>)
            .transpose()
            .map_err(Problem::bad_parameter)?,
        partner: q.partner.clone(),
    };
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_OUTBOX_PAGE {
        return Err(Problem::bad_parameter(format!(
            "limit must be within 1 and {MAX_OUTBOX_PAGE}, got {limit}"
        )));
    }
    let page = state
        .store()
        .list_outbox(&filter, q.after.as_deref(), limit)
        .await
        .map_err(store_problem)?;
    Ok(axum::Json(page).into_response())
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(id) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let item = state
        .store()
        .outbox_item(&id)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| Problem::not_found(format!("no exchange {id}")))?;
    Ok(axum::Json(item).into_response())
}

pub(super) async fn retry(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(id) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let item = match state.store().retry_delivery(&id, &caller.actor).await {
        Ok(item) => item,
        Err(StoreError::NotFound) => return Err(Problem::not_found(format!("no exchange {id}"))),
        Err(e) => return Err(store_problem(e)),
    };
    state.exchange.wake.notify_one();
    Ok(item_response(StatusCode::ACCEPTED, &item))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SubscriptionRequest {
    partner: String,
    #[serde(default)]
    filter: PassportSelector,
}

pub(super) async fn create_subscription(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let value = read_json(&headers, body, state.config.body_limit_bytes).await?;
    let request: SubscriptionRequest =
        serde_json::from_value(value).map_err(|e| bad_document("subscription", e))?;
    let problems: Vec<ViolationDetail> = request
        .filter
        .problems()
        .into_iter()
        .map(|(member, message)| ViolationDetail {
            pointer: format!("/filter/{member}"),
            message,
        })
        .collect();
    if !problems.is_empty() {
        return Err(Problem::schema_violation("subscription", problems));
    }
    let partner = state
        .store()
        .partner(&request.partner)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| Problem::not_found(format!("no partner named {:?}", request.partner)))?;
    if !partner.state.may_receive_deliveries() {
        return Err(push_problem(PushError::NotDeliverable {
            partner: partner.name,
            state: partner.state,
        }));
    }
    let subscription = state
        .store()
        .insert_subscription(&partner.name, &request.filter, &caller.actor)
        .await
        .map_err(store_problem)?;
    let mut response = (StatusCode::CREATED, axum::Json(&subscription)).into_response();
    if let Ok(location) =
        HeaderValue::from_str(&format!("/api/v1/subscriptions/{}", subscription.id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct SubscriptionQuery {
    partner: Option<String>,
}

pub(super) async fn list_subscriptions(
    State(state): State<AppState>,
    query: Result<Query<SubscriptionQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = query.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let items = state
        .store()
        .subscriptions(q.partner.as_deref())
        .await
        .map_err(store_problem)?;
    Ok(axum::Json(serde_json::json!({ "items": items })).into_response())
}

pub(super) async fn delete_subscription(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(id) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    match state.store().delete_subscription(&id, &caller.actor).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(StoreError::NotFound) => Err(Problem::not_found(format!("no subscription {id}"))),
        Err(e) => Err(store_problem(e)),
    }
}
