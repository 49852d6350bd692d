//! `GET /api/v1/partners/{name}/conformance`: the latest conformance run of a partner.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use super::{AppState, store_problem};
use crate::problem::Problem;

pub(super) async fn latest(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(name) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let partner = state
        .store()
        .partner(&name)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| Problem::not_found(format!("no partner named {name:?}")))?;
    let run = state
        .store()
        .latest_conformance_run(&name)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| {
            Problem::not_found(format!(
                "partner {name} has not been checked yet; run `dpp-gateway partner check {name}`"
            ))
        })?;
    Ok(axum::Json(serde_json::json!({
        "partner": name,
        "state": partner.state.as_str(),
        "run": run,
    }))
    .into_response())
}
