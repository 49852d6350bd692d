//! `/partner/v1`: what a partner may read of our passports: one passport (any version), its
//! signed form, a search, and the lineage around a passport. The caller is the partner its token
//! names; every answer goes through that partner's access policy ([`share`] /
//! [`share_version`]), the same one every push goes through. A passport the policy does not
//! select is answered exactly like one that does not exist, and nothing else in an answer —
//! a search filter's matches, a cursor, an empty page, a lineage graph — depends on a passport
//! or field the partner may not have, so a partner cannot learn what it is not granted. Each
//! partner's calls are held to its limits ([`super::limits`]).

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dpp_schemas::Passport;
use serde_json::Value;

use super::passports::{ListQuery, VersionQuery, list_problem, not_modified, page_response};
use super::records::LineageQuery;
use super::{AppState, bearer_token, parse_id, store_problem};
use crate::exchange::policy::{
    Shared, Withheld, may_withhold, share, share_version, sign_redacted,
};
use crate::exchange::selector_inputs;
use crate::problem::Problem;
use crate::service::etag_of;
use crate::store::{
    FieldPolicy, Lineage, LineageDirection, LineageEdge, LineageNode, MAX_PAGE_SIZE, PartnerRecord,
    PassportFilter, StoredPassport, TOKEN_PREFIX, passport_cursor,
};

/// How many passports the partner may have one search examines at most, in pages of the size
/// asked for, to fill a page when a filter has to be checked on the partner's form; past that it
/// answers what it found with a cursor to go on from.
const MAX_SCAN_PAGES: usize = 20;

/// What the material filters (`polymer`, `minRecycledShare`) read in a passport: its main
/// material is the one with the largest mass fraction.
const MATERIAL_FILTER_READS: [&str; 3] = [
    "/materials/*/polymer",
    "/materials/*/recycledShare",
    "/materials/*/massFraction",
];
/// What the `productId` filter reads.
const PRODUCT_ID_FILTER_READS: [&str; 2] = ["/product/ids/*/scheme", "/product/ids/*/value"];
/// What the `updatedSince` filter reads.
const UPDATED_SINCE_FILTER_READS: [&str; 1] = ["/updatedAt"];

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
    /// The partner's form as a passport (what search filters are checked on).
    passport: Passport,
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

/// The partner's form of `stored` — the latest version, or an older one when `latest` (the
/// latest version's document) is given — or `None` when its policy withholds it.
fn shared_form(
    partner: &PartnerRecord,
    stored: StoredPassport,
    latest: Option<&Value>,
) -> Option<SharedVersion> {
    let doc: Value = match serde_json::from_str(&stored.canonical_json) {
        Ok(doc) => doc,
        Err(e) => {
            tracing::error!(passport = %stored.id, error = %e, "stored passport is not JSON");
            return None;
        }
    };
    let shared = match latest {
        None => share(&partner.policy, &stored.id, &doc),
        Some(latest) => share_version(&partner.policy, &stored.id, &doc, latest),
    };
    match shared {
        Ok(Shared {
            passport,
            redacted: false,
        }) => Some(SharedVersion {
            stored,
            passport,
            redacted: None,
        }),
        Ok(Shared { passport, .. }) => match dpp_schemas::jcs::to_string(&passport) {
            Ok(canonical) => Some(SharedVersion {
                stored,
                passport,
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

/// Whether `partner` may have `stored` (a latest version) at all; no redacted form is made.
fn may_have(partner: &PartnerRecord, stored: &StoredPassport) -> bool {
    serde_json::from_str::<Value>(&stored.canonical_json)
        .is_ok_and(|doc| share(&partner.policy, &stored.id, &doc).is_ok())
}

/// The partner's form of passport `raw` (its `version`, or the latest). An older version is
/// shared only while the latest is ([`share_version`]).
async fn load_shared(
    state: &AppState,
    partner: &PartnerRecord,
    raw: &str,
    version: Option<u32>,
) -> Result<SharedVersion, Problem> {
    let id = parse_id(raw, "passport id")?.to_string();
    let latest = state
        .store()
        .passport(&id, None)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| not_shared(&id))?;
    let Some(version) = version.map(i64::from).filter(|v| *v != latest.version) else {
        return shared_form(partner, latest, None).ok_or_else(|| not_shared(&id));
    };
    let latest_doc: Value =
        serde_json::from_str(&latest.canonical_json).map_err(|_| not_shared(&id))?;
    let stored = state
        .store()
        .passport(&id, Some(version))
        .await
        .map_err(store_problem)?
        .ok_or_else(|| not_shared(&id))?;
    shared_form(partner, stored, Some(&latest_doc)).ok_or_else(|| not_shared(&id))
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
        // The stored JWS covers fields this partner may not have: sign what it may have, marked
        // as the redacted form so nobody takes it for the passport itself.
        sign_redacted(
            state.exchange.partners.signer(),
            redacted.as_bytes(),
            &partner.policy.fields,
        )
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

/// A partner's search split in two: the filters the store can answer from its index of the full
/// passports, and those it must not — the field policy may withhold or change what they read,
/// and matching the full passport would confirm a withheld value — which are checked on the
/// partner's form of each passport instead.
struct SearchPlan {
    in_store: PassportFilter,
    on_shared_form: PassportFilter,
}

impl SearchPlan {
    fn new(filter: PassportFilter, fields: &FieldPolicy) -> Self {
        let withheld = |reads: &[&str]| reads.iter().any(|r| may_withhold(fields, r));
        let mut plan = SearchPlan {
            in_store: PassportFilter::default(),
            on_shared_form: PassportFilter::default(),
        };
        // Polymer and share are one condition on one material: they go together.
        let materials = if withheld(&MATERIAL_FILTER_READS) {
            &mut plan.on_shared_form
        } else {
            &mut plan.in_store
        };
        materials.polymer = filter.polymer;
        materials.min_recycled_share = filter.min_recycled_share;
        let product_id = if withheld(&PRODUCT_ID_FILTER_READS) {
            &mut plan.on_shared_form
        } else {
            &mut plan.in_store
        };
        product_id.product_id = filter.product_id;
        let updated = if withheld(&UPDATED_SINCE_FILTER_READS) {
            &mut plan.on_shared_form
        } else {
            &mut plan.in_store
        };
        updated.updated_since = filter.updated_since;
        plan
    }

    /// Whether the partner's form of a passport passes the filters left to it (the same rules
    /// as the store's, see [`PassportFilter`]).
    fn matches_shared_form(&self, passport: &Passport) -> bool {
        let f = &self.on_shared_form;
        let (product_ids, materials) = selector_inputs(passport);
        if let Some(wanted) = &f.product_id {
            let qualified = wanted.split_once(':');
            let hit = product_ids.iter().any(|(scheme, value)| {
                value == wanted || qualified.is_some_and(|(s, v)| s == scheme && v == value)
            });
            if !hit {
                return false;
            }
        }
        if f.polymer.is_some() || f.min_recycled_share.is_some() {
            let hit = materials.iter().any(|(polymer, share)| {
                f.polymer
                    .as_ref()
                    .is_none_or(|p| crate::store::polymer_matches(polymer, p))
                    && f.min_recycled_share.is_none_or(|min| *share >= min)
            });
            if !hit {
                return false;
            }
        }
        f.updated_since
            .is_none_or(|since| passport.updated_at >= since)
    }
}

/// Search over the passports the partner may have. The store query itself holds the partner's
/// passport selector, so hidden passports are never read; a filter the field policy could
/// affect is checked on the partner's form. What the answer depends on — items, the cursor
/// (always the id of a passport the partner may have), whether a next page exists, where an
/// exhausted scan stops — is a function of what the partner may have alone.
async fn search(
    State(state): State<AppState>,
    Extension(PartnerCaller(partner)): Extension<PartnerCaller>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) = query.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let (filter, limit) = q.check()?;
    let plan = SearchPlan::new(filter, &partner.policy.fields);
    let wanted = limit as usize;
    let budget = MAX_SCAN_PAGES * wanted;
    let page_size = limit.saturating_add(1).min(MAX_PAGE_SIZE);
    // Where the store listing goes on from; internal, never handed out as it is.
    let mut position = q.after().map(str::to_owned);
    let mut found: Vec<String> = Vec::new();
    let mut last_found: Option<String> = None;
    let mut examined = 0;
    let next_cursor = 'scan: loop {
        let page = state
            .store()
            .list_passports_within(
                &plan.in_store,
                &partner.policy.passports,
                position.as_deref(),
                page_size,
            )
            .await
            .map_err(list_problem)?;
        let more = page.next_cursor.is_some();
        for stored in page.items {
            position = Some(passport_cursor(&stored.id));
            let id = stored.id.clone();
            // The selector is in the query: what is skipped here is a passport the field policy
            // leaves invalid. It counts toward nothing and never becomes a cursor.
            let Some(version) = shared_form(&partner, stored, None) else {
                continue;
            };
            if plan.matches_shared_form(&version.passport) {
                if found.len() == wanted {
                    // One more passport the partner gets follows: the next page is not empty.
                    break 'scan last_found.as_deref().map(passport_cursor);
                }
                found.push(version.into_canonical());
                last_found = Some(id.clone());
            }
            examined += 1;
            if examined >= budget {
                // Stopped at a passport the partner may have, counted in those alone.
                break 'scan Some(passport_cursor(&id));
            }
        }
        if !more {
            break None;
        }
    };
    let canonical: Vec<&str> = found.iter().map(String::as_str).collect();
    page_response(
        "/partner/v1/passports",
        &q,
        limit,
        &canonical,
        next_cursor.as_deref(),
    )
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
    let graph = state
        .store()
        .lineage(&root.stored.id, direction, depth)
        .await
        .map_err(store_problem)?;
    // Each reached id is kept only if it is a passport the partner may have (one query for all).
    let mut ids: Vec<String> = graph.nodes.iter().map(|n| n.id.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut visible: HashSet<String> = state
        .store()
        .latest_passports(&ids)
        .await
        .map_err(store_problem)?
        .into_iter()
        .filter(|stored| may_have(&partner, stored))
        .map(|stored| stored.id)
        .collect();
    visible.insert(graph.root.clone());
    Ok(axum::Json(visible_lineage(graph, &visible, direction, depth)).into_response())
}

/// The lineage graph as a partner who may see only `visible` sees it: the store's walk (breadth
/// first, each id once per direction at its smallest depth, every edge walked kept) repeated
/// over the edges between visible passports alone — the answer the store would give if the
/// hidden passports did not exist. A hidden node leaves no trace (no node, no edge, no count); a
/// visible node reached only through a hidden one is left out; depths count visible hops, so
/// neither a gap, a depth nor an edge gives a hidden shortcut away.
fn visible_lineage(
    graph: Lineage,
    visible: &HashSet<String>,
    direction: LineageDirection,
    max_depth: u32,
) -> Lineage {
    let directions: &[LineageDirection] = match direction {
        LineageDirection::Upstream => &[LineageDirection::Upstream],
        LineageDirection::Downstream => &[LineageDirection::Downstream],
        LineageDirection::Both => &[LineageDirection::Upstream, LineageDirection::Downstream],
    };
    let walkable: Vec<&LineageEdge> = graph
        .edges
        .iter()
        .filter(|e| visible.contains(&e.from) && visible.contains(&e.to))
        .collect();
    let mut nodes = Vec::new();
    let mut edges: Vec<LineageEdge> = Vec::new();
    let mut edges_seen: HashSet<&LineageEdge> = HashSet::new();
    for &way in directions {
        let mut reached: HashSet<&str> = HashSet::from([graph.root.as_str()]);
        let mut frontier: HashSet<&str> = reached.clone();
        for depth in 1..=max_depth {
            if frontier.is_empty() {
                break;
            }
            let mut next: BTreeSet<&str> = BTreeSet::new();
            let mut walked: Vec<&LineageEdge> = Vec::new();
            for &edge in &walkable {
                let (near, far) = match way {
                    LineageDirection::Upstream => (edge.to.as_str(), edge.from.as_str()),
                    _ => (edge.from.as_str(), edge.to.as_str()),
                };
                if frontier.contains(near) {
                    walked.push(edge);
                    if reached.insert(far) {
                        next.insert(far);
                    }
                }
            }
            walked.sort();
            for edge in walked {
                if edges_seen.insert(edge) {
                    edges.push(edge.clone());
                }
            }
            nodes.extend(next.iter().map(|id| LineageNode {
                id: (*id).to_owned(),
                depth,
                direction: way,
            }));
            frontier = next.into_iter().collect();
        }
    }
    Lineage {
        root: graph.root.clone(),
        nodes,
        edges,
        // A walk cut short (at the store's node or edge bound, hidden nodes counted) may have
        // missed visible passports too, so the partner is told; it learns only that the whole
        // graph is large.
        truncated: graph.truncated,
    }
}
