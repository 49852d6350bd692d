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

use crate::contract::{AdapterError, ConfigReader, SecretRef};

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

/// Checks a raw `{ type = "ouranos", … }` table. Pure. Every broken member is reported
/// ([`AdapterError::InvalidConfig`], pointers into the table), not only the first.
pub fn validate(raw: &Value) -> Result<OuranosSettings, AdapterError> {
    let mut r = ConfigReader::new(raw, "");
    let _kind = r.get("type");
    let endpoint = r
        .string("endpoint")
        .and_then(|v| base_url(&v).map_err(|m| r.problem("endpoint", m)).ok());
    let auth_endpoint = r
        .optional_string("auth_endpoint")
        .and_then(|v| base_url(&v).map_err(|m| r.problem("auth_endpoint", m)).ok());
    let api_key = r.secret("api_key");
    let uuid = |r: &mut ConfigReader<'_>, field: &str| {
        let v = r.string(field)?;
        Uuid::parse_str(&v)
            .map_err(|_| r.problem(field, format!("is not a uuid: {v:?}")))
            .ok()
    };
    let operator_id = uuid(&mut r, "operator_id");
    let plant_id = uuid(&mut r, "plant_id");
    let page_size = match r.optional_u64("page_size", 1..=MAX_PAGE_LIMIT as u64) {
        Some(n) => Some(n as u32),
        None if r.get("page_size").is_some() => None,
        None => Some(MAX_PAGE_LIMIT as u32),
    };
    let token_lifetime = r
        .optional_u64("token_lifetime_secs", 60..=86_400)
        .map(Duration::from_secs);
    let auth = r.table("auth").and_then(|mut a| {
        let mode = a.string("mode");
        let auth = match mode.as_deref() {
            Some("login") => {
                let account_id = a.string("account_id");
                let password = a.secret("password");
                account_id
                    .zip(password)
                    .map(|(account_id, password)| AuthMode::Login {
                        account_id,
                        password,
                    })
            }
            Some("client") => {
                let client_id = a.string("client_id");
                let client_secret = a.secret("client_secret");
                client_id
                    .zip(client_secret)
                    .map(|(client_id, client_secret)| AuthMode::Client {
                        client_id,
                        client_secret,
                    })
            }
            Some(other) => {
                a.problem(
                    "mode",
                    format!("must be \"login\" or \"client\", got {other:?}"),
                );
                None
            }
            None => None,
        };
        r.absorb(a);
        auth
    });
    let problems = r.finish();
    match (endpoint, api_key, operator_id, plant_id, page_size, auth) {
        (
            Some(endpoint),
            Some(api_key),
            Some(operator_id),
            Some(plant_id),
            Some(page_size),
            Some(auth),
        ) if problems.is_empty() => Ok(OuranosSettings {
            auth_endpoint: auth_endpoint.unwrap_or_else(|| endpoint.clone()),
            endpoint,
            api_key,
            operator_id,
            plant_id,
            page_size,
            token_lifetime: token_lifetime.unwrap_or(DEFAULT_TOKEN_LIFETIME),
            auth,
        }),
        _ => Err(AdapterError::InvalidConfig(problems)),
    }
}

fn base_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("{value:?} is not a url: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("must be an http(s) url with a host, got {value:?}"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("must not have a query or fragment, got {value:?}"));
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
                matches!(&err, AdapterError::InvalidConfig(p) if p.iter().any(|p| p.pointer.starts_with(&format!("/{field}")))),
                "{field}: {err}"
            );
        }
    }

    #[test]
    fn every_broken_member_is_reported_and_a_plain_string_secret_is_not_quoted() {
        let mut raw = sample();
        raw["endpoint"] = json!("ftp://x.example");
        raw["operator_id"] = json!("nope");
        raw["api_key"] = json!("hunter2");
        raw["auth"] = json!({ "mode": "client", "client_secret": { "file": "x" } });
        raw["surprise"] = json!(1);
        let Err(AdapterError::InvalidConfig(problems)) = validate(&raw) else {
            panic!("accepted");
        };
        let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/endpoint",
                "/api_key",
                "/operator_id",
                "/auth/client_id",
                "/surprise"
            ],
            "{problems:?}"
        );
        let api_key = &problems[1].message;
        assert!(
            api_key.contains("{\"env\"") && !api_key.contains("hunter2"),
            "{api_key}"
        );
    }
}
