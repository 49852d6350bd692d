//! `/api/v1/passports`: create, new version (If-Match), read (ETag / If-None-Match), versions, the
//! stored signed form, and filtered listing with cursor paging.

use axum::Extension;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{AppState, Caller, parse_id, read_json, store_problem};
use crate::problem::Problem;
use crate::service::VersionWrite;
use crate::store::{PassportFilter, StoredPassport};

/// Largest page `GET /passports` returns.
pub const MAX_PAGE: u32 = 500;

fn passport_response(status: StatusCode, stored: &StoredPassport) -> Response {
    let mut response = (status, stored.canonical_json.clone()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(etag) = HeaderValue::from_str(&stored.etag) {
        headers.insert(header::ETAG, etag);
    }
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/passports/{}", stored.id)) {
        headers.insert(header::CONTENT_LOCATION, location);
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
    let stored = state.service.create(value, &caller.actor).await?;
    let mut response = passport_response(StatusCode::CREATED, &stored);
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/passports/{}", stored.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub(super) async fn put_version(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let Path(raw) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let id = parse_id(&raw, "passport id")?;
    let if_match = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Problem::precondition_required(
                "send If-Match with the ETag of the version you are changing (GET the passport to learn it)",
            )
        })?
        .to_owned();
    let value = read_json(&headers, body, state.config.body_limit_bytes).await?;
    let write = state
        .service
        .new_version(&id, &if_match, value, &caller.actor)
        .await?;
    let stored = match &write {
        VersionWrite::Written(stored) | VersionWrite::Unchanged(stored) => stored,
    };
    let mut response = passport_response(StatusCode::OK, stored);
    // Where the version this answer is lives, whether just written or unchanged and kept.
    if let Ok(location) = HeaderValue::from_str(&format!(
        "/api/v1/passports/{}?version={}",
        stored.id, stored.version
    )) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VersionQuery {
    pub(super) version: Option<u32>,
}

async fn load(
    state: &AppState,
    raw: &str,
    version: Option<u32>,
) -> Result<StoredPassport, Problem> {
    let id = parse_id(raw, "passport id")?.to_string();
    state
        .store()
        .passport(&id, version.map(i64::from))
        .await
        .map_err(store_problem)?
        .ok_or_else(|| match version {
            Some(v) => Problem::not_found(format!("passport {id} has no version {v}")),
            None => Problem::not_found(format!("passport {id} does not exist")),
        })
}

pub(super) fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').map(str::trim).any(|t| t == etag || t == "*"))
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<VersionQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let Path(raw) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let Query(query) = query.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let stored = load(&state, &raw, query.version).await?;
    if not_modified(&headers, &stored.etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(etag) = HeaderValue::from_str(&stored.etag) {
            response.headers_mut().insert(header::ETAG, etag);
        }
        return Ok(response);
    }
    Ok(passport_response(StatusCode::OK, &stored))
}

pub(super) async fn signed(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<VersionQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Path(raw) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let Query(query) = query.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let stored = load(&state, &raw, query.version).await?;
    let mut response = stored.jws.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jose"),
    );
    if let Ok(etag) = HeaderValue::from_str(&stored.etag) {
        headers.insert(header::ETAG, etag);
    }
    Ok(response)
}

pub(super) async fn versions(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(raw) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let id = parse_id(&raw, "passport id")?.to_string();
    let versions = state
        .store()
        .passport_versions(&id)
        .await
        .map_err(store_problem)?;
    if versions.is_empty() {
        return Err(Problem::not_found(format!("passport {id} does not exist")));
    }
    let items: Vec<_> = versions
        .iter()
        .map(|v| {
            serde_json::json!({
                "version": v.version,
                "etag": v.etag,
                "updatedAt": v.updated_at,
                "href": format!("/api/v1/passports/{id}?version={}", v.version),
            })
        })
        .collect();
    Ok(axum::Json(serde_json::json!({ "id": id, "versions": items })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ListQuery {
    polymer: Option<String>,
    min_recycled_share: Option<f64>,
    product_id: Option<String>,
    updated_since: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ListPage<'a> {
    items: Vec<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<&'a str>,
}

impl ListQuery {
    /// The checked filter and page size; every bad parameter is a 400 naming it.
    pub(super) fn check(&self) -> Result<(PassportFilter, u32), Problem> {
        let q = self;
        if let Some(share) = q.min_recycled_share
            && !(0.0..=1.0).contains(&share)
        {
            return Err(Problem::bad_parameter(format!(
                "minRecycledShare must be within 0 and 1, got {share}"
            )));
        }
        if let Some(polymer) = q.polymer.as_deref()
            && !is_polymer_symbol(polymer)
        {
            return Err(Problem::bad_parameter(format!(
                "polymer must be an ISO 1043 symbol such as PP, PE-HD or PC+ABS, got {:?}",
                polymer.chars().take(64).collect::<String>()
            )));
        }
        if let Some(product_id) = q.product_id.as_deref()
            && (product_id.is_empty()
                || product_id.chars().count() > MAX_FILTER_LEN
                || product_id.chars().any(char::is_control))
        {
            return Err(Problem::bad_parameter(format!(
                "productId must be 1 to {MAX_FILTER_LEN} printable characters"
            )));
        }
        if let Some(after) = q.after.as_deref()
            && !is_issued_cursor(after)
        {
            return Err(bad_cursor(after));
        }
        let updated_since = q
            .updated_since
            .as_deref()
            .map(|s| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| {
                        Problem::bad_parameter(format!(
                            "updatedSince must be an RFC 3339 date-time, got {s:?}: {e}"
                        ))
                    })
            })
            .transpose()?;
        let limit = q.limit.unwrap_or(50);
        if limit == 0 || limit > MAX_PAGE {
            return Err(Problem::bad_parameter(format!(
                "limit must be within 1 and {MAX_PAGE}, got {limit}"
            )));
        }
        let filter = PassportFilter {
            polymer: q.polymer.clone(),
            min_recycled_share: q.min_recycled_share,
            product_id: q.product_id.clone(),
            updated_since,
        };
        Ok((filter, limit))
    }

    /// Where the listing started (`after`), if anywhere.
    pub(super) fn after(&self) -> Option<&str> {
        self.after.as_deref()
    }
}

pub(super) fn bad_cursor(cursor: &str) -> Problem {
    Problem::bad_parameter(format!(
        "after is not a cursor this gateway issued: {:?}",
        cursor.chars().take(64).collect::<String>()
    ))
}

/// Maps a listing's store failure: a cursor the store cannot read is the caller's mistake.
pub(super) fn list_problem(err: crate::store::StoreError) -> Problem {
    match err {
        crate::store::StoreError::InvalidCursor(c) => bad_cursor(&c),
        other => store_problem(other),
    }
}

/// The `{ items, nextCursor }` page of canonical passports under `base` (a listing path), with a
/// `Link: <…>; rel="next"` that repeats the query's filters.
pub(super) fn page_response(
    base: &str,
    q: &ListQuery,
    limit: u32,
    canonical: &[&str],
    next_cursor: Option<&str>,
) -> Result<Response, Problem> {
    let raws: Vec<&RawValue> = canonical
        .iter()
        .map(|json| serde_json::from_str::<&RawValue>(json))
        .collect::<Result<_, _>>()
        .map_err(|e| {
            tracing::error!(error = %e, "stored passport is not JSON");
            Problem::internal()
        })?;
    let body = ListPage {
        items: raws,
        next_cursor,
    };
    let mut response = axum::Json(&body).into_response();
    if let Some(cursor) = next_cursor {
        let mut link = format!("{base}?limit={limit}&after={}", urlencode(cursor));
        for (key, value) in [
            ("polymer", q.polymer.as_deref()),
            ("productId", q.product_id.as_deref()),
            ("updatedSince", q.updated_since.as_deref()),
        ] {
            if let Some(value) = value {
                link.push_str(&format!("&{key}={}", urlencode(value)));
            }
        }
        if let Some(share) = q.min_recycled_share {
            link.push_str(&format!("&minRecycledShare={share}"));
        }
        if let Ok(value) = HeaderValue::from_str(&format!("<{link}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

pub(super) async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = query.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let (filter, limit) = q.check()?;
    let page = state
        .store()
        .list_passports(&filter, q.after(), limit)
        .await
        .map_err(list_problem)?;
    let canonical: Vec<&str> = page
        .items
        .iter()
        .map(|p| p.canonical_json.as_str())
        .collect();
    page_response(
        "/api/v1/passports",
        &q,
        limit,
        &canonical,
        page.next_cursor.as_deref(),
    )
}

/// Longest free-text filter value `GET /passports` takes.
const MAX_FILTER_LEN: usize = 256;

/// Whether `s` may be an ISO 1043 polymer symbol: the characters and length the passport schema's
/// `polymerSymbol` allows. A filter nothing can match is a caller's mistake, so it is named.
fn is_polymer_symbol(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '-' | '+' | '/'))
}

/// Whether `cursor` has the shape of one `GET /passports` (or the trace-event and collection-record
/// listings) hands out: a base64url `urn:uuid:` id.
/// The store would take any base64url text as a position, so `after=AAAA` listed from the start.
pub(super) fn is_issued_cursor(cursor: &str) -> bool {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .is_some_and(|id| id.parse::<dpp_schemas::UrnUuid>().is_ok())
}

pub(super) fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
