//! `/api/v1/partners`: register (every problem listed as a 422), list, show and remove partners;
//! issue, list and revoke the tokens a partner calls `/partner/v1` with.
//! Credentials are references only; no response ever carries a secret. Registering or removing a
//! partner forgets the passports pulled from any former partner of that name.

use axum::Extension;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{AppState, Caller, read_json, store_problem};
use crate::exchange::{PartnerRegistration, PartnerView};
use crate::problem::{Problem, ViolationDetail};
use crate::store::StoreError;

/// Turns a registration document into a checked one, or the 422 listing what is wrong.
fn registration(value: serde_json::Value) -> Result<PartnerRegistration, Problem> {
    serde_json::from_value(value).map_err(|e| {
        // serde's message names the member; it quotes no values of credential objects, which
        // only ever hold strings under known keys.
        Problem::schema_violation(
            "partner registration",
            vec![ViolationDetail {
                pointer: String::new(),
                message: e.to_string(),
            }],
        )
    })
}

pub(super) async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let value = read_json(&headers, body, state.config.body_limit_bytes).await?;
    let partners = &state.exchange.partners;
    let record = registration(value)?
        .check(partners.adapters(), state.schemas(), partners.secrets())
        .map_err(|violations| Problem::schema_violation("partner registration", violations))?;
    let stored = match state.store().insert_partner(&record, &caller.actor).await {
        Ok(stored) => stored,
        Err(StoreError::Duplicate) => {
            return Err(Problem::conflict(format!(
                "a partner named {} exists already; remove it first to register it again",
                record.name
            )));
        }
        Err(e) => return Err(store_problem(e)),
    };
    // Passports pulled from a former partner of this name are not this partner's.
    state.remote_pull.forget_partner(&stored.name);
    tracing::info!(partner = %stored.name, adapter = %stored.adapter_type, state = %stored.state, actor = %caller.actor, "partner registered");
    let mut response = (
        StatusCode::CREATED,
        axum::Json(PartnerView::of(&stored, partners.adapters())),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/partners/{}", stored.name)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub(super) async fn list(State(state): State<AppState>) -> Result<Response, Problem> {
    let adapters = state.exchange.partners.adapters();
    let items: Vec<PartnerView> = state
        .store()
        .partners()
        .await
        .map_err(store_problem)?
        .iter()
        .map(|p| PartnerView::of(p, adapters))
        .collect();
    Ok(axum::Json(serde_json::json!({ "items": items })).into_response())
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(name) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let record = state
        .store()
        .partner(&name)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| Problem::not_found(format!("no partner named {name:?}")))?;
    Ok(axum::Json(PartnerView::of(&record, state.exchange.partners.adapters())).into_response())
}

/// `PATCH /partners/{name}`: a JSON merge patch over the registration; the partner returns to
/// `registered` when what it is changes (see [`crate::exchange::partners::updated_record`]).
pub(super) async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let Path(name) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let patch = read_json(&headers, body, state.config.body_limit_bytes).await?;
    let current = state
        .store()
        .partner(&name)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| Problem::not_found(format!("no partner named {name:?}")))?;
    let partners = &state.exchange.partners;
    let record = crate::exchange::partners::updated_record(
        &current,
        &patch,
        partners.adapters(),
        state.schemas(),
        partners.secrets(),
    )
    .map_err(|violations| Problem::schema_violation("partner update", violations))?;
    let stored = match state
        .store()
        .update_partner(&record, current.revision, &caller.actor)
        .await
    {
        Ok(stored) => stored,
        Err(StoreError::NotFound) => {
            return Err(Problem::not_found(format!("no partner named {name:?}")));
        }
        Err(StoreError::VersionConflict { .. }) => {
            return Err(Problem::conflict(format!(
                "partner {name} changed while this update ran; read it again and resend"
            )));
        }
        Err(e) => return Err(store_problem(e)),
    };
    // What was pulled through the old settings is not the new partner's.
    state.remote_pull.forget_partner(&name);
    tracing::info!(partner = %name, actor = %caller.actor, state = %stored.state, "partner updated");
    Ok(axum::Json(PartnerView::of(&stored, partners.adapters())).into_response())
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(name) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    match state.store().delete_partner(&name, &caller.actor).await {
        Ok(()) => {
            state.remote_pull.forget_partner(&name);
            tracing::info!(partner = %name, actor = %caller.actor, "partner removed");
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Err(StoreError::NotFound) => Err(Problem::not_found(format!("no partner named {name:?}"))),
        Err(e) => Err(store_problem(e)),
    }
}

pub(super) async fn issue_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(name) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let (token, listed) = match state
        .store()
        .issue_partner_token(&name, &caller.actor)
        .await
    {
        Ok(issued) => issued,
        Err(StoreError::NotFound) => {
            return Err(Problem::not_found(format!("no partner named {name:?}")));
        }
        Err(e) => return Err(store_problem(e)),
    };
    tracing::info!(partner = %name, token = %listed.id, actor = %caller.actor, "partner token issued");
    let mut body = serde_json::to_value(&listed).map_err(|_| Problem::internal())?;
    body["token"] = serde_json::Value::String(token);
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(location) =
        HeaderValue::from_str(&format!("/api/v1/partners/{name}/tokens/{}", listed.id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    // The token is shown this once; no cache may keep it.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

pub(super) async fn list_tokens(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(name) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    if state
        .store()
        .partner(&name)
        .await
        .map_err(store_problem)?
        .is_none()
    {
        return Err(Problem::not_found(format!("no partner named {name:?}")));
    }
    let items = state
        .store()
        .partner_tokens(&name)
        .await
        .map_err(store_problem)?;
    Ok(axum::Json(serde_json::json!({ "items": items })).into_response())
}

pub(super) async fn revoke_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, Problem> {
    let Path((name, id)) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    match state
        .store()
        .revoke_partner_token(&name, &id, &caller.actor)
        .await
    {
        Ok(()) => {
            tracing::info!(partner = %name, token = %id, actor = %caller.actor, "partner token revoked");
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Err(StoreError::NotFound) => Err(Problem::not_found(format!(
            "partner {name:?} has no token {id:?}"
        ))),
        Err(e) => Err(store_problem(e)),
    }
}
