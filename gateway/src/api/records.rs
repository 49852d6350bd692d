//! Trace events and lineage, collection records and the circularity KPIs computed from them: the
//! writes, and the reads that give back what was written (one by id, or listed with cursor paging).

use axum::Extension;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::passports::{MAX_PAGE, bad_cursor, is_issued_cursor, list_problem, urlencode};
use super::{AppState, Caller, parse_id, read_json, store_problem};
use crate::problem::Problem;
use crate::service::etag_of;
use crate::store::{CategoryTotals, CollectionRecordFilter, LineageDirection};

/// Deepest lineage walk a caller may ask for.
pub const MAX_LINEAGE_DEPTH: u32 = 32;

pub(super) async fn create_trace_event(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let value = read_json(&headers, body, state.config.body_limit_bytes).await?;
    let recorded = state
        .service
        .record_trace_event(value, &caller.actor)
        .await?;
    let mut response = (StatusCode::CREATED, axum::Json(&recorded)).into_response();
    if let Ok(location) =
        HeaderValue::from_str(&format!("/api/v1/trace-events/{}", recorded.event_id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub(super) async fn get_trace_event(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(raw) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let id = parse_id(&raw, "event id")?.to_string();
    let event = state
        .store()
        .trace_event(&id)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| Problem::not_found(format!("trace event {id} does not exist")))?;
    let mut response = event.canonical_json.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", event.hash)) {
        headers.insert(header::ETAG, etag);
    }
    Ok(response)
}

/// Longest `passport` filter value `GET /trace-events` takes.
const MAX_ITEM_LEN: usize = 256;

/// The page size asked for, default 50; outside 1 ..= [`MAX_PAGE`] it is a 400 naming it.
fn page_limit(limit: Option<u32>) -> Result<u32, Problem> {
    let limit = limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(Problem::bad_parameter(format!(
            "limit must be within 1 and {MAX_PAGE}, got {limit}"
        )));
    }
    Ok(limit)
}

/// `after`, if it is a cursor a listing handed out.
fn checked_after(after: Option<&str>) -> Result<Option<&str>, Problem> {
    match after {
        Some(cursor) if !is_issued_cursor(cursor) => Err(bad_cursor(cursor)),
        other => Ok(other),
    }
}

/// A `{ items, nextCursor }` JSON page with `Link: <…>; rel="next"` repeating `filters`.
fn listing_response(
    base: &str,
    items: Vec<serde_json::Value>,
    next_cursor: Option<&str>,
    limit: u32,
    filters: &[(&str, Option<&str>)],
) -> Response {
    let mut body = serde_json::json!({ "items": items });
    if let Some(cursor) = next_cursor {
        body["nextCursor"] = cursor.into();
    }
    let mut response = axum::Json(body).into_response();
    if let Some(cursor) = next_cursor {
        let mut link = format!("{base}?limit={limit}&after={}", urlencode(cursor));
        for (key, value) in filters {
            if let Some(value) = value {
                link.push_str(&format!("&{key}={}", urlencode(value)));
            }
        }
        if let Ok(value) = HeaderValue::from_str(&format!("<{link}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

/// Stored canonical JSON as a value for a listing; stored bytes that are not JSON are a 500.
fn stored_json(canonical: &str) -> Result<serde_json::Value, Problem> {
    serde_json::from_str(canonical).map_err(|e| {
        tracing::error!(error = %e, "stored document is not JSON");
        Problem::internal()
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TraceEventListQuery {
    passport: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
}

/// `GET /trace-events?passport=&limit=&after=`: events in event-id order, each as
/// `{eventID, hash, event}` (`hash` is what a later event names in `previousEventHashes`).
pub(super) async fn list_trace_events(
    State(state): State<AppState>,
    query: Result<Query<TraceEventListQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = query.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let limit = page_limit(q.limit)?;
    let after = checked_after(q.after.as_deref())?;
    // An id the event's material flow names; a `urn:uuid:` in any letter case is the stored
    // lowercase id.
    let item = match q.passport.as_deref() {
        None => None,
        Some(raw) => {
            // U+FFFD is what query decoding puts in place of bytes that are not UTF-8: the id
            // the caller meant is unknowable, so it is named rather than searched for.
            if raw.is_empty()
                || raw.chars().count() > MAX_ITEM_LEN
                || raw
                    .chars()
                    .any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER)
            {
                return Err(Problem::bad_parameter(format!(
                    "passport must be 1 to {MAX_ITEM_LEN} printable UTF-8 characters"
                )));
            }
            Some(
                raw.parse::<dpp_schemas::UrnUuid>()
                    .map_or_else(|_| raw.to_owned(), |id| id.to_string()),
            )
        }
    };
    let page = state
        .store()
        .list_trace_events(item.as_deref(), after, limit)
        .await
        .map_err(list_problem)?;
    let items = page
        .items
        .iter()
        .map(|e| {
            Ok(serde_json::json!({
                "eventID": e.event_id,
                "hash": e.hash,
                "event": stored_json(&e.canonical_json)?,
            }))
        })
        .collect::<Result<Vec<_>, Problem>>()?;
    Ok(listing_response(
        "/api/v1/trace-events",
        items,
        page.next_cursor.as_deref(),
        limit,
        &[("passport", item.as_deref())],
    ))
}

/// `GET /collection-records/{id}`: the stored canonical JSON with the ETag of those bytes.
pub(super) async fn get_collection_record(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(raw) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let id = parse_id(&raw, "collection record id")?.to_string();
    let record = state
        .store()
        .collection_record(&id)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| Problem::not_found(format!("collection record {id} does not exist")))?;
    let etag = etag_of(record.canonical_json.as_bytes());
    let mut response = record.canonical_json.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CollectionRecordListQuery {
    from: Option<String>,
    to: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
}

/// `GET /collection-records?from=&to=&limit=&after=`: records collected within the days given
/// (both inclusive, either open), in id order.
pub(super) async fn list_collection_records(
    State(state): State<AppState>,
    query: Result<Query<CollectionRecordListQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = query.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let limit = page_limit(q.limit)?;
    let after = checked_after(q.after.as_deref())?;
    let from = q
        .from
        .as_deref()
        .map(|v| parse_date("from", Some(v)))
        .transpose()?;
    let to =
        q.to.as_deref()
            .map(|v| parse_date("to", Some(v)))
            .transpose()?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(Problem::bad_parameter(format!(
            "from {from} is after to {to}"
        )));
    }
    let page = state
        .store()
        .list_collection_records(&CollectionRecordFilter { from, to }, after, limit)
        .await
        .map_err(list_problem)?;
    let items = page
        .items
        .iter()
        .map(|r| stored_json(&r.canonical_json))
        .collect::<Result<Vec<_>, Problem>>()?;
    Ok(listing_response(
        "/api/v1/collection-records",
        items,
        page.next_cursor.as_deref(),
        limit,
        &[("from", q.from.as_deref()), ("to", q.to.as_deref())],
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LineageQuery {
    direction: Option<String>,
    depth: Option<u32>,
}

impl LineageQuery {
    /// The checked direction and depth; a bad one is a 400 naming it.
    pub(super) fn check(&self) -> Result<(LineageDirection, u32), Problem> {
        let direction = match self.direction.as_deref().unwrap_or("both") {
            "upstream" => LineageDirection::Upstream,
            "downstream" => LineageDirection::Downstream,
            "both" => LineageDirection::Both,
            other => {
                return Err(Problem::bad_parameter(format!(
                    "direction must be upstream, downstream or both, got {other:?}"
                )));
            }
        };
        let depth = self.depth.unwrap_or(8);
        if depth == 0 || depth > MAX_LINEAGE_DEPTH {
            return Err(Problem::bad_parameter(format!(
                "depth must be within 1 and {MAX_LINEAGE_DEPTH}, got {depth}"
            )));
        }
        Ok((direction, depth))
    }
}

pub(super) async fn lineage(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<LineageQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Path(raw) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let Query(q) = query.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let id = parse_id(&raw, "passport id")?.to_string();
    let (direction, depth) = q.check()?;
    if state
        .store()
        .passport(&id, None)
        .await
        .map_err(store_problem)?
        .is_none()
    {
        return Err(Problem::not_found(format!("passport {id} does not exist")));
    }
    let lineage = state
        .store()
        .lineage(&id, direction, depth)
        .await
        .map_err(store_problem)?;
    Ok(axum::Json(lineage).into_response())
}

pub(super) async fn create_collection_record(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let value = read_json(&headers, body, state.config.body_limit_bytes).await?;
    let id = state
        .service
        .record_collection(value, &caller.actor)
        .await?;
    let mut response = (
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "id": id })),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/collection-records/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KpiQuery {
    from: Option<String>,
    to: Option<String>,
}

/// Weights behind a KPI and the two rates the seed defines.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CircularityFigures {
    /// Collected weight, kg.
    pub collected_kg: f64,
    /// Reused as parts, kg.
    pub reused_parts_kg: f64,
    /// Material recycling, kg.
    pub material_recycling_kg: f64,
    /// Thermal recycling (energy recovery), kg.
    pub thermal_recycling_kg: f64,
    /// Disposal, kg.
    pub disposal_kg: f64,
    /// (reused + material-recycled + thermal-recycled) ÷ collected; absent when nothing was collected.
    pub recycling_rate: Option<f64>,
    /// (parts reuse + material recycling) ÷ collected; absent when nothing was collected.
    pub resource_reuse_rate: Option<f64>,
}

impl CircularityFigures {
    fn add(&mut self, t: &CategoryTotals) {
        self.collected_kg += t.collected_kg;
        self.reused_parts_kg += t.reused_parts_kg;
        self.material_recycling_kg += t.material_recycling_kg;
        self.thermal_recycling_kg += t.thermal_recycling_kg;
        self.disposal_kg += t.disposal_kg;
    }

    fn finish(mut self) -> Self {
        if self.collected_kg > 0.0 {
            self.recycling_rate = Some(
                (self.reused_parts_kg + self.material_recycling_kg + self.thermal_recycling_kg)
                    / self.collected_kg,
            );
            self.resource_reuse_rate =
                Some((self.reused_parts_kg + self.material_recycling_kg) / self.collected_kg);
        }
        self
    }
}

/// KPIs of one category in one period.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryKpi {
    /// Product category.
    pub category: String,
    /// Weights and rates.
    #[serde(flatten)]
    pub figures: CircularityFigures,
}

/// KPIs of one period (calendar month).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeriodKpi {
    /// `YYYY-MM`.
    pub period: String,
    /// Per category.
    pub categories: Vec<CategoryKpi>,
    /// All categories of the period.
    pub total: CircularityFigures,
}

/// The `GET /kpis/circularity` answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CircularityReport {
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    /// Per month.
    pub periods: Vec<PeriodKpi>,
    /// Per category over the whole range.
    pub categories: Vec<CategoryKpi>,
    /// Everything in the range.
    pub total: CircularityFigures,
}

/// Builds the report from per-(month, category) sums.
pub fn circularity_report(
    from: NaiveDate,
    to: NaiveDate,
    totals: &[CategoryTotals],
) -> CircularityReport {
    use std::collections::BTreeMap;
    let mut periods: BTreeMap<&str, BTreeMap<&str, CircularityFigures>> = BTreeMap::new();
    let mut categories: BTreeMap<&str, CircularityFigures> = BTreeMap::new();
    let mut total = CircularityFigures::default();
    for t in totals {
        periods
            .entry(&t.period)
            .or_default()
            .entry(&t.category)
            .or_default()
            .add(t);
        categories.entry(&t.category).or_default().add(t);
        total.add(t);
    }
    let to_kpis = |m: BTreeMap<&str, CircularityFigures>| -> Vec<CategoryKpi> {
        m.into_iter()
            .map(|(c, f)| CategoryKpi {
                category: c.to_owned(),
                figures: f.finish(),
            })
            .collect()
    };
    CircularityReport {
        from,
        to,
        periods: periods
            .into_iter()
            .map(|(period, cats)| {
                let mut period_total = CircularityFigures::default();
                for f in cats.values() {
                    period_total.collected_kg += f.collected_kg;
                    period_total.reused_parts_kg += f.reused_parts_kg;
                    period_total.material_recycling_kg += f.material_recycling_kg;
                    period_total.thermal_recycling_kg += f.thermal_recycling_kg;
                    period_total.disposal_kg += f.disposal_kg;
                }
                PeriodKpi {
                    period: period.to_owned(),
                    categories: to_kpis(cats),
                    total: period_total.finish(),
                }
            })
            .collect(),
        categories: to_kpis(categories),
        total: total.finish(),
    }
}

fn parse_date(name: &str, value: Option<&str>) -> Result<NaiveDate, Problem> {
    let value =
        value.ok_or_else(|| Problem::bad_parameter(format!("{name} is required (YYYY-MM-DD)")))?;
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|e| {
        Problem::bad_parameter(format!(
            "{name} must be a date YYYY-MM-DD, got {value:?}: {e}"
        ))
    })
}

pub(super) async fn circularity_kpis(
    State(state): State<AppState>,
    query: Result<Query<KpiQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = query.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let from = parse_date("from", q.from.as_deref())?;
    let to = parse_date("to", q.to.as_deref())?;
    if from > to {
        return Err(Problem::bad_parameter(format!(
            "from {from} is after to {to}"
        )));
    }
    let totals = state
        .store()
        .collection_totals(from, to)
        .await
        .map_err(store_problem)?;
    Ok(axum::Json(circularity_report(from, to, &totals)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(
        period: &str,
        category: &str,
        c: f64,
        r: f64,
        m: f64,
        t: f64,
        d: f64,
    ) -> CategoryTotals {
        CategoryTotals {
            period: period.into(),
            category: category.into(),
            collected_kg: c,
            reused_parts_kg: r,
            material_recycling_kg: m,
            thermal_recycling_kg: t,
            disposal_kg: d,
        }
    }

    #[test]
    fn rates_follow_the_seed_definitions() {
        let from = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let to = NaiveDate::from_ymd_opt(2026, 2, 28).unwrap();
        let rows = [
            totals(
                "2026-01",
                "automotive-bumpers",
                1000.0,
                100.0,
                600.0,
                200.0,
                100.0,
            ),
            totals(
                "2026-02",
                "automotive-bumpers",
                500.0,
                0.0,
                250.0,
                50.0,
                200.0,
            ),
            totals("2026-02", "pet-bottles", 0.0, 0.0, 0.0, 0.0, 0.0),
        ];
        let report = circularity_report(from, to, &rows);
        let jan = &report.periods[0].categories[0].figures;
        assert_eq!(jan.recycling_rate, Some(0.9));
        assert_eq!(jan.resource_reuse_rate, Some(0.7));
        // Over the range: (100 + 850 + 250) / 1500 and (100 + 850) / 1500.
        assert_eq!(report.total.recycling_rate, Some(1200.0 / 1500.0));
        assert_eq!(report.total.resource_reuse_rate, Some(950.0 / 1500.0));
        let pet = report
            .categories
            .iter()
            .find(|c| c.category == "pet-bottles")
            .unwrap();
        assert_eq!(
            pet.figures.recycling_rate, None,
            "no rate without collected weight"
        );
        assert_eq!(report.periods.len(), 2);
    }
}
