//! OAuth 2.0 client credentials (RFC 6749 §4.4) for data spaces that issue bearer tokens to
//! machines: one [`ClientCredentialsTokens`] per partner connection obtains tokens with the
//! `oauth2` crate, caches each until shortly before its `expires_in`, and renews once when the
//! remote answers 401 ([`ClientCredentialsTokens::with_token_retry`]).
//!
//! The token request is form-encoded, which the contract's JSON-only [`HttpClient`] cannot send,
//! so this module drives `oauth2` through its own reqwest client built with the **same egress
//! guard**: the partner's [`EgressPolicy`] checked on the URL and again after DNS resolution, no
//! redirects, no proxies, the same timeouts.
//!
//! ```no_run
//! # async fn demo(ctx: dpp_adapters::contract::AdapterContext) -> Result<(), dpp_adapters::AdapterError> {
//! use dpp_adapters::contract::Secret;
//! use dpp_adapters::contract::oauth2::{ClientCredentialsTokens, OAuth2Settings};
//!
//! let settings = OAuth2Settings::new(
//!     "https://auth.example.com/oauth2/token".parse().unwrap(),
//!     "gateway",
//!     Secret::new("s3cret"),
//! );
//! let tokens = ClientCredentialsTokens::new("pact", settings, &ctx)?;
//! let answer = tokens
//!     .with_token_retry(|token| async move {
//!         // … send the call with `Authorization: Bearer {token.expose()}`, map 401 to
//!         // `AdapterError::Remote { status: 401, .. }` …
//!         Ok::<_, dpp_adapters::AdapterError>(token.expose().len())
//!     })
//!     .await?;
//! # let _ = answer; Ok(()) }
//! ```
//!
//! [`HttpClient`]: super::HttpClient

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use moka::Expiry;
use moka::future::Cache;
use moka::ops::compute::Op;
use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};
use reqwest::Url;
use reqwest::header::HeaderValue;
use serde::Deserialize;

use super::{
    AdapterContext, AdapterError, Clock, EgressPolicy, HttpSettings, MetricsHook, Secret,
    TokenEvent, excerpt,
};

/// Renew this long before `expires_in` runs out, so no call leaves with a dying token.
pub const DEFAULT_EXPIRY_MARGIN: Duration = Duration::from_secs(30);

/// Lifetime assumed when the token endpoint sends no `expires_in` (RFC 6749 makes it optional).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `Authorization: Basic` with the url-encoded id and secret (what servers must support).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    RequestBody,
}

/// Where and how to obtain tokens.
#[derive(Debug, Clone)]
pub struct OAuth2Settings {
    /// The token endpoint.
    pub token_url: Url,
    /// Our client id.
    pub client_id: String,
    /// Our client secret.
    pub client_secret: Secret,
    /// Scopes to ask for (none: the server's default).
    pub scopes: Vec<String>,
    /// How the client authenticates.
    pub client_auth: ClientAuth,
    /// Subtracted from `expires_in` (halved lifetimes are used when it would leave nothing).
    pub expiry_margin: Duration,
    /// Lifetime when the answer has no `expires_in`.
    pub default_lifetime: Duration,
    /// Timeouts and `User-Agent` of the token requests.
    pub http: HttpSettings,
}

impl OAuth2Settings {
    /// Settings with Basic client authentication, no scopes and the default margins.
    pub fn new(token_url: Url, client_id: impl Into<String>, client_secret: Secret) -> Self {
        Self {
            token_url,
            client_id: client_id.into(),
            client_secret,
            scopes: Vec::new(),
            client_auth: ClientAuth::Basic,
            expiry_margin: DEFAULT_EXPIRY_MARGIN,
            default_lifetime: DEFAULT_TOKEN_LIFETIME,
            http: HttpSettings::default(),
        }
    }
}

/// A bearer token and when it expires. `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    secret: Secret,
    expires_at: DateTime<Utc>,
    cache_for: Duration,
}

impl AccessToken {
    /// The token itself, for the one header that carries it.
    pub fn expose(&self) -> &str {
        self.secret.expose()
    }

    /// When the server says it expires.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// `Bearer <token>`, marked sensitive so it never shows in debug output.
    pub fn authorization(&self) -> Result<HeaderValue, AdapterError> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.expose()))
            .map_err(|_| AdapterError::Config("access token is not a valid header value".into()))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Each token lives in the cache for its own `expires_in` minus the margin.
struct TokenExpiry;

impl Expiry<(), AccessToken> for TokenExpiry {
    fn expire_after_create(&self, _: &(), token: &AccessToken, _: Instant) -> Option<Duration> {
        Some(token.cache_for)
    }

    fn expire_after_update(
        &self,
        _: &(),
        token: &AccessToken,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(token.cache_for)
    }
}

type TokenClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Client-credentials tokens of one partner connection. Cheap to clone (shares the cache).
#[derive(Clone)]
pub struct ClientCredentialsTokens(Arc<Inner>);

struct Inner {
    adapter: &'static str,
    partner: String,
    client: TokenClient,
    scopes: Vec<Scope>,
    token_url: Url,
    http: reqwest::Client,
    policy: EgressPolicy,
    cache: Cache<(), AccessToken>,
    expiry_margin: Duration,
    default_lifetime: Duration,
    clock: Arc<dyn Clock>,
    metrics: Arc<dyn MetricsHook>,
    requests: AtomicU64,
}

impl fmt::Debug for ClientCredentialsTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentialsTokens")
            .field("adapter", &self.0.adapter)
            .field("partner", &self.0.partner)
            .field("token_url", &self.0.token_url.as_str())
            .finish_non_exhaustive()
    }
}

impl ClientCredentialsTokens {
    /// Tokens for `adapter` (its type, for errors and telemetry), reaching the token endpoint
    /// under the egress policy of `ctx.http`, reporting to `ctx.metrics`.
    pub fn new(
        adapter: &'static str,
        settings: OAuth2Settings,
        ctx: &AdapterContext,
    ) -> Result<Self, AdapterError> {
        let policy = ctx.http.policy().clone();
        policy.check_url(&settings.token_url)?;
        let token_url = TokenUrl::from_url(settings.token_url.clone());
        let client = BasicClient::new(ClientId::new(settings.client_id))
            .set_client_secret(ClientSecret::new(
                settings.client_secret.expose().to_owned(),
            ))
            .set_auth_type(match settings.client_auth {
                ClientAuth::Basic => AuthType::BasicAuth,
                ClientAuth::RequestBody => AuthType::RequestBody,
            })
            .set_token_uri(token_url);
        let http = super::http::guarded_reqwest_client(&policy, &settings.http)?;
        Ok(Self(Arc::new(Inner {
            adapter,
            partner: ctx.partner.clone(),
            client,
            scopes: settings.scopes.into_iter().map(Scope::new).collect(),
            token_url: settings.token_url,
            http,
            policy,
            cache: Cache::builder()
                .max_capacity(1)
                .expire_after(TokenExpiry)
                .build(),
            expiry_margin: settings.expiry_margin,
            default_lifetime: settings.default_lifetime,
            clock: ctx.clock.clone(),
            metrics: ctx.metrics.clone(),
            requests: AtomicU64::new(0),
        })))
    }

    /// A valid token: the cached one, or a new one (concurrent callers share one request).
    pub async fn token(&self) -> Result<AccessToken, AdapterError> {
        self.0
            .cache
            .try_get_with((), self.request_token())
            .await
            .map_err(|shared| Arc::try_unwrap(shared).unwrap_or_else(|e| duplicate(&e)))
    }

    /// Forgets the cached token; the next [`token`](Self::token) asks the server.
    pub async fn invalidate(&self) {
        self.0.cache.invalidate(&()).await;
    }

    /// Token requests sent so far (successful or not).
    pub fn token_requests(&self) -> u64 {
        self.0.requests.load(Ordering::Relaxed)
    }

    /// Runs `call` with a token; when it fails as unauthorized (`Remote { status: 401 }` or
    /// `Auth`), drops that token, obtains a new one and runs `call` once more. A second refusal
    /// is an [`AdapterError::Auth`]; every other outcome is returned as it is.
    pub async fn with_token_retry<T, F, Fut>(&self, mut call: F) -> Result<T, AdapterError>
    where
        F: FnMut(AccessToken) -> Fut,
        Fut: Future<Output = Result<T, AdapterError>>,
    {
        let token = self.token().await?;
        match call(token.clone()).await {
            Err(e) if is_unauthorized(&e) => {
                tracing::info!(
                    adapter = self.0.adapter,
                    partner = %self.0.partner,
                    error = %e,
                    "token refused, renewing once"
                );
                self.invalidate_if_current(token).await;
                let renewed = self.token().await?;
                match call(renewed).await {
                    Err(e) if is_unauthorized(&e) => Err(AdapterError::Auth {
                        adapter: self.0.adapter,
                        reason: format!("the remote refused a freshly issued token: {e}"),
                    }),
                    other => other,
                }
            }
            other => other,
        }
    }

    /// Drops `rejected` unless another caller already replaced it (so a burst of 401s on one
    /// token causes one renewal, not one per caller).
    async fn invalidate_if_current(&self, rejected: AccessToken) {
        self.0
            .cache
            .entry(())
            .and_compute_with(|current| async move {
                match current {
                    Some(entry) if entry.value().secret == rejected.secret => Op::Remove,
                    _ => Op::Nop,
                }
            })
            .await;
    }

    async fn request_token(&self) -> Result<AccessToken, AdapterError> {
        let inner = &self.0;
        inner.requests.fetch_add(1, Ordering::Relaxed);
        let send = TokenHttp(inner);
        let mut exchange = inner.client.exchange_client_credentials();
        for scope in &inner.scopes {
            exchange = exchange.add_scope(scope.clone());
        }
        let response = exchange
            .request_async(&send)
            .await
            .map_err(|e| token_error(inner.adapter, e))?;
        let access = response.access_token().secret();
        if access.is_empty() {
            return Err(AdapterError::Auth {
                adapter: inner.adapter,
                reason: "the token endpoint answered an empty access_token".into(),
            });
        }
        let lifetime = response.expires_in().unwrap_or(inner.default_lifetime);
        let cache_for = match lifetime.checked_sub(inner.expiry_margin) {
            Some(left) if !left.is_zero() => left,
            _ => lifetime / 2,
        };
        let expires_at = inner.clock.now()
            + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::MAX);
        TokenEvent {
            adapter: inner.adapter,
            partner: &inner.partner,
            grant: "client_credentials",
            expires_at,
        }
        .emit(inner.metrics.as_ref());
        Ok(AccessToken {
            secret: Secret::new(access.clone()),
            expires_at,
            cache_for,
        })
    }
}

fn is_unauthorized(error: &AdapterError) -> bool {
    matches!(
        error,
        AdapterError::Remote { status: 401, .. } | AdapterError::Auth { .. }
    )
}

/// `oauth2`'s async HTTP client interface over the guarded client. A named type with a boxed
/// `Send` future rather than a closure: a closure's borrowed future makes `token()` not `Send`
/// for every lifetime, and callers spawn it.
struct TokenHttp<'a>(&'a Inner);

impl<'c> oauth2::AsyncHttpClient<'c> for TokenHttp<'_> {
    type Error = AdapterError;
    type Future =
        Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, AdapterError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send_token_request(self.0, request))
    }
}

/// One token request through the guarded client. Statuses the token grammar does not cover (5xx, 429) become the contract's retryable
/// errors here, before `oauth2` would report them as unparsable.
async fn send_token_request(
    inner: &Inner,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, AdapterError> {
    let url = Url::parse(&request.uri().to_string()).map_err(|e| {
        AdapterError::Config(format!("token url {} is invalid: {e}", request.uri()))
    })?;
    inner.policy.check_url(&url)?;
    let (parts, body) = request.into_parts();
    let shown = inner.token_url.to_string();
    let response = inner
        .http
        .request(parts.method, url)
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| super::http::map_reqwest_error(&shown, &e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| super::http::map_reqwest_error(&shown, &e))?;
    if status.as_u16() == 429 {
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .map(Duration::from_secs);
        return Err(AdapterError::RateLimited { retry_after });
    }
    if status.is_server_error() {
        return Err(AdapterError::remote(status.as_u16(), &body, None));
    }
    let mut answer = oauth2::HttpResponse::new(body.to_vec());
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    Ok(answer)
}

fn token_error(
    adapter: &'static str,
    error: RequestTokenError<AdapterError, BasicErrorResponse>,
) -> AdapterError {
    match error {
        RequestTokenError::Request(e) => e,
        RequestTokenError::ServerResponse(refusal) => AdapterError::Auth {
            adapter,
            reason: format!(
                "the token endpoint refused the client credentials grant: {}{}",
                refusal.error().as_ref(),
                refusal
                    .error_description()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
        },
        RequestTokenError::Parse(e, body) => AdapterError::Auth {
            adapter,
            reason: format!(
                "the token endpoint answer is not a token response: {e}: {}",
                excerpt(&body)
            ),
        },
        RequestTokenError::Other(reason) => AdapterError::Auth {
            adapter,
            reason: format!("the token endpoint answer is unusable: {reason}"),
        },
    }
}

/// A copy of an error shared by coalesced callers (moka hands each an `Arc` of the one error).
fn duplicate(error: &AdapterError) -> AdapterError {
    match error {
        AdapterError::Auth { adapter, reason } => AdapterError::Auth {
            adapter,
            reason: reason.clone(),
        },
        AdapterError::Remote {
            status,
            body_excerpt,
            track,
        } => AdapterError::Remote {
            status: *status,
            body_excerpt: body_excerpt.clone(),
            track: track.clone(),
        },
        AdapterError::RateLimited { retry_after } => AdapterError::RateLimited {
            retry_after: *retry_after,
        },
        AdapterError::Timeout { url } => AdapterError::Timeout { url: url.clone() },
        AdapterError::Transport { url, reason } => AdapterError::Transport {
            url: url.clone(),
            reason: reason.clone(),
        },
        AdapterError::EgressRefused { url, reason } => AdapterError::EgressRefused {
            url: url.clone(),
            reason: reason.clone(),
        },
        AdapterError::InvalidWire { schema, violations } => AdapterError::InvalidWire {
            schema: schema.clone(),
            violations: violations.clone(),
        },
        AdapterError::Mapping { field, reason } => AdapterError::Mapping {
            field: field.clone(),
            reason: reason.clone(),
        },
        AdapterError::NotFound(what) => AdapterError::NotFound(what.clone()),
        AdapterError::Unsupported(capability) => AdapterError::Unsupported(*capability),
        AdapterError::CompiledOut(name) => AdapterError::CompiledOut(name.clone()),
        AdapterError::Config(reason) => AdapterError::Config(reason.clone()),
        AdapterError::InvalidConfig(problems) => AdapterError::InvalidConfig(problems.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_show_in_debug_output() {
        let token = AccessToken {
            secret: Secret::new("tok-very-secret"),
            expires_at: Utc::now(),
            cache_for: Duration::from_secs(1),
        };
        assert!(!format!("{token:?}").contains("very-secret"));
        assert!(token.authorization().unwrap().is_sensitive());
        assert_eq!(
            token.authorization().unwrap().to_str().unwrap(),
            "Bearer tok-very-secret"
        );
    }

    #[test]
    fn only_unauthorized_errors_trigger_a_renewal() {
        assert!(is_unauthorized(&AdapterError::remote(401, b"", None)));
        assert!(is_unauthorized(&AdapterError::Auth {
            adapter: "x",
            reason: "no".into()
        }));
        assert!(!is_unauthorized(&AdapterError::remote(403, b"", None)));
        assert!(!is_unauthorized(&AdapterError::NotFound("x".into())));
    }

    #[test]
    fn duplicated_errors_keep_their_kind_and_text() {
        let e = AdapterError::remote(503, b"busy", Some("t-1".into()));
        let copy = duplicate(&e);
        assert_eq!(copy.to_string(), e.to_string());
        assert!(copy.is_retryable());
    }
}
