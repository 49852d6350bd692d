//! Reading request bodies: content type (415), size limit (413) and JSON syntax (400) are checked
//! here, before anything else looks at the bytes.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use serde_json::Value;

use crate::problem::Problem;

/// Whether `content_type` is `expected` (or, for `application/json`, any `application/*+json`),
/// ignoring parameters such as `charset`.
fn media_type_matches(content_type: &str, expected: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == expected
        || (expected == "application/json"
            && essence.starts_with("application/")
            && essence.ends_with("+json"))
}

/// The request's media type essence, if any.
pub fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// Reads the body if its content type is one of `accepted` and it fits in `limit` bytes.
/// Returns the bytes and which accepted type matched.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    accepted: &[&'static str],
) -> Result<(Bytes, &'static str), Problem> {
    let got = content_type(headers);
    let matched = got
        .and_then(|ct| accepted.iter().find(|a| media_type_matches(ct, a)))
        .copied()
        .ok_or_else(|| Problem::unsupported_media_type(got, &accepted.join(" or ")))?;
    // Refuse early on a declared length; the streaming limit below catches chunked bodies.
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(Problem::too_large(limit));
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|err| {
        let too_large = std::error::Error::source(&err)
            .is_some_and(|e| e.is::<http_body_util::LengthLimitError>())
            || err.to_string().contains("length limit");
        if too_large {
            Problem::too_large(limit)
        } else {
            Problem::malformed(format!("could not read the request body: {err}"))
        }
    })?;
    Ok((bytes, matched))
}

/// Reads a JSON body (`application/json` or `application/*+json`) within `limit` bytes.
pub async fn read_json(headers: &HeaderMap, body: Body, limit: usize) -> Result<Value, Problem> {
    let (bytes, _) = read_body(headers, body, limit, &["application/json"]).await?;
    parse_json(&bytes)
}

/// Parses JSON text, turning syntax errors (with line and column) into a 400.
pub fn parse_json(bytes: &[u8]) -> Result<Value, Problem> {
    if bytes.is_empty() {
        return Err(Problem::malformed(
            "the request body is empty; send a JSON document",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| Problem::malformed(format!("the body is not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_match_on_essence() {
        assert!(media_type_matches("application/json", "application/json"));
        assert!(media_type_matches(
            "Application/JSON; charset=utf-8",
            "application/json"
        ));
        assert!(media_type_matches(
            "application/ld+json",
            "application/json"
        ));
        assert!(!media_type_matches("text/plain", "application/json"));
        assert!(!media_type_matches("application/jsonx", "application/json"));
        assert!(media_type_matches("application/jose", "application/jose"));
    }
}
