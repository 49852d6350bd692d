//! The HTTP client every adapter must use, behind an SSRF guard.
//!
//! The guard refuses non-http(s) schemes and any destination address that is not public, unless
//! the host is on the partner's allow-list. **Public** means: no range of the IANA IPv4 or IPv6
//! Special-Purpose Address Registry that covers the address is marked "not globally reachable"
//! ("N/A" counts as not), nor multicast, site-local (fec0::/10), IPv4-compatible (::/96) or SIIT
//! (::ffff:0:0:0/96). IPv6 forms that carry an IPv4 address are refused outright (IPv4-mapped,
//! IPv4-compatible, SIIT, 6to4, Teredo, local-use NAT64), except the well-known NAT64 prefix
//! 64:ff9b::/96, which gets the verdict of the IPv4 it carries. The tables and the reasoning are in
//! `special_addresses`; the one classification serves both checks below, so they cannot disagree.
//!
//! ```text
//! URL ─► check_url: scheme http(s)? host an IP literal? ─► classify ─► refuse / send
//!                                          │ a name
//!                                          ▼
//!        GuardedResolver: system resolver ─► classify every address ─► refuse / connect
//! ```
//!
//! Names are checked **after** DNS resolution, inside a custom [`reqwest::dns::Resolve`], so a
//! public name pointing at 127.0.0.1 is caught; IP literals never reach a resolver and are checked
//! before sending. Numeric host spellings (`2130706433`, `0x7f.1`, `017700000001`, `127.0.0.1.`,
//! full-width digits) are normalised to dotted IPv4 by the URL parser before either check, and a
//! zone id (`[fe80::1%25eth0]`) does not parse. Redirects are not followed and system proxies are
//! ignored (either would route around the guard).
//!
//! Every exchange can be shown to an [`HttpObserver`]: the compliance harness records request
//! bodies there to validate them against the official wire schema.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;
use reqwest::{Method, Url};
use serde_json::Value;

use super::AdapterError;

mod special_addresses;

/// Largest response body read (bytes); a longer one is a transport error.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Which destinations a partner's client may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    allowed_hosts: Vec<String>,
}

impl EgressPolicy {
    /// Only public addresses.
    pub fn public_only() -> Self {
        Self::default()
    }

    /// Public addresses plus these hosts (names or IP literals, compared case-insensitively),
    /// whatever they resolve to — for a partner inside the company network, or a local mock.
    pub fn allowing<I, S>(hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self {
            allowed_hosts: hosts
                .into_iter()
                .map(|h| normalise_host(h.as_ref()))
                .collect(),
        }
    }

    /// Whether `host` is on the allow-list.
    pub fn is_allowed_host(&self, host: &str) -> bool {
        let host = normalise_host(host);
        self.allowed_hosts.contains(&host)
    }

    /// Checks a URL before sending: scheme, and the address if the host is an IP literal.
    pub fn check_url(&self, url: &Url) -> Result<(), AdapterError> {
        let refuse = |reason: String| AdapterError::EgressRefused {
            url: url.to_string(),
            reason,
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(refuse(format!(
                "scheme {} is not http or https",
                url.scheme()
            )));
        }
        let host = url.host_str().ok_or_else(|| refuse("no host".to_owned()))?;
        if self.is_allowed_host(host) {
            return Ok(());
        }
        // The URL parser has already turned every numeric spelling of an IPv4 host into dotted
        // form. hyper's connector skips the resolver for exactly the hosts `str::parse::<IpAddr>`
        // accepts (brackets stripped); `literal_ip` accepts at least those, so nothing reaches
        // a socket unchecked.
        let Some(ip) = literal_ip(host) else {
            return Ok(());
        };
        special_addresses::check(ip).map_err(|why| {
            refuse(format!(
                "address {ip} is not public ({why}) and {host} is not on the partner's allow-list"
            ))
        })
    }
}

/// The IP address `host` spells (brackets and one trailing dot allowed), if it is a literal.
fn literal_ip(host: &str) -> Option<IpAddr> {
    let host = host.trim();
    let host = host.strip_suffix('.').unwrap_or(host);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// The form hosts are compared in on the allow-list: lowercase without a trailing dot, and IP
/// literals in one canonical spelling (so `::ffff:127.0.0.1` on the list matches the URL
/// parser's `[::ffff:7f00:1]`).
fn normalise_host(host: &str) -> String {
    match literal_ip(host) {
        Some(ip) => ip.to_string(),
        None => host.trim().trim_end_matches('.').to_ascii_lowercase(),
    }
}

/// Whether `ip` is public: covered by no range of the IANA special-purpose registries that is
/// not globally reachable (see the module docs for the whole rule). The SSRF guard's test, on
/// URL literals and on every address a name resolves to.
pub fn is_public_ip(ip: IpAddr) -> bool {
    special_addresses::check(ip).is_ok()
}

/// The guard inside DNS resolution: resolves with the system resolver, then refuses the name if
/// any address is not public (unless the name is allow-listed).
struct GuardedResolver {
    policy: EgressPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allowed = self.policy.is_allowed_host(&host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allowed {
                for addr in &addrs {
                    if let Err(why) = special_addresses::check(addr.ip()) {
                        return Err(Box::new(Refused(format!(
                            "{host} resolves to {}, which is not public ({why}), and {host} is not on the partner's allow-list",
                            addr.ip()
                        )))
                            as Box<dyn std::error::Error + Send + Sync>);
                    }
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Marker error the resolver returns, found again in reqwest's error chain.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Timeouts and identity of the client.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            user_agent: concat!("dpp-gateway/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// One request an adapter sends.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// HTTP method.
    pub method: Method,
    /// Full URL, query included.
    pub url: Url,
    /// Headers (credential headers should be marked sensitive).
    pub headers: HeaderMap,
    /// JSON body, if any.
    pub json: Option<Value>,
}

impl HttpRequest {
    /// A request without headers or body.
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            json: None,
        }
    }
}

/// The answer, whatever its status.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// One request/response pair as an observer sees it (no headers: they carry credentials).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedExchange {
    /// HTTP method.
    pub method: Method,
    /// Full URL.
    pub url: Url,
    /// The JSON body sent, if any.
    pub request_body: Option<Value>,
    /// The status received, if an answer came.
    pub status: Option<u16>,
}

/// Sees every exchange of a client.
pub trait HttpObserver: Send + Sync {
    /// Called once per request, after the answer (or the failure).
    fn observe(&self, exchange: &RecordedExchange);
}

/// An observer that keeps every exchange in memory (for tests and the compliance harness).
#[derive(Debug, Default)]
pub struct RecordingObserver(Mutex<Vec<RecordedExchange>>);

impl RecordingObserver {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything recorded so far.
    pub fn snapshot(&self) -> Vec<RecordedExchange> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Everything recorded so far, emptying the recorder.
    pub fn take(&self) -> Vec<RecordedExchange> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl HttpObserver for RecordingObserver {
    fn observe(&self, exchange: &RecordedExchange) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(exchange.clone());
    }
}

/// The SSRF-guarded client of one partner. Cheap to clone (shares the connection pool).
#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    policy: Arc<EgressPolicy>,
    observer: Option<Arc<dyn HttpObserver>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client enforcing `policy`.
    pub fn new(policy: EgressPolicy, settings: &HttpSettings) -> Result<Self, AdapterError> {
        let inner = guarded_reqwest_client(&policy, settings)?;
        Ok(Self {
            inner,
            policy: Arc::new(policy),
            observer: None,
        })
    }

    /// The same client, also reporting every exchange to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn HttpObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The underlying reqwest client, for callers that speak HTTP themselves (the conformance
    /// suite). Host names are checked after DNS resolution and redirects are off, but IP-literal
    /// URLs bypass the resolver: check every URL with [`EgressPolicy::check_url`] first.
    pub fn reqwest_client(&self) -> reqwest::Client {
        self.inner.clone()
    }

    /// The egress policy in force.
    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// Sends `request` and reads the whole answer. Any status is an `Ok`; the adapter maps
    /// statuses to errors. Refused destinations, timeouts and transport failures are `Err`.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, AdapterError> {
        self.policy.check_url(&request.url)?;
        let started = Instant::now();
        let mut builder = self
            .inner
            .request(request.method.clone(), request.url.clone())
            .headers(request.headers);
        if let Some(body) = &request.json {
            builder = builder.json(body);
        }
        let result = async {
            let mut response = builder.send().await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Ok(Err(status));
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>(Ok(HttpResponse {
                status,
                headers,
                body,
            }))
        }
        .await;
        let url = request.url.to_string();
        let outcome = match result {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(status)) => Err(AdapterError::Transport {
                url: url.clone(),
                reason: format!(
                    "response body with status {status} exceeds {MAX_RESPONSE_BYTES} bytes"
                ),
            }),
            Err(e) => Err(map_reqwest_error(&url, &e)),
        };
        if let Some(observer) = &self.observer {
            observer.observe(&RecordedExchange {
                method: request.method,
                url: request.url,
                request_body: request.json,
                status: outcome.as_ref().ok().map(|r| r.status),
            });
        }
        tracing::trace!(
            url,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "http exchange"
        );
        outcome
    }
}

/// A reqwest client with the egress guard in its DNS resolver, no redirects and no proxies: the
/// one way this crate builds a client (IP-literal URLs must still pass [`EgressPolicy::check_url`]).
pub(crate) fn guarded_reqwest_client(
    policy: &EgressPolicy,
    settings: &HttpSettings,
) -> Result<reqwest::Client, AdapterError> {
    reqwest::Client::builder()
        .dns_resolver(GuardedResolver {
            policy: policy.clone(),
        })
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(settings.timeout)
        .connect_timeout(settings.connect_timeout)
        .user_agent(settings.user_agent.clone())
        .build()
        .map_err(|e| AdapterError::Config(format!("cannot build the http client: {e}")))
}

/// Maps a reqwest failure to the contract's errors, recognising the egress guard's refusal.
pub(crate) fn map_reqwest_error(url: &str, error: &reqwest::Error) -> AdapterError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return AdapterError::EgressRefused {
                url: url.to_owned(),
                reason: refused.0.clone(),
            };
        }
        source = e.source();
    }
    if error.is_timeout() {
        return AdapterError::Timeout {
            url: url.to_owned(),
        };
    }
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        reason.push_str(": ");
        reason.push_str(&e.to_string());
        source = e.source();
    }
    AdapterError::Transport {
        url: url.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn non_public_addresses_are_recognised() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public_ip(ip(s)), "{s} must be refused");
        }
        for s in ["93.184.216.34", "172.32.0.1", "2606:4700::1111", "8.8.8.8"] {
            assert!(is_public_ip(ip(s)), "{s} is public");
        }
    }

    #[test]
    fn urls_are_checked_for_scheme_and_literal_addresses() {
        let policy = EgressPolicy::public_only();
        let check = |u: &str| policy.check_url(&Url::parse(u).unwrap());
        assert!(matches!(
            check("file:///etc/passwd"),
            Err(AdapterError::EgressRefused { .. })
        ));
        assert!(matches!(
            check("gopher://example.com/"),
            Err(AdapterError::EgressRefused { .. })
        ));
        assert!(matches!(
            check("http://127.0.0.1:8080/"),
            Err(AdapterError::EgressRefused { .. })
        ));
        assert!(matches!(
            check("http://[::1]/"),
            Err(AdapterError::EgressRefused { .. })
        ));
        assert!(matches!(
            check("http://169.254.169.254/latest/meta-data"),
            Err(AdapterError::EgressRefused { .. })
        ));
        assert!(check("https://api.example.com/").is_ok());
        let allowed = EgressPolicy::allowing(["127.0.0.1", "Partner.Internal"]);
        assert!(
            allowed
                .check_url(&Url::parse("http://127.0.0.1:9/").unwrap())
                .is_ok()
        );
        assert!(allowed.is_allowed_host("partner.internal."));
        assert!(
            allowed
                .check_url(&Url::parse("http://10.0.0.1/").unwrap())
                .is_err()
        );
    }

    /// Every numeric spelling of an IPv4 host, and every IPv6 form carrying one, reaches the guard
    /// as the address it means: the URL parser normalises the spelling (asserted, so a change in
    /// the `url` crate shows up here) and the guard refuses the address.
    #[test]
    fn numeric_and_embedded_host_forms_are_refused_as_the_address_they_mean() {
        let policy = EgressPolicy::public_only();
        for (url, host) in [
            ("http://2130706433/", "127.0.0.1"),
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://017700000001/", "127.0.0.1"),
            ("http://0177.0.0.1/", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://0X7F000001/", "127.0.0.1"),
            ("http://127.0.0.1./", "127.0.0.1"),
            ("http://%31%32%37.0.0.1/", "127.0.0.1"),
            (
                "http://\u{ff11}\u{ff12}\u{ff17}\u{ff0e}0\u{ff0e}0\u{ff0e}1/",
                "127.0.0.1",
            ),
            ("http://0/", "0.0.0.0"),
            (
                "https://0xa9.0xfe.0xa9.0xfe/latest/meta-data",
                "169.254.169.254",
            ),
            ("http://3323068417/", "198.18.0.1"),
            ("http://0xf0000001/", "240.0.0.1"),
            ("http://[::ffff:127.0.0.1]/", "[::ffff:7f00:1]"),
            ("http://[0:0:0:0:0:FFFF:7F00:0001]/", "[::ffff:7f00:1]"),
            ("http://[64:ff9b::127.0.0.1]/", "[64:ff9b::7f00:1]"),
            ("http://[64:ff9b:1::a9fe:a9fe]/", "[64:ff9b:1::a9fe:a9fe]"),
            ("http://[2002:7f00:1::]/", "[2002:7f00:1::]"),
            ("http://[::127.0.0.1]/", "[::7f00:1]"),
            ("http://[FEC0::1]/", "[fec0::1]"),
            (
                "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
                "[2001:0:4136:e378:8000:63bf:80ff:fffe]",
            ),
        ] {
            let parsed = Url::parse(url).unwrap();
            assert_eq!(parsed.host_str(), Some(host), "{url}");
            let err = policy.check_url(&parsed).unwrap_err();
            assert!(
                matches!(&err, AdapterError::EgressRefused { reason, .. } if reason.contains("is not public")),
                "{url}: {err:?}"
            );
        }
        // A public address spelled oddly still passes, and NAT64 of a public address too.
        for url in [
            "http://134744072/",
            "http://0x8.0x8.0x8.0x8/",
            "http://[64:ff9b::8.8.8.8]/",
        ] {
            assert!(policy.check_url(&Url::parse(url).unwrap()).is_ok(), "{url}");
        }
    }

    #[test]
    fn ipv6_zone_ids_do_not_parse() {
        for url in [
            "http://[fe80::1%25eth0]/",
            "http://[fe80::1%eth0]/",
            "http://[::1%251]/",
        ] {
            assert!(Url::parse(url).is_err(), "{url} parsed");
        }
    }

    #[test]
    fn the_refusal_names_the_range_and_the_carried_ipv4() {
        let err = EgressPolicy::public_only()
            .check_url(&Url::parse("http://[2002:a9fe:a9fe::]/").unwrap())
            .unwrap_err();
        assert!(
            matches!(&err, AdapterError::EgressRefused { reason, .. }
                if reason.contains("2002::/16 6to4 (RFC 3056), carrying 169.254.169.254")),
            "{err:?}"
        );
    }

    #[test]
    fn allow_listed_addresses_match_in_any_spelling() {
        let allowed = EgressPolicy::allowing(["::ffff:127.0.0.1", "198.18.0.1."]);
        for url in [
            "http://[::ffff:7f00:1]/",
            "http://[0::FFFF:127.0.0.1]/",
            "http://3323068417/",
            "http://198.18.0.1./",
        ] {
            assert!(
                allowed.check_url(&Url::parse(url).unwrap()).is_ok(),
                "{url}"
            );
        }
        assert!(
            allowed
                .check_url(&Url::parse("http://127.0.0.1/").unwrap())
                .is_err(),
            "127.0.0.1 is not ::ffff:127.0.0.1"
        );
    }

    /// The DNS path uses the same classification: a name is resolved (here numeric names, which
    /// the system resolver answers without a DNS server) and every address is judged.
    #[tokio::test]
    async fn the_resolver_refuses_what_the_literal_check_refuses() {
        let resolver = GuardedResolver {
            policy: EgressPolicy::public_only(),
        };
        for name in [
            "198.18.0.1",
            "192.0.0.1",
            "240.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "::7f00:1",
            "fec0::1",
        ] {
            let Err(err) = resolver.resolve(name.parse().unwrap()).await else {
                panic!("{name} resolved without refusal");
            };
            assert!(err.is::<Refused>(), "{name}: {err}");
            assert!(err.to_string().contains("not public"), "{name}: {err}");
        }
        assert!(resolver.resolve("8.8.8.8".parse().unwrap()).await.is_ok());
        let allowing = GuardedResolver {
            policy: EgressPolicy::allowing(["198.18.0.1"]),
        };
        assert!(
            allowing
                .resolve("198.18.0.1".parse().unwrap())
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_after_dns() {
        // `localhost` is a name, so it passes the literal check and is refused by the resolver.
        let client =
            HttpClient::new(EgressPolicy::public_only(), &HttpSettings::default()).unwrap();
        let recorder = Arc::new(RecordingObserver::new());
        let client = client.with_observer(recorder.clone());
        let err = client
            .send(HttpRequest::new(
                Method::GET,
                Url::parse("http://localhost:9/").unwrap(),
            ))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AdapterError::EgressRefused { reason, .. } if reason.contains("not public")),
            "{err:?}"
        );
        assert_eq!(recorder.take().len(), 1);
    }

    #[tokio::test]
    async fn redirects_are_not_followed_and_allow_listed_loopback_works() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await.unwrap();
            socket
                .write_all(b"HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
        });
        let client = HttpClient::new(
            EgressPolicy::allowing(["localhost"]),
            &HttpSettings::default(),
        )
        .unwrap();
        let url = Url::parse(&format!("http://localhost:{port}/")).unwrap();
        let response = client
            .send(HttpRequest::new(Method::GET, url))
            .await
            .unwrap();
        assert_eq!(response.status, 302);
        assert_eq!(response.header("location"), Some("http://169.254.169.254/"));
    }
}
