//! Published trust documents (`/.well-known/jwks.json`, `/.well-known/did.json`), the bundled
//! schemas, and `POST /verify`.

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use dpp_schemas::SchemaKind;
use serde::Deserialize;

use super::{AppState, read_body};
use crate::problem::Problem;
use crate::trust::VerifyOptions;

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
    json_with_type(&state.jwks, "application/jwk-set+json")
}

pub(super) async fn did_document(State(state): State<AppState>) -> Response {
    json_with_type(&state.did_document, "application/did+json")
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
/// `application/json` (`{"jws": "…"}`). JWT-typed tokens (and any token when the query names an
/// issuer, audience or `requireExp`) also get their claims checked and their `jti` remembered.
/// Answers the verified header and payload and which `form` it is (`full-passport`,
/// `redacted-passport` with the `redaction` applied, or `other`), or a 422 naming the reason.
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
        .map_err(|e| Problem::invalid_signature(e.to_string()))?;
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
