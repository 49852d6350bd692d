//! The pull cache against the independent Ouranos mock, through the real Ouranos adapter: one
//! upstream fetch for 1,000 concurrent pulls, TTL expiry, negative caching of 404s, stale copies
//! served while the remote fails, and invalid remote data never cached. Upstream calls are counted
//! by the mock (`upstream_gets`), not by the code under test.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use dpp_adapters::AdapterRegistry;
use dpp_adapters::contract::{
    AdapterContext, AdapterError, Connection, EgressPolicy, FetchedPassport, HttpClient,
    HttpSettings, PublishRequest,
};
use dpp_conformance::mock::ouranos::{Faults, MockConfig, MockOuranos};
use dpp_gateway::exchange::pull::{Freshness, PullCache, PullError, PullPolicy};
use dpp_schemas::fixtures::{pp_new_bumper, pp_pellets};
use dpp_schemas::{Passport, SchemaRegistry};
use serde_json::json;

const CLIENT: &str = "recycler-gateway";
const SECRET: &str = "s3cret-recycler";
const PARTNER: &str = "kanto-recycling";
const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";

/// The mock, a connection to it, and the remote id of a published passport.
struct Remote {
    mock: MockOuranos,
    conn: Arc<dyn Connection>,
    remote_id: String,
    published: Passport,
}

async fn remote() -> Remote {
    let mock = MockOuranos::start(MockConfig::default().with_client(CLIENT, SECRET))
        .await
        .unwrap();
    let raw = json!({
        "type": "ouranos",
        "endpoint": mock.base_url(),
        "api_key": { "value": mock.api_key() },
        "operator_id": mock.operator_id(CLIENT).unwrap(),
        "plant_id": mock.plant_ids(CLIENT)[0],
        "auth": { "mode": "client", "client_id": CLIENT, "client_secret": { "value": SECRET } },
    });
    let registry = AdapterRegistry::with_builtin_adapters();
    let checked = registry.validate(&raw).unwrap();
    let http = HttpClient::new(
        EgressPolicy::allowing(["127.0.0.1"]),
        &HttpSettings::default(),
    )
    .unwrap();
    let (conn, _health) = registry
        .build(checked, AdapterContext::new(PARTNER, http))
        .await
        .unwrap();
    let published = pp_pellets();
    let receipt = conn
        .publish(PublishRequest {
            passport: &published,
            signed_jws: &fake_jws(&published),
            idempotency_key: "pull-cache-test",
        })
        .await
        .unwrap();
    Remote {
        mock,
        conn,
        remote_id: receipt.remote_id,
        published,
    }
}

/// A stand-in for the JWS the gateway stores (only its hash travels).
fn fake_jws(passport: &Passport) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    format!(
        "{}.{}.sig",
        b64(br#"{"alg":"ES256","typ":"dpp+jwt"}"#),
        b64(passport.id.to_string().as_bytes())
    )
}

fn cache() -> PullCache {
    PullCache::new(Arc::new(SchemaRegistry::new().unwrap()), 10_000)
}

impl Remote {
    /// Upstream GETs one uncached fetch of `remote_id` costs (the adapter makes several).
    async fn gets_per_fetch(&self, remote_id: &str) -> u64 {
        let before = self.mock.upstream_gets();
        let _ = self.conn.fetch(remote_id).await;
        self.mock.upstream_gets() - before
    }

    async fn pull(
        &self,
        cache: &PullCache,
        policy: &PullPolicy,
    ) -> Result<dpp_gateway::exchange::pull::Pulled, PullError> {
        cache
            .pull(PARTNER, &self.remote_id, policy, self.conn.as_ref())
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_pulls_of_one_uncached_passport_make_one_upstream_call() {
    let remote = Arc::new(remote().await);
    let per_fetch = remote.gets_per_fetch(&remote.remote_id).await;
    assert!(per_fetch >= 1);
    // Slow the remote down so every caller arrives while the one fetch is in flight.
    remote
        .mock
        .set_faults(Faults {
            latency_ms: 150,
            ..Faults::default()
        })
        .unwrap();
    let cache = Arc::new(cache());
    let loads = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(tokio::sync::Barrier::new(1000));
    let before = remote.mock.upstream_gets();
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let (remote, cache, loads, start) =
            (remote.clone(), cache.clone(), loads.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            cache
                .get(PARTNER, &remote.remote_id, &PullPolicy::default(), async {
                    loads.fetch_add(1, Ordering::SeqCst);
                    remote.conn.fetch(&remote.remote_id).await
                })
                .await
        }));
    }
    let mut fresh = 0;
    for task in tasks {
        let pulled = task.await.unwrap().unwrap();
        assert_eq!(pulled.passport.id, remote.published.id);
        if pulled.freshness == Freshness::Fresh {
            fresh += 1;
        } else {
            assert_eq!(pulled.freshness, Freshness::Cached);
        }
    }
    assert_eq!(
        remote.mock.upstream_gets() - before,
        per_fetch,
        "1,000 pulls must cost exactly one upstream fetch"
    );
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert_eq!(fresh, 1, "one caller fetched, 999 shared its answer");
    let stats = cache.stats();
    assert_eq!((stats.misses, stats.hits), (1, 999));
}

#[tokio::test]
async fn an_expired_entry_is_fetched_again() {
    let remote = remote().await;
    let per_fetch = remote.gets_per_fetch(&remote.remote_id).await;
    let cache = cache();
    let policy = PullPolicy {
        ttl: Duration::from_millis(300),
        ..PullPolicy::default()
    };
    let before = remote.mock.upstream_gets();
    let first = remote.pull(&cache, &policy).await.unwrap();
    assert_eq!(first.freshness, Freshness::Fresh);
    let second = remote.pull(&cache, &policy).await.unwrap();
    assert_eq!(second.freshness, Freshness::Cached);
    assert_eq!(remote.mock.upstream_gets() - before, per_fetch);
    tokio::time::sleep(Duration::from_millis(450)).await;
    let third = remote.pull(&cache, &policy).await.unwrap();
    assert_eq!(third.freshness, Freshness::Fresh);
    assert_eq!(remote.mock.upstream_gets() - before, 2 * per_fetch);
    assert_eq!(third.passport, first.passport);
}

#[tokio::test]
async fn a_remote_404_is_remembered_for_the_negative_ttl_only() {
    let remote = remote().await;
    let per_fetch = remote.gets_per_fetch(UNKNOWN).await;
    assert!(matches!(
        remote.conn.fetch(UNKNOWN).await,
        Err(AdapterError::NotFound(_))
    ));
    let cache = cache();
    let policy = PullPolicy {
        negative_ttl: Duration::from_millis(300),
        ..PullPolicy::default()
    };
    let pull = || cache.pull(PARTNER, UNKNOWN, &policy, remote.conn.as_ref());
    let before = remote.mock.upstream_gets();
    assert!(matches!(
        pull().await,
        Err(PullError::NotFound { cached: false, .. })
    ));
    assert_eq!(remote.mock.upstream_gets() - before, per_fetch);
    assert!(matches!(
        pull().await,
        Err(PullError::NotFound { cached: true, .. })
    ));
    assert_eq!(
        remote.mock.upstream_gets() - before,
        per_fetch,
        "a remembered 404 makes no upstream call"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(matches!(
        pull().await,
        Err(PullError::NotFound { cached: false, .. })
    ));
    assert_eq!(remote.mock.upstream_gets() - before, 2 * per_fetch);
    assert_eq!(cache.stats().negative_hits, 1);
}

#[tokio::test]
async fn the_last_good_copy_is_served_stale_while_the_remote_fails() {
    let remote = remote().await;
    let cache = cache();
    let policy = PullPolicy {
        ttl: Duration::from_millis(200),
        stale_if_error: Duration::from_secs(60),
        ..PullPolicy::default()
    };
    let no_stale = PullPolicy {
        stale_if_error: Duration::ZERO,
        ..policy
    };
    let strict = self::cache();
    let good = remote.pull(&cache, &policy).await.unwrap();
    remote.pull(&strict, &no_stale).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    remote
        .mock
        .set_faults(Faults {
            error_rate: 1.0,
            error_status: 503,
            ..Faults::default()
        })
        .unwrap();
    let stale = remote.pull(&cache, &policy).await.unwrap();
    assert_eq!(stale.freshness, Freshness::Stale);
    assert_eq!(stale.passport, good.passport);
    assert!(stale.age > policy.ttl);
    assert!(
        stale.stale_because.as_deref().unwrap_or("").contains("503"),
        "{:?}",
        stale.stale_because
    );
    assert_eq!(
        remote.mock.stats().faults.errors,
        1,
        "the refresh was tried"
    );
    assert_eq!(cache.stats().stale, 1);
    // Without a stale window, the failure is the answer.
    match remote.pull(&strict, &no_stale).await {
        Err(PullError::Upstream { source, .. }) => {
            assert!(matches!(*source, AdapterError::Remote { status: 503, .. }))
        }
        other => panic!("expected the remote's 503, got {other:?}"),
    }
    // Once the remote recovers, the next pull is fresh again.
    remote.mock.set_faults(Faults::default()).unwrap();
    let recovered = remote.pull(&cache, &policy).await.unwrap();
    assert_eq!(recovered.freshness, Freshness::Fresh);
}

#[tokio::test]
async fn invalid_remote_data_is_refused_and_not_cached() {
    let remote = remote().await;
    let per_fetch = remote.gets_per_fetch(&remote.remote_id).await;
    let cache = cache();
    let policy = PullPolicy::default();
    let before = remote.mock.upstream_gets();
    // The remote's record, as mapped by the adapter, then broken the way a faulty remote could:
    // a recycled share above 100 %.
    let corrupted = async {
        let mut fetched: FetchedPassport = remote.conn.fetch(&remote.remote_id).await?;
        fetched.passport.materials[0].recycled_share.post_consumer = 3.5;
        Ok(fetched)
    };
    match cache
        .get(PARTNER, &remote.remote_id, &policy, corrupted)
        .await
    {
        Err(PullError::Invalid { violations, .. }) => {
            assert!(
                violations
                    .iter()
                    .any(|v| v.pointer.starts_with("/materials/0/recycledShare")),
                "{violations:?}"
            );
        }
        other => panic!("expected the schema to refuse it, got {other:?}"),
    }
    // Nothing was kept: the next pull goes upstream again and gets the honest record.
    let honest = remote.pull(&cache, &policy).await.unwrap();
    assert_eq!(honest.freshness, Freshness::Fresh);
    assert_eq!(remote.mock.upstream_gets() - before, 2 * per_fetch);
    assert_eq!(cache.stats().invalid, 1);
    // And a failure after an invalid answer has no stale copy to fall back on.
    let other_cache = self::cache();
    let bumper = pp_new_bumper();
    let broken = async {
        let mut passport = bumper.clone();
        passport.materials[0].recycled_share.pre_consumer = -1.0;
        Ok::<_, AdapterError>(FetchedPassport {
            remote_id: "x".into(),
            passport,
            reference: None,
        })
    };
    assert!(matches!(
        other_cache.get(PARTNER, "x", &policy, broken).await,
        Err(PullError::Invalid { .. })
    ));
    let failing = async { Err(AdapterError::remote(503, b"down", None)) };
    assert!(matches!(
        other_cache.get(PARTNER, "x", &policy, failing).await,
        Err(PullError::Upstream { .. })
    ));
}
