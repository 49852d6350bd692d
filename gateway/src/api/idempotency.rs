//! `Idempotency-Key` on the management API's writes: a client that retries a write with the same
//! key gets the first answer again (`Idempotency-Replayed: true`) instead of a second record.
//!
//! Keys are per caller (the audit actor of the token), 1 to 255 visible ASCII characters. The
//! request is identified by a SHA-256 over method, path and body: the same key with another
//! request is refused (422), a repeat while the first still runs gets 409 with `Retry-After`.
//! How the receipt commits together with the record is told in [`crate::store`]'s receipts module.
//!
//! An answer marked `Cache-Control: no-store` carries a secret shown once (a partner token): its
//! receipt keeps the status and no body or headers, and a retry with the key is told the request
//! took effect (409 `idempotency-answer-withheld`) instead of being shown the secret again.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, OriginalUri, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{AppState, Caller, store_problem};
use crate::problem::Problem;
use crate::store::{ReceiptClaim, Reservation};

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a replayed answer.
pub const IDEMPOTENCY_REPLAYED: HeaderName = HeaderName::from_static("idempotency-replayed");
/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;
/// How long a request holds its key before a retry may take it over. A request still running
/// then cannot store anything any more (its transaction finds the key taken), so this only bounds
/// how long a retry waits after the gateway died mid-request.
pub const RESERVATION_LEASE: Duration = Duration::from_secs(10);

/// The answer headers a replay repeats.
const REPLAYED_HEADERS: [HeaderName; 3] = [header::LOCATION, header::ETAG, header::CONTENT_TYPE];

/// What a receipt keeps of an answer (the `response_body` column).
#[derive(Serialize, Deserialize)]
struct StoredAnswer {
    headers: Vec<(String, String)>,
    body: String,
    /// The answer carried a secret (`Cache-Control: no-store`); `headers` and `body` are empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    withheld: bool,
}

/// Whether an answer must not be kept: it says no cache may store it.
fn is_no_store(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|directive| directive.trim().eq_ignore_ascii_case("no-store"))
}

/// Middleware on the authenticated API routes; only `POST` and `PUT` with the header take part.
pub(super) async fn idempotency(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let reads_only = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|route| super::READER_POSTS.contains(&route.as_str()));
    if !matches!(*request.method(), Method::POST | Method::PUT) || reads_only {
        return next.run(request).await;
    }
    let key = match idempotency_key(request.headers()) {
        Ok(Some(key)) => key,
        Ok(None) => return next.run(request).await,
        Err(problem) => return problem.into_response(),
    };
    let Some(caller) = request
        .extensions()
        .get::<Caller>()
        .map(|c| c.actor.clone())
    else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let limit = state.config.body_limit_bytes;
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        return Problem::too_large(limit).into_response();
    };
    let path = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.to_string(), |o| o.0.to_string());
    let request_sha256 = request_digest(&parts.method, &path, &body);
    let store = state.store();
    let claim = match store
        .reserve_receipt(&caller, &key, &request_sha256, RESERVATION_LEASE)
        .await
    {
        Ok(Reservation::Reserved(claim)) => claim,
        Ok(Reservation::Replay { status, response }) => return replay(status, &response),
        Ok(Reservation::Mismatch) => {
            return Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
                format!(
                    "idempotency key {key:?} was used for a different request (method, path or body); \
                     use a new key for a new request"
                ),
            )
            .into_response();
        }
        Ok(Reservation::InProgress) => {
            let mut problem = Problem::new(
                StatusCode::CONFLICT,
                "idempotency-in-progress",
                "Request in progress",
                format!("a request with idempotency key {key:?} is still running; retry later"),
            );
            problem.retry_after = Some(1);
            return problem.into_response();
        }
        Ok(Reservation::AnswerLost) => {
            return Problem::new(
                StatusCode::CONFLICT,
                "idempotency-answer-lost",
                "Request committed, answer lost",
                format!(
                    "the request with idempotency key {key:?} was stored, but the gateway stopped \
                     before it kept the answer; it is not repeated, read the record instead"
                ),
            )
            .into_response();
        }
        Err(e) => return store_problem(e).into_response(),
    };
    let request = Request::from_parts(parts, Body::from(body));
    let response = claim.clone().scope(next.run(request)).await;
    settle(&state, &claim, response).await
}

/// The key of a request: `None` without the header; a 400 problem when it is not 1..=255
/// visible ASCII characters or sent twice.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let mut values = headers.get_all(&IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Problem::bad_parameter(
            "send one Idempotency-Key header, not several",
        ));
    }
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_KEY_LEN || !bytes.iter().all(u8::is_ascii_graphic) {
        return Err(Problem::bad_parameter(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters (no spaces), \
             got {} bytes",
            bytes.len()
        )));
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

fn request_digest(method: &Method, path: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_str().as_bytes());
    hash.update(b"\n");
    hash.update(path.as_bytes());
    hash.update(b"\n");
    hash.update(body);
    hex::encode(hash.finalize())
}

/// Keeps the answer of a request that committed; gives the key back when it stored nothing.
async fn settle(state: &AppState, claim: &ReceiptClaim, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        tracing::error!(idempotency_key = %claim.key, "cannot read the answer to keep it");
        return Problem::internal().into_response();
    };
    let store = state.store();
    let keep = if parts.status.is_success() {
        true
    } else {
        // A refused request stores nothing: a corrected retry under the same key may run. If it
        // did commit (the mark says so), its answer is kept like any other.
        match store.release_receipt(claim).await {
            Ok(released) => !released,
            Err(e) => {
                tracing::warn!(idempotency_key = %claim.key, error = %e, "cannot release the idempotency key");
                false
            }
        }
    };
    if keep && is_no_store(&parts.headers) {
        let answer = StoredAnswer {
            headers: Vec::new(),
            body: String::new(),
            withheld: true,
        };
        keep_answer(store, claim, parts.status.as_u16(), &answer).await;
    } else if keep {
        let answer = StoredAnswer {
            headers: REPLAYED_HEADERS
                .iter()
                .filter_map(|name| {
                    let value = parts.headers.get(name)?.to_str().ok()?;
                    Some((name.as_str().to_owned(), value.to_owned()))
                })
                .collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
            withheld: false,
        };
        keep_answer(store, claim, parts.status.as_u16(), &answer).await;
    }
    Response::from_parts(parts, Body::from(body))
}

async fn keep_answer(
    store: &crate::store::Store,
    claim: &ReceiptClaim,
    status: u16,
    answer: &StoredAnswer,
) {
    let stored = match serde_json::to_string(answer) {
        Ok(text) => store
            .finish_receipt(claim, status, &text)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match stored {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            idempotency_key = %claim.key,
            "idempotency key taken over before the answer was kept"
        ),
        // The receipt stays committed: a retry learns the request took effect (409).
        Err(e) => tracing::error!(
            idempotency_key = %claim.key,
            error = %e,
            "cannot keep the answer of an idempotent request"
        ),
    }
}

fn replay(status: u16, stored: &str) -> Response {
    let Ok(answer) = serde_json::from_str::<StoredAnswer>(stored) else {
        tracing::error!("unreadable idempotency receipt");
        return Problem::internal().into_response();
    };
    if answer.withheld {
        return Problem::new(
            StatusCode::CONFLICT,
            "idempotency-answer-withheld",
            "Request committed, answer not kept",
            format!(
                "the request with this idempotency key took effect (status {status}); its answer \
                 carried a secret that is shown once and was not kept, so it is not repeated"
            ),
        )
        .into_response();
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Bytes::from(answer.body)).into_response();
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.insert(name, value);
        }
    }
    headers.insert(IDEMPOTENCY_REPLAYED, HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &[u8]) -> Result<Option<String>, Problem> {
        let mut headers = HeaderMap::new();
        headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_bytes(raw).unwrap());
        idempotency_key(&headers)
    }

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert_eq!(key(b"a").unwrap().as_deref(), Some("a"));
        assert!(key(&[b'k'; 255]).unwrap().is_some());
        assert!(key(&[b'k'; 256]).is_err());
        assert!(key(b"").is_err());
        assert!(key(b"with space").is_err());
        assert!(key(b"tab\there").is_err());
        assert!(key("caf\u{e9}".as_bytes()).is_err());
        assert_eq!(idempotency_key(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn the_digest_covers_method_path_and_body() {
        let base = request_digest(&Method::POST, "/api/v1/passports", b"{}");
        assert_ne!(
            base,
            request_digest(&Method::PUT, "/api/v1/passports", b"{}")
        );
        assert_ne!(
            base,
            request_digest(&Method::POST, "/api/v1/partners", b"{}")
        );
        assert_ne!(
            base,
            request_digest(&Method::POST, "/api/v1/passports", b"{ }")
        );
        assert_eq!(
            base,
            request_digest(&Method::POST, "/api/v1/passports", b"{}")
        );
    }
}
