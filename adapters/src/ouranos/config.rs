//! The Ouranos partner config and its pure validation.
//!
//! ```toml
//! type = "ouranos"
//! endpoint = "https://api.ouranos.example"          # data-transaction-system base URL
//! auth_endpoint = "https://auth.ouranos.example"    # optional, defaults to `endpoint`
//! api_key = { env = "OURANOS_API_KEY" }
//! operator_id = "d9a38406-cae2-4679-b052-15a75f5531e8"  # our operatorId (internal uuid)
//! plant_id = "d9a38406-cae2-4679-b052-15a75f5531e7"     # the plant our parts belong to
//! page_size = 100                                    # 1..=100
//! auth = { mode = "login", account_id = "ops@example.jp", password = { env = "OURANOS_PW" } }
//! # or v2 client credentials:
//! # auth = { mode = "client", client_id = "gw", client_secret = { file = "/run/secrets/ouranos" } }
//! ```

use std::time::Duration;

use dpp_schemas::wire::ouranos::MAX_PAGE_LIMIT;
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::contract::{AdapterError, SecretRef};

/// How we obtain the bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthMode {
    /// v1: `POST /auth/login` with account id and password, `POST /auth/refresh` with the
    /// refresh token.
    Login {
        /// `operatorAccountId`.
        account_id: String,
        /// `accountPassword`.
        password: SecretRef,
    },
    /// v2 (ic-user-auth): `POST /auth/client` with client id and secret.
    Client {
        /// `clientId`.
        client_id: String,
        /// `clientSecret`.
        client_secret: SecretRef,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(rename = "type")]
    _kind: String,
    endpoint: String,
    #[serde(default)]
    auth_endpoint: Option<String>,
    api_key: SecretRef,
    operator_id: String,
    plant_id: String,
    #[serde(default)]
    page_size: Option<u32>,
    #[serde(default)]
    token_lifetime_secs: Option<u64>,
    auth: AuthMode,
}

/// A checked Ouranos config.
#[derive(Debug, Clone)]
pub struct OuranosSettings {
    /// Base URL of the data-transaction-system API.
    pub endpoint: Url,
    /// Base URL of the auth API (`/auth/*`).
    pub auth_endpoint: Url,
    /// The `apiKey` header value, by reference.
    pub api_key: SecretRef,
    /// Our `operatorId`.
    pub operator_id: Uuid,
    /// Our `plantId`.
    pub plant_id: Uuid,
    /// `limit` of paged lists.
    pub page_size: u32,
    /// Lifetime assumed for a token whose `exp` cannot be read.
    pub token_lifetime: Duration,
    /// Login or client credentials.
    pub auth: AuthMode,
}

/// Default lifetime of a token that is not a JWT with `exp` (Ouranos tokens are 1-hour JWTs).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(50 * 60);

/// Checks a raw `{ type = "ouranos", … }` table. Pure.
pub fn validate(raw: &Value) -> Result<OuranosSettings, AdapterError> {
    let config: RawConfig = serde_json::from_value(raw.clone())
        .map_err(|e| AdapterError::Config(format!("ouranos: {e}")))?;
    let endpoint = base_url("endpoint", &config.endpoint)?;
    let auth_endpoint = match &config.auth_endpoint {
        Some(u) => base_url("auth_endpoint", u)?,
        None => endpoint.clone(),
    };
    let uuid = |field: &str, v: &str| {
        Uuid::parse_str(v)
            .map_err(|_| AdapterError::Config(format!("ouranos: {field} is not a uuid: {v:?}")))
    };
    let page_size = config.page_size.unwrap_or(MAX_PAGE_LIMIT as u32);
    if page_size == 0 || page_size as usize > MAX_PAGE_LIMIT {
        return Err(AdapterError::Config(format!(
            "ouranos: page_size must be 1..={MAX_PAGE_LIMIT}, got {page_size}"
        )));
    }
    config.api_key.check("ouranos: api_key")?;
    match &config.auth {
        AuthMode::Login {
            account_id,
            password,
        } => {
            if account_id.trim().is_empty() {
                return Err(AdapterError::Config(
                    "ouranos: auth.account_id is empty".into(),
                ));
            }
            password.check("ouranos: auth.password")?;
        }
        AuthMode::Client {
            client_id,
            client_secret,
        } => {
            if client_id.trim().is_empty() {
                return Err(AdapterError::Config(
                    "ouranos: auth.client_id is empty".into(),
                ));
            }
            client_secret.check("ouranos: auth.client_secret")?;
        }
    }
    Ok(OuranosSettings {
        endpoint,
        auth_endpoint,
        api_key: config.api_key,
        operator_id: uuid("operator_id", &config.operator_id)?,
        plant_id: uuid("plant_id", &config.plant_id)?,
        page_size,
        token_lifetime: config
            .token_lifetime_secs
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TOKEN_LIFETIME),
        auth: config.auth,
    })
}

fn base_url(field: &str, value: &str) -> Result<Url, AdapterError> {
    let url = Url::parse(value)
        .map_err(|e| AdapterError::Config(format!("ouranos: {field} {value:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(AdapterError::Config(format!(
            "ouranos: {field} must be an http(s) url with a host, got {value:?}"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(AdapterError::Config(format!(
            "ouranos: {field} must not have a query or fragment, got {value:?}"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn sample() -> Value {
        json!({
            "type": "ouranos",
            "endpoint": "https://api.ouranos.example/",
            "api_key": { "env": "OURANOS_API_KEY" },
            "operator_id": "d9a38406-cae2-4679-b052-15a75f5531e8",
            "plant_id": "d9a38406-cae2-4679-b052-15a75f5531e7",
            "auth": { "mode": "client", "client_id": "gw", "client_secret": { "value": "s" } }
        })
    }

    #[test]
    fn a_complete_config_validates_with_defaults() {
        let s = validate(&sample()).unwrap();
        assert_eq!(s.page_size, 100);
        assert_eq!(s.auth_endpoint, s.endpoint);
        assert!(matches!(s.auth, AuthMode::Client { .. }));
    }

    #[test]
    fn login_mode_parses() {
        let mut raw = sample();
        raw["auth"] =
            json!({ "mode": "login", "account_id": "ops@example.jp", "password": { "env": "PW" } });
        assert!(matches!(
            validate(&raw).unwrap().auth,
            AuthMode::Login { .. }
        ));
    }

    #[test]
    fn bad_values_are_config_errors_naming_the_field() {
        let cases = [
            ("endpoint", json!("ftp://x.example")),
            ("operator_id", json!("not-a-uuid")),
            ("page_size", json!(101)),
            ("auth", json!({ "mode": "sso" })),
            ("api_key", json!({ "env": "" })),
            ("surprise", json!(true)),
        ];
        for (field, value) in cases {
            let mut raw = sample();
            raw[field] = value;
            let err = validate(&raw).unwrap_err();
            assert!(
                matches!(&err, AdapterError::Config(m) if m.contains(field) || m.contains("unknown")),
                "{field}: {err}"
            );
        }
    }
}
