//! The suite's HTTP client: sends a request, keeps an excerpt of it and of the answer for the
//! report (secrets redacted), and hands the full answer to the case.

use std::collections::BTreeMap;
use std::time::Instant;

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::report::{Exchange, RequestExcerpt, ResponseExcerpt, millis};
use super::target::Target;

/// Longest body excerpt kept in a report, in bytes.
const EXCERPT_BYTES: usize = 2048;
/// JSON members whose values never reach a report.
const SECRET_MEMBERS: [&str; 7] = [
    "accountPassword",
    "clientSecret",
    "newPassword",
    "accessToken",
    "refreshToken",
    "idToken",
    "access_token",
];
/// Answer headers kept in a report.
const KEPT_HEADERS: [&str; 5] = ["content-type", "link", "x-track", "retry-after", "location"];

/// A request header and whether its value may be shown in a report.
pub(crate) struct SentHeader {
    pub(crate) name: &'static str,
    pub(crate) value: String,
    pub(crate) secret: bool,
}

/// A full answer.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
    /// The body as JSON, when it parses.
    pub(crate) json: Option<Value>,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `HTTP 400 {"code":…}` for reasons, short.
    pub(crate) fn brief(&self) -> String {
        let body = match &self.json {
            Some(v) => serde_json::to_string(&redact(v)).unwrap_or_default(),
            None => self.text.clone(),
        };
        format!("HTTP {} {}", self.status, excerpt(&body, 300))
    }
}

pub(crate) struct Probe {
    client: reqwest::Client,
    base: String,
    log: Vec<Exchange>,
}

impl Probe {
    pub(crate) fn new(target: &Target) -> Self {
        let client = target.http_client().cloned().unwrap_or_else(|| {
            reqwest::Client::builder()
                .timeout(target.timeout())
                // Judge exactly what the endpoint answers, not where it points.
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("dpp-conformance/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default()
        });
        Self {
            client,
            base: target.endpoint().to_owned(),
            log: Vec::new(),
        }
    }

    /// `base` + a path starting with `/`.
    pub(crate) fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base, path_and_query)
    }

    /// Sends one request and records it. `Err` means no answer came (connection, timeout).
    pub(crate) async fn send(
        &mut self,
        method: reqwest::Method,
        url: String,
        headers: Vec<SentHeader>,
        body: Option<&Value>,
    ) -> Result<Answer, String> {
        let mut request = self.client.request(method.clone(), &url);
        let mut shown = BTreeMap::new();
        for h in &headers {
            request = request.header(h.name, &h.value);
            let value = if h.secret {
                match h.value.split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} <redacted>"),
                    None => "<redacted>".to_owned(),
                }
            } else {
                h.value.clone()
            };
            shown.insert(h.name.to_owned(), value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let excerpt_request = RequestExcerpt {
            method: method.to_string(),
            url: url.clone(),
            headers: shown,
            body: body.map(|b| {
                excerpt(
                    &serde_json::to_string(&redact(b)).unwrap_or_default(),
                    EXCERPT_BYTES,
                )
            }),
        };
        let started = Instant::now();
        let result = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let text = response.text().await?;
            Ok::<_, reqwest::Error>((status, headers, text))
        }
        .await;
        let duration_ms = millis(started.elapsed());
        match result {
            Ok((status, headers, text)) => {
                let json = serde_json::from_str::<Value>(&text).ok();
                let kept = KEPT_HEADERS
                    .iter()
                    .filter_map(|name| {
                        headers.get(*name).map(|v| {
                            (
                                (*name).to_owned(),
                                String::from_utf8_lossy(v.as_bytes()).into_owned(),
                            )
                        })
                    })
                    .collect();
                let body = if text.is_empty() {
                    None
                } else {
                    Some(match &json {
                        Some(v) => excerpt(
                            &serde_json::to_string(&redact(v)).unwrap_or_default(),
                            EXCERPT_BYTES,
                        ),
                        None => excerpt(&text, EXCERPT_BYTES),
                    })
                };
                self.log.push(Exchange {
                    request: excerpt_request,
                    response: Some(ResponseExcerpt {
                        status,
                        headers: kept,
                        body,
                    }),
                    error: None,
                    duration_ms,
                });
                Ok(Answer {
                    status,
                    headers,
                    text,
                    json,
                })
            }
            Err(error) => {
                let message = describe_error(&error);
                self.log.push(Exchange {
                    request: excerpt_request,
                    response: None,
                    error: Some(message.clone()),
                    duration_ms,
                });
                Err(message)
            }
        }
    }

    /// The exchanges recorded since the last call.
    pub(crate) fn take_log(&mut self) -> Vec<Exchange> {
        std::mem::take(&mut self.log)
    }
}

fn describe_error(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "reading the answer failed"
    } else {
        "request failed"
    };
    let mut message = format!("{kind}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

/// A copy of `value` with secret members replaced by `<redacted>`.
pub(crate) fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if SECRET_MEMBERS.contains(&k.as_str()) && !v.is_null() {
                        Value::String("<redacted>".into())
                    } else {
                        redact(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// At most `max` bytes of `text`, cut at a character boundary, saying how long it was.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_at_any_depth_and_excerpts_respect_char_boundaries() {
        let v = json!({"operatorAccountId": "a@example.com", "accountPassword": "pw",
                       "nested": [{"accessToken": "t", "refreshToken": null}]});
        let r = redact(&v);
        assert_eq!(r["accountPassword"], "<redacted>");
        assert_eq!(r["nested"][0]["accessToken"], "<redacted>");
        assert!(r["nested"][0]["refreshToken"].is_null());
        assert_eq!(r["operatorAccountId"], "a@example.com");
        let cut = excerpt("部品部品", 4);
        assert!(
            cut.starts_with('部') && cut.ends_with("(12 bytes in all)"),
            "{cut}"
        );
    }
}
