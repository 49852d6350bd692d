//! Reading request bodies: content type (415), size limit (413) and JSON syntax (400) are checked
//! here, before anything else looks at the bytes.
//!
//! JSON is read strictly (RFC 8259 as I-JSON, RFC 7493, narrows it): UTF-8 only, no byte order
//! mark, no duplicate member names, no NUL characters, numbers within the range of an `f64`.

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

/// The `charset` parameter of a media type, lowercased and unquoted, if there is one.
fn charset(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').to_ascii_lowercase())
    })
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
    // JSON and compact JWS are UTF-8 text by definition; a body declared as anything else would be
    // read differently by us and by whoever signed or checked it.
    if let Some(charset) = got.and_then(charset)
        && charset != "utf-8"
        && charset != "utf8"
    {
        return Err(Problem::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!(
                "charset {:?} is not accepted here; send {matched} as UTF-8 (charset=utf-8 or none)",
                shown(&charset)
            ),
        ));
    }
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

/// Longest attacker-supplied value quoted in a problem detail.
const MAX_SHOWN: usize = 64;

/// An attacker-supplied value, cut short for problem details and logs.
fn shown(value: &str) -> String {
    if value.chars().count() <= MAX_SHOWN {
        value.to_owned()
    } else {
        let mut cut: String = value.chars().take(MAX_SHOWN).collect();
        cut.push('…');
        cut
    }
}

/// Parses JSON text, turning syntax errors (with line and column) into a 400. Duplicate object keys
/// are refused too: RFC 8259 leaves their meaning open, and two parsers reading different values
/// from one signed document is how signature-confusion attacks start. NUL characters are refused
/// because PostgreSQL `text` cannot hold them and C-string consumers would cut the value short.
pub fn parse_json(bytes: &[u8]) -> Result<Value, Problem> {
    if bytes.is_empty() {
        return Err(Problem::malformed(
            "the request body is empty; send a JSON document",
        ));
    }
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return Err(Problem::malformed(
            "the body starts with a UTF-8 byte order mark; send JSON without one (RFC 8259 section 8.1)",
        ));
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(Problem::malformed(format!(
            "the body is not UTF-8: invalid byte at offset {}",
            e.valid_up_to()
        )));
    }
    serde_json::from_slice::<StrictValue>(bytes)
        .map(|v| v.0)
        .map_err(|e| Problem::malformed(format!("the body is not valid JSON: {e}")))
}

/// A JSON value whose objects have no duplicate keys.
struct StrictValue(Value);

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        refuse_nul(v)?;
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        refuse_nul(&v)?;
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            refuse_nul(&key)?;
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key {:?}",
                    shown(&key)
                )));
            }
            let StrictValue(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

fn refuse_nul<E: serde::de::Error>(text: &str) -> Result<(), E> {
    if text.contains('\0') {
        return Err(E::custom(
            "a string holds a NUL character (\\u0000), which is not accepted",
        ));
    }
    Ok(())
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
        assert_eq!(
            charset("application/json; Charset=\"UTF-8\"").as_deref(),
            Some("utf-8")
        );
        assert_eq!(charset("application/json").as_deref(), None);
    }

    #[test]
    fn bom_invalid_utf8_and_nul_are_refused() {
        let bom = parse_json(b"\xEF\xBB\xBF{}").unwrap_err();
        assert!(bom.detail.contains("byte order mark"), "{}", bom.detail);
        let latin1 = parse_json(b"{\"a\":\"M\xfcller\"}").unwrap_err();
        assert!(latin1.detail.contains("offset 7"), "{}", latin1.detail);
        for text in [
            &br#"{"a":"x\u0000"}"#[..],
            br#"{"\u0000":1}"#,
            br#"["\u0000"]"#,
        ] {
            let nul = parse_json(text).unwrap_err();
            assert!(nul.detail.contains("NUL"), "{}", nul.detail);
        }
        assert!(parse_json(br#"{"a":"\u0001"}"#).is_ok());
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(parse_json(br#"{"a":1,"a":2}"#).is_err());
        let nested = parse_json(br#"{"a":{"b":[{"c":1,"c":1}]}}"#).unwrap_err();
        assert!(
            nested.detail.contains("duplicate key \"c\""),
            "{}",
            nested.detail
        );
        let ok = parse_json(
            br#"{"a":{"b":[{"c":1.5,"d":null,"e":true,"f":"x","g":-3,"h":18446744073709551615}]}}"#,
        )
        .unwrap();
        assert_eq!(
            ok["a"]["b"][0]["h"],
            serde_json::json!(18446744073709551615u64)
        );
        assert_eq!(ok["a"]["b"][0]["c"], serde_json::json!(1.5));
    }
}
