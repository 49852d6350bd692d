//! What the suite runs against: a data space, an endpoint and the credentials to use there.
//!
//! Secrets are held in [`Secret`], whose `Debug` never prints them, and they never reach a report.

use std::fmt;
use std::time::Duration;

use super::{ConformanceError, DataSpace};

/// A secret string (password, client secret, api key). `Debug` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

/// How an operator logs in to get its bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// Ouranos v1 `POST /auth/login` with an operator account (an e-mail address) and password.
    Account {
        /// `operatorAccountId`.
        account_id: String,
        /// `accountPassword`.
        password: Secret,
    },
    /// Ouranos v2 `POST /auth/client` with client credentials.
    Client {
        /// `clientId`.
        client_id: String,
        /// `clientSecret`.
        client_secret: Secret,
    },
}

impl Login {
    /// `v1 account buyer@example.com` / `v2 client gateway`: for reports (no secret).
    pub fn describe(&self) -> String {
        match self {
            Login::Account { account_id, .. } => format!("v1 account {account_id}"),
            Login::Client { client_id, .. } => format!("v2 client {client_id}"),
        }
    }
}

/// The credentials of one operator at the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The `apiKey` header issued to the calling system.
    pub api_key: Secret,
    /// How to get a bearer token.
    pub login: Login,
}

impl Credentials {
    /// v1 login (`/auth/login`).
    pub fn account(api_key: &str, account_id: &str, password: &str) -> Self {
        Self {
            api_key: api_key.into(),
            login: Login::Account {
                account_id: account_id.into(),
                password: password.into(),
            },
        }
    }

    /// v2 client credentials (`/auth/client`).
    pub fn client(api_key: &str, client_id: &str, client_secret: &str) -> Self {
        Self {
            api_key: api_key.into(),
            login: Login::Client {
                client_id: client_id.into(),
                client_secret: client_secret.into(),
            },
        }
    }

    /// Reads `{PREFIX}_API_KEY` and either `{PREFIX}_ACCOUNT` + `{PREFIX}_PASSWORD` (v1) or
    /// `{PREFIX}_CLIENT_ID` + `{PREFIX}_CLIENT_SECRET` (v2) from the process environment.
    pub fn from_env(prefix: &str) -> Result<Self, ConformanceError> {
        Self::from_vars(prefix, |name| std::env::var(name).ok())
    }

    /// [`Credentials::from_env`] over any variable lookup (tests, config files).
    pub fn from_vars(
        prefix: &str,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConformanceError> {
        let get = |suffix: &str| {
            let name = format!("{prefix}_{suffix}");
            var(&name).filter(|v| !v.is_empty()).ok_or(name)
        };
        let api_key = get("API_KEY").map_err(|name| ConformanceError::MissingVariable { name })?;
        let v1 = (get("ACCOUNT"), get("PASSWORD"));
        let v2 = (get("CLIENT_ID"), get("CLIENT_SECRET"));
        let login = match (v1, v2) {
            ((Ok(_), _), (Ok(_), _)) => {
                return Err(ConformanceError::AmbiguousCredentials {
                    prefix: prefix.to_owned(),
                });
            }
            ((Ok(account_id), Ok(password)), _) => Login::Account {
                account_id,
                password: password.into(),
            },
            ((Ok(_), Err(name)), _) | (_, (Ok(_), Err(name))) => {
                return Err(ConformanceError::MissingVariable { name });
            }
            (_, (Ok(client_id), Ok(client_secret))) => Login::Client {
                client_id,
                client_secret: client_secret.into(),
            },
            ((Err(account), _), (Err(client), _)) => {
                return Err(ConformanceError::MissingVariable {
                    name: format!("{account} or {client}"),
                });
            }
        };
        Ok(Self {
            api_key: api_key.into(),
            login,
        })
    }
}

/// An endpoint to check: data space, base URL and credentials.
///
/// ```
/// use dpp_conformance::suite::{Credentials, DataSpace, Target};
///
/// let target = Target::new(
///     DataSpace::Ouranos,
///     "https://partner.example/ouranos",
///     Credentials::client("key", "gateway", "s3cret"),
/// )?;
/// assert_eq!(target.endpoint(), "https://partner.example/ouranos");
/// # Ok::<(), dpp_conformance::suite::ConformanceError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Target {
    data_space: DataSpace,
    endpoint: String,
    credentials: Credentials,
    counterpart: Option<Credentials>,
    timeout: Duration,
    http: Option<reqwest::Client>,
}

impl Target {
    /// A target; `endpoint` is the base URL both `/auth/…` and `/api/v1/…` hang off.
    pub fn new(
        data_space: DataSpace,
        endpoint: &str,
        credentials: Credentials,
    ) -> Result<Self, ConformanceError> {
        let endpoint = endpoint.trim().trim_end_matches('/').to_owned();
        let valid = ["http://", "https://"]
            .iter()
            .any(|scheme| endpoint.starts_with(scheme) && endpoint.len() > scheme.len());
        if !valid || endpoint.contains(['?', '#', ' ']) {
            return Err(ConformanceError::InvalidEndpoint { endpoint });
        }
        Ok(Self {
            data_space,
            endpoint,
            credentials,
            counterpart: None,
            timeout: Duration::from_secs(30),
            http: None,
        })
    }

    /// A target whose credentials come from environment variables (see
    /// [`Credentials::from_env`]); with `{PREFIX}_COUNTERPART_ACCOUNT`/`…_PASSWORD` or
    /// `…_COUNTERPART_CLIENT_ID`/`…_CLIENT_SECRET` set (and optionally
    /// `{PREFIX}_COUNTERPART_API_KEY`, else `{PREFIX}_API_KEY`), a second operator plays the
    /// supplier in the trade cases.
    pub fn from_env(
        data_space: DataSpace,
        endpoint: &str,
        prefix: &str,
    ) -> Result<Self, ConformanceError> {
        Self::from_vars(data_space, endpoint, prefix, |name| {
            std::env::var(name).ok()
        })
    }

    /// [`Target::from_env`] over any variable lookup.
    pub fn from_vars(
        data_space: DataSpace,
        endpoint: &str,
        prefix: &str,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConformanceError> {
        let credentials = Credentials::from_vars(prefix, &var)?;
        let mut target = Self::new(data_space, endpoint, credentials)?;
        let counterpart_prefix = format!("{prefix}_COUNTERPART");
        let has_counterpart = ["ACCOUNT", "CLIENT_ID"]
            .iter()
            .any(|s| var(&format!("{counterpart_prefix}_{s}")).is_some_and(|v| !v.is_empty()));
        if has_counterpart {
            let api_key_name = format!("{prefix}_API_KEY");
            let counterpart = Credentials::from_vars(&counterpart_prefix, |name| {
                var(name).or_else(|| {
                    (name == format!("{counterpart_prefix}_API_KEY"))
                        .then(|| var(&api_key_name))
                        .flatten()
                })
            })?;
            target = target.with_counterpart(counterpart);
        }
        Ok(target)
    }

    /// A second operator that plays the supplier in the trade cases. Without one, the main
    /// operator asks itself (the mock allows it; a live platform may not).
    pub fn with_counterpart(mut self, credentials: Credentials) -> Self {
        self.counterpart = Some(credentials);
        self
    }

    /// Timeout of each request (30 s by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends through this client instead of the suite's own (e.g. the gateway's, behind its
    /// SSRF guard, for `partner check`). It is used as it is: give it a timeout and turn
    /// redirects off, as the suite's own client does.
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The client given by [`Target::with_http_client`], if any.
    pub fn http_client(&self) -> Option<&reqwest::Client> {
        self.http.as_ref()
    }

    /// The data space.
    pub fn data_space(&self) -> DataSpace {
        self.data_space
    }

    /// The base URL, without a trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The main operator's credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The supplier's credentials, if a second operator was given.
    pub fn counterpart(&self) -> Option<&Credentials> {
        self.counterpart.as_ref()
    }

    /// Timeout of each request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn v1_and_v2_credentials_come_from_prefixed_variables() {
        let v1 = Credentials::from_vars(
            "OURANOS",
            vars(&[
                ("OURANOS_API_KEY", "k"),
                ("OURANOS_ACCOUNT", "a@example.com"),
                ("OURANOS_PASSWORD", "pw"),
            ]),
        )
        .unwrap();
        assert_eq!(v1, Credentials::account("k", "a@example.com", "pw"));
        let v2 = Credentials::from_vars(
            "P",
            vars(&[
                ("P_API_KEY", "k"),
                ("P_CLIENT_ID", "c"),
                ("P_CLIENT_SECRET", "s"),
            ]),
        )
        .unwrap();
        assert_eq!(v2, Credentials::client("k", "c", "s"));
    }

    #[test]
    fn missing_or_ambiguous_variables_are_named() {
        let err = Credentials::from_vars("P", vars(&[("P_ACCOUNT", "a")])).unwrap_err();
        assert!(err.to_string().contains("P_API_KEY"), "{err}");
        let err = Credentials::from_vars("P", vars(&[("P_API_KEY", "k"), ("P_ACCOUNT", "a")]))
            .unwrap_err();
        assert!(err.to_string().contains("P_PASSWORD"), "{err}");
        let err = Credentials::from_vars("P", vars(&[("P_API_KEY", "k")])).unwrap_err();
        assert!(
            err.to_string().contains("P_ACCOUNT or P_CLIENT_ID"),
            "{err}"
        );
        let err = Credentials::from_vars(
            "P",
            vars(&[
                ("P_API_KEY", "k"),
                ("P_ACCOUNT", "a"),
                ("P_PASSWORD", "b"),
                ("P_CLIENT_ID", "c"),
                ("P_CLIENT_SECRET", "d"),
            ]),
        )
        .unwrap_err();
        assert!(matches!(err, ConformanceError::AmbiguousCredentials { .. }));
    }

    #[test]
    fn a_counterpart_borrows_the_api_key_unless_it_has_its_own() {
        let target = Target::from_vars(
            DataSpace::Ouranos,
            "http://127.0.0.1:1/",
            "P",
            vars(&[
                ("P_API_KEY", "k"),
                ("P_ACCOUNT", "a@example.com"),
                ("P_PASSWORD", "pw"),
                ("P_COUNTERPART_CLIENT_ID", "sup"),
                ("P_COUNTERPART_CLIENT_SECRET", "s"),
            ]),
        )
        .unwrap();
        assert_eq!(target.endpoint(), "http://127.0.0.1:1");
        assert_eq!(
            target.counterpart(),
            Some(&Credentials::client("k", "sup", "s"))
        );
    }

    #[test]
    fn endpoints_must_be_http_base_urls_and_secrets_do_not_print() {
        let creds = Credentials::account("key-123", "a@example.com", "hunter22");
        for bad in ["ftp://x", "127.0.0.1:8081", "http://", "http://x/?a=1"] {
            assert!(
                Target::new(DataSpace::Ouranos, bad, creds.clone()).is_err(),
                "{bad}"
            );
        }
        let debug = format!("{creds:?}");
        assert!(
            !debug.contains("hunter22") && !debug.contains("key-123"),
            "{debug}"
        );
    }
}
