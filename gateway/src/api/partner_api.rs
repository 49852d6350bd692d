//! `/partner/v1`: what a partner may read of our passports: one passport, its signed form, a
//! search, and the lineage around a passport. The caller is the partner its token names; every
//! answer goes through that partner's access policy ([`share`]), the same one every push goes
//! through. A passport the policy does not select is answered exactly like one that does not
//! exist, so a partner cannot learn what it is not granted. Each partner's calls are held to its
//! limits ([`super::limits`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::Value;

use super::passports::{ListQuery, VersionQuery, list_problem, not_modified, page_response};
use super::records::LineageQuery;
use super::{AppState, bearer_token, parse_id, store_problem};
use crate::exchange::policy::{Shared, Withheld, share};
use crate::problem::Problem;
use crate::service::{PASSPORT_JWS_TYP, etag_of};
use crate::store::{Lineage, PartnerRecord, StoredPassport, TOKEN_PREFIX};

/// Store pages one search reads at most to fill a page with passports the partner may have;
/// past that it answers what it found with a cursor to go on from.
const MAX_SCAN_PAGES: usize = 20;

/// The partner a request comes from, put into request extensions by [`authenticate_partner`].
#[derive(Debug, Clone)]
pub struct PartnerCaller(pub Arc<PartnerRecord>);

/// The partner-facing routes (nested under `/partner/v1`).
pub(super) fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/passports", get(search))
        .route("/passports/{id}", get(get_one))
        .route("/passports/{id}/signed", get(signed))
        .route("/passports/{id}/lineage", get(lineage))
        .route_layer(middleware::from_fn_with_state(state, authenticate_partner))
}

/// Partner tokens only (management tokens are refused here), a partner in a state we exchange
/// with, then its limits; the admission is held until the answer is made.
async fn authenticate_partner(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = bearer_token(request.headers()) else {
        return Problem::unauthorized("send the partner token as 'Authorization: Bearer <token>'")
            .into_response();
    };
    if !token.starts_with(TOKEN_PREFIX) {
        return Problem::unauthorized(format!(
            "/partner/v1 takes partner tokens (they start with {TOKEN_PREFIX}); management tokens belong to /api/v1"
        ))
        .into_response();
    }
    let partner = match state.store().partner_for_token(token).await {
        Ok(Some(partner)) => partner,
        Ok(None) => {
            return Problem::unauthorized("the partner token is not known or was revoked")
                .into_response();
        }
        Err(e) => return store_problem(e).into_response(),
    };
    if !partner.state.may_receive_deliveries() {
        return Problem::forbidden(format!(
            "partner {} is {}; passports are shared only with verified or trusted-unchecked partners",
            partner.name, partner.state
        ))
        .into_response();
    }
    let admission = match state.inbound.admit(&partner) {
        Ok(admission) => admission,
        Err(problem) => {
            tracing::info!(partner = %partner.name, detail = %problem.detail, "partner request refused by its limits");
            return problem.into_response();
        }
    };
    let name = partner.name.clone();
    request
        .extensions_mut()
        .insert(PartnerCaller(Arc::new(partner)));
    let response = next.run(request).await;
    drop(admission);
    // Who read how much, per partner: what an operator watches (and a regulator may ask about).
    let status = response.status();
    let class = match status.as_u16() {
        200..=299 | 304 => "ok",
        404 => "not_found",
        400..=499 => "client_error",
        _ => "server_error",
    };
    metrics::counter!("dpp_partner_requests_total", "partner" => name.clone(), "outcome" => class)
        .increment(1);
    tracing::debug!(partner = %name, status = status.as_u16(), "partner request answered");
    response
}

/// What is answered for a passport the partner may not have, or that does not exist: the same.
fn not_shared(id: &str) -> Problem {
    Problem::not_found(format!(
        "passport {id} does not exist or is not shared with you"
    ))
}

/// A passport in the form one partner may have it.
struct SharedVersion {
    stored: StoredPassport,
    /// The canonical bytes of the redacted form; `None` when nothing was withheld (then the
    /// stored bytes are the partner's, not copied).
    redacted: Option<String>,
}

impl SharedVersion {
    /// The canonical bytes the partner gets.
    fn into_canonical(self) -> String {
        self.redacted.unwrap_or(self.stored.canonical_json)
    }

    fn etag(&self) -> String {
        match &self.redacted {
            Some(canonical) => etag_of(canonical.as_bytes()),
            None => self.stored.etag.clone(),
        }
    }
}

/// The partner's form of `stored`, or `None` when its policy withholds it.
fn shared_form(partner: &PartnerRecord, stored: StoredPassport) -> Option<SharedVersion> {
    let doc: Value = match serde_json::from_str(&stored.canonical_json) {
        Ok(doc) => doc,
        Err(e) => {
            tracing::error!(passport = %stored.id, error = %e, "stored passport is not JSON");
            return None;
        }
    };
    match share(&partner.policy, &stored.id, &doc) {
        Ok(Shared {
            redacted: false, ..
        }) => Some(SharedVersion {
            stored,
            redacted: None,
        }),
        Ok(shared) => match dpp_schemas::jcs::to_string(&shared.passport) {
            Ok(canonical) => Some(SharedVersion {
                stored,
                redacted: Some(canonical),
            }),
            Err(e) => {
                tracing::error!(passport = %stored.id, error = %e, "cannot canonicalise a shared passport");
                None
            }
        },
        Err(Withheld::NotSelected) => None,
        Err(Withheld::Unusable(why)) => {
            tracing::warn!(partner = %partner.name, passport = %stored.id, %why, "passport withheld from a partner");
            None
        }
    }
}

/// Whether `partner` may have `stored` at all (no redacted form is made).
fn may_have(partner: &PartnerRecord, stored: &StoredPassport) -> bool {
    serde_json::from_str::<Value>(&stored.canonical_json)
        .is_ok_and(|doc| share(&partner.policy, &stored.id, &doc).is_ok())
}

async fn load_shared(
    state: &AppState,
    partner: &PartnerRecord,
    raw: &str,
    version: Option<u32>,
) -> Result<SharedVersion, Problem> {
    let id = parse_id(raw, "passport id")?.to_string();
    let stored = state
        .store()
        .passport(&id, version.map(i64::from))
        .await
        .map_err(store_problem)?
        .ok_or_else(|| not_shared(&id))?;
    shared_form(partner, stored).ok_or_else(|| not_shared(&id))
}

fn with_etag(mut response: Response, etag: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

async fn get_one(
    State(state): State<AppState>,
    Extension(PartnerCaller(partner)): Extension<PartnerCaller>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<VersionQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let Path(raw) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let Query(query) = query.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let version = load_shared(&state, &partner, &raw, query.version).await?;
    let etag = version.etag();
    if not_modified(&headers, &etag) {
        return Ok(with_etag(StatusCode::NOT_MODIFIED.into_response(), &etag));
    }
    let location = format!("/partner/v1/passports/{}", version.stored.id);
    let mut response = (
        [(header::CONTENT_TYPE, "application/json")],
        version.into_canonical(),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response
            .headers_mut()
            .insert(header::CONTENT_LOCATION, location);
    }
    Ok(with_etag(response, &etag))
}

async fn signed(
    State(state): State<AppState>,
    Extension(PartnerCaller(partner)): Extension<PartnerCaller>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<VersionQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Path(raw) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let Query(query) = query.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let version = load_shared(&state, &partner, &raw, query.version).await?;
    let etag = version.etag();
    let jws = if let Some(redacted) = &version.redacted {
        // The stored JWS covers fields this partner may not have: sign what it may have.
        state
            .exchange
            .partners
            .signer()
            .sign_compact(redacted.as_bytes(), PASSPORT_JWS_TYP)
            .map_err(|e| {
                tracing::error!(error = %e, "cannot sign a shared passport");
                Problem::internal()
            })?
    } else {
        version.stored.jws
    };
    let response = ([(header::CONTENT_TYPE, "application/jose")], jws).into_response();
    Ok(with_etag(response, &etag))
}

async fn search(
    State(state): State<AppState>,
    Extension(PartnerCaller(partner)): Extension<PartnerCaller>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = query.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let (filter, limit) = q.check()?;
    let mut found: Vec<String> = Vec::new();
    let mut after = q.after().map(str::to_owned);
    let mut next_cursor = None;
    'scan: for _ in 0..MAX_SCAN_PAGES {
        let page = state
            .store()
            .list_passports(&filter, after.as_deref(), limit)
            .await
            .map_err(list_problem)?;
        let more = page.next_cursor.is_some();
        let scanned = page.items.len();
        for (i, stored) in page.items.into_iter().enumerate() {
            let cursor = crate::store::passport_cursor(&stored.id);
            if let Some(version) = shared_form(&partner, stored) {
                found.push(version.into_canonical());
            }
            after = Some(cursor);
            if found.len() == limit as usize {
                // Something may follow: the rest of this store page, or the next one.
                next_cursor = (i + 1 < scanned || more).then(|| after.clone()).flatten();
                break 'scan;
            }
        }
        if !more {
            next_cursor = None;
            break;
        }
        // Should the scan budget run out, the partner goes on from here.
        next_cursor = after.clone();
    }
    let canonical: Vec<&str> = found.iter().map(String::as_str).collect();
    page_response(
        "/partner/v1/passports",
        &q,
        limit,
        &canonical,
        next_cursor.as_deref(),
    )
}

/// The lineage graph as one partner may see it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SharedLineage {
    #[serde(flatten)]
    lineage: Lineage,
    /// How many reached passports or lots were left out because the partner may not have them.
    withheld: usize,
}

async fn lineage(
    State(state): State<AppState>,
    Extension(PartnerCaller(partner)): Extension<PartnerCaller>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<LineageQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Path(raw) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let Query(q) = query.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let (direction, depth) = q.check()?;
    let root = load_shared(&state, &partner, &raw, None).await?;
    let mut graph = state
        .store()
        .lineage(&root.stored.id, direction, depth)
        .await
        .map_err(store_problem)?;
    // Each reached id is shown only if it is a passport the partner may have (one query for all).
    let mut ids: Vec<String> = graph.nodes.iter().map(|n| n.id.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut visible: HashMap<String, bool> = ids.iter().map(|id| (id.clone(), false)).collect();
    for stored in state
        .store()
        .latest_passports(&ids)
        .await
        .map_err(store_problem)?
    {
        let shown = may_have(&partner, &stored);
        visible.insert(stored.id, shown);
    }
    visible.insert(graph.root.clone(), true);
    let withheld = visible.values().filter(|shown| !**shown).count();
    graph.nodes.retain(|n| visible[&n.id]);
    graph
        .edges
        .retain(|e| visible.get(&e.from) == Some(&true) && visible.get(&e.to) == Some(&true));
    Ok(axum::Json(SharedLineage {
        lineage: graph,
        withheld,
    })
    .into_response())
}
