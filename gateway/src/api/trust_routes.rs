//! Published trust documents (`/.well-known/jwks.json`, `/.well-known/did.json`), the bundled
//! schemas, `POST /verify`, and our signing keys' states (`GET /keys`,
//! `POST /keys/{kid}/revoke`).
//!
//! The JWKS and DID document are built at start; a key revoked since is filtered out of both on
//! every request, from the running verifier's revocations, so it leaves them the moment it stops
//! verifying.

use axum::Extension;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use dpp_schemas::SchemaKind;
use serde::Deserialize;

use super::{AppState, Caller, read_body, store_problem};
use crate::problem::Problem;
use crate::trust::{
    KeyInfo, KeyStore, TrustError, VerifyError, VerifyOptions, did_document_without, jwks_without,
};

fn json_with_type(value: &serde_json::Value, content_type: &'static str) -> Response {
    let mut response = axum::Json(value).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

pub(super) async fn jwks(State(state): State<AppState>) -> Response {
    let published = jwks_without(&state.jwks, |kid| state.verifier.is_revoked(kid));
    json_with_type(&published, "application/jwk-set+json")
}

pub(super) async fn did_document(State(state): State<AppState>) -> Response {
    let published = did_document_without(&state.did_document, |kid| state.verifier.is_revoked(kid));
    json_with_type(&published, "application/did+json")
}

/// One key as the API shows it: its state in the key store, and what this running process does
/// with it. The two differ after a `keys` command changed the store without a restart.
fn key_json(info: &KeyInfo, state: &AppState) -> serde_json::Value {
    let mut key = serde_json::json!({
        "kid": info.kid,
        "status": info.status.as_str(),
        "alg": info.alg,
        "createdAt": info.created_at,
        "signing": info.kid == state.service.signer_kid(),
        "verifying": state.verifier.trusts(&info.kid),
    });
    if let Some(at) = info.revoked_at {
        key["revokedAt"] = serde_json::json!(at);
    }
    key
}

/// `GET /keys`: every signing key in the key store with its state, oldest first.
pub(super) async fn list_keys(State(state): State<AppState>) -> Result<Response, Problem> {
    let data_dir = state.config.data_dir.clone();
    let keys = tokio::task::spawn_blocking(move || KeyStore::list_in(&data_dir))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "key listing task failed");
            Problem::internal()
        })?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot read the key store");
            Problem::internal()
        })?;
    let keys: Vec<_> = keys.iter().map(|k| key_json(k, &state)).collect();
    Ok(axum::Json(serde_json::json!({ "keys": keys })).into_response())
}

/// `POST /keys/{kid}/revoke` (admin): revokes a retired key in the key store and, at once, in
/// this process: from the next request on, nothing it signed verifies and it is gone from the
/// JWKS and the DID document. The key this process signs with is refused (rotate and restart
/// first). Revoking a revoked key answers 200 and changes nothing.
pub(super) async fn revoke_key(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(kid) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let signing = state.service.signer_kid();
    if kid == signing {
        return Err(Problem::conflict(format!(
            "key {kid} is the key this gateway signs with; make a new one (`dpp-gateway keys rotate`), restart the gateway so it signs with that, then revoke this one"
        )));
    }
    let data_dir = state.config.data_dir.clone();
    let target = kid.clone();
    let revoked = tokio::task::spawn_blocking(move || {
        KeyStore::open(&data_dir).and_then(|mut keys| keys.revoke(&target))
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "key revocation task failed");
        Problem::internal()
    })?;
    let info = match revoked {
        Ok(info) => info,
        Err(TrustError::UnknownKey(kid)) => {
            return Err(Problem::not_found(format!(
                "no signing key with kid {kid:?}"
            )));
        }
        Err(TrustError::ActiveKey(kid)) => {
            return Err(Problem::conflict(format!(
                "key {kid} is the key store's active signing key; rotate first (`dpp-gateway keys rotate`, then restart), or revoke it offline with `dpp-gateway keys revoke {kid} --rotate`"
            )));
        }
        Err(e) => {
            tracing::error!(kid = %kid, error = %e, "cannot revoke a signing key");
            return Err(Problem::internal());
        }
    };
    // Durable first, then live: a 200 means both.
    let was_trusted = state.verifier.revoke(&info.kid);
    tracing::info!(kid = %info.kid, actor = %caller.actor, was_trusted, "key revocation applied to the running gateway");
    state
        .store()
        .audit(&caller.actor, "key.revoke", &format!("key:{}", info.kid))
        .await
        .map_err(store_problem)?;
    Ok(axum::Json(key_json(&info, &state)).into_response())
}

pub(super) async fn list_schemas() -> Response {
    let items: Vec<_> = SchemaKind::all()
        .iter()
        .map(|k| serde_json::json!({ "name": k.name(), "href": format!("/api/v1/schemas/{}", k.name()) }))
        .collect();
    axum::Json(serde_json::json!({ "schemas": items })).into_response()
}

pub(super) async fn get_schema(
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(name) = path.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    // `schema_document` also serves the shared `common` schema the others `$ref`, so partners can
    // resolve every reference from this endpoint.
    let text = dpp_schemas::schema_document(&name).ok_or_else(|| {
        let known: Vec<_> = SchemaKind::all().iter().map(|k| k.name()).collect();
        Problem::not_found(format!(
            "no schema named {name:?}; known: {}, common",
            known.join(", ")
        ))
    })?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/schema+json"),
    );
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    jws: String,
}

/// What the caller expects of a JWT's claims: `?iss=&aud=&requireExp=true`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct VerifyQuery {
    iss: Option<String>,
    aud: Option<String>,
    #[serde(default)]
    require_exp: bool,
}

/// Verifies a compact JWS against the published keys: `application/jose` (the token itself) or
/// `application/json` (`{"jws": "…"}`). A payload that is a JSON object also gets its claims
/// checked and its `jti` remembered, whatever its `typ`; the query can name an issuer, an audience
/// or `requireExp`. Answers the verified header and payload and which `form` it is
/// (`full-passport`, `redacted-passport` with the `redaction` applied, or `other`), or a 422
/// naming the reason.
pub(super) async fn verify(
    State(state): State<AppState>,
    query: Result<Query<VerifyQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_parameter(e.body_text()))?;
    let options = VerifyOptions {
        expected_iss: query.iss,
        expected_aud: query.aud,
        require_exp: query.require_exp,
        ..VerifyOptions::default()
    };
    let (bytes, matched) = read_body(
        &headers,
        body,
        state.config.body_limit_bytes,
        &["application/jose", "application/json"],
    )
    .await?;
    let compact = if matched == "application/jose" {
        std::str::from_utf8(&bytes)
            .map_err(|_| Problem::malformed("an application/jose body must be UTF-8 text"))?
            .trim()
            .to_owned()
    } else {
        let value = super::body::parse_json(&bytes)?;
        serde_json::from_value::<VerifyRequest>(value)
            .map_err(|e| {
                Problem::malformed(format!("expected {{\"jws\": \"<compact JWS>\"}}: {e}"))
            })?
            .jws
    };
    if compact.is_empty() {
        return Err(Problem::malformed("no JWS in the request body"));
    }
    let verified = state
        .verifier
        .verify_with(&compact, &options)
        .map_err(|e| match e {
            // Not the token's fault: the gateway cannot take more token ids until some expire.
            VerifyError::ReplayMemoryFull { .. } => {
                let mut problem = Problem::unavailable(e.to_string());
                problem.retry_after = Some(60);
                problem
            }
            e => Problem::invalid_signature(e.to_string()),
        })?;
    let payload = match serde_json::from_slice::<serde_json::Value>(&verified.payload) {
        Ok(json) => json,
        Err(_) => serde_json::Value::String(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&verified.payload),
        ),
    };
    // Which form a passport JWS is: the authoritative passport, or a partner's redacted copy
    // (signed by us too, but missing what the `redaction` header's policy withheld).
    let form = match verified
        .header
        .get("typ")
        .and_then(serde_json::Value::as_str)
    {
        Some(crate::service::PASSPORT_JWS_TYP) => "full-passport",
        Some(crate::exchange::policy::REDACTED_PASSPORT_JWS_TYP) => "redacted-passport",
        _ => "other",
    };
    let mut answer = serde_json::json!({
        "verified": true,
        "form": form,
        "kid": verified.kid,
        "header": verified.header,
        "payload": payload,
    });
    if let Some(redaction) = verified
        .header
        .get(crate::exchange::policy::REDACTION_HEADER)
    {
        answer["redaction"] = redaction.clone();
    }
    Ok(axum::Json(answer).into_response())
}
