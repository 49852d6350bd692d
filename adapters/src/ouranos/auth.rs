//! Ouranos credentials: the `apiKey` header on every call, and a bearer token obtained by v1
//! login (`POST /auth/login`, renewed with `POST /auth/refresh`) or v2 client credentials
//! (`POST /auth/client`). The token is kept until shortly before it expires (its JWT `exp`, or
//! the configured lifetime); a 401 triggers one renewal, a second 401 is an `Auth` error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{DateTime, Utc};
use dpp_schemas::wire::ouranos::{Method as WireMethod, Target, ouranos};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, Url};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::config::{AuthMode, OuranosSettings};
use crate::contract::{
    AdapterContext, AdapterError, HttpRequest, RemoteCallEvent, Secret, SecretSources, TokenEvent,
};

/// Renew this long before the token's expiry, so no call leaves with a dying token.
const EXPIRY_SKEW: Duration = Duration::from_secs(30);

/// Credentials resolved from their references at build time.
pub(crate) enum Credentials {
    Login {
        account_id: String,
        password: Secret,
    },
    Client {
        client_id: String,
        client_secret: Secret,
    },
}

impl Credentials {
    pub(crate) async fn resolve(
        auth: &AuthMode,
        secrets: &SecretSources,
    ) -> Result<Self, AdapterError> {
        Ok(match auth {
            AuthMode::Login {
                account_id,
                password,
            } => Credentials::Login {
                account_id: account_id.clone(),
                password: secrets.resolve(password, "ouranos: auth.password").await?,
            },
            AuthMode::Client {
                client_id,
                client_secret,
            } => Credentials::Client {
                client_id: client_id.clone(),
                client_secret: secrets
                    .resolve(client_secret, "ouranos: auth.client_secret")
                    .await?,
            },
        })
    }
}

#[derive(Clone)]
struct Token {
    access: Secret,
    refresh: Option<Secret>,
    expires_at: DateTime<Utc>,
}

/// Obtains and caches the bearer token of one partner connection.
pub(crate) struct TokenSource {
    auth_endpoint: Url,
    api_key: Secret,
    credentials: Credentials,
    token_lifetime: Duration,
    ctx: AdapterContext,
    current: Mutex<Option<Token>>,
}

impl TokenSource {
    pub(crate) fn new(
        settings: &OuranosSettings,
        api_key: Secret,
        credentials: Credentials,
        ctx: AdapterContext,
    ) -> Arc<Self> {
        Arc::new(Self {
            auth_endpoint: settings.auth_endpoint.clone(),
            api_key,
            credentials,
            token_lifetime: settings.token_lifetime,
            ctx,
            current: Mutex::new(None),
        })
    }

    /// The `apiKey` header value.
    pub(crate) fn api_key(&self) -> &Secret {
        &self.api_key
    }

    /// A valid access token, from the cache or freshly obtained.
    pub(crate) async fn bearer(&self) -> Result<Secret, AdapterError> {
        let mut current = self.current.lock().await;
        let now = self.ctx.clock.now();
        if let Some(token) = current.as_ref()
            && now + EXPIRY_SKEW < token.expires_at
        {
            return Ok(token.access.clone());
        }
        let token = self.obtain(current.as_ref()).await?;
        let access = token.access.clone();
        *current = Some(token);
        Ok(access)
    }

    /// Called after a 401 with `rejected`: renews once (unless another caller already did).
    pub(crate) async fn renew(&self, rejected: &Secret) -> Result<Secret, AdapterError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref()
            && token.access != *rejected
        {
            return Ok(token.access.clone());
        }
        let previous = current.take();
        let token = self.obtain(previous.as_ref()).await?;
        let access = token.access.clone();
        *current = Some(token);
        Ok(access)
    }

    /// v1 refreshes with the refresh token when it has one (falling back to a new login); v2
    /// simply authenticates again.
    async fn obtain(&self, previous: Option<&Token>) -> Result<Token, AdapterError> {
        if let (Credentials::Login { .. }, Some(refresh)) =
            (&self.credentials, previous.and_then(|t| t.refresh.as_ref()))
        {
            let body = json!({ "refreshToken": refresh.expose() });
            match self
                .call("refresh", Target::AuthRefresh, "/auth/refresh", body)
                .await
            {
                Ok(token) => return Ok(token),
                Err(e) => tracing::info!(
                    adapter = "ouranos",
                    partner = %self.ctx.partner,
                    error = %e,
                    "token refresh failed, logging in again"
                ),
            }
        }
        match &self.credentials {
            Credentials::Login {
                account_id,
                password,
            } => {
                let body = json!({ "operatorAccountId": account_id, "accountPassword": password.expose() });
                self.call("login", Target::AuthLogin, "/auth/login", body)
                    .await
            }
            Credentials::Client {
                client_id,
                client_secret,
            } => {
                let body = json!({ "clientId": client_id, "clientSecret": client_secret.expose() });
                self.call(
                    "client_credentials",
                    Target::AuthClient,
                    "/auth/client",
                    body,
                )
                .await
            }
        }
    }

    async fn call(
        &self,
        grant: &'static str,
        target: Target,
        path: &str,
        body: Value,
    ) -> Result<Token, AdapterError> {
        let wire_error = |violations| AdapterError::InvalidWire {
            schema: format!("ouranos POST {path}"),
            violations,
        };
        ouranos()
            .validate_request(target, WireMethod::Post, &body)
            .map_err(wire_error)?;
        let mut url = self.auth_endpoint.clone();
        {
            let mut segments = url.path_segments_mut().map_err(|_| {
                AdapterError::Config("ouranos: auth_endpoint cannot be a base".into())
            })?;
            segments.pop_if_empty();
            for s in path.trim_start_matches('/').split('/') {
                segments.push(s);
            }
        }
        let mut request = HttpRequest::new(Method::POST, url);
        request.headers = api_key_headers(&self.api_key)?;
        request.json = Some(body);
        let started = Instant::now();
        let response = self.ctx.http.send(request).await;
        let operation = format!("POST {path}");
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
        match response.status {
            200 | 201 => {}
            400 | 401 | 403 => {
                return Err(AdapterError::Auth {
                    adapter: "ouranos",
                    reason: format!(
                        "{grant} refused with {}: {}",
                        response.status,
                        crate::contract::excerpt(&response.body)
                    ),
                });
            }
            429 => {
                return Err(AdapterError::RateLimited {
                    retry_after: super::client::retry_after(&response),
                });
            }
            status => {
                return Err(AdapterError::remote(
                    status,
                    &response.body,
                    response.header("x-track").map(str::to_owned),
                ));
            }
        }
        let body = response.json().map_err(|e| AdapterError::Auth {
            adapter: "ouranos",
            reason: format!("{grant} answer is not json: {e}"),
        })?;
        let access = body
            .get("accessToken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AdapterError::Auth {
                adapter: "ouranos",
                reason: format!("{grant} answer has no accessToken"),
            })?;
        let refresh = body
            .get("refreshToken")
            .and_then(Value::as_str)
            .map(Secret::new);
        let now = self.ctx.clock.now();
        let expires_at = jwt_expiry(access).unwrap_or_else(|| {
            now + chrono::Duration::from_std(self.token_lifetime).unwrap_or(chrono::Duration::MAX)
        });
        TokenEvent {
            adapter: "ouranos",
            partner: &self.ctx.partner,
            grant,
            expires_at,
        }
        .emit(self.ctx.metrics.as_ref());
        Ok(Token {
            access: Secret::new(access),
            refresh,
            expires_at,
        })
    }
}

/// `apiKey` header, marked sensitive so it never shows in debug output.
pub(crate) fn api_key_headers(api_key: &Secret) -> Result<HeaderMap, AdapterError> {
    let mut headers = HeaderMap::new();
    let mut value = HeaderValue::from_str(api_key.expose())
        .map_err(|_| AdapterError::Config("ouranos: api_key is not a valid header value".into()))?;
    value.set_sensitive(true);
    headers.insert("apiKey", value);
    Ok(headers)
}

/// The `exp` claim of a JWT, read without verification: only to schedule renewal. The remote
/// verifies the token; we never trust it for anything else.
fn jwt_expiry(token: &str) -> Option<DateTime<Utc>> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    DateTime::from_timestamp(claims.get("exp")?.as_i64()?, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_expiry_reads_exp_and_ignores_opaque_tokens() {
        // The access token example of the published spec: exp 1697769391.
        let example = "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE2OTc3NjkzOTF9.sig";
        assert_eq!(jwt_expiry(example).unwrap().timestamp(), 1_697_769_391);
        assert_eq!(jwt_expiry("opaque-token"), None);
        assert_eq!(jwt_expiry("a.!!!.c"), None);
    }

    #[test]
    fn the_api_key_header_is_sensitive() {
        let headers = api_key_headers(&Secret::new("k-123")).unwrap();
        assert!(headers.get("apiKey").unwrap().is_sensitive());
        assert!(api_key_headers(&Secret::new("bad\nkey")).is_err());
    }
}
