//! Calls to `/api/v1/datatransport?dataTarget=…`: URL building, the `apiKey` + bearer headers,
//! one token renewal on 401, request bodies validated against the published schema before they
//! leave, status → typed error, `link`-header paging and the `x-track` id in every log line.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dpp_schemas::wire::ouranos::{Method as WireMethod, Target, ouranos};
use reqwest::header::HeaderValue;
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::auth::{TokenSource, api_key_headers};
use crate::contract::{AdapterContext, AdapterError, HttpRequest, HttpResponse, RemoteCallEvent};

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Answer {
    /// Parsed JSON body (`Null` when empty).
    pub body: Value,
    /// `after` of the `link` header: where the next page starts.
    pub next_after: Option<String>,
    /// The `x-track` header.
    pub track: Option<String>,
}

impl Answer {
    pub(crate) fn parse<T: DeserializeOwned>(&self, what: &str) -> Result<T, AdapterError> {
        serde_json::from_value(self.body.clone()).map_err(|e| AdapterError::Mapping {
            field: what.to_owned(),
            reason: format!("unexpected ouranos answer: {e}"),
        })
    }
}

/// The datatransport client of one partner connection.
pub(crate) struct DataTransportClient {
    endpoint: Url,
    tokens: Arc<TokenSource>,
    ctx: AdapterContext,
}

impl DataTransportClient {
    pub(crate) fn new(endpoint: Url, tokens: Arc<TokenSource>, ctx: AdapterContext) -> Self {
        Self {
            endpoint,
            tokens,
            ctx,
        }
    }

    /// The URL of `dataTarget=target` with `query` after it.
    pub(crate) fn url(&self, target: Target, query: &[(&str, &str)]) -> Url {
        datatransport_url(&self.endpoint, target, query)
    }

    /// Calls `method` on `target`. A body is validated against the published schema first and
    /// never sent if it breaks it.
    pub(crate) async fn call(
        &self,
        method: Method,
        target: Target,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Answer, AdapterError> {
        self.call_once(method, target, query, body, None).await
    }

    /// Like [`call`](Self::call), for a write that is one step of a delivery: it carries an
    /// `Idempotency-Key` derived from the delivery's key and the exact request, so a retry of
    /// the same step is answered from the remote's replay cache where it keeps one (the spec has
    /// none; Ouranos writes are idempotent by their natural keys anyway and ignore the header).
    pub(crate) async fn call_once(
        &self,
        method: Method,
        target: Target,
        query: &[(&str, &str)],
        body: Option<Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, AdapterError> {
        let wire_method = wire_method(&method);
        if let Some(body) = &body {
            ouranos()
                .validate_request(target, wire_method, body)
                .map_err(|violations| AdapterError::InvalidWire {
                    schema: format!("ouranos {wire_method} {target}"),
                    violations,
                })?;
        }
        let url = self.url(target, query);
        let step_key = idempotency_key.map(|key| step_key(key, &method, &url, body.as_ref()));
        let operation = format!("{wire_method} {target}");
        let mut token = self.tokens.bearer().await?;
        let mut renewed = false;
        loop {
            let mut request = HttpRequest::new(method.clone(), url.clone());
            request.headers = api_key_headers(self.tokens.api_key())?;
            let mut bearer =
                HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                    AdapterError::Auth {
                        adapter: "ouranos",
                        reason: "token is not a valid header value".into(),
                    }
                })?;
            bearer.set_sensitive(true);
            request
                .headers
                .insert(reqwest::header::AUTHORIZATION, bearer);
            if let Some(key) = &step_key
                && let Ok(value) = HeaderValue::from_str(key)
            {
                request.headers.insert("idempotency-key", value);
            }
            request.json = body.clone();
            let started = Instant::now();
            let response = self.ctx.http.send(request).await;
            RemoteCallEvent {
                adapter: "ouranos",
                partner: &self.ctx.partner,
                operation: &operation,
                status: response.as_ref().ok().map(|r| r.status),
                elapsed: started.elapsed(),
                track: response.as_ref().ok().and_then(|r| r.header("x-track")),
            }
            .emit(self.ctx.metrics.as_ref());
            let response = response?;
            if response.status == 401 && !renewed {
                renewed = true;
                token = self.tokens.renew(&token).await?;
                continue;
            }
            return self.answer(&operation, target, wire_method, response);
        }
    }

    fn answer(
        &self,
        operation: &str,
        target: Target,
        method: WireMethod,
        response: HttpResponse,
    ) -> Result<Answer, AdapterError> {
        let track = response.header("x-track").map(str::to_owned);
        match response.status {
            200..=299 => {}
            401 | 403 => {
                return Err(AdapterError::Auth {
                    adapter: "ouranos",
                    reason: format!(
                        "{operation} refused with {} (x-track {}): {}",
                        response.status,
                        track.as_deref().unwrap_or("-"),
                        crate::contract::excerpt(&response.body)
                    ),
                });
            }
            404 => {
                return Err(AdapterError::NotFound(format!(
                    "{operation}: {}",
                    crate::contract::excerpt(&response.body)
                )));
            }
            429 => {
                return Err(AdapterError::RateLimited {
                    retry_after: retry_after(&response),
                });
            }
            // The spec answers "指定された部品は存在しません。" (the part does not exist) as a
            // 400 with detail MSGAECP0013.
            400 if is_part_not_found(&response.body) => {
                return Err(AdapterError::NotFound(format!(
                    "{operation}: part does not exist (MSGAECP0013, x-track {})",
                    track.as_deref().unwrap_or("-")
                )));
            }
            status => return Err(AdapterError::remote(status, &response.body, track)),
        }
        let body = if response.body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            response.json().map_err(|e| AdapterError::Mapping {
                field: operation.to_owned(),
                reason: format!("answer is not json: {e}"),
            })?
        };
        if !body.is_null()
            && ouranos()
                .response_statuses(target, method)
                .contains(&response.status)
        {
            ouranos()
                .validate_response(target, method, response.status, &body)
                .map_err(|violations| AdapterError::InvalidWire {
                    schema: format!("ouranos {operation} answer {}", response.status),
                    violations,
                })?;
        }
        Ok(Answer {
            body,
            next_after: response.header("link").and_then(next_after),
            track,
        })
    }

    /// Every item of a paged list, following `link` until it is absent.
    ///
    /// Only the `after` value of the link is used: the next page is always asked of our own
    /// endpoint, whatever host the link names. A remote that pages without end is refused
    /// ([`PageWalk`]): a cursor seen before is a loop, and more than [`MAX_PAGES`] pages is too
    /// many, and a page longer than `limit` breaks the spec, so a list walk costs at most
    /// `MAX_PAGES` requests and `MAX_PAGES × page_size` items.
    pub(crate) async fn list_all(
        &self,
        target: Target,
        query: &[(&str, &str)],
        page_size: u32,
    ) -> Result<Vec<Value>, AdapterError> {
        let mut items = Vec::new();
        let mut walk = PageWalk::new(target, &self.endpoint);
        let limit = page_size.to_string();
        let mut after: Option<String> = None;
        loop {
            let mut q: Vec<(&str, &str)> = query.to_vec();
            q.push(("limit", &limit));
            if let Some(a) = &after {
                q.push(("after", a));
            }
            let answer = self.call(Method::GET, target, &q, None).await?;
            match answer.body {
                // More than asked for breaks the spec's `limit`, and the bound above with it.
                Value::Array(page) if page.len() > page_size as usize => {
                    return Err(AdapterError::Mapping {
                        field: target.to_string(),
                        reason: format!(
                            "a page of {} items answered limit={page_size}",
                            page.len()
                        ),
                    });
                }
                Value::Array(page) => items.extend(page),
                Value::Null => {}
                other => {
                    return Err(AdapterError::Mapping {
                        field: target.to_string(),
                        reason: format!("expected a list, got {other}"),
                    });
                }
            }
            match walk.next(answer.next_after)? {
                Some(next) => after = Some(next),
                None => return Ok(items),
            }
        }
    }
}

/// Most pages one list walk of the Ouranos adapter follows (parts by name, trade requests,
/// trade responses, statuses). With the configured `page_size` (at most 100, the spec's
/// largest) that is up to 100 000 items; a longer list is refused rather than read. It bounds
/// what a remote that hands out fresh cursors forever can cost: at most this many requests, and
/// this many pages held in memory, before the walk fails.
pub const MAX_PAGES: usize = 1_000;

/// The cursor bookkeeping of one list walk: every `after` followed so far, and how many pages
/// were read.
///
/// Both refusals are [`AdapterError::Mapping`]: the variant this client already uses for a list
/// answer that does not follow the published shape, and not retryable — trying again would walk
/// the same endless list, so the outbox must not back off and repeat it. The gateway reports it
/// as the remote answering invalid data, which is what happened. `Remote` would claim an error
/// status the remote never sent, and the transport variants are retryable.
#[derive(Debug)]
pub(crate) struct PageWalk {
    target: Target,
    endpoint: String,
    seen: HashSet<String>,
    pages: usize,
}

impl PageWalk {
    pub(crate) fn new(target: Target, endpoint: &Url) -> Self {
        Self {
            target,
            endpoint: endpoint.to_string(),
            seen: HashSet::new(),
            pages: 0,
        }
    }

    /// Called once per page read, with that page's `after` of the `link` header: the cursor to
    /// ask for next, `None` when the list is complete, or an error for a loop or too many pages.
    pub(crate) fn next(
        &mut self,
        next_after: Option<String>,
    ) -> Result<Option<String>, AdapterError> {
        self.pages += 1;
        let Some(next) = next_after else {
            return Ok(None);
        };
        if !self.seen.insert(next.clone()) {
            return Err(AdapterError::Mapping {
                field: format!("{} paging", self.target),
                reason: format!(
                    "the link header of ouranos {} at {} leads back to cursor {next:?} after {} pages: the list loops",
                    self.target, self.endpoint, self.pages
                ),
            });
        }
        if self.pages >= MAX_PAGES {
            return Err(AdapterError::Mapping {
                field: format!("{} paging", self.target),
                reason: format!(
                    "ouranos {} at {} still links to a next page after {MAX_PAGES} pages (MAX_PAGES = {MAX_PAGES}); refusing a list without end",
                    self.target, self.endpoint
                ),
            });
        }
        Ok(Some(next))
    }
}

/// `{endpoint}/api/v1/datatransport?dataTarget=…&…`.
pub(crate) fn datatransport_url(endpoint: &Url, target: Target, query: &[(&str, &str)]) -> Url {
    let mut url = endpoint.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments
            .pop_if_empty()
            .extend(["api", "v1", "datatransport"]);
    }
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("dataTarget", target.data_target().unwrap_or_default());
        for (k, v) in query {
            pairs.append_pair(k, v);
        }
    }
    url
}

/// Detail code of the spec's "part does not exist" 400.
const PART_NOT_FOUND: &str = "MSGAECP0013";

fn is_part_not_found(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|b| {
            b.get("detail")
                .and_then(Value::as_str)
                .map(|d| d.contains(PART_NOT_FOUND))
        })
        .unwrap_or(false)
}

/// `{delivery key}.{first 16 hex of SHA-256 over method, URL and body}`.
fn step_key(key: &str, method: &Method, url: &Url, body: Option<&Value>) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(method.as_str());
    hash.update(b" ");
    hash.update(url.as_str());
    if let Some(body) = body {
        hash.update(body.to_string());
    }
    let digest = hash.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{key}.{hex}")
}

fn wire_method(method: &Method) -> WireMethod {
    match *method {
        Method::PUT => WireMethod::Put,
        Method::POST => WireMethod::Post,
        Method::DELETE => WireMethod::Delete,
        _ => WireMethod::Get,
    }
}

/// `after` of a `link` header `<https://…?dataTarget=parts&limit=100&after=(uuid)>;`.
pub(crate) fn next_after(link: &str) -> Option<String> {
    let start = link.find('<')? + 1;
    let end = start + link[start..].find('>')?;
    let target = &link[start..end];
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or(target);
    let parsed = Url::parse(&format!("http://link.invalid/?{query}")).ok()?;
    parsed
        .query_pairs()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// `Retry-After` in seconds or as an HTTP date.
pub(crate) fn retry_after(response: &HttpResponse) -> Option<Duration> {
    let value = response.header("retry-after")?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.to_utc() - chrono::Utc::now()).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_header_gives_the_next_cursor() {
        let link = "<https://example.com/api/v1/datatransport?dataTarget=parts&limit=100&after=d9a38406-cae2-4679-b052-15a75f5531e6>;";
        assert_eq!(
            next_after(link).as_deref(),
            Some("d9a38406-cae2-4679-b052-15a75f5531e6")
        );
        assert_eq!(
            next_after("<https://example.com/x?dataTarget=parts&limit=2>;"),
            None
        );
        assert_eq!(next_after("garbage"), None);
        assert_eq!(
            next_after("</api?after=a%2Fb>; rel=\"next\"").as_deref(),
            Some("a/b")
        );
    }

    fn walk() -> PageWalk {
        PageWalk::new(
            Target::Parts,
            &Url::parse("https://ouranos.example/").unwrap(),
        )
    }

    #[test]
    fn a_walk_ends_where_the_link_ends() {
        let mut w = walk();
        assert_eq!(w.next(Some("a".into())).unwrap().as_deref(), Some("a"));
        assert_eq!(w.next(Some("b".into())).unwrap().as_deref(), Some("b"));
        assert_eq!(w.next(None).unwrap(), None);
    }

    #[test]
    fn a_cursor_seen_before_is_a_loop_and_refused() {
        // A → B → A: the old check only compared with the cursor just followed.
        let mut w = walk();
        assert_eq!(w.next(Some("A".into())).unwrap().as_deref(), Some("A"));
        assert_eq!(w.next(Some("B".into())).unwrap().as_deref(), Some("B"));
        let err = w.next(Some("A".into())).unwrap_err();
        assert!(matches!(err, AdapterError::Mapping { .. }), "{err:?}");
        assert!(!err.is_retryable());
        let text = err.to_string();
        assert!(text.contains("parts") && text.contains("loops"), "{text}");
        // A link to the page just read is a loop too.
        let mut w = walk();
        w.next(Some("A".into())).unwrap();
        assert!(w.next(Some("A".into())).is_err());
    }

    #[test]
    fn a_walk_is_refused_after_max_pages() {
        let mut w = walk();
        for i in 1..MAX_PAGES {
            assert!(w.next(Some(format!("c{i}"))).unwrap().is_some(), "page {i}");
        }
        // The last page allowed may still end the list …
        let mut ending = walk();
        for i in 1..MAX_PAGES {
            ending.next(Some(format!("c{i}"))).unwrap();
        }
        assert_eq!(ending.next(None).unwrap(), None);
        // … but one that links further is refused, naming the target and the cap.
        let err = w.next(Some("one-more".into())).unwrap_err();
        assert!(matches!(err, AdapterError::Mapping { .. }), "{err:?}");
        assert!(!err.is_retryable());
        let text = err.to_string();
        assert!(
            text.contains("parts") && text.contains(&MAX_PAGES.to_string()),
            "{text}"
        );
    }

    #[test]
    fn urls_keep_the_endpoint_prefix_and_put_data_target_first() {
        let base = Url::parse("https://gw.example/ouranos/").unwrap();
        let url = datatransport_url(&base, Target::Parts, &[("traceId", "x y")]);
        assert_eq!(
            url.as_str(),
            "https://gw.example/ouranos/api/v1/datatransport?dataTarget=parts&traceId=x+y"
        );
    }

    #[test]
    fn retry_after_reads_seconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        let r = HttpResponse {
            status: 429,
            headers,
            body: Vec::new(),
        };
        assert_eq!(retry_after(&r), Some(Duration::from_secs(7)));
    }
}
