//! OAuth 2.0 client credentials against a small RFC 6749 §4.4 token endpoint started in the test
//! (it checks `grant_type` and the client's authentication, counts calls and issues expiring
//! tokens) and a protected resource that accepts only the tokens it is told to.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use dpp_adapters::AdapterError;
use dpp_adapters::contract::oauth2::{ClientAuth, ClientCredentialsTokens, OAuth2Settings};
use dpp_adapters::contract::{
    AdapterContext, EgressPolicy, HttpClient, HttpRequest, HttpSettings, Secret,
};
use reqwest::{Method, Url};
use serde_json::json;

const CLIENT_ID: &str = "gateway:eu/1";
const CLIENT_SECRET: &str = "s3cret with spaces&symbols";

/// The authorization server and resource server of the tests.
#[derive(Default)]
struct AuthServer {
    token_calls: AtomicUsize,
    resource_calls: AtomicUsize,
    /// `expires_in` of issued tokens, seconds.
    expires_in: AtomicU64,
    /// The resource accepts `tok-N` only for N at least this.
    accept_from: AtomicUsize,
    /// Answer the next token requests with 503.
    fail_next: AtomicUsize,
    /// How the last client authenticated: `basic` or `body`.
    last_auth: std::sync::Mutex<String>,
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    let mut response = (status, Json(json!({ "error": error }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"test\"".parse().unwrap(),
        );
    }
    response
}

/// `application/x-www-form-urlencoded` decoding of one component (RFC 6749 §2.3.1 encodes the
/// id and secret this way before Basic authentication).
fn form_urlencoded_decode(raw: &str) -> String {
    let bytes = raw.replace('+', " ");
    let mut out = Vec::new();
    let mut iter = bytes.bytes();
    while let Some(b) = iter.next() {
        if b == b'%' {
            let hex: String = [iter.next().unwrap_or(b'0'), iter.next().unwrap_or(b'0')]
                .iter()
                .map(|&c| c as char)
                .collect();
            out.push(u8::from_str_radix(&hex, 16).unwrap_or(b'?'));
        } else {
            out.push(b);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn token(
    State(server): State<Arc<AuthServer>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    server.token_calls.fetch_add(1, Ordering::SeqCst);
    if server
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (StatusCode::SERVICE_UNAVAILABLE, "maintenance").into_response();
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(id, secret)| (form_urlencoded_decode(id), form_urlencoded_decode(secret)))
        });
    let (credentials, how) = match basic {
        Some(pair) => (Some(pair), "basic"),
        None => (
            form.get("client_id")
                .cloned()
                .zip(form.get("client_secret").cloned()),
            "body",
        ),
    };
    *server.last_auth.lock().unwrap() = how.to_owned();
    if credentials != Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let n = server.token_calls.load(Ordering::SeqCst);
    Json(json!({
        "access_token": format!("tok-{n}"),
        "token_type": "Bearer",
        "expires_in": server.expires_in.load(Ordering::SeqCst),
        "scope": form.get("scope").cloned().unwrap_or_default(),
    }))
    .into_response()
}

async fn resource(State(server): State<Arc<AuthServer>>, headers: HeaderMap) -> Response {
    server.resource_calls.fetch_add(1, Ordering::SeqCst);
    let n = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer tok-"))
        .and_then(|n| n.parse::<usize>().ok());
    match n {
        Some(n) if n >= server.accept_from.load(Ordering::SeqCst) => {
            (StatusCode::OK, "passport").into_response()
        }
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn start(expires_in: u64) -> (Arc<AuthServer>, SocketAddr) {
    let server = Arc::new(AuthServer {
        expires_in: AtomicU64::new(expires_in),
        ..AuthServer::default()
    });
    let app = Router::new()
        .route("/oauth2/token", post(token))
        .route("/resource", get(resource))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (server, addr)
}

fn context(policy: EgressPolicy) -> AdapterContext {
    AdapterContext::new(
        "pact-partner",
        HttpClient::new(policy, &HttpSettings::default()).unwrap(),
    )
}

fn settings(addr: SocketAddr, secret: &str) -> OAuth2Settings {
    let mut settings = OAuth2Settings::new(
        Url::parse(&format!("http://{addr}/oauth2/token")).unwrap(),
        CLIENT_ID,
        Secret::new(secret),
    );
    settings.scopes = vec!["footprints:read".into()];
    settings
}

fn tokens(settings: OAuth2Settings) -> (ClientCredentialsTokens, AdapterContext) {
    let ctx = context(EgressPolicy::allowing(["127.0.0.1"]));
    (
        ClientCredentialsTokens::new("pact", settings, &ctx).unwrap(),
        ctx,
    )
}

/// The protected call, as an adapter makes it: 401 becomes `Remote { status: 401 }`.
async fn call_resource(
    http: &HttpClient,
    addr: SocketAddr,
    token: dpp_adapters::contract::oauth2::AccessToken,
) -> Result<String, AdapterError> {
    let mut request = HttpRequest::new(
        Method::GET,
        Url::parse(&format!("http://{addr}/resource")).unwrap(),
    );
    request
        .headers
        .insert(header::AUTHORIZATION, token.authorization()?);
    let response = http.send(request).await?;
    match response.status {
        200 => Ok(String::from_utf8_lossy(&response.body).into_owned()),
        status => Err(AdapterError::remote(status, &response.body, None)),
    }
}

#[tokio::test]
async fn a_token_is_cached_for_many_callers() {
    let (server, addr) = start(3600).await;
    let (tokens, _) = tokens(settings(addr, CLIENT_SECRET));
    let first = tokens.token().await.unwrap();
    for _ in 0..50 {
        assert_eq!(tokens.token().await.unwrap(), first);
    }
    let concurrent: Vec<_> = (0..50)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.token().await.unwrap() })
        })
        .collect();
    for task in concurrent {
        assert_eq!(task.await.unwrap().expose(), "tok-1");
    }
    assert_eq!(server.token_calls.load(Ordering::SeqCst), 1);
    assert_eq!(tokens.token_requests(), 1);
    assert_eq!(*server.last_auth.lock().unwrap(), "basic");
    let lifetime = first.expires_at() - chrono::Utc::now();
    assert!(lifetime > chrono::Duration::seconds(3590), "{lifetime}");
}

#[tokio::test]
async fn concurrent_first_callers_share_one_token_request() {
    let (server, addr) = start(3600).await;
    let (tokens, _) = tokens(settings(addr, CLIENT_SECRET));
    let all = join_all(
        (0..100)
            .map(|_| {
                let tokens = tokens.clone();
                tokio::spawn(async move { tokens.token().await.unwrap() })
            })
            .collect(),
    )
    .await;
    assert!(all.iter().all(|t| t.expose() == "tok-1"));
    assert_eq!(server.token_calls.load(Ordering::SeqCst), 1);
}

async fn join_all<T: Send + 'static>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_token_is_fetched_again_once_expires_in_minus_the_margin_passed() {
    let (server, addr) = start(2).await;
    let mut settings = settings(addr, CLIENT_SECRET);
    settings.expiry_margin = Duration::from_secs(1);
    let (tokens, _) = tokens(settings);
    let first = tokens.token().await.unwrap();
    assert_eq!(tokens.token().await.unwrap(), first);
    assert_eq!(server.token_calls.load(Ordering::SeqCst), 1);
    // Cached for 2 s - 1 s margin.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let second = tokens.token().await.unwrap();
    assert_ne!(second, first);
    assert_eq!(second.expose(), "tok-2");
    assert_eq!(server.token_calls.load(Ordering::SeqCst), 2);
    tokens.invalidate().await;
    assert_eq!(tokens.token().await.unwrap().expose(), "tok-3");
}

#[tokio::test]
async fn a_401_renews_the_token_once_and_the_call_succeeds() {
    let (server, addr) = start(3600).await;
    let (tokens, ctx) = tokens(settings(addr, CLIENT_SECRET));
    // The remote revoked every token issued so far, i.e. the one we are about to cache.
    server.accept_from.store(2, Ordering::SeqCst);
    let body = tokens
        .with_token_retry(|token| call_resource(&ctx.http, addr, token))
        .await
        .unwrap();
    assert_eq!(body, "passport");
    assert_eq!(server.token_calls.load(Ordering::SeqCst), 2);
    assert_eq!(server.resource_calls.load(Ordering::SeqCst), 2);
    // The renewed token is the cached one now.
    assert_eq!(tokens.token().await.unwrap().expose(), "tok-2");
}

#[tokio::test]
async fn a_second_401_is_a_typed_auth_error_after_one_renewal() {
    let (server, addr) = start(3600).await;
    let (tokens, ctx) = tokens(settings(addr, CLIENT_SECRET));
    server.accept_from.store(usize::MAX, Ordering::SeqCst);
    let err = tokens
        .with_token_retry(|token| call_resource(&ctx.http, addr, token))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Auth { adapter: "pact", reason } if reason.contains("freshly issued")),
        "{err:?}"
    );
    assert_eq!(
        server.token_calls.load(Ordering::SeqCst),
        2,
        "one renewal only"
    );
    assert_eq!(server.resource_calls.load(Ordering::SeqCst), 2);
    // Other failures are passed through without a renewal.
    let err = tokens
        .with_token_retry(|_| async { Err::<(), _>(AdapterError::remote(500, b"x", None)) })
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Remote { status: 500, .. }));
    assert_eq!(server.token_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn wrong_client_credentials_are_a_typed_auth_error_and_not_cached() {
    let (server, addr) = start(3600).await;
    let (tokens, _) = tokens(settings(addr, "wrong-secret"));
    for expected_calls in 1..=2 {
        let err = tokens.token().await.unwrap_err();
        assert!(
            matches!(&err, AdapterError::Auth { reason, .. } if reason.contains("invalid_client")),
            "{err:?}"
        );
        assert!(!err.to_string().contains("wrong-secret"));
        assert_eq!(server.token_calls.load(Ordering::SeqCst), expected_calls);
    }
}

#[tokio::test]
async fn credentials_can_travel_in_the_request_body() {
    let (server, addr) = start(3600).await;
    let mut settings = settings(addr, CLIENT_SECRET);
    settings.client_auth = ClientAuth::RequestBody;
    let (tokens, _) = tokens(settings);
    assert_eq!(tokens.token().await.unwrap().expose(), "tok-1");
    assert_eq!(*server.last_auth.lock().unwrap(), "body");
}

#[tokio::test]
async fn a_failing_token_endpoint_gives_retryable_errors() {
    let (server, addr) = start(3600).await;
    let (tokens, _) = tokens(settings(addr, CLIENT_SECRET));
    server.fail_next.store(1, Ordering::SeqCst);
    let err = tokens.token().await.unwrap_err();
    assert!(
        matches!(&err, AdapterError::Remote { status: 503, .. }) && err.is_retryable(),
        "{err:?}"
    );
    assert_eq!(tokens.token().await.unwrap().expose(), "tok-2");
}

#[tokio::test]
async fn the_token_endpoint_is_behind_the_egress_guard() {
    let (server, addr) = start(3600).await;
    let refused = ClientCredentialsTokens::new(
        "pact",
        settings(addr, CLIENT_SECRET),
        &context(EgressPolicy::public_only()),
    )
    .unwrap_err();
    assert!(
        matches!(refused, AdapterError::EgressRefused { .. }),
        "{refused:?}"
    );
    // A name resolving to loopback passes the literal check and is refused after DNS.
    let mut by_name = settings(addr, CLIENT_SECRET);
    by_name.token_url =
        Url::parse(&format!("http://localhost:{}/oauth2/token", addr.port())).unwrap();
    let tokens =
        ClientCredentialsTokens::new("pact", by_name, &context(EgressPolicy::public_only()))
            .unwrap();
    let err = tokens.token().await.unwrap_err();
    assert!(matches!(err, AdapterError::EgressRefused { .. }), "{err:?}");
    assert_eq!(server.token_calls.load(Ordering::SeqCst), 0);
}
